package plans

import (
	"embed"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/schema"
)

// builtinFS holds the built-in template library, used as uses: builtin:NAME.
//
//go:embed templates/*.yaml
var builtinFS embed.FS

// BuiltinPrefix marks a reference to a built-in template.
const BuiltinPrefix = "builtin:"

// BuiltinTemplates lists the names of the built-in templates, sorted.
func BuiltinTemplates() []string {
	entries, _ := fs.ReadDir(builtinFS, "templates")
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// templateFile is a loaded Template document, shared by every use.
type templateFile struct {
	key          string // absolute path, or builtin:NAME
	display      string
	body         obj // the mapping holding parameters, steps and outputs
	params       *schema.Schema
	paramsBroken bool // parameters is not a valid schema (already reported)
	drafts       []*stepDraft
	cyclic       bool       // part of a uses: cycle (already reported)
	uses         []paramUse // every params reference of its expressions
}

// templateKey identifies the file a document came from.
func templateKey(file string) string {
	if strings.HasPrefix(file, BuiltinPrefix) {
		return file
	}
	return absPath(file)
}

// templateRef resolves field k of o (a uses: reference) and loads the
// template. It reports a missing file, an unknown builtin or a file without a
// Template, and returns nil then.
func (l *loader) templateRef(o obj, k string) *templateFile {
	ref := o.str(k)
	if ref == "" {
		return nil
	}
	if name, ok := strings.CutPrefix(ref, BuiltinPrefix); ok {
		if t, ok := l.templates[ref]; ok {
			return t
		}
		data, err := builtinFS.ReadFile("templates/" + name + ".yaml")
		if err != nil || name == "" || strings.ContainsAny(name, "/\\") {
			known := BuiltinTemplates()
			d := o.errorf(k, "unknown builtin template %q", name)
			if sug := schema.Suggest(name, known); sug != "" {
				d.WithHint("did you mean %q? builtin templates: %s", BuiltinPrefix+sug, strings.Join(known, ", "))
			} else {
				d.WithHint("builtin templates: %s", strings.Join(known, ", "))
			}
			return nil
		}
		l.fileData(ref, ref, data)
		return l.templateIn(o, k, ref)
	}
	real, err := l.rootsFor(o.d.file).Resolve(filepath.Dir(absPath(o.d.file)), ref)
	if err != nil {
		reportOutside(o.errorf(k, "template %v", err), err)
		return nil
	}
	if !isYAML(ref) || !isYAML(real) {
		// Only YAML files are read as templates: reading another file (a
		// secret, a script) could quote its contents in a message.
		o.errorf(k, "template %q is not a .yaml or .yml file", ref).
			WithHint("uses: names a template file (*.yaml, *.yml) or builtin:NAME")
		return nil
	}
	path := ref
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(o.d.file), ref)
	}
	abs := absPath(path)
	if t, ok := l.templates[abs]; ok {
		return t
	}
	if err := confine.Regular(abs); err != nil {
		notReadable(o, k, "template", ref, err, "uses: is a path relative to the folder of "+filepath.Base(o.d.file)+", or builtin:NAME")
		return nil
	}
	l.file(path)
	return l.templateIn(o, k, abs)
}

func (l *loader) templateIn(o obj, k, key string) *templateFile {
	if t, ok := l.templates[key]; ok {
		return t
	}
	if pf := l.files[key]; pf != nil && pf.docs == nil && !pf.done {
		return nil // the file is being read right now: it uses itself before its Template; reported below
	}
	o.errorf(k, "%q holds no Template document", o.str(k)).WithHint("uses: must name a file whose document has kind: Template")
	return nil
}

func init() {
	RegisterKind(KindDef{Name: KindTemplate, Order: 1000, Decode: func(d *SpecDecoder) any { return d.l.templateDoc(d.doc, d.root) }})
}

// Template is the spec of a Template document; nil for other kinds.
func (d *Document) Template() *Template { s, _ := d.Spec.(*Template); return s }

// templateDoc builds a Template and registers it for uses:.
func (l *loader) templateDoc(doc *Document, root obj) *Template {
	body := root
	if root.has("spec") {
		body = root.obj("spec")
		for _, k := range []string{"parameters", "steps", "outputs"} {
			if root.has(k) {
				l.diags.Errorf(root.keyPos(k), "%s: belongs under spec: here, since this template has a spec:", k).
					WithHint("put parameters, steps and outputs all under spec:, or all at the top level")
			}
		}
	} else if !root.has("steps") {
		l.diags.Errorf(root.at(), "missing field \"steps\"").WithHint("a template needs steps: (under spec: or at the top level)")
	}
	key := templateKey(doc.File)
	t := &templateFile{key: key, display: doc.File, body: body}
	if _, dup := l.templates[key]; dup {
		l.diags.Errorf(root.pos("kind"), "a file may hold only one Template").
			WithHint("uses: names a file; move this template to a file of its own")
	} else {
		l.templates[key] = t
	}
	tmpl := &Template{Outputs: body.stringMap("outputs")}
	if raw, ok := body.m["parameters"].(map[string]any); ok {
		tmpl.Parameters = raw
		t.params = l.compileParams(body)
		t.paramsBroken = t.params == nil
	}
	t.drafts = l.parseSteps(body, "steps")
	body.compileInterps(body.child("outputs"), body.m["outputs"])
	t.uses = paramUses(body, t.drafts)
	if !t.paramsBroken {
		l.checkParamUses(t.uses, tmpl.Parameters, tmpl.Parameters != nil, "template "+doc.File)
	}
	for _, d := range t.drafts {
		tmpl.Steps = append(tmpl.Steps, d.spec)
	}
	return tmpl
}

func (l *loader) compileParams(body obj) *schema.Schema {
	raw, _ := body.m["parameters"].(map[string]any)
	s, diags := schema.Compile(raw, body.d.locator(body.child("parameters")))
	l.diags.Add(diags...)
	return s
}

// findTemplateCycles reports each cycle of uses: between templates once, at
// the uses: that closes it (starting from the first template by path), and
// marks its templates so they are never expanded.
func (l *loader) findTemplateCycles() {
	keys := make([]string, 0, len(l.templates))
	for k := range l.templates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var stack []*templateFile
	var visit func(t *templateFile)
	visit = func(t *templateFile) {
		l.state[t] = 1
		stack = append(stack, t)
		for _, d := range t.drafts {
			switch {
			case d.target == nil:
			case l.state[d.target] == 1:
				for i, s := range stack {
					if s == d.target {
						l.reportCycle(stack[i:])
					}
				}
			case l.state[d.target] == 0:
				visit(d.target)
			}
		}
		stack = stack[:len(stack)-1]
		l.state[t] = 2
	}
	for _, k := range keys {
		if t := l.templates[k]; l.state[t] == 0 {
			visit(t)
		}
	}
}

func (l *loader) reportCycle(nodes []*templateFile) {
	first := 0
	for i, n := range nodes {
		if n.key < nodes[first].key {
			first = i
		}
	}
	nodes = append(append([]*templateFile{}, nodes[first:]...), nodes[:first]...)
	var chain, keys []string
	for _, n := range nodes {
		chain = append(chain, n.display)
		keys = append(keys, n.key)
		n.cyclic = true
	}
	key := strings.Join(keys, "\x00")
	if l.cycles[key] {
		return
	}
	l.cycles[key] = true
	chain = append(chain, nodes[0].display)
	last := nodes[len(nodes)-1]
	for _, d := range last.drafts {
		if d.target == nodes[0] {
			l.diags.Errorf(d.o.pos("uses"), "template cycle: %s", strings.Join(chain, " -> ")).
				WithHint("a template must not use itself, directly or through other templates")
			return
		}
	}
}
