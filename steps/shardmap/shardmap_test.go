package shardmap

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
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
