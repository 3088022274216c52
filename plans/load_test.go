package plans

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// writeFiles creates files under a temp folder and returns the folder.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const testConfig = `targets:
  local: {driver: local, path: fleet}
  prod:
    driver: sqlserver
    server: sql-prod
    database: smm
    auth: {user: fleetplan, password: env:PROD_PW}
`

func mustLoad(t *testing.T, paths ...string) *Set {
	t.Helper()
	set, diags := Load(paths...)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics:\n%v", diags.Err())
	}
	return set
}

func TestLoadShardLayout(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"fleetplan.yaml": testConfig,
		"plans/layout.yaml": `apiVersion: fleetplan/v1
kind: ShardLayout
metadata: {name: customers, labels: {team: data}}
spec:
  target: local
  shardMap: CustomerMap
  keyType: int64
  shards:
    - {server: sql-1, database: customers_0}
    - {name: c1, server: sql-1, database: customers_1}
  ranges:
    - {low: 0, high: 50000, shard: customers_0}
    - {low: 50000, shard: c1}
  tables:
    sharded: [{table: dbo.customers, key: id}]
    reference: [regions]
  schemaFile: schema.sql
  guards: [{name: online, expr: "all(live.shards, .online)"}]
`,
		"plans/schema.sql": "create table t(x int);",
	})
	set := mustLoad(t, filepath.Join(dir, "plans"))
	if len(set.Documents) != 1 {
		t.Fatalf("got %d documents", len(set.Documents))
	}
	doc := set.Documents[0]
	s := doc.ShardLayout()
	if s == nil {
		t.Fatal("no ShardLayout")
	}
	if doc.Config == nil || set.Config != doc.Config || doc.Config.Targets["local"].Path != filepath.Join(dir, "fleet") {
		t.Errorf("config not found or path not resolved: %+v", doc.Config)
	}
	if got := doc.Config.Targets["prod"].Auth["password"]; got != (SecretRef{Kind: SecretEnv, Ref: "PROD_PW"}) {
		t.Errorf("password ref = %+v", got)
	}
	if s.MapType != MapRange || s.Move != (MoveSettings{BatchSize: 100, Parallel: 1}) || s.OnFailure != OnFailureRollback {
		t.Errorf("defaults not applied: %+v %+v %q", s.MapType, s.Move, s.OnFailure)
	}
	if s.Shards[0].Name != "customers_0" {
		t.Errorf("shard name did not default to database: %+v", s.Shards[0])
	}
	if len(s.Ranges) != 2 || s.Ranges[1].High != nil || s.Ranges[0].High.Value != int64(50000) || s.Ranges[0].Pos.Line != 12 {
		t.Errorf("ranges = %+v", s.Ranges)
	}
	if s.SchemaFile != filepath.Join(dir, "plans", "schema.sql") {
		t.Errorf("SchemaFile = %q", s.SchemaFile)
	}
	if len(s.Guards) != 1 || s.Guards[0].Program == nil {
		t.Errorf("guards = %+v", s.Guards)
	}
	if doc.Metadata.Labels["team"] != "data" {
		t.Errorf("labels = %v", doc.Metadata.Labels)
	}
}

func TestLoadTemplateExpansion(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"fleetplan.yaml": testConfig,
		"up.yaml": `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: app}
spec:
  target: local
  uses: ./t.yaml
  with: {db: app}
`,
		"t.yaml": `apiVersion: fleetplan/v1
kind: Template
metadata: {name: t}
parameters:
  type: object
  properties: {db: {type: string}, wait: {type: string, default: 5m}}
steps:
  - id: a
    action: database.set-read-only
    with: {database: "${{ params.db }}", timeout: "${{ params.wait }}", note: "${{ run.id }}"}
    guard: "params.db != ''"
  - id: b
    uses: ./inner.yaml
    needs: [a]
  - id: c
    action: traffic.switch-endpoint
    needs: [b]
`,
		"inner.yaml": `apiVersion: fleetplan/v1
kind: Template
metadata: {name: inner}
steps:
  - {id: x, action: sql.run-script}
  - {id: y, action: sql.run-script}
`,
	})
	set := mustLoad(t, filepath.Join(dir, "up.yaml"))
	doc := set.Documents[0]
	if diff := cmp.Diff(map[string]any{"db": "app", "wait": "5m"}, doc.Params); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	type step struct {
		ID    string
		Needs []string
	}
	var got []step
	for _, s := range doc.Steps {
		got = append(got, step{s.ID, s.Needs})
	}
	want := []step{{"a", nil}, {"b.x", []string{"a"}}, {"b.y", []string{"a"}}, {"c", []string{"b.x", "b.y"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"database": "app", "timeout": "5m", "note": "${{ run.id }}"}, doc.Steps[0].With); diff != "" {
		t.Errorf("with (-want +got):\n%s", diff)
	}
	if doc.Steps[0].Guard == nil || doc.Steps[0].Params["db"] != "app" {
		t.Errorf("guard or step params missing: %+v", doc.Steps[0])
	}
}

func TestLoadReportsEverything(t *testing.T) {
	// Several independent problems in one run, each at its own position.
	dir := writeFiles(t, map[string]string{
		"fleetplan.yaml": testConfig,
		"a.yaml": `apiVersion: fleetplan/v1
kind: ShardLayout
metadata: {name: x}
spec:
  target: nope
  shardMap: M
  keyType: int32
  shards: [{server: s, database: d}]
  ranges:
    - {low: 5, high: 1, shard: d}
  extra: 1
`,
		"b.yaml": "kind: Nope\n",
	})
	_, diags := Load(dir)
	var got []string
	for _, d := range diags {
		got = append(got, strings.TrimPrefix(d.Pos.String(), dir+string(filepath.Separator)))
	}
	want := []string{"a.yaml:5:11", "a.yaml:10:7", "a.yaml:11:3", "b.yaml:1:7"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s\n%v", diff, diags.Err())
	}
}

func TestConfigOption(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ops/other.yaml": "targets:\n  staging: {driver: local, path: ../st}\n",
		"plan.yaml": `apiVersion: fleetplan/v1
kind: ShardMapRecovery
metadata: {name: r}
spec: {target: staging, shardMap: M, shards: [{server: a, database: b}]}
`,
	})
	set, diags := Options{ConfigPath: filepath.Join(dir, "ops/other.yaml")}.Load(filepath.Join(dir, "plan.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	r := set.Documents[0].ShardMapRecovery()
	if r.Resolve != ResolveKeepShardMapping || len(r.Shards) != 1 || set.Config.Targets["staging"].Path != filepath.Join(dir, "st") {
		t.Errorf("recovery = %+v, config = %+v", r, set.Config)
	}
}

func TestSecretRefResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLEETPLAN_TEST_PW", "from-env")
	cases := map[string]struct {
		ref     SecretRef
		want    string
		wantErr string
	}{
		"env":          {ref: SecretRef{Kind: SecretEnv, Ref: "FLEETPLAN_TEST_PW"}, want: "from-env"},
		"env missing":  {ref: SecretRef{Kind: SecretEnv, Ref: "FLEETPLAN_TEST_NOPE"}, wantErr: "FLEETPLAN_TEST_NOPE is not set"},
		"file":         {ref: SecretRef{Kind: SecretFile, Ref: file}, want: "s3cret"},
		"file gone":    {ref: SecretRef{Kind: SecretFile, Ref: file + "x"}, wantErr: "file not found"},
		"file outside": {ref: SecretRef{Kind: SecretFile, Ref: "/etc/hostname"}, wantErr: "outside the plan repository"},
		"value":        {ref: SecretRef{Kind: SecretValue, Ref: "sa"}, want: "sa"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.ref.Resolve(confine.New(dir), dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Error("error leaks the secret")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestInlineSecret(t *testing.T) {
	cases := map[string]struct {
		key, value string
		bad        bool
	}{
		"password literal":  {"password", "hunter2", true},
		"password env":      {"password", "env:PW", false},
		"client secret":     {"clientSecret", "abc", true},
		"admin password":    {"adminPassword", "file:/run/pw", false},
		"connection string": {"dsn", "Server=x;Password=y", true},
		"params only":       {"password", "${{ params.pw }}", false},
		"constant":          {"password", "${{ 'hunter2' }}", true},
		"from a step":       {"password", "${{ steps.a.outputs.pw }}", true},
		"url userinfo":      {"dsn", "sqlserver://sa:hunter2@db:1433", true},
		"shard key":         {"key", "customer_id", false},
	}
	for name, tc := range cases {
		if why, _ := inlineSecret(tc.key, tc.value); (why != "") != tc.bad {
			got := why != ""
			t.Errorf("%s: inlineSecret(%q, %q) bad = %v, want %v", name, tc.key, tc.value, got, tc.bad)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	cases := map[string]struct {
		yaml    string
		wantMsg string
	}{
		"self alias":     {"a: &a [*a]\n", "alias"},
		"deep nesting":   {strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n", "nested more than"},
		"merge":          {"a: &a {x: 1}\nb:\n  <<: *a\n", "merge keys"},
		"non-string key": {"? [a]\n: 1\n", "mapping keys must be plain strings"},
		"alias bomb": {"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n", "aliases expand this document"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var diags diag.List
			decodeYAML("t.yaml", []byte(tc.yaml), &diags)
			if !diags.HasErrors() || !strings.Contains(diags.Err().Error(), tc.wantMsg) {
				t.Errorf("diags = %v, want %q", diags, tc.wantMsg)
			}
		})
	}
}

func TestDecodeTags(t *testing.T) {
	cases := map[string]struct {
		yaml string
		want string // "" when the document is accepted
	}{
		"binary":             {"a: !!binary aGVsbG8=\n", "t.yaml:1:4: unsupported YAML tag !!binary"},
		"local tag":          {"a: !custom x\n", "t.yaml:1:4: unsupported YAML tag !custom"},
		"python object":      {"a: !!python/object:os.system {x: 1}\n", "t.yaml:1:4: unsupported YAML tag !!python/object:os.system"},
		"timestamp":          {"a: !!timestamp 2024-01-01\n", "t.yaml:1:4: unsupported YAML tag !!timestamp"},
		"verbatim":           {"a: !<tag:example.com:x> y\n", "t.yaml:1:4: unsupported YAML tag tag:example.com:x"},
		"directive handle":   {"%TAG !e! tag:example.com,2000:\n---\na: !e!x y\n", "t.yaml:3:4: unsupported YAML tag tag:example.com,2000:x"},
		"on a key":           {"!custom k: 1\n", "t.yaml:1:1: unsupported YAML tag !custom"},
		"in a list":          {"a:\n  - 1\n  - !custom 2\n", "t.yaml:3:5: unsupported YAML tag !custom"},
		"on a mapping":       {"a: !custom {b: 1}\n", "t.yaml:1:4: unsupported YAML tag !custom"},
		"behind an alias":    {"a: &x !custom b\nc: *x\nd: *x\n", "t.yaml:1:4: unsupported YAML tag !custom"},
		"str on a mapping":   {"a: !!str {b: 1}\n", "t.yaml:1:4: tag !!str does not fit a mapping"},
		"int that is not":    {"a: !!int abc\n", "t.yaml:1:4: \"abc\" is not a !!int"},
		"bool that is not":   {"a: !!bool maybe\n", "t.yaml:1:4: \"maybe\" is not a !!bool"},
		"core str":           {"a: !!str 1\n", ""},
		"core int":           {"a: !!int 7\n", ""},
		"core float":         {"a: !!float 1.5\n", ""},
		"core bool and null": {"a: !!bool true\nb: !!null ~\n", ""},
		"core collections":   {"a: !!map {b: !!seq [1]}\n", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var diags diag.List
			decodeYAML("t.yaml", []byte(tc.yaml), &diags)
			if tc.want == "" {
				if diags.HasErrors() {
					t.Errorf("diags = %v, want none", diags)
				}
				return
			}
			if len(diags) != 1 || !strings.HasPrefix(diags[0].String(), tc.want+" (hint: ") {
				t.Errorf("diags = %v, want one starting %q with a hint", diags, tc.want)
			}
		})
	}
}

func TestScalarsAsJSON(t *testing.T) {
	var diags diag.List
	docs := decodeYAML("t.yaml", []byte("a: 2024-01-01\nb: 0x10\nc: 1.5\nd: ~\ne: yes\nf: true\ng: 99999999999999999999\n"), &diags)
	want := map[string]any{"a": "2024-01-01", "b": 16, "c": 1.5, "d": nil, "e": "yes", "f": true, "g": 1e20}
	if diff := cmp.Diff(want, docs[0].value); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWindowParsed(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"fleetplan.yaml": testConfig,
		"ic.yaml": `apiVersion: fleetplan/v1
kind: InstanceChange
metadata: {name: mi}
spec:
  target: local
  instances: {labels: {env: prod}}
  desired: {tier: GeneralPurpose, zoneRedundant: true}
  window: {days: [Sat, Sun], start: "02:30", duration: 4h, timeZone: Europe/Paris}
`,
	})
	ic := mustLoad(t, dir).Documents[0].InstanceChange()
	w := ic.Window
	if w.Start != 2*time.Hour+30*time.Minute || w.Duration != 4*time.Hour || w.Location == nil || len(w.Days) != 2 || w.Days[0] != time.Saturday {
		t.Errorf("window = %+v", w)
	}
	if ic.Desired.ZoneRedundant == nil || !*ic.Desired.ZoneRedundant || ic.MaxParallel != 1 {
		t.Errorf("desired = %+v", ic.Desired)
	}
}

func TestExamplesValidate(t *testing.T) {
	set := mustLoad(t, "../examples")
	if len(set.Documents) < 5 { // split, two upgrades, an instance change, a recovery
		t.Errorf("only %d example documents", len(set.Documents))
	}
}

// FuzzDecode loads a folder holding a fuzzed plan file and a fuzzed
// fleetplan.yaml (decode, schema, the checks of each kind, templates,
// config) and checks that nothing panics and that every diagnostic has a
// position in its file and a hint. The CLI scripts' plans are the seeds.
func FuzzDecode(f *testing.F) {
	config := "targets:\n  local: {driver: local, path: fleet}\n"
	for _, s := range []string{
		"apiVersion: fleetplan/v1\nkind: ShardLayout\nmetadata: {name: x}\nspec: {target: a}\n",
		"a: &a [1]\nb: *a\n", "- [", "\t- a", "{a: 1, a: 2}", "<<: {a: 1}", "---\n---\n", "? [a]\n: b\n",
		"a: \xff\n", "\xff\xfea\x00", "a:\r\n  b: c: d\r\n", "\ufeffa: [1", "a: 1\x00",
	} {
		f.Add([]byte(s), []byte(config))
	}
	scripts, _ := filepath.Glob("../test/testdata/script/*.txtar")
	for _, p := range scripts {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		plan, cfg := []byte(nil), []byte(config)
		for _, file := range ar.Files {
			switch file.Name {
			case "plan.yaml":
				plan = file.Data
			case "fleetplan.yaml":
				cfg = file.Data
			}
		}
		if plan != nil {
			f.Add(plan, cfg)
		}
	}
	f.Fuzz(func(t *testing.T, plan, cfg []byte) {
		if len(plan) > 1<<16 || len(cfg) > 1<<14 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), plan, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "fleetplan.yaml"), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		_, diags := Load(dir)
		for _, d := range diags {
			if strings.HasSuffix(d.Pos.File, ".yaml") && (d.Pos.Line < 1 || d.Pos.Col < 1) {
				t.Errorf("no line and column: %s", d)
			}
			if d.Pos.File == "" {
				t.Errorf("no file: %s", d)
			}
			if d.Hint == "" {
				t.Errorf("no hint: %s", d)
			}
		}
	})
}
