package plans

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBuiltinParamRefs loads every built-in template and checks that each
// params reference of its expressions is a declared parameter; a typo put
// into one is caught at its member.
func TestBuiltinParamRefs(t *testing.T) {
	for _, name := range BuiltinTemplates() {
		t.Run(name, func(t *testing.T) {
			data, err := builtinFS.ReadFile("templates/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			l := newLoader(Options{})
			l.fileData(BuiltinPrefix+name, BuiltinPrefix+name, data)
			if d := l.diags.Errors(); len(d) > 0 {
				t.Fatalf("builtin template has errors:\n%v", d)
			}
			if len(l.templates[BuiltinPrefix+name].uses) < 10 {
				t.Fatalf("only %d params references found", len(l.templates[BuiltinPrefix+name].uses))
			}
			typo := strings.Replace(string(data), "params.primary.database }}", "params.primary.databse }}", 1)
			l = newLoader(Options{})
			l.fileData(BuiltinPrefix+name, BuiltinPrefix+name, []byte(typo))
			errs := l.diags.Errors()
			if len(errs) != 1 || !strings.Contains(errs[0].Message, `params.primary has no parameter "databse"`) ||
				!strings.Contains(errs[0].Hint, `did you mean "database"?`) || errs[0].Pos.Line == 0 {
				t.Fatalf("typo not reported at its member: %v", errs)
			}
		})
	}
}

func TestParamMember(t *testing.T) {
	obj := func(extra map[string]any) map[string]any {
		s := map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "string"}}}
		for k, v := range extra {
			s[k] = v
		}
		return s
	}
	cases := map[string]struct {
		schema  map[string]any
		name    string
		verdict int
	}{
		"declared":                  {schema: obj(nil), name: "a", verdict: memberDeclared},
		"open by default":           {schema: obj(nil), name: "b", verdict: memberOpen},
		"closed":                    {schema: obj(map[string]any{"additionalProperties": false}), name: "b", verdict: memberClosed},
		"additional schema":         {schema: obj(map[string]any{"additionalProperties": map[string]any{"type": "string"}}), name: "b", verdict: memberOpen},
		"scalar":                    {schema: map[string]any{"type": "string"}, name: "b", verdict: memberOfScalar},
		"object among types":        {schema: map[string]any{"type": []any{"string", "object"}}, name: "b", verdict: memberOpen},
		"anyOf cannot be told":      {schema: map[string]any{"anyOf": []any{obj(nil)}}, name: "b", verdict: memberUnknown},
		"no schema":                 {schema: nil, name: "b", verdict: memberOpen},
		"declared under closed map": {schema: obj(map[string]any{"additionalProperties": false}), name: "a", verdict: memberDeclared},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, v, _ := member(tc.schema, tc.name); v != tc.verdict {
				t.Errorf("verdict %d, want %d", v, tc.verdict)
			}
		})
	}
}

func TestParamRefsOfExpressions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"fleetplan.yaml": testConfig,
		"t.yaml": `apiVersion: fleetplan/v1
kind: Template
metadata: {name: t}
parameters:
  type: object
  additionalProperties: false
  properties:
    db: {type: object, additionalProperties: false, properties: {server: {type: string}}}
    n: {type: integer}
outputs:
  o: "${{ params.nn }}"
steps:
  - id: a
    action: generic.noop
    with: {x: "${{ params.db.sever ?? params['db'].server }}", y: "${{ params.db[params.n] }}"}
    rollback: {action: generic.noop, with: {z: "${{ params.dbb }}"}}
    guard: "params.n > 0"
`,
	})
	_, diags := Load(dir)
	var got []string
	for _, d := range diags.Errors() {
		got = append(got, d.Pos.String()[len(dir)+1:]+": "+d.Message)
	}
	want := []string{
		`t.yaml:11:18: params.nn: params has no parameter "nn"`,
		`t.yaml:15:30: params.db.sever: params.db has no parameter "sever"`,
		`t.yaml:16:60: params.dbb: params has no parameter "dbb"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
