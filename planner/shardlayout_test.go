package planner

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeRows counts rows per database with a func field.
type fakeRows struct {
	count func(loc fleet.Location, r fleet.KeyRange) int64
}

func (f fakeRows) CountRange(_ context.Context, loc fleet.Location, _, _ string, r fleet.KeyRange) (int64, error) {
	if f.count == nil {
		return 0, nil
	}
	return f.count(loc, r), nil
}

func key(s string) plans.Key   { return plans.Key{Text: s} }
func keyp(s string) *plans.Key { k := key(s); return &k }

func layoutDoc(shards []string, ranges ...plans.Range) *plans.Document {
	spec := &plans.ShardLayout{Target: "local", ShardMap: "CustomerMap", MapType: "range", KeyType: "int64",
		Ranges: ranges, SchemaFile: "/plans/schema.sql",
		Tables: plans.Tables{Sharded: []plans.ShardedTable{{Table: "customers", Key: "id"}, {Table: "orders", Key: "customer_id"}},
			Reference: []string{"regions"}}}
	for i, s := range shards {
		spec.Shards = append(spec.Shards, plans.Shard{Name: s, Server: "sql-1", Database: s, Pos: diag.Pos{File: "plan.yaml", Line: 10 + i, Col: 7}})
	}
	for i := range spec.Ranges {
		spec.Ranges[i].Pos = diag.Pos{File: "plan.yaml", Line: 20 + i, Col: 7}
	}
	return &plans.Document{Kind: plans.KindShardLayout, File: "plan.yaml", Metadata: plans.Metadata{Name: "customers"},
		Pos: diag.Pos{File: "plan.yaml", Line: 1, Col: 1}, Spec: spec}
}

func enc(t testing.TB, s string) []byte {
	if s == "" {
		return nil
	}
	b, err := shardkey.EncodeText(fleet.KeyInt64, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demoLive is the demo fleet: [0,50000) on customers_0, [50000,+inf) on customers_1.
func demoLive(t testing.TB, mutate func(*fleet.MapLayout)) *ShardLayoutLive {
	m := &fleet.MapLayout{Map: fleet.ShardMap{ID: uuid.New(), Name: "CustomerMap", Type: fleet.RangeMap, KeyType: fleet.KeyInt64},
		Tables: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}},
			Reference: []string{"regions"}}}
	for i, name := range []string{"customers_0", "customers_1"} {
		sh := fleet.Shard{ID: uuid.New(), Version: uuid.New(), MapID: m.Map.ID, Location: fleet.Location{Server: "sql-1", Database: name}, Status: 1}
		m.Shards = append(m.Shards, fleet.ShardState{Shard: sh, Exists: true})
		lo, hi := []string{"0", "50000"}[i], []string{"50000", ""}[i]
		m.Mappings = append(m.Mappings, fleet.Mapping{ID: uuid.New(), MapID: m.Map.ID, ShardID: sh.ID, Min: enc(t, lo), Max: enc(t, hi), Online: true, Location: sh.Location})
	}
	if mutate != nil {
		mutate(m)
	}
	all := []string{"customers", "orders", "regions"}
	return &ShardLayoutLive{Target: "local", Fingerprint: "f1", Map: m, Databases: map[fleet.Location]DatabaseState{
		{Server: "sql-1", Database: "customers_0"}: {Exists: true, Tables: all},
		{Server: "sql-1", Database: "customers_1"}: {Exists: true, Tables: all},
	}, Rows: fakeRows{count: func(loc fleet.Location, r fleet.KeyRange) int64 {
		// 1 row per key on the shard that owns it in the demo layout.
		if loc.Database == "customers_2" {
			return 0
		}
		lo, _ := r.Low.(int64)
		hi := int64(100000)
		if h, ok := r.High.(int64); ok {
			hi = min(h, hi)
		}
		if loc.Database == "customers_0" {
			hi = min(hi, 50000)
		} else {
			lo = max(lo, 50000)
		}
		return max(0, hi-lo)
	}}}
}

func splitDoc() *plans.Document {
	return layoutDoc([]string{"customers_0", "customers_1", "customers_2"},
		plans.Range{Low: key("0"), High: keyp("50000"), Shard: "customers_0"},
		plans.Range{Low: key("50000"), High: keyp("75000"), Shard: "customers_1"},
		plans.Range{Low: key("75000"), Shard: "customers_2"})
}

func actions(g *stepgraph.Graph) string {
	if g == nil {
		return "<nil>"
	}
	var out []string
	for _, s := range g.Steps {
		out = append(out, s.ID+"="+s.Action)
	}
	return strings.Join(out, " ")
}

func TestPlanShardLayout(t *testing.T) {
	cases := map[string]struct {
		doc     *plans.Document
		live    *ShardLayoutLive
		want    string // step ids and actions, in order
		wantErr string // substring of the one error
	}{
		"no changes": {
			doc: layoutDoc([]string{"customers_0", "customers_1"},
				plans.Range{Low: key("0"), High: keyp("50000"), Shard: "customers_0"},
				plans.Range{Low: key("50000"), Shard: "customers_1"}),
			live: demoLive(t, nil),
			want: "",
		},
		"split and move to a new shard": {
			doc:  splitDoc(),
			live: demoLive(t, nil),
			want: "create-shard-customers_2=shardmap.create-shard split-75000=shardmap.split move-75000-inf=shardmap.move-range merge-75000-inf=shardmap.merge",
		},
		"new map": {
			doc: layoutDoc([]string{"customers_0", "customers_1"},
				plans.Range{Low: key("0"), High: keyp("50000"), Shard: "customers_0"},
				plans.Range{Low: key("50000"), Shard: "customers_1"}),
			live: func() *ShardLayoutLive { l := demoLive(t, nil); l.Map = nil; return l }(),
			want: "create-map=shardmap.create-map set-schema-info=shardmap.set-schema-info create-shard-customers_0=shardmap.create-shard create-shard-customers_1=shardmap.create-shard map-0-50000=shardmap.add-mapping map-50000-inf=shardmap.add-mapping",
		},
		"merge back onto one shard and drop the other": {
			doc:  layoutDoc([]string{"customers_0"}, plans.Range{Low: key("0"), Shard: "customers_0"}),
			live: demoLive(t, nil),
			want: "move-50000-inf=shardmap.move-range merge-0-inf=shardmap.merge remove-shard-customers_1=shardmap.remove-shard",
		},
		"unmapping keys that hold rows": {
			doc:     layoutDoc([]string{"customers_0", "customers_1"}, plans.Range{Low: key("0"), High: keyp("50000"), Shard: "customers_0"}),
			live:    demoLive(t, nil),
			wantErr: "keys [50000, +inf) hold 100,000 rows on shard customers_1",
		},
		"target range holds rows": {
			doc: layoutDoc([]string{"customers_0", "customers_1"},
				plans.Range{Low: key("0"), High: keyp("60000"), Shard: "customers_0"},
				plans.Range{Low: key("60000"), Shard: "customers_1"}),
			live: func() *ShardLayoutLive {
				l := demoLive(t, nil)
				l.Rows = fakeRows{count: func(fleet.Location, fleet.KeyRange) int64 { return 7 }}
				return l
			}(),
			wantErr: "target shard customers_0 already holds 14 rows in [50000, 60000)",
		},
		"pending operation": {
			doc:     splitDoc(),
			live:    demoLive(t, func(m *fleet.MapLayout) { m.Pending = []fleet.PendingOperation{{ID: uuid.New(), Name: "SplitMapping"}} }),
			wantErr: "pending operation",
		},
		"lock held by another owner": {
			doc:     splitDoc(),
			live:    demoLive(t, func(m *fleet.MapLayout) { m.Mappings[1].LockOwner = uuid.New() }),
			wantErr: "is locked by owner",
		},
		"offline mapping": {
			doc:     splitDoc(),
			live:    demoLive(t, func(m *fleet.MapLayout) { m.Mappings[1].Online = false }),
			wantErr: "is offline",
		},
		"new shard without schema file": {
			doc:     func() *plans.Document { d := splitDoc(); d.ShardLayout().SchemaFile = ""; return d }(),
			live:    demoLive(t, nil),
			wantErr: "new shard customers_2: database sql-1/customers_2 does not exist and the plan has no schemaFile",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, diags := PlanShardLayout(context.Background(), tc.doc, tc.live, Options{})
			if tc.wantErr != "" {
				if !diags.HasErrors() {
					t.Fatalf("want error %q, got graph %s", tc.wantErr, actions(g))
				}
				if !strings.Contains(diags.Errors()[0].String(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", diags.Errors()[0].String(), tc.wantErr)
				}
				if diags.Errors()[0].Pos.File != "plan.yaml" || diags.Errors()[0].Pos.Line == 0 {
					t.Fatalf("error without a plan position: %v", diags.Errors()[0])
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("unexpected errors: %v", diags)
			}
			if got := actions(g); got != tc.want {
				t.Fatalf("steps:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestMoveStepCarriesRollbackAndEstimate(t *testing.T) {
	g, diags := PlanShardLayout(context.Background(), splitDoc(), demoLive(t, nil), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	mv := g.Step("move-75000-inf")
	if mv.Rollback == nil || mv.Rollback.Action != stepspec.MoveRangeName {
		t.Fatalf("move has no reverse move as rollback: %+v", mv.Rollback)
	}
	if from := mv.Rollback.With["from"].(map[string]any)["database"]; from != "customers_2" {
		t.Fatalf("rollback moves from %v, want customers_2", from)
	}
	if mv.Estimate.Rows != 50000 { // 25,000 per table in the fake, two tables
		t.Fatalf("estimated rows %d, want 50000", mv.Estimate.Rows)
	}
	want := []string{"split-75000", "create-shard-customers_2"}
	if fmt.Sprint(mv.Needs) != fmt.Sprint(want) {
		t.Fatalf("needs %v, want %v", mv.Needs, want)
	}
}

func TestRenderGolden(t *testing.T) {
	g, diags := PlanShardLayout(context.Background(), splitDoc(), demoLive(t, nil), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	empty, _ := PlanShardLayout(context.Background(), layoutDoc([]string{"customers_0", "customers_1"},
		plans.Range{Low: key("0"), High: keyp("50000"), Shard: "customers_0"},
		plans.Range{Low: key("50000"), Shard: "customers_1"}), demoLive(t, nil), Options{})
	for _, tc := range []struct {
		name, format string
		g            *stepgraph.Graph
	}{
		{"split.txt", planrender.FormatText, g}, {"split.md", planrender.FormatMarkdown, g}, {"split.json", planrender.FormatJSON, g},
		{"nochange.txt", planrender.FormatText, empty},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc.name, tc.g, tc.format) })
	}
}

func TestGraphValidate(t *testing.T) {
	cases := map[string]struct {
		steps []*stepgraph.Step
		want  string
	}{
		"ok":        {[]*stepgraph.Step{{ID: "a"}, {ID: "b", Needs: []string{"a"}}}, ""},
		"duplicate": {[]*stepgraph.Step{{ID: "a"}, {ID: "a"}}, `duplicate step id "a"`},
		"unknown":   {[]*stepgraph.Step{{ID: "a", Needs: []string{"x"}}}, `needs unknown step "x"`},
		"cycle":     {[]*stepgraph.Step{{ID: "a", Needs: []string{"b"}}, {ID: "b", Needs: []string{"a"}}}, "dependency cycle: [a b a]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := (&stepgraph.Graph{Steps: tc.steps}).Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// movingLayout is a layout of ranges over shards where every tenth range
// moves to the next shard, with the live map it is planned against.
func movingLayout(tb testing.TB, ranges, shards int) (*plans.Document, *ShardLayoutLive) {
	var names []string
	for i := 0; i < shards; i++ {
		names = append(names, fmt.Sprintf("s%04d", i))
	}
	var rs []plans.Range
	live := &fleet.MapLayout{Map: fleet.ShardMap{ID: uuid.New(), Name: "CustomerMap", Type: fleet.RangeMap, KeyType: fleet.KeyInt64},
		Tables: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}}, Reference: []string{"regions"}}}
	dbs := map[fleet.Location]DatabaseState{}
	ids := map[string]uuid.UUID{}
	for _, n := range names {
		loc := fleet.Location{Server: "sql-1", Database: n}
		ids[n] = uuid.New()
		live.Shards = append(live.Shards, fleet.ShardState{Shard: fleet.Shard{ID: ids[n], Location: loc}, Exists: true})
		dbs[loc] = DatabaseState{Exists: true, Tables: []string{"customers", "orders", "regions"}}
	}
	for i := 0; i < ranges; i++ {
		lo, hi := fmt.Sprint(i*10), fmt.Sprint((i+1)*10)
		owner := names[i%shards]
		want := owner
		if i%10 == 0 {
			want = names[(i+1)%shards]
		}
		r := plans.Range{Low: key(lo), High: keyp(hi), Shard: want}
		if i == ranges-1 {
			r.High = nil
		}
		rs = append(rs, r)
		m := fleet.Mapping{ID: uuid.New(), ShardID: ids[owner], Min: enc(tb, lo), Max: enc(tb, hi), Online: true, Location: fleet.Location{Server: "sql-1", Database: owner}}
		if i == ranges-1 {
			m.Max = nil
		}
		live.Mappings = append(live.Mappings, m)
	}
	return layoutDoc(names, rs...), &ShardLayoutLive{Target: "local", Map: live, Databases: dbs, Rows: fakeRows{}}
}

// BenchmarkPlan100kRanges plans a layout of 100,000 ranges over 1,000 shards
// where every tenth range moves to the next shard.
func BenchmarkPlan100kRanges(b *testing.B) {
	const ranges = 100000
	doc, l := movingLayout(b, ranges, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, diags := PlanShardLayout(context.Background(), doc, l, Options{})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if len(g.Steps) < ranges/10 {
			b.Fatalf("only %d steps", len(g.Steps))
		}
	}
}

func TestSchemaDiff(t *testing.T) {
	cust, ord := fleet.ShardedTable{Table: "customers", KeyColumn: "id"}, fleet.ShardedTable{Table: "orders", KeyColumn: "customer_id"}
	cases := map[string]struct {
		have, want fleet.SchemaInfo
		lines      []string
	}{
		"new map":       {want: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{cust}, Reference: []string{"regions"}}, lines: []string{"+ sharded table customers (key id)", "+ reference table regions"}},
		"table dropped": {have: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{cust, ord}}, want: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{cust}}, lines: []string{"- sharded table orders (key customer_id)"}},
		"key changed": {have: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{ord}}, want: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "ORDERS", KeyColumn: "id"}}},
			lines: []string{"~ sharded table ORDERS (key customer_id -> id)"}},
		"reference to sharded": {have: fleet.SchemaInfo{Reference: []string{"orders"}}, want: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{ord}},
			lines: []string{"+ sharded table orders (key customer_id)", "- reference table orders"}},
		"dbo is the default schema": {have: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{ord}, Reference: []string{"regions"}},
			want: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "dbo.orders", KeyColumn: "customer_id"}}, Reference: []string{"DBO.regions"}}},
		"another schema is another table": {have: fleet.SchemaInfo{Sharded: []fleet.ShardedTable{ord}},
			want:  fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "sales.orders", KeyColumn: "customer_id"}}},
			lines: []string{"+ sharded table sales.orders (key customer_id)", "- sharded table orders (key customer_id)"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := schemaDiff(tc.have, tc.want); strings.Join(got, "\n") != strings.Join(tc.lines, "\n") {
				t.Fatalf("schemaDiff = %q, want %q", got, tc.lines)
			}
			if eq := schemaEqual(tc.have, tc.want); eq != (len(tc.lines) == 0) {
				t.Fatalf("schemaEqual = %t with diff %q", eq, tc.lines)
			}
		})
	}
}

// A new shard's database that already holds rows is taken over only with
// adopt: true; omitted tables use the stored schema info; a move without a
// sharded table is refused by plan.
func TestPlanShardsAndTables(t *testing.T) {
	c2 := fleet.Location{Server: "sql-1", Database: "customers_2"}
	withC2 := func(st DatabaseState) *ShardLayoutLive {
		live := demoLive(t, nil)
		live.Databases[c2] = st
		return live
	}
	held := DatabaseState{Exists: true, Tables: []string{"customers", "orders", "regions"}, Rows: []fleet.TableRows{{Name: "customers", Rows: 3}, {Name: "regions", Rows: 8}}}
	cases := map[string]struct {
		doc     func() *plans.Document
		live    *ShardLayoutLive
		wantErr string
		check   func(t *testing.T, g *stepgraph.Graph)
	}{
		"non-empty database without adopt": {doc: splitDoc, live: withC2(held),
			wantErr: "plan.yaml:12:7: new shard customers_2: database sql-1/customers_2, not listed in the fleet catalog, already exists and holds 11 rows (3 customers, 8 regions)"},
		"non-empty database with adopt": {doc: func() *plans.Document {
			d := splitDoc()
			d.ShardLayout().Shards[2].Adopt = true
			return d
		}, live: withC2(held), check: func(t *testing.T, g *stepgraph.Graph) {
			st := g.Steps[0]
			if st.With["adopt"] != true || st.With["createDatabase"] != false || st.Rollback.With["dropDatabase"] != false {
				t.Fatalf("create-shard step %+v, rollback %+v: want adopt, no create, no drop", st.With, st.Rollback.With)
			}
			if !strings.Contains(g.Changes[0].Detail, "ADOPT the existing database as it is, with its 11 rows") {
				t.Fatalf("the preview does not say it adopts: %q", g.Changes[0].Detail)
			}
			if len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "reference table regions on new shard customers_2 already holds 8 rows") {
				t.Fatalf("warnings %q, want one about the non-empty reference table", g.Warnings)
			}
		}},
		"empty database needs no adopt": {doc: splitDoc, live: withC2(DatabaseState{Exists: true, Listed: true}), check: func(t *testing.T, g *stepgraph.Graph) {
			if d := g.Changes[0].Detail; d != "use the existing empty database, apply schema.sql, register in GSM and LSM" {
				t.Fatalf("detail %q", d)
			}
		}},
		"omitted tables use the stored schema info": {doc: func() *plans.Document {
			d := splitDoc()
			d.ShardLayout().Tables = plans.Tables{Omitted: true}
			return d
		}, live: demoLive(t, nil), check: func(t *testing.T, g *stepgraph.Graph) {
			for _, s := range g.Steps {
				if s.Action == stepspec.SetSchemaInfoName {
					t.Fatal("omitted tables planned a schema info change")
				}
				if s.Action == stepspec.MoveRangeName && (len(s.With["sharded"].([]any)) != 2 || s.Estimate.Rows == 0) {
					t.Fatalf("the move does not use the stored tables: %+v, %+v", s.With, s.Estimate)
				}
			}
		}},
		"omitted tables and nothing stored": {doc: func() *plans.Document {
			d := splitDoc()
			d.ShardLayout().Tables = plans.Tables{Omitted: true}
			return d
		}, live: demoLive(t, func(m *fleet.MapLayout) { m.Tables = fleet.SchemaInfo{} }),
			wantErr: "plan.yaml:22:7: moving [75000, +inf) to customers_2 needs at least one sharded table, but the plan has no `tables:` and the schema info stored for shard map CustomerMap lists no sharded table"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, diags := PlanShardLayout(context.Background(), tc.doc(), tc.live, Options{})
			if tc.wantErr != "" {
				if !strings.Contains(fmt.Sprint(diags.Err()), tc.wantErr) {
					t.Fatalf("diags %v, want %q", diags, tc.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			tc.check(t, g)
		})
	}
}

// Unregistering a shard is undone by registering it again, rows and all.
func TestRemovedShardRollbackAdoptsItsOwnDatabase(t *testing.T) {
	doc := layoutDoc([]string{"customers_0"}, plans.Range{Low: key("0"), Shard: "customers_0"})
	g, diags := PlanShardLayout(context.Background(), doc, demoLive(t, nil), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, s := range g.Steps {
		if s.Action == stepspec.RemoveShardName {
			if s.Rollback == nil || s.Rollback.With["adopt"] != true {
				t.Fatalf("remove-shard rollback %+v: want a create-shard that adopts", s.Rollback)
			}
			return
		}
	}
	t.Fatalf("no remove-shard step in %s", actions(g))
}

// checkGolden renders g in format and compares it with testdata/NAME.golden
// (rewritten first with -update).
func checkGolden(t *testing.T, name string, g *stepgraph.Graph, format string) {
	t.Helper()
	var buf bytes.Buffer
	if err := planrender.Render(&buf, g, format); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s differs from golden file:\n%s", name, buf.String())
	}
}
