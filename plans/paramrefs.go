package plans

import (
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/schema"
)

// paramUse is one params.X.Y that an expression of a template (or of a
// plan's inline steps) reads, with the position of each member in the file.
type paramUse struct {
	ref expression.ParamRef
	pos []diag.Pos
}

// paramUses lists every params reference in the expressions of steps (with,
// rollback.with, guard, outputs) and of the outputs of body.
func paramUses(body obj, drafts []*stepDraft) []paramUse {
	var out []paramUse
	addInterps := func(o obj, ptr string, v any) {
		walkStrings(v, ptr, func(p, s string) {
			if !expression.HasInterpolation(s) {
				return
			}
			t, err := expression.CompileInterp(s)
			if err != nil {
				return // reported when the file was loaded
			}
			for _, r := range t.ParamRefs() {
				out = append(out, o.paramUse(p, r))
			}
		})
	}
	for _, d := range drafts {
		o := d.o
		addInterps(o, o.child("with"), o.m["with"])
		if rb := o.obj("rollback"); rb.m != nil {
			addInterps(rb, rb.child("with"), rb.m["with"])
		}
		addInterps(o, o.child("outputs"), o.m["outputs"])
		if src := o.str("guard"); src != "" {
			if p, err := expression.Compile(src, expression.Bool); err == nil {
				for _, r := range p.ParamRefs() {
					out = append(out, o.paramUse(o.child("guard"), r))
				}
			}
		}
	}
	if body.m != nil {
		addInterps(body, body.child("outputs"), body.m["outputs"])
	}
	return out
}

func (o obj) paramUse(ptr string, r expression.ParamRef) paramUse {
	u := paramUse{ref: r}
	for i := range r.Path {
		u.pos = append(u.pos, o.exprPos(ptr, &expression.Error{Line: r.Lines[i], Column: r.Columns[i]}))
	}
	return u
}

// Verdicts on one member of a params reference, judged by the schema.
const (
	memberDeclared = iota // the schema declares it
	memberOpen            // not declared, but the schema lets with: add it
	memberClosed          // the schema does not allow it
	memberOfScalar        // the parent is not an object
	memberUnknown         // the schema is too complex to tell (anyOf, $ref, ...)
)

// member judges params member name under schema s (nil: no schema known)
// and returns the schema of the member (nil when unknown) and the names s
// declares.
func member(s map[string]any, name string) (child map[string]any, verdict int, declared []string) {
	if s == nil {
		return nil, memberOpen, nil
	}
	for _, k := range []string{"$ref", "allOf", "anyOf", "oneOf", "if", "patternProperties", "dependentSchemas"} {
		if _, ok := s[k]; ok {
			return nil, memberUnknown, nil
		}
	}
	if !allowsObject(s["type"]) {
		return nil, memberOfScalar, nil
	}
	props, _ := s["properties"].(map[string]any)
	for k := range props {
		declared = append(declared, k)
	}
	sort.Strings(declared)
	if p, ok := props[name]; ok {
		child, _ = p.(map[string]any)
		return child, memberDeclared, declared
	}
	switch ap := s["additionalProperties"].(type) {
	case bool:
		if !ap {
			return nil, memberClosed, declared
		}
	case map[string]any:
		return ap, memberOpen, declared
	}
	return nil, memberOpen, declared
}

// allowsObject reports whether a schema's type: admits an object (an absent
// type does).
func allowsObject(t any) bool {
	switch x := t.(type) {
	case nil:
		return true
	case string:
		return x == "object"
	case []any:
		for _, e := range x {
			if e == "object" {
				return true
			}
		}
		return false
	}
	return true
}

// checkParamUses reports references to parameters a template's schema does
// not have, at the member in the template's file. params is the raw
// parameters: schema; declaredAny is false when the template (or plan)
// declares no parameters at all.
func (l *loader) checkParamUses(uses []paramUse, params map[string]any, declaredAny bool, what string) {
	for _, u := range uses {
		if !declaredAny {
			hint := "declare it under parameters: (a JSON Schema), or remove the reference"
			if params == nil && what == inlineSteps {
				hint = "only templates take parameters (uses: with with:); write the value here instead"
			}
			l.diags.Errorf(u.pos[0], "%s: %s declares no parameters", u.ref, what).WithHint("%s", hint)
			continue
		}
		s := params
		for i, name := range u.ref.Path {
			child, verdict, declared := member(s, name)
			prefix := "params"
			if i > 0 {
				prefix += "." + strings.Join(u.ref.Path[:i], ".")
			}
			switch verdict {
			case memberClosed:
				d := l.diags.Errorf(u.pos[i], "%s: %s has no parameter %q", u.ref, prefix, name)
				if sug := schema.Suggest(name, declared); sug != "" {
					d.WithHint("did you mean %q? %s has: %s", sug, prefix, strings.Join(declared, ", "))
				} else {
					d.WithHint("%s has: %s; declare %q under parameters: or fix the reference", prefix, orNoneList(declared), name)
				}
			case memberOfScalar:
				l.diags.Errorf(u.pos[i], "%s: %s is not an object (type %v), so it has no %q", u.ref, prefix, s["type"], name).
					WithHint("read %s itself, or declare it as type: object with properties", prefix)
			case memberDeclared, memberOpen:
				s = child
				continue
			}
			break
		}
	}
}

// inlineSteps names a plan's own steps in messages.
const inlineSteps = "this plan (it uses no template)"

func orNoneList(list []string) string {
	if len(list) == 0 {
		return "no parameters"
	}
	return strings.Join(list, ", ")
}

// checkParamValues reports references the schema leaves open (not declared,
// but allowed) when the with: values of one use do not give them: the
// expression would read nothing at run time. It reports at the with: of
// caller (or its uses: when there is no with:).
func (l *loader) checkParamValues(t *templateFile, caller obj, values map[string]any) {
	raw, _ := t.body.m["parameters"].(map[string]any)
	for _, u := range t.uses {
		if u.ref.Optional {
			continue // the expression copes with a missing value (?? or ?.)
		}
		s := raw
		var v any = values
		for i, name := range u.ref.Path {
			child, verdict, declared := member(s, name)
			m, isMap := v.(map[string]any)
			if verdict == memberOpen && isMap {
				if _, ok := m[name]; !ok {
					l.reportMissingValue(t, caller, u, i, m, declared)
					break
				}
			}
			if (verdict != memberDeclared && verdict != memberOpen) || !isMap {
				break
			}
			s, v = child, m[name]
			if v == nil {
				break // not given: optional, or a default of null
			}
		}
	}
}

func (l *loader) reportMissingValue(t *templateFile, caller obj, u paramUse, i int, given map[string]any, declared []string) {
	path := u.ref.Path[:i]
	pos := caller.keyPos("uses")
	if caller.has("with") {
		ptr := caller.child("with")
		for _, p := range path {
			ptr += "/" + schema.Escape(p)
		}
		pos = caller.d.keyPos(ptr)
	}
	where := "with"
	if len(path) > 0 {
		where += "." + strings.Join(path, ".")
	}
	var keys []string
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	name := u.ref.Path[i]
	d := l.diags.Errorf(pos, "template %s reads %s (at %s), but %s does not give %q", t.display, u.ref, u.pos[i], where, name)
	cands := append(append([]string{}, keys...), declared...)
	if sug := schema.Suggest(name, cands); sug != "" {
		d.WithHint("did you mean %q? %s gives: %s", sug, where, orNoneList(keys))
	} else {
		d.WithHint("give %s.%s, or fix the reference in the template; %s gives: %s", where, name, where, orNoneList(keys))
	}
}
