package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// The example schema file and the demo's schema are one text.
func TestShardSchemaMatchesExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "shards", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != ShardSchemaSQL {
		t.Fatalf("examples/shards/schema.sql differs from local.ShardSchemaSQL; make them equal")
	}
}

func count(t *testing.T, tg *Target, loc fleet.Location, q string, args ...any) int64 {
	t.Helper()
	db, err := tg.db(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateDemo(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		customers   int
		want0       int64 // customers on customers_0
		want1       int64
		ordersTotal int64
	}{
		"below the boundary": {customers: 300, want0: 300, want1: 0, ordersTotal: 900},
		"none":               {customers: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg, err := CreateDemo(ctx, t.TempDir(), DemoOptions{Customers: tc.customers, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			if got := count(t, tg, DemoShards[0], `SELECT count(*) FROM customers`); got != tc.want0 {
				t.Errorf("customers_0 has %d customers, want %d", got, tc.want0)
			}
			if got := count(t, tg, DemoShards[1], `SELECT count(*) FROM customers`); got != tc.want1 {
				t.Errorf("customers_1 has %d customers, want %d", got, tc.want1)
			}
			orders := count(t, tg, DemoShards[0], `SELECT count(*) FROM orders`) + count(t, tg, DemoShards[1], `SELECT count(*) FROM orders`)
			if orders != tc.ordersTotal {
				t.Errorf("%d orders, want %d", orders, tc.ordersTotal)
			}
			for _, loc := range DemoShards {
				if n := count(t, tg, loc, `SELECT count(*) FROM regions`); n != 8 {
					t.Errorf("%s has %d regions", loc, n)
				}
				if n := count(t, tg, loc, `SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
					t.Errorf("%s violates %d foreign keys", loc, n)
				}
			}
			lay, err := tg.Observe(ctx, DemoShardMap)
			if err != nil {
				t.Fatal(err)
			}
			m := lay.Maps[0]
			if len(m.Mappings) != 2 || len(m.Shards) != 2 || len(m.Differences) != 0 || len(m.Pending) != 0 {
				t.Fatalf("layout %+v", m)
			}
			if got := shardkey.FormatBound(fleet.KeyInt64, m.Mappings[0].Max); got != "50000" {
				t.Fatalf("boundary %s", got)
			}
		})
	}
}

// Data is a function of the seed: two fleets with one seed hold equal rows,
// another seed differs.
func TestDemoDeterministic(t *testing.T) {
	ctx := context.Background()
	sum := func(seed int64) string {
		tg, err := CreateDemo(ctx, t.TempDir(), DemoOptions{Customers: 200, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		db, _ := tg.db(ctx, DemoShards[0])
		var s string
		err = db.QueryRow(`SELECT group_concat(x, '|') FROM (
			SELECT id || name || email || balance || created_at AS x FROM customers
			UNION ALL SELECT id || customer_id || amount || ifnull(note, '-') || created_at FROM orders)`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := sum(1), sum(1), sum(2)
	if a != b {
		t.Fatal("same seed, different data")
	}
	if a == c {
		t.Fatal("different seeds, same data")
	}
}
