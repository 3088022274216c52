package plans

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/schema"
)

// ConfigFileNames are the names fleetplan.yaml may have, in lookup order.
var ConfigFileNames = []string{"fleetplan.yaml", "fleetplan.yml"}

// Options tune loading.
type Options struct {
	// ConfigPath is fleetplan.yaml to use for every plan; empty means: look in
	// each plan's folder, then its parents.
	ConfigPath string
	// PathInputs lists the inputs of an action that name files or folders
	// (the action registry knows them; plans does not). Each such input that
	// is known when the plan is loaded must resolve inside the plan
	// repository. Nil checks none.
	PathInputs func(action string) []string
}

// Load reads plan files and folders (recursively, *.yaml and *.yml; hidden
// folders and what a .fleetplanignore names are skipped) with default options. See Options.Load.
func Load(paths ...string) (*Set, diag.List) { return Options{}.Load(paths...) }

// Load reads plan files and folders and returns every valid document plus all
// diagnostics, sorted. A document with errors is left out of the set. It is
// safe to call concurrently; it only reads files.
func (o Options) Load(paths ...string) (*Set, diag.List) {
	l := newLoader(o)
	for _, p := range paths {
		l.collect(p)
	}
	l.checkShardMapOwners()
	l.findTemplateCycles()
	l.expandAll()
	set := &Set{}
	seen := map[*Config]bool{}
	for _, doc := range l.documents {
		if l.failed[doc] {
			continue
		}
		set.Documents = append(set.Documents, doc)
		if doc.Config != nil && !seen[doc.Config] {
			seen[doc.Config] = true
			set.Config = doc.Config
		}
	}
	if len(seen) > 1 {
		set.Config = nil
	}
	if set.Config == nil && len(seen) == 0 && o.ConfigPath != "" {
		set.Config = l.explicitConfig()
	}
	return set, l.diags.Sort()
}

// loader holds the state of one Load call.
type loader struct {
	opts      Options
	diags     diag.List
	documents []*Document
	failed    map[*Document]bool // documents with errors
	raws      map[*Document]*rawDoc
	files     map[string]*parsedFile   // by absolute path
	configs   map[string]*Config       // by absolute path; nil when unusable
	configDir map[string]string        // folder -> config path ("" when none)
	templates map[string]*templateFile // by absolute path or builtin:NAME
	names     map[nameKey]*Document    // for metadata.name uniqueness
	cycles    map[string]bool          // reported template cycles
	state     map[*templateFile]int    // DFS colours for cycle detection
	pending   []*pendingExpansion
	cwd       string
}

// parsedFile is one file's documents, processed once however often it is
// reached (named on the command line, found in a folder, used as a template).
type parsedFile struct {
	display string
	docs    []*Document
	done    bool // all documents processed
}

type nameKey struct{ dir, kind, name string }

func newLoader(o Options) *loader {
	cwd, _ := os.Getwd()
	return &loader{
		opts: o, failed: map[*Document]bool{}, raws: map[*Document]*rawDoc{},
		files: map[string]*parsedFile{}, configs: map[string]*Config{}, configDir: map[string]string{},
		templates: map[string]*templateFile{}, names: map[nameKey]*Document{}, cycles: map[string]bool{},
		state: map[*templateFile]int{}, cwd: cwd,
	}
}

func isConfigFile(path string) bool {
	base := filepath.Base(path)
	for _, n := range ConfigFileNames {
		if base == n {
			return true
		}
	}
	return false
}

func isYAML(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}

// collect loads a path named by the user: a file, or a folder walked recursively.
func (l *loader) collect(path string) {
	st, err := os.Stat(path)
	if err != nil {
		l.diags.Errorf(diag.Pos{File: path}, "cannot read: %s", unwrapPathError(err)).WithHint("check the path and its permissions")
		return
	}
	if !st.IsDir() {
		l.loadPath(path)
		return
	}
	var found []string
	rules := newIgnoreRules()
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			l.diags.Errorf(diag.Pos{File: p}, "cannot read: %s", unwrapPathError(err)).WithHint("check the path and its permissions")
			return nil
		}
		if d.IsDir() {
			if p != path && (strings.HasPrefix(d.Name(), ".") || rules.ignored(path, p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if isYAML(p) && !rules.ignored(path, p) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		l.diags.Errorf(diag.Pos{File: path}, "cannot read: %s", unwrapPathError(err)).WithHint("check the path and its permissions")
	}
	if len(found) == 0 {
		l.diags.Warnf(diag.Pos{File: path}, "no *.yaml or *.yml files in this folder").WithHint("plan files end in .yaml or .yml; pass a file or another folder")
	}
	sort.Strings(found)
	for _, p := range found {
		l.loadPath(p)
	}
}

// loadPath loads a plan file or a fleetplan.yaml named by the user.
func (l *loader) loadPath(path string) {
	if isConfigFile(path) {
		l.config(absPath(path), path)
		return
	}
	pf := l.file(path)
	if pf == nil {
		return
	}
	for _, doc := range pf.docs {
		if !containsDoc(l.documents, doc) {
			l.documents = append(l.documents, doc)
		}
	}
}

func containsDoc(list []*Document, d *Document) bool {
	for _, x := range list {
		if x == d {
			return true
		}
	}
	return false
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// displayPath names a file found by the loader (a config, a template) in
// messages: relative to the working folder when below it.
func (l *loader) displayPath(abs string) string {
	if rel, err := filepath.Rel(l.cwd, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return abs
}

// file reads, decodes and processes every document of a plan file, once.
func (l *loader) file(display string) *parsedFile {
	abs := absPath(display)
	if pf, ok := l.files[abs]; ok {
		return pf
	}
	data, d := readFile(display)
	if d != nil {
		l.diags.Add(*d)
		pf := &parsedFile{display: display, done: true}
		l.files[abs] = pf
		return pf
	}
	return l.fileData(display, abs, data)
}

// fileData decodes and processes the documents of a file already read.
func (l *loader) fileData(display, key string, data []byte) *parsedFile {
	pf := &parsedFile{display: display}
	l.files[key] = pf
	before := len(l.diags)
	raws := decodeYAML(display, data, &l.diags)
	if len(raws) == 0 && len(l.diags) == before {
		l.diags.Warnf(diag.Pos{File: display, Line: 1, Col: 1}, "file holds no YAML documents").WithHint("a plan file holds at least one document with apiVersion, kind, metadata and spec")
	}
	for _, raw := range raws {
		if doc := l.document(raw); doc != nil {
			pf.docs = append(pf.docs, doc)
		}
	}
	pf.done = true
	return pf
}

// document validates one decoded document and builds its typed form. It
// returns nil when the document cannot even be identified (no usable kind).
func (l *loader) document(raw *rawDoc) *Document {
	m, ok := raw.value.(map[string]any)
	if !ok {
		l.diags.Errorf(raw.pos(""), "a plan document must be a mapping with apiVersion, kind, metadata and spec").WithHint("start the document with apiVersion: fleetplan/v1 and kind: (one of %s)", strings.Join(Kinds(), ", "))
		return nil
	}
	before := len(l.diags.Errors())
	root := obj{d: raw, m: m, diags: &l.diags}
	kind, isStr := m["kind"].(string)
	switch {
	case !root.has("kind"):
		l.diags.Errorf(raw.pos(""), "missing field \"kind\"").WithHint("kind is one of %s", strings.Join(Kinds(), ", "))
		return nil
	case !isStr:
		l.diags.Errorf(root.pos("kind"), "kind: expected string, got %s", jsonTypeName(m["kind"])).WithHint("kind is one of %s", strings.Join(Kinds(), ", "))
		return nil
	}
	sch, known := schema.ForKind(kind)
	def, registered := kindNamed(kind)
	if !known || kind == schema.ConfigKind || !registered {
		d := l.diags.Errorf(root.pos("kind"), "unknown kind %q", kind)
		sug := schema.Suggest(kind, Kinds())
		if sug == "" {
			d.WithHint("kind is one of %s", strings.Join(Kinds(), ", "))
			return nil
		}
		// A likely typo: check the rest as the kind it was meant to be, so
		// every other problem is reported in the same run.
		d.WithHint("did you mean %q?", sug)
		kind = sug
		sch, _ = schema.ForKind(kind)
		def, _ = kindNamed(kind)
		meant := make(map[string]any, len(m))
		for k, v := range m {
			meant[k] = v
		}
		meant["kind"] = kind
		m = meant
		root.m = m
	}
	// The schema check and the checks of the kind read the same values and
	// run side by side; the schema's problems go first, as if run first.
	schemaStart := len(l.diags)
	schemaDiags := make(chan diag.List, 1)
	go func() { schemaDiags <- sch.Validate(m, raw.locator(""), "") }()
	meta := root.obj("metadata")
	doc := &Document{
		APIVersion: root.str("apiVersion"), Kind: kind, File: raw.file, Pos: raw.pos(""),
		Metadata: Metadata{Name: meta.str("name"), Labels: meta.stringMap("labels")},
		source:   raw.node,
	}
	l.raws[doc] = raw
	spec := root.obj("spec")
	doc.Spec = def.Decode(&SpecDecoder{l: l, doc: doc, root: root, spec: spec})
	l.checkName(doc, meta)
	found := <-schemaDiags
	l.diags = append(l.diags[:schemaStart], append(found, l.diags[schemaStart:]...)...)
	if len(l.diags.Errors()) > before {
		l.failed[doc] = true
	}
	return doc
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int:
		return "integer"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// checkName enforces unique metadata.name per kind in a folder.
func (l *loader) checkName(doc *Document, meta obj) {
	if doc.Metadata.Name == "" {
		return
	}
	key := nameKey{dir: filepath.Dir(absPath(doc.File)), kind: doc.Kind, name: doc.Metadata.Name}
	if first, dup := l.names[key]; dup {
		l.diags.Errorf(meta.pos("name"), "duplicate %s name %q in this folder (first defined at %s)",
			doc.Kind, doc.Metadata.Name, l.raws[first].pos("/metadata/name")).
			WithHint("metadata.name must be unique per kind in a folder")
		return
	}
	l.names[key] = doc
}

// target checks spec.target against the document's fleetplan.yaml and sets
// doc.Config.
func (l *loader) target(doc *Document, spec obj) string {
	name := spec.str("target")
	doc.Target = name
	cfg, found := l.configFor(doc.File)
	doc.Config = cfg
	if name == "" {
		return name
	}
	switch {
	case !found:
		l.diags.Errorf(spec.pos("target"), "no fleetplan.yaml found for target %q", name).
			WithHint("create fleetplan.yaml with targets: {%s: {driver: local, path: DIR}} next to the plan or in a parent folder, or pass --config", name)
	case cfg == nil:
		// The config itself is broken; its errors are already reported.
	default:
		if _, ok := cfg.Targets[name]; !ok {
			known := make([]string, 0, len(cfg.Targets))
			for n := range cfg.Targets {
				known = append(known, n)
			}
			sort.Strings(known)
			d := l.diags.Errorf(spec.pos("target"), "unknown target %q", name)
			if sug := schema.Suggest(name, known); sug != "" {
				d.WithHint("did you mean %q? targets in %s: %s", sug, l.displayPath(cfg.Path), strings.Join(known, ", "))
			} else {
				d.WithHint("targets in %s: %s", l.displayPath(cfg.Path), strings.Join(known, ", "))
			}
		}
	}
	return name
}

// onFailure reads spec.onFailure with its default.
func onFailure(spec obj) string { return spec.strOr("onFailure", OnFailureRollback) }
