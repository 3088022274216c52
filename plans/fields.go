package plans

import (
	"sort"
	"strconv"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/schema"
	"gopkg.in/yaml.v3"
)

// obj reads fields of one mapping of a document. Wrong types read as zero
// values: the schema has already reported them, and semantic checks skip
// what they cannot read.
type obj struct {
	d     *rawDoc
	ptr   string
	m     map[string]any
	diags *diag.List
	// node is the YAML node at ptr when the caller already holds it (the
	// items of a list); nil means it is found along ptr when needed.
	node *yaml.Node
}

func (o obj) child(k string) string { return o.ptr + "/" + schema.Escape(k) }

func (o obj) has(k string) bool { _, ok := o.m[k]; return ok }

func (o obj) str(k string) string { s, _ := o.m[k].(string); return s }

func (o obj) strOr(k, def string) string {
	if s, ok := o.m[k].(string); ok {
		return s
	}
	return def
}

func (o obj) boolean(k string) bool { b, _ := o.m[k].(bool); return b }

func (o obj) integer(k string, def int) int {
	if i, ok := o.m[k].(int); ok {
		return i
	}
	return def
}

func (o obj) obj(k string) obj {
	m, _ := o.m[k].(map[string]any)
	return obj{d: o.d, ptr: o.child(k), m: m, diags: o.diags}
}

func (o obj) items(k string) []obj {
	list, _ := o.m[k].([]any)
	out := make([]obj, 0, len(list))
	base := o.child(k)
	// The list's node is found once, so an item's position costs no walk
	// from the root (a layout has 100,000 ranges).
	seq := o.d.nodeAt(base)
	if seq != nil && (seq.Kind != yaml.SequenceNode || len(seq.Content) != len(list)) {
		seq = nil
	}
	for i, e := range list {
		m, _ := e.(map[string]any)
		it := obj{d: o.d, ptr: base + "/" + strconv.Itoa(i), m: m, diags: o.diags}
		if seq != nil {
			it.node = seq.Content[i]
		}
		out = append(out, it)
	}
	return out
}

// valueNode is the YAML node of field k, an alias resolved, or nil.
func (o obj) valueNode(k string) *yaml.Node {
	if o.node == nil {
		return o.d.nodeAt(o.child(k))
	}
	n := o.node
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	_, v := o.d.child(n, k)
	if v != nil && v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	return v
}

func (o obj) strings(k string) []string {
	list, _ := o.m[k].([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (o obj) stringMap(k string) map[string]string {
	m, _ := o.m[k].(map[string]any)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for key, v := range m {
		if s, ok := v.(string); ok {
			out[key] = s
		}
	}
	return out
}

// at is the position of the mapping itself; pos and keyPos of one field.
func (o obj) at() diag.Pos {
	if o.node != nil {
		return nodePos(o.d.file, o.node)
	}
	return o.d.pos(o.ptr)
}
func (o obj) pos(k string) diag.Pos    { return o.d.pos(o.child(k)) }
func (o obj) keyPos(k string) diag.Pos { return o.d.keyPos(o.child(k)) }

// selfKeyPos is the position of the key holding this mapping (or the mapping).
func (o obj) selfKeyPos() diag.Pos { return o.d.keyPos(o.ptr) }

func (o obj) errorf(k string, format string, args ...any) *diag.Diagnostic {
	return o.diags.Errorf(o.pos(k), format, args...)
}

// duration parses a duration field (zero when absent). The schema checks the
// syntax; this reports values Go cannot hold.
func (o obj) duration(k string) time.Duration {
	s, ok := o.m[k].(string)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

// path names a field for messages: spec.move.batchSize.
func (o obj) path(k string) string { return schema.Path(o.child(k)) }

// compileGuard compiles a boolean expression written at field k. what names it
// in messages ("guard \"all-online\"").
func (o obj) compileGuard(k, what string) *expression.Program {
	src := o.str(k)
	if src == "" {
		return nil
	}
	p, err := expression.CompileIn(o.d.budget, src, expression.Bool)
	if err != nil {
		o.exprError(o.child(k), what, err)
		return nil
	}
	return p
}

// exprError reports an expression error at the file position of the error
// inside the YAML scalar at ptr, with its hint.
func (o obj) exprError(ptr string, what string, err error) {
	d := o.diags.Errorf(o.exprPos(ptr, err), "%s: %v", what, err)
	if h := expression.HintOf(err); h != "" {
		d.WithHint("%s", h)
	} else {
		d.WithHint("%s", expressionHint)
	}
}

// exprPos is the file position of an expression error inside the YAML
// scalar at ptr (in any style, on one line or several), or the scalar's
// position when the error has none or the scalar cannot be replayed.
func (o obj) exprPos(ptr string, err error) diag.Pos {
	pos := o.d.pos(ptr)
	if e, ok := err.(*expression.Error); ok && e.Column > 0 {
		if p, ok := scalarPos(o.d.src, o.d.nodeAt(ptr), max(e.Line, 1), e.Column); ok {
			pos.Line, pos.Col = p.line, p.col
		}
	}
	return pos
}

// compileInterps compiles every ${{ }} in the strings of v (found at ptr)
// and reports errors at their positions.
func (o obj) compileInterps(ptr string, v any) {
	walkStrings(v, ptr, func(p, s string) {
		if !expression.HasInterpolation(s) {
			return
		}
		if _, err := expression.CompileInterpIn(o.d.budget, s); err != nil {
			o.exprError(p, schema.Path(p), err)
		}
	})
}

// walkStrings calls fn for every string in v with its JSON pointer, in a
// stable order.
func walkStrings(v any, ptr string, fn func(ptr, s string)) {
	switch x := v.(type) {
	case string:
		fn(ptr, x)
	case []any:
		for i, e := range x {
			walkStrings(e, ptr+"/"+strconv.Itoa(i), fn)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkStrings(x[k], ptr+"/"+schema.Escape(k), fn)
		}
	}
}

// expressionHint is the hint of every expression error.
const expressionHint = "expressions are expr-lang inside ${{ }} or a guard; the names in scope are live, params, steps and run, and strings are quoted"
