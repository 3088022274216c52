package schema

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/secret"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Loc is where a value sits in the source: the position of its key (zero for
// the root and for list items) and of the value itself.
type Loc struct {
	Key, Value diag.Pos
}

// Locator maps a JSON pointer (RFC 6901, as in InstanceLocation) to the
// source location of that value, or of its nearest known ancestor.
type Locator func(ptr string) Loc

func (l Locator) at(ptr string) diag.Pos { return l(ptr).Value }

// keyOrValue is the key position when the value has one, else the value's.
func (l Locator) keyOrValue(ptr string) diag.Pos {
	loc := l(ptr)
	if loc.Key.Line != 0 {
		return loc.Key
	}
	return loc.Value
}

// describe turns a validation error tree into diagnostics, one per leaf.
func (s *Schema) describe(ve *jsonschema.ValidationError, v any, loc Locator, root string) diag.List {
	var diags diag.List
	n := namer{root: root}
	for _, leaf := range leaves(ve) {
		s.describeLeaf(&diags, leaf, v, loc, n)
	}
	return diags
}

// namer renders instance pointers in messages, under an optional root name
// ("with" for template arguments).
type namer struct{ root string }

func (n namer) path(ptr string) string {
	p := Path(ptr)
	switch {
	case n.root == "":
		return p
	case p == "" || p[0] == '[':
		return n.root + p
	}
	return n.root + "." + p
}

// prefixed puts "path: " before msg unless the path is the root.
func (n namer) prefixed(ptr, msg string) string {
	if p := n.path(ptr); p != "" {
		return p + ": " + msg
	}
	return msg
}

// where names the object at ptr for "in ..." phrases.
func (n namer) where(ptr string) string {
	if p := n.path(ptr); p != "" {
		return " in " + p
	}
	return " at the top level"
}

// leaves walks Causes down to the errors that say what is wrong. For anyOf
// and oneOf it follows the branch that got deepest into the value, which is
// almost always the one the author meant.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	kw := lastSegment(e.KeywordLocation)
	if kw == "anyOf" || kw == "oneOf" {
		var best []*jsonschema.ValidationError
		bestDepth := -1
		for _, c := range e.Causes {
			l := leaves(c)
			d := 0
			for _, x := range l {
				d = max(d, depth(x.InstanceLocation))
			}
			if d > bestDepth {
				best, bestDepth = l, d
			}
		}
		if bestDepth > depth(e.InstanceLocation) {
			return best
		}
		return leaves(e.Causes[0])
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func depth(ptr string) int { return strings.Count(ptr, "/") }

func lastSegment(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[i+1:]
	}
	return ptr
}

// keywordParent returns the schema object holding the failing keyword.
func (s *Schema) keywordParent(e *jsonschema.ValidationError) map[string]any {
	url, frag, _ := strings.Cut(e.AbsoluteKeywordLocation, "#")
	doc, ok := s.docs[url]
	if !ok {
		return nil
	}
	if i := strings.LastIndexByte(frag, '/'); i >= 0 {
		frag = frag[:i]
	}
	m, _ := Lookup(doc, frag).(map[string]any)
	return m
}

// Lookup returns the value at a JSON pointer inside v, or nil.
func Lookup(v any, ptr string) any {
	if ptr == "" {
		return v
	}
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		seg = Unescape(seg)
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Escape escapes one JSON pointer segment.
func Escape(seg string) string {
	if !strings.ContainsAny(seg, "~/") {
		return seg
	}
	return escaper.Replace(seg)
}

var (
	escaper   = strings.NewReplacer("~", "~0", "/", "~1")
	unescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

// Unescape undoes Escape.
func Unescape(seg string) string {
	if !strings.Contains(seg, "~") {
		return seg
	}
	return unescaper.Replace(seg)
}

// Path renders a JSON pointer the way people write it: spec.shards[0].name.
func Path(ptr string) string {
	if ptr == "" {
		return ""
	}
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		seg = Unescape(seg)
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
			continue
		}
		if strings.ContainsAny(seg, ".[] ") || seg == "" {
			b.WriteString(fmt.Sprintf("[%q]", seg))
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

func (s *Schema) describeLeaf(diags *diag.List, e *jsonschema.ValidationError, v any, loc Locator, n namer) {
	ptr := e.InstanceLocation
	parent := s.keywordParent(e)
	value := Lookup(v, ptr)
	if i := strings.LastIndex(e.KeywordLocation, "/propertyNames/"); i >= 0 {
		name := Unescape(lastSegment(ptr))
		msg := fmt.Sprintf("name %q%s is not valid", name, n.where(parentPtr(ptr)))
		if desc, ok := parent["description"].(string); ok {
			msg += ": " + desc
		}
		diags.Errorf(loc.keyOrValue(ptr), "%s", msg).WithHint("rename %q; `fleetplan schema KIND` shows what names may hold", name)
		return
	}
	if e.Message == "not allowed" { // a false schema: the field is forbidden in this context
		name := Unescape(lastSegment(ptr))
		diags.Errorf(loc.keyOrValue(ptr), "field %q is not allowed%s", name, n.where(parentPtr(ptr))).
			WithHint("remove %q: it does not apply here", name)
		return
	}
	switch lastSegment(e.KeywordLocation) {
	case "additionalProperties":
		obj, _ := value.(map[string]any)
		allowed := propertyNames(parent)
		props, _ := parent["properties"].(map[string]any)
		var extra []string
		for k := range obj {
			if _, ok := props[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			d := diags.Errorf(loc.keyOrValue(ptr+"/"+Escape(k)), "unknown field %q%s", k, n.where(ptr))
			if sug := Suggest(k, allowed); sug != "" {
				d.WithHint("did you mean %q?", sug)
			} else if len(allowed) > 0 {
				d.WithHint("known fields: %s", strings.Join(allowed, ", "))
			} else {
				d.WithHint("remove %q: this mapping takes no fields of its own", k)
			}
		}
		if len(extra) == 0 {
			diags.Errorf(loc.keyOrValue(ptr), "%s", n.prefixed(ptr, e.Message)).WithHint("%s", s.hint())
		}
	case "required":
		obj, _ := value.(map[string]any)
		req, _ := parent["required"].([]any)
		missing := 0
		for _, r := range req {
			name, _ := r.(string)
			if _, ok := obj[name]; !ok {
				diags.Errorf(loc.keyOrValue(ptr), "missing field %q%s", name, n.where(ptr)).WithHint("%s", s.missingHint(parent, name))
				missing++
			}
		}
		if missing == 0 {
			diags.Errorf(loc.keyOrValue(ptr), "%s", n.prefixed(ptr, e.Message)).WithHint("%s", s.hint())
		}
	case "type":
		msg := strings.Replace(e.Message, ", but got ", ", got ", 1)
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, msg)).WithHint("%s", typeHint(parent, value))
	case "const":
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, fmt.Sprintf("must be %s, got %s", jsonText(parent["const"]), jsonText(value)))).
			WithHint("write %s", jsonText(parent["const"]))
	case "enum":
		opts, _ := parent["enum"].([]any)
		var names []string
		for _, o := range opts {
			names = append(names, jsonText(o))
		}
		d := diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, fmt.Sprintf("%s is not one of %s", jsonText(value), strings.Join(names, ", "))))
		if str, ok := value.(string); ok {
			var plain []string
			for _, o := range opts {
				if s, ok := o.(string); ok {
					plain = append(plain, s)
				}
			}
			if sug := Suggest(str, plain); sug != "" {
				d.WithHint("did you mean %q?", sug)
			}
		}
		if d.Hint == "" {
			d.WithHint("use one of %s", strings.Join(names, ", "))
		}
	case "pattern", "format":
		if desc, ok := parent["description"].(string); ok {
			diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, fmt.Sprintf("%s is not valid: %s", jsonText(value), desc))).
				WithHint("%s", s.hint())
			return
		}
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, fmt.Sprintf("%s %s", jsonText(value), e.Message))).WithHint("%s", s.hint())
	case "minLength":
		if least, _ := parent["minLength"].(float64); least == 1 {
			diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, "must not be empty")).WithHint("write a value, or leave the field out if it is optional")
			return
		}
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, strings.Replace(e.Message, ", but got ", ", got ", 1))).WithHint("write a longer value")
	case "minItems", "minProperties":
		kw := lastSegment(e.KeywordLocation)
		least, _ := parent[kw].(float64)
		unit := "items"
		if kw == "minProperties" {
			unit = "fields"
		}
		if least == 1 {
			diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, "must not be empty")).WithHint("add at least one, or leave the field out if it is optional")
			return
		}
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, fmt.Sprintf("needs at least %v %s", least, unit))).WithHint("add %s", unit)
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, strings.Replace(e.Message, " but found ", ", got ", 1))).
			WithHint("use a value in the allowed range")
	case "multipleOf":
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, fmt.Sprintf("must be a multiple of %v, got %s", parent["multipleOf"], jsonText(value)))).
			WithHint("use a multiple of %v", parent["multipleOf"])
	default:
		diags.Errorf(loc.at(ptr), "%s", n.prefixed(ptr, e.Message)).WithHint("%s", s.hint())
	}
}

// hint is the hint of schema messages that have no more precise one.
func (s *Schema) hint() string {
	if s.name == "" {
		return "the template's parameters: schema says what each parameter takes"
	}
	return fmt.Sprintf("`fleetplan schema %s` prints what every field takes", s.name)
}

// missingHint says what a missing required field is, from its description.
func (s *Schema) missingHint(parent map[string]any, name string) string {
	props, _ := parent["properties"].(map[string]any)
	p, _ := props[name].(map[string]any)
	if desc, ok := p["description"].(string); ok && desc != "" {
		return fmt.Sprintf("add %s: (%s)", name, desc)
	}
	return fmt.Sprintf("add %s: here; %s", name, s.hint())
}

// typeHint says how to write a value of the expected type.
func typeHint(parent map[string]any, value any) string {
	want := fmt.Sprint(parent["type"])
	switch {
	case strings.Contains(want, "string") && value != nil:
		if _, isMap := value.(map[string]any); !isMap {
			if _, isList := value.([]any); !isList {
				return "quote the value to make it a string"
			}
		}
	case strings.Contains(want, "integer") || strings.Contains(want, "number"):
		if _, isStr := value.(string); isStr {
			return "write a number without quotes"
		}
	case strings.Contains(want, "array"):
		return "write a list: [a, b] or one \"- item\" per line"
	case strings.Contains(want, "object"):
		return "write a mapping: {key: value} or one \"key: value\" per line"
	case strings.Contains(want, "boolean"):
		return "write true or false, without quotes"
	}
	if desc, ok := parent["description"].(string); ok && desc != "" {
		return desc
	}
	return "write a value of type " + strings.Trim(want, "[]")
}

func parentPtr(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[:i]
	}
	return ""
}

func propertyNames(sch map[string]any) []string {
	props, _ := sch["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k, p := range props {
		if p == false {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// jsonText renders a value the way it would be written in JSON.
func jsonText(v any) string {
	if str, ok := v.(string); ok {
		if why, _ := secret.Inline("", str); why != "" {
			v = secret.Mask // refused for its password elsewhere: never quoted
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Suggest returns the option closest to word when it is close enough to be a
// likely typo, else "".
func Suggest(word string, options []string) string {
	best, bestDist := "", -1
	for _, o := range options {
		if strings.EqualFold(o, word) {
			return o
		}
		d := editDistance(strings.ToLower(word), strings.ToLower(o))
		if bestDist < 0 || d < bestDist {
			best, bestDist = o, d
		}
	}
	limit := 1
	if n := len([]rune(word)); n > 3 {
		limit = min(3, max(2, n/3))
	}
	if bestDist >= 0 && bestDist <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
