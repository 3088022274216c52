package shardmap

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// A sharded table in another schema moves as itself: sales.orders is the
// local fleet's SQLite table "sales.orders", and the dbo table orders of
// the same name is left where it is.
func TestMoveKeepsTheSchemaName(t *testing.T) {
	ctx := context.Background()
	tg, env := demo(t, 100)
	for _, db := range []string{"customers_0", "customers_1"} {
		loc := fleet.Location{Server: "sql-1", Database: db}
		if err := tg.ApplySQL(ctx, loc, `CREATE TABLE "sales.orders"(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, note TEXT)`); err != nil {
			t.Fatal(err)
		}
	}
	src := fleet.Location{Server: "sql-1", Database: "customers_0"}
	if err := tg.ApplySQL(ctx, src, `INSERT INTO "sales.orders"(customer_id, note) SELECT id, 'sale' FROM customers`); err != nil {
		t.Fatal(err)
	}
	salesIn := func(db string) int64 {
		t.Helper()
		n, err := tg.CountRange(ctx, fleet.Location{Server: "sql-1", Database: db}, "sales.orders", "customer_id", fleet.KeyRange{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	sales0, orders0 := salesIn("customers_0"), count(t, tg, "customers_0", "orders")
	if sales0 == 0 || orders0 == 0 {
		t.Fatalf("fixture: %d sales.orders and %d orders rows on customers_0", sales0, orders0)
	}
	in := moveInputs(t, "0", "50000", "customers_0", "customers_1", 1000)
	in["sharded"] = []any{map[string]any{"table": "sales.orders", "key": "customer_id"}}
	in["reference"] = []any{}
	if _, err := (moveRange{}).Apply(ctx, env, in); err != nil {
		t.Fatal(err)
	}
	if got := [3]int64{salesIn("customers_0"), salesIn("customers_1"), count(t, tg, "customers_0", "orders")}; got != [3]int64{0, sales0, orders0} {
		t.Fatalf("after the move: sales.orders on customers_0, customers_1, orders on customers_0 = %v; want [0 %d %d]", got, sales0, orders0)
	}
}
