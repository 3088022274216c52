package schema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed kinds/*.json
var kindFS embed.FS

// defsFile holds the definitions shared by every kind's schema.
const defsFile = "defs.json"

// ConfigKind is the name `fleetplan schema` accepts for fleetplan.yaml.
const ConfigKind = "config"

// Schema is a compiled JSON Schema plus its source documents, which are used
// to turn validation errors into human messages. Safe for concurrent use.
type Schema struct {
	name string // the kind, or "config"; empty for template parameters
	s    *jsonschema.Schema
	root any            // the schema's own document
	docs map[string]any // resource URL -> decoded JSON, for every document it refers to
}

type embedded struct {
	names   []string          // display names, in file order: kinds from `kind.const`, then "config"
	files   map[string]string // lower-case name -> file name
	docs    map[string]any    // resource URL -> decoded JSON
	ids     map[string]string // file name -> $id
	schemas map[string]*Schema
	added   map[string][]byte // lower-case name -> source, for kinds given to Add
	err     error
	mu      sync.RWMutex // guards names, files, schemas and added once loaded
}

var (
	loadOnce sync.Once
	builtin  embedded
)

func loadEmbedded() *embedded {
	loadOnce.Do(func() { builtin.err = builtin.load() })
	return &builtin
}

func (e *embedded) load() error {
	e.files, e.docs, e.ids, e.schemas = map[string]string{}, map[string]any{}, map[string]string{}, map[string]*Schema{}
	entries, err := fs.ReadDir(kindFS, "kinds")
	if err != nil {
		return err
	}
	c := newCompiler()
	for _, ent := range entries {
		raw, err := kindFS.ReadFile(path.Join("kinds", ent.Name()))
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("schema %s: %w", ent.Name(), err)
		}
		id, _ := doc["$id"].(string)
		if err := c.AddResource(id, bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("schema %s: %w", ent.Name(), err)
		}
		e.docs[id], e.ids[ent.Name()] = doc, id
		if ent.Name() == defsFile {
			continue
		}
		name := ConfigKind
		if props, ok := doc["properties"].(map[string]any); ok {
			if k, ok := props["kind"].(map[string]any); ok {
				name, _ = k["const"].(string)
			}
		}
		e.names = append(e.names, name)
		e.files[strings.ToLower(name)] = ent.Name()
	}
	for _, name := range e.names {
		file := e.files[strings.ToLower(name)]
		s, err := c.Compile(e.ids[file])
		if err != nil {
			return fmt.Errorf("schema %s: %w", file, err)
		}
		e.schemas[strings.ToLower(name)] = &Schema{name: name, s: s, root: e.docs[e.ids[file]], docs: e.docs}
	}
	sort.SliceStable(e.names, func(i, j int) bool { return e.names[j] == ConfigKind && e.names[i] != ConfigKind })
	return nil
}

func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.LoadURL = func(url string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("schemas may only refer to themselves (cannot load %s)", url)
	}
	return c
}

// Names lists the kinds with a schema, plus "config" for fleetplan.yaml.
func Names() []string {
	e := loadEmbedded()
	e.mu.RLock()
	defer e.mu.RUnlock()
	return append([]string(nil), e.names...)
}

// Add compiles the schema of a kind that is not one of the files embedded
// from schema/kinds, and makes it known to Names, ForKind and Source. Every
// kind fleetplan ships is embedded; Add is for kinds defined outside this
// package, such as a test's. The schema may refer to defs.json and names
// its kind with properties.kind.const.
func Add(raw []byte) error {
	e := loadEmbedded()
	if e.err != nil {
		return e.err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	name, _ := Lookup(doc, "/properties/kind/const").(string)
	id, _ := doc["$id"].(string)
	if name == "" || id == "" {
		return fmt.Errorf("schema: a kind schema needs an $id and properties.kind.const")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.schemas[strings.ToLower(name)]; dup {
		return fmt.Errorf("schema: kind %s already has a schema", name)
	}
	c := newCompiler()
	for url, d := range e.docs {
		b, _ := json.Marshal(d)
		if err := c.AddResource(url, bytes.NewReader(b)); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
	if err := c.AddResource(id, bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("schema %s: %w", name, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return fmt.Errorf("schema %s: %w", name, err)
	}
	docs := make(map[string]any, len(e.docs)+1)
	for url, d := range e.docs {
		docs[url] = d
	}
	docs[id] = doc
	if e.added == nil {
		e.added = map[string][]byte{}
	}
	e.added[strings.ToLower(name)] = append([]byte(nil), raw...)
	e.schemas[strings.ToLower(name)] = &Schema{name: name, s: s, root: doc, docs: docs}
	e.names = append(e.names[:len(e.names)-1], name, ConfigKind)
	return nil
}

// ForKind returns the compiled schema of a kind (case-insensitive) or of
// "config"; ok is false for an unknown name.
func ForKind(name string) (s *Schema, ok bool) {
	e := loadEmbedded()
	if e.err != nil {
		panic("schema: embedded schemas are broken: " + e.err.Error())
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, ok = e.schemas[strings.ToLower(name)]
	return s, ok
}

// Source returns the schema of a kind (case-insensitive) or "config" as one
// standalone JSON document, with the shared definitions bundled in, as
// editors (yaml-language-server) expect.
func Source(name string) ([]byte, bool) {
	e := loadEmbedded()
	e.mu.RLock()
	file, ok := e.files[strings.ToLower(name)]
	raw, added := e.added[strings.ToLower(name)]
	e.mu.RUnlock()
	if !ok && !added {
		return nil, false
	}
	if !added {
		var err error
		if raw, err = kindFS.ReadFile(path.Join("kinds", file)); err != nil {
			return nil, false
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, false
	}
	defs, _ := doc["$defs"].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
	}
	shared, _ := e.docs[e.ids[defsFile]].(map[string]any)
	sharedDefs, _ := shared["$defs"].(map[string]any)
	for k, v := range sharedDefs {
		if _, clash := defs[k]; clash {
			panic(fmt.Sprintf("schema: %s and %s both define $defs/%s", file, defsFile, k))
		}
		defs[k] = v
	}
	doc["$defs"] = defs
	bundled := rewriteRefs(doc, defsFile+"#", "#")
	out, err := json.MarshalIndent(bundled, "", "  ")
	if err != nil {
		return nil, false
	}
	return append(out, '\n'), true
}

func rewriteRefs(v any, from, to string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(s, from) {
				out[k] = to + strings.TrimPrefix(s, from)
				continue
			}
			out[k] = rewriteRefs(e, from, to)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rewriteRefs(e, from, to)
		}
		return out
	}
	return v
}

// userSchemaURL names schemas compiled from plans (template parameters).
const userSchemaURL = "https://fleetplan.dev/schema/v1/parameters.json"

// Compile compiles a JSON Schema written in a plan (a template's parameters,
// as plain values). Problems in the schema itself are reported at the
// positions loc gives for pointers into raw.
func Compile(raw any, loc Locator) (*Schema, diag.List) {
	var diags diag.List
	b, err := json.Marshal(raw)
	if err != nil {
		diags.Errorf(loc.at(""), "parameters is not a valid JSON Schema: %v", err).WithHint("parameters is a JSON Schema written in YAML: {type: object, properties: {...}}")
		return nil, diags
	}
	c := newCompiler()
	if err := c.AddResource(userSchemaURL, bytes.NewReader(b)); err != nil {
		diags.Errorf(loc.at(""), "parameters is not a valid JSON Schema: %v", err).WithHint("parameters is a JSON Schema written in YAML: {type: object, properties: {...}}")
		return nil, diags
	}
	s, err := c.Compile(userSchemaURL)
	if err != nil {
		var se *jsonschema.SchemaError
		if errors.As(err, &se) {
			if ve, ok := se.Err.(*jsonschema.ValidationError); ok {
				meta := &Schema{docs: map[string]any{}}
				for _, d := range meta.describe(ve, raw, loc, "") {
					d.Message = "parameters is not a valid JSON Schema: " + d.Message
					diags.Add(d)
				}
				return nil, diags
			}
		}
		diags.Errorf(loc.at(""), "parameters is not a valid JSON Schema: %s", strings.TrimPrefix(err.Error(), "jsonschema: ")).WithHint("parameters is a JSON Schema written in YAML: {type: object, properties: {...}}")
		return nil, diags
	}
	var doc any
	_ = json.Unmarshal(b, &doc)
	return &Schema{s: s, root: doc, docs: map[string]any{userSchemaURL: doc}}, nil
}

// Validate checks v (plain values: map[string]any, []any, string, bool, int,
// float64, nil) and returns one diagnostic per problem, at the positions loc
// gives for JSON pointers into v. Messages name paths from root (empty for a
// whole document, "with" for template arguments).
func (s *Schema) Validate(v any, loc Locator, root string) (diags diag.List) {
	defer func() {
		if r := recover(); r != nil {
			diags = nil
			diags.Errorf(loc.at(""), "cannot validate: %v", r).WithHint("this is a bug in fleetplan; please report it with the plan file")
		}
	}()
	err := s.s.Validate(v)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		diags.Errorf(loc.at(""), "cannot validate: %v", err).WithHint("this is a bug in fleetplan; please report it with the plan file")
		return diags
	}
	return s.describe(ve, v, loc, root)
}

// Defaults returns a copy of v with the `default` of every missing property
// filled in, recursively through objects that are present. It follows only
// properties written inline (no $ref).
func (s *Schema) Defaults(v any) any {
	return applyDefaults(s.root, v)
}

func applyDefaults(sch, v any) any {
	sm, ok := sch.(map[string]any)
	vm, isObj := v.(map[string]any)
	if !ok || !isObj {
		return v
	}
	props, _ := sm["properties"].(map[string]any)
	out := make(map[string]any, len(vm)+len(props))
	for k, e := range vm {
		out[k] = e
	}
	for name, p := range props {
		pm, _ := p.(map[string]any)
		if cur, present := out[name]; present {
			out[name] = applyDefaults(pm, cur)
		} else if def, has := pm["default"]; has {
			out[name] = deepCopy(def)
		}
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case float64:
		// JSON numbers that are whole become ints, like plan values.
		if x == float64(int(x)) {
			return int(x)
		}
	}
	return v
}
