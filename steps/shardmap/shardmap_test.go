package shardmap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/google/go-cmp/cmp"
)

func demo(t *testing.T, customers int) (*local.Target, *steps.Env) {
	t.Helper()
	tg, err := local.CreateDemo(context.Background(), filepath.Join(t.TempDir(), "fleet"), local.DemoOptions{Customers: customers, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg, &steps.Env{Target: tg, StepID: "test"}
}

func bound(t *testing.T, k string) string {
	if k == "" {
		return ""
	}
	b, err := shardkey.EncodeText(fleet.KeyInt64, k)
	if err != nil {
		t.Fatal(err)
	}
	return shardkey.BoundString(b)
}

func moveInputs(t *testing.T, low, high, from, to string, batch int) steps.Inputs {
	return steps.Inputs{"shardMap": "CustomerMap", "keyType": "int64", "low": bound(t, low), "high": bound(t, high),
		"from": map[string]any{"server": "sql-1", "database": from}, "to": map[string]any{"server": "sql-1", "database": to},
		"batchSize": batch, "sharded": []any{map[string]any{"table": "customers", "key": "id"}, map[string]any{"table": "orders", "key": "customer_id"}},
		"reference": []any{"regions"}}
}

func layoutOf(t *testing.T, tg *local.Target) []string {
	t.Helper()
	ms, err := tg.Mappings(context.Background(), "CustomerMap")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		state := "online"
		if !m.Online {
			state = "offline"
		}
		out = append(out, shardkey.FormatBound(fleet.KeyInt64, m.Min)+".."+shardkey.FormatBound(fleet.KeyInt64, m.Max)+"@"+m.Location.Database+":"+state)
	}
	return out
}

func count(t *testing.T, tg *local.Target, db, table string) int64 {
	t.Helper()
	n, err := tg.CountRange(context.Background(), fleet.Location{Server: "sql-1", Database: db}, table, map[string]string{"customers": "id", "orders": "customer_id"}[table], fleet.KeyRange{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMoveRangeIsIdempotentAndReversible(t *testing.T) {
	ctx := context.Background()
	tg, env := demo(t, 2000)
	in := moveInputs(t, "1000", "50000", "customers_0", "customers_1", 300)
	if done, err := (moveRange{}).Observe(ctx, env, in); err != nil || done {
		t.Fatalf("Observe before the move = %v, %v; want false", done, err)
	}
	for i := 0; i < 2; i++ { // the second Apply finds everything done
		out, err := moveRange{}.Apply(ctx, env, in)
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if i == 0 && out["batches"] != int64(4) { // 1000 shardlets in batches of 300
			t.Fatalf("batches = %v, want 4", out["batches"])
		}
	}
	if done, err := (moveRange{}).Observe(ctx, env, in); err != nil || !done {
		t.Fatalf("Observe after the move = %v, %v; want true", done, err)
	}
	if got := [4]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers"), count(t, tg, "customers_0", "orders"), count(t, tg, "customers_1", "orders")}; got != [4]int64{1000, 1000, 3000, 3000} {
		t.Fatalf("rows after the move (c0, c1 customers; c0, c1 orders) = %v", got)
	}
	if _, err := (merge{}).Apply(ctx, env, steps.Inputs{"shardMap": "CustomerMap", "low": bound(t, "1000"), "high": ""}); err != nil {
		t.Fatal(err)
	}
	want := []string{"0..1000@customers_0:online", "1000..+inf@customers_1:online"}
	if got := layoutOf(t, tg); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("layout %v, want %v", got, want)
	}
	// The reverse move is the rollback the planner attaches.
	if _, err := (moveRange{}).Apply(ctx, env, moveInputs(t, "1000", "50000", "customers_1", "customers_0", 1000)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, tg, "customers_0", "customers"); n != 2000 {
		t.Fatalf("customers back on customers_0 = %d, want 2000", n)
	}
}

func TestMetadataActions(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		act    steps.Action
		in     func(t *testing.T) steps.Inputs
		layout []string
	}{
		"split": {split{}, func(t *testing.T) steps.Inputs {
			return steps.Inputs{"shardMap": "CustomerMap", "keyType": "int64", "at": bound(t, "20000")}
		}, []string{"0..20000@customers_0:online", "20000..50000@customers_0:online", "50000..+inf@customers_1:online"}},
		"add mapping below zero": {addMapping{}, func(t *testing.T) steps.Inputs {
			return steps.Inputs{"shardMap": "CustomerMap", "low": "0x", "high": bound(t, "0"), "server": "sql-1", "database": "customers_1"}
		}, []string{"-inf..0@customers_1:online", "0..50000@customers_0:online", "50000..+inf@customers_1:online"}},
		"remove an empty mapping": {removeMapping{}, func(t *testing.T) steps.Inputs {
			return steps.Inputs{"shardMap": "CustomerMap", "low": bound(t, "50000"), "high": ""}
		}, []string{"0..50000@customers_0:online"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg, env := demo(t, 100)
			in := tc.in(t)
			for i := 0; i < 2; i++ {
				if _, err := tc.act.Apply(ctx, env, in); err != nil {
					t.Fatalf("apply %d: %v", i, err)
				}
			}
			if done, err := tc.act.Observe(ctx, env, in); err != nil || !done {
				t.Fatalf("Observe after Apply = %v, %v", done, err)
			}
			got := layoutOf(t, tg)
			if len(got) != len(tc.layout) {
				t.Fatalf("layout %v, want %v", got, tc.layout)
			}
			for i := range got {
				if got[i] != tc.layout[i] {
					t.Fatalf("layout %v, want %v", got, tc.layout)
				}
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	ctx := context.Background()
	_, env := demo(t, 10)
	cases := map[string]steps.Inputs{
		"no shard map":    {"keyType": "int64", "at": "0x80"},
		"bad bound":       {"shardMap": "CustomerMap", "keyType": "int64", "at": "12"},
		"bad key type":    {"shardMap": "CustomerMap", "keyType": "int65", "low": "0x", "high": "", "from": map[string]any{"server": "a", "database": "b"}, "to": map[string]any{"server": "a", "database": "c"}, "sharded": []any{map[string]any{"table": "t", "key": "k"}}},
		"no sharded list": {"shardMap": "CustomerMap", "keyType": "int64", "low": "0x", "high": "", "from": map[string]any{"server": "a", "database": "b"}, "to": map[string]any{"server": "a", "database": "c"}},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			if _, ok := in["at"]; ok {
				_, err = split{}.Apply(ctx, env, in)
			} else {
				_, err = moveRange{}.Apply(ctx, env, in)
			}
			if err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// A list map's point mappings are stored with MaxValue NULL; moving one key
// must move that shardlet alone, not everything above it.
func TestMovePointMovesOneShardlet(t *testing.T) {
	ctx := context.Background()
	tg, env := demo(t, 100)
	c0, c1 := fleet.Location{Server: "sql-1", Database: "customers_0"}, fleet.Location{Server: "sql-1", Database: "customers_1"}
	if _, err := tg.CreateShardMap(ctx, "TenantMap", fleet.ListMap, fleet.KeyInt64); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []fleet.Location{c0, c1} {
		if _, err := tg.AddShard(ctx, "TenantMap", loc); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"5", "6"} {
		b, _ := shardkey.ParseBound(bound(t, k))
		if _, err := tg.AddMapping(ctx, "TenantMap", c0, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	in := moveInputs(t, "5", "6", "customers_0", "customers_1", 100)
	in["shardMap"] = "TenantMap"
	for i := 0; i < 2; i++ {
		if _, err := (moveRange{}).Apply(ctx, env, in); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	if done, err := (moveRange{}).Observe(ctx, env, in); err != nil || !done {
		t.Fatalf("Observe after the move = %v, %v", done, err)
	}
	if got := [2]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers")}; got != [2]int64{99, 1} {
		t.Fatalf("customers on (c0, c1) = %v, want [99 1]", got)
	}
	six, _ := shardkey.ParseBound(bound(t, "6"))
	m, err := tg.MappingForKey(ctx, "TenantMap", six)
	if err != nil || !m.Location.Equal(c0) || !m.Online {
		t.Fatalf("key 6 mapping %+v, %v: want online on customers_0", m, err)
	}
}

// A move never deletes rows it did not copy: a target range that holds rows
// is refused before the first batch, and the rows stay.
func TestMoveRefusesANonEmptyTargetRange(t *testing.T) {
	ctx := context.Background()
	tg, env := demo(t, 2000)
	c1 := fleet.Location{Server: "sql-1", Database: "customers_1"}
	if err := tg.ApplySQL(ctx, c1, `INSERT INTO customers(id, name) VALUES(1500, 'not from customers_0')`); err != nil {
		t.Fatal(err)
	}
	before := layoutOf(t, tg)
	_, err := moveRange{}.Apply(ctx, env, moveInputs(t, "1000", "50000", "customers_0", "customers_1", 300))
	if err == nil || !strings.Contains(err.Error(), "target range is not empty: it holds 1 rows in [1000, 50000) that this move did not copy (1 customers)") {
		t.Fatalf("Apply = %v, want a refusal with the counts", err)
	}
	if got := [2]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers")}; got != [2]int64{2000, 1} {
		t.Fatalf("customers on (c0, c1) = %v, want [2000 1]: nothing moved, nothing deleted", got)
	}
	if diff := cmp.Diff(before, layoutOf(t, tg)); diff != "" {
		t.Fatalf("layout changed (-before +after):\n%s", diff)
	}
}

// An interrupted batch (mapping offline on the source) resumes: the target's
// copy of it, whole or partial, is kept and completed; rows that are not its
// copy make the move give the batch back to the source, untouched.
func TestMoveResumesAnInterruptedBatch(t *testing.T) {
	c0, c1 := fleet.Location{Server: "sql-1", Database: "customers_0"}, fleet.Location{Server: "sql-1", Database: "customers_1"}
	tables := []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}}
	cases := map[string]struct {
		copied  [2]int64 // the part of [1000, 1300) copied before the crash
		foreign string   // SQL run on the target after the crash
		wantErr string
		want    [2]int64 // customers on c0, c1 afterwards
	}{
		"whole copy":   {copied: [2]int64{1000, 1300}, want: [2]int64{1000, 1000}},
		"partial copy": {copied: [2]int64{1000, 1100}, want: [2]int64{1000, 1000}},
		"no copy":      {copied: [2]int64{1000, 1000}, want: [2]int64{1000, 1000}},
		"rows changed on the target after the copy": {copied: [2]int64{1000, 1300}, foreign: `UPDATE customers SET name = 'changed' WHERE id IN (1001, 1002)`,
			wantErr: "target range is not empty: it holds 2 rows in [1000, 1300) that this move did not copy (2 customers)", want: [2]int64{2000, 2}},
		"someone else's row beside a partial copy": {copied: [2]int64{1000, 1100}, foreign: `INSERT INTO customers(id, name) VALUES(1200, 'not the source row')`,
			wantErr: "target range is not empty: it holds 1 rows in [1000, 1300) that this move did not copy (1 customers)", want: [2]int64{2000, 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg, env := demo(t, 2000)
			one, _ := shardkey.ParseBound(bound(t, "1000"))
			if _, err := (split{}).Apply(ctx, env, steps.Inputs{"shardMap": "CustomerMap", "keyType": "int64", "at": bound(t, "1000")}); err != nil {
				t.Fatal(err)
			}
			if _, err := (split{}).Apply(ctx, env, steps.Inputs{"shardMap": "CustomerMap", "keyType": "int64", "at": bound(t, "1300")}); err != nil {
				t.Fatal(err)
			}
			mp, err := tg.MappingForKey(ctx, "CustomerMap", one)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tg.SetMappingOnline(ctx, "CustomerMap", mp.ID, false); err != nil {
				t.Fatal(err)
			}
			if _, err := tg.CopyRange(ctx, c0, c1, tables, fleet.KeyRange{Low: tc.copied[0], High: tc.copied[1]}); err != nil {
				t.Fatal(err)
			}
			if tc.foreign != "" {
				if err := tg.ApplySQL(ctx, c1, tc.foreign); err != nil {
					t.Fatal(err)
				}
			}
			_, err = moveRange{}.Apply(ctx, env, moveInputs(t, "1000", "1300", "customers_0", "customers_1", 100))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Apply = %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr == "" {
				if _, err := (moveRange{}).Apply(ctx, env, moveInputs(t, "1300", "", "customers_0", "customers_1", 500)); err != nil {
					t.Fatal(err)
				}
			}
			if got := [2]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers")}; got != tc.want {
				t.Fatalf("customers on (c0, c1) = %v, want %v", got, tc.want)
			}
			if tc.wantErr != "" {
				m, err := tg.MappingForKey(ctx, "CustomerMap", one)
				if err != nil || !m.Online || !m.Location.Equal(c0) {
					t.Fatalf("the refused batch's mapping = %+v, %v; want back online on customers_0", m, err)
				}
				if n := count(t, tg, "customers_1", "orders"); n != 0 {
					t.Fatalf("orders left on the target = %d; the batch's own copy must be taken back", n)
				}
			}
		})
	}
}

// The rollback of create-shard (remove-shard with dropOnlyIfEmpty) drops a
// database the step created, also when the step died before registering
// it, and never one that holds rows but reference data.
func TestCreateShardRollbackDropsOnlyWhatItMade(t *testing.T) {
	c2 := fleet.Location{Server: "sql-1", Database: "customers_2"}
	cases := map[string]struct {
		registered bool
		drop       bool
		rows       string
		wantExists bool
	}{
		"created, killed before the schema":       {drop: true},
		"created, registered":                     {drop: true, registered: true},
		"created, holds reference data only":      {drop: true, rows: `INSERT INTO regions(id, name) VALUES (1, 'r')`},
		"holds rows the run did not put there":    {drop: true, rows: `INSERT INTO customers(id, name) VALUES (1, 'c')`, wantExists: true},
		"not created by the step (adopted, kept)": {drop: false, registered: true, rows: `INSERT INTO customers(id, name) VALUES (1, 'c')`, wantExists: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg, env := demo(t, 10)
			if err := tg.CreateDatabase(ctx, c2); err != nil {
				t.Fatal(err)
			}
			if err := tg.ApplySQL(ctx, c2, local.ShardSchemaSQL); err != nil {
				t.Fatal(err)
			}
			if tc.rows != "" {
				if err := tg.ApplySQL(ctx, c2, tc.rows); err != nil {
					t.Fatal(err)
				}
			}
			if tc.registered {
				if _, err := tg.AddShard(ctx, "CustomerMap", c2); err != nil {
					t.Fatal(err)
				}
			}
			in := steps.Inputs{"shardMap": "CustomerMap", "server": "sql-1", "database": "customers_2", "dropDatabase": tc.drop, "dropOnlyIfEmpty": true, "reference": []any{"regions"}}
			// The runner's order for a rollback branch: Observe, then Apply.
			if done, err := (removeShard{}).Observe(ctx, env, in); err != nil {
				t.Fatal(err)
			} else if !done {
				if _, err := (removeShard{}).Apply(ctx, env, in); err != nil {
					t.Fatal(err)
				}
			}
			if done, err := (removeShard{}).Observe(ctx, env, in); err != nil || !done {
				t.Fatalf("Observe after the rollback = %v, %v", done, err)
			}
			got, err := tg.InspectDatabase(ctx, c2)
			if err != nil {
				t.Fatal(err)
			}
			if got.Exists != tc.wantExists || got.Listed != tc.wantExists {
				t.Fatalf("after the rollback customers_2 exists=%v listed=%v, want %v", got.Exists, got.Listed, tc.wantExists)
			}
			if s, err := findShard(ctx, caps{store: tg}, "CustomerMap", c2); err != nil || s != nil {
				t.Fatalf("customers_2 still registered: %+v, %v", s, err)
			}
		})
	}
}

// create-shard refuses a database that holds rows unless told to adopt it,
// and drops a database it created when its schema fails.
func TestCreateShard(t *testing.T) {
	c2 := fleet.Location{Server: "sql-1", Database: "customers_2"}
	ctx := context.Background()
	tg, env := demo(t, 10)
	env.BaseDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(env.BaseDir, "bad.sql"), []byte(local.ShardSchemaSQL+"; INSERT INTO nowhere VALUES (1);"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := steps.Inputs{"shardMap": "CustomerMap", "server": "sql-1", "database": "customers_2", "createDatabase": true, "schemaFile": "bad.sql"}
	if _, err := (createShard{}).Apply(ctx, env, in); err == nil {
		t.Fatal("a failing schema file did not fail the step")
	}
	if got, _ := tg.InspectDatabase(ctx, c2); got.Exists || got.Listed {
		t.Fatalf("after the failed schema: %+v, want no database", got)
	}
	if err := tg.CreateDatabase(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, c2, local.ShardSchemaSQL+"; INSERT INTO customers(id) VALUES (7);"); err != nil {
		t.Fatal(err)
	}
	delete(in, "schemaFile")
	if _, err := (createShard{}).Apply(ctx, env, in); !errors.Is(err, fleet.ErrDatabaseExists) {
		t.Fatalf("create-shard over a database with rows = %v, want ErrDatabaseExists", err)
	}
	in["adopt"] = true
	if _, err := (createShard{}).Apply(ctx, env, in); err != nil {
		t.Fatal(err)
	}
	if n := count(t, tg, "customers_2", "customers"); n != 1 {
		t.Fatalf("the adopted database holds %d customers, want its 1", n)
	}
}

// A move that undoes another (the planner's rollback of a move) finds keys
// that never moved still on its target: on its source it deletes there
// only copies of the target's rows, never a row the first move did not copy.
func TestUndoMoveDeletesOnlyCopies(t *testing.T) {
	ctx := context.Background()
	tg, env := demo(t, 2000)
	c0, c1 := fleet.Location{Server: "sql-1", Database: "customers_0"}, fleet.Location{Server: "sql-1", Database: "customers_1"}
	tables := []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}}
	// A copy the first move made of [1600, 1700) before it failed, and a row
	// that is not its copy.
	if _, err := tg.CopyRange(ctx, c0, c1, tables, fleet.KeyRange{Low: int64(1600), High: int64(1700)}); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, c1, `UPDATE customers SET name = 'changed' WHERE id = 1650`); err != nil {
		t.Fatal(err)
	}
	in := moveInputs(t, "1000", "50000", "customers_1", "customers_0", 300)
	in["undo"] = true
	if _, err := (moveRange{}).Apply(ctx, env, in); err != nil {
		t.Fatal(err)
	}
	if got := [3]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers"), count(t, tg, "customers_1", "orders")}; got != [3]int64{2000, 1, 0} {
		t.Fatalf("customers on c0, c1 and orders on c1 = %v, want [2000 1 0]: only the changed row stays", got)
	}
}
