package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/google/go-cmp/cmp"
)

// fakeLoc puts every value at a line derived from its pointer, so tests can
// see which pointer a diagnostic was reported at: keys in col 1, values in col 2.
func fakeLoc(ptr string) Loc {
	return Loc{Key: diag.Pos{File: "k" + ptr, Line: 1, Col: 1}, Value: diag.Pos{File: "v" + ptr, Line: 1, Col: 2}}
}

func TestValidateMessages(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{
			"apiVersion": "fleetplan/v1", "kind": "ShardLayout", "metadata": map[string]any{"name": "customers"},
			"spec": map[string]any{"target": "local", "shardMap": "M", "keyType": "int64",
				"shards": []any{map[string]any{"server": "s", "database": "d"}}},
		}
	}
	spec := func(m map[string]any) map[string]any { return m["spec"].(map[string]any) }
	cases := map[string]struct {
		edit func(m map[string]any)
		want []string
	}{
		"valid": {edit: func(map[string]any) {}},
		"unknown field": {edit: func(m map[string]any) { spec(m)["shardz"] = 1 },
			want: []string{`k/spec/shardz:1:1: unknown field "shardz" in spec (hint: did you mean "shards"?)`}},
		"wrong type": {edit: func(m map[string]any) { spec(m)["move"] = map[string]any{"batchSize": "ten"} },
			want: []string{`v/spec/move/batchSize:1:2: spec.move.batchSize: expected integer, got string`}},
		"missing": {edit: func(m map[string]any) { delete(spec(m), "shardMap") },
			want: []string{`k/spec:1:1: missing field "shardMap" in spec`}},
		"enum": {edit: func(m map[string]any) { spec(m)["keyType"] = "int46" },
			want: []string{`v/spec/keyType:1:2: spec.keyType: "int46" is not one of "int32", "int64", "guid", "binary", "datetime", "timespan", "datetimeoffset" (hint: did you mean "int64"?)`}},
		"const": {edit: func(m map[string]any) { m["apiVersion"] = "v1" },
			want: []string{`v/apiVersion:1:2: apiVersion: must be "fleetplan/v1", got "v1"`}},
		"pattern uses description": {edit: func(m map[string]any) { m["metadata"] = map[string]any{"name": "Bad_Name"} },
			want: []string{`v/metadata/name:1:2: metadata.name: "Bad_Name" is not valid: use lower-case letters, digits and '-', starting and ending with a letter or digit (a DNS label)`}},
		"minimum": {edit: func(m map[string]any) { spec(m)["move"] = map[string]any{"parallel": 0} },
			want: []string{`v/spec/move/parallel:1:2: spec.move.parallel: must be >= 1, got 0`}},
		"list item": {edit: func(m map[string]any) { spec(m)["shards"] = []any{map[string]any{"server": 5, "database": "d"}} },
			want: []string{`v/spec/shards/0/server:1:2: spec.shards[0].server: expected string, got number`}},
	}
	s, ok := ForKind("ShardLayout")
	if !ok {
		t.Fatal("no ShardLayout schema")
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			var got []string
			for _, d := range s.Validate(m, fakeLoc, "") {
				if d.Hint == "" {
					t.Errorf("no hint: %s", d)
				}
				if !strings.Contains(strings.Join(tc.want, "\n"), "(hint:") {
					d.Hint = "" // these cases compare messages; hints are worded in describe.go
				}
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigDriverRules(t *testing.T) {
	s, _ := ForKind("config")
	cases := map[string]struct {
		target map[string]any
		want   []string
	}{
		"local ok":         {target: map[string]any{"driver": "local", "path": "fleet"}},
		"local needs path": {target: map[string]any{"driver": "local"}, want: []string{`k/targets/t:1:1: missing field "path" in targets.t`}},
		"local has server": {target: map[string]any{"driver": "local", "path": "p", "server": "x"},
			want: []string{`k/targets/t/server:1:1: field "server" is not allowed in targets.t`}},
		"sqlserver ok": {target: map[string]any{"driver": "sqlserver", "server": "s", "database": "d",
			"auth": map[string]any{"user": "u", "password": "env:PW"}}},
		"azure needs group": {target: map[string]any{"driver": "azure", "subscription": "x"},
			want: []string{`k/targets/t:1:1: missing field "resourceGroup" in targets.t`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, d := range s.Validate(map[string]any{"targets": map[string]any{"t": tc.target}}, fakeLoc, "") {
				if d.Hint == "" {
					t.Errorf("no hint: %s", d)
				}
				if !strings.Contains(strings.Join(tc.want, "\n"), "(hint:") {
					d.Hint = "" // these cases compare messages; hints are worded in describe.go
				}
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourceIsStandalone(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			src, ok := Source(strings.ToUpper(name))
			if !ok {
				t.Fatal("no source")
			}
			if strings.Contains(string(src), "defs.json") {
				t.Error("bundled schema still refers to defs.json")
			}
			var raw any
			if err := json.Unmarshal(src, &raw); err != nil {
				t.Fatal(err)
			}
			// The bundled document compiles on its own, like an editor would load it.
			if _, diags := Compile(raw, fakeLoc); diags.HasErrors() {
				t.Fatalf("bundled schema does not compile: %v", diags)
			}
		})
	}
	if _, ok := Source("nope"); ok {
		t.Error("Source(nope) succeeded")
	}
}

func TestUserSchema(t *testing.T) {
	params := map[string]any{
		"type": "object", "required": []any{"server"},
		"properties": map[string]any{
			"server": map[string]any{"type": "string"},
			"opts":   map[string]any{"type": "object", "properties": map[string]any{"retries": map[string]any{"type": "integer", "default": 3}}},
			"mode":   map[string]any{"enum": []any{"a", "b"}, "default": "a"},
		},
	}
	s, diags := Compile(params, fakeLoc)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := s.Defaults(map[string]any{"server": "x", "opts": map[string]any{}})
	want := map[string]any{"server": "x", "mode": "a", "opts": map[string]any{"retries": 3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	var msgs []string
	for _, d := range s.Validate(map[string]any{"server": 1}, fakeLoc, "with") {
		msgs = append(msgs, d.Message)
	}
	if diff := cmp.Diff([]string{"with.server: expected string, got number"}, msgs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, diags = Compile(map[string]any{"type": "strin"}, fakeLoc)
	if !diags.HasErrors() || !strings.Contains(diags[0].Message, "not a valid JSON Schema") {
		t.Errorf("bad schema diags = %v", diags)
	}
}

func TestSuggestAndPath(t *testing.T) {
	suggest := map[string]struct {
		word, want string
		options    []string
	}{
		"typo":         {"shardz", "shards", []string{"shards", "ranges"}},
		"swap":         {"int46", "int64", []string{"int32", "int64"}},
		"case":         {"shardlayout", "ShardLayout", []string{"ShardLayout"}},
		"too far":      {"xyz", "", []string{"shards"}},
		"short strict": {"ab", "", []string{"cd"}},
	}
	for name, tc := range suggest {
		if got := Suggest(tc.word, tc.options); got != tc.want {
			t.Errorf("%s: Suggest(%q) = %q, want %q", name, tc.word, got, tc.want)
		}
	}
	paths := map[string]string{"": "", "/spec/shards/0/name": "spec.shards[0].name", "/a~1b/c.d": `a/b["c.d"]`}
	for ptr, want := range paths {
		if got := Path(ptr); got != want {
			t.Errorf("Path(%q) = %q, want %q", ptr, got, want)
		}
	}
}

func TestAddRefusesASecondSchemaForAKind(t *testing.T) {
	for _, raw := range []string{
		`{"$id": "https://fleetplan.dev/schema/v1/again.json", "properties": {"kind": {"const": "ShardLayout"}}}`,
		`{"properties": {"kind": {"const": "NoID"}}}`,
		`not json`,
	} {
		if err := Add([]byte(raw)); err == nil {
			t.Errorf("Add(%s) = nil", raw)
		}
	}
	if _, ok := ForKind("NoID"); ok {
		t.Error("a refused schema was added")
	}
}
