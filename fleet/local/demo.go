package local

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// ShardSchemaSQL is the schema of a demo shard: regions (a reference table),
// customers (sharded on id) and orders (sharded on customer_id). It is the
// content of examples/shards/schema.sql (a test keeps the two equal).
const ShardSchemaSQL = `-- Schema of a customers shard: applied to a new shard's database before data arrives.
CREATE TABLE IF NOT EXISTS regions (
  id   INTEGER PRIMARY KEY,
  name TEXT
);
CREATE TABLE IF NOT EXISTS customers (
  id         INTEGER PRIMARY KEY,
  region_id  INTEGER REFERENCES regions(id),
  name       TEXT,
  email      TEXT,
  balance    REAL,
  created_at TEXT
);
CREATE TABLE IF NOT EXISTS orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  amount      REAL,
  note        TEXT,
  created_at  TEXT
);
CREATE INDEX IF NOT EXISTS orders_customer_id ON orders(customer_id);
`

// The demo fleet's fixed shape.
const (
	DemoServer          = "sql-1"
	DemoManagerDatabase = "smm"
	DemoShardMap        = "CustomerMap"
	DemoBoundary        = 50000 // [0, 50000) -> customers_0, [50000, +inf) -> customers_1
	DemoCustomers       = 100000
	DemoOrdersPer       = 3
)

// DemoShards are the demo's shard databases.
var DemoShards = []fleet.Location{{Server: DemoServer, Database: "customers_0"}, {Server: DemoServer, Database: "customers_1"}}

// DemoSchemaInfo is the demo map's table kinds.
var DemoSchemaInfo = fleet.SchemaInfo{
	Sharded:   []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}},
	Reference: []string{"regions"},
}

// DemoRegions are the rows of the regions reference table.
var DemoRegions = []string{"North America East", "North America West", "South America", "Europe North",
	"Europe West", "Africa", "Asia Pacific", "Oceania"}

// DemoOptions configures CreateDemo.
type DemoOptions struct {
	Customers int   // customers 0 .. Customers-1 (the CLI defaults to DemoCustomers)
	Seed      int64 // the data is a function of the seed alone
	Force     bool  // replace an existing fleet in the directory
}

var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
		"John", "Katherine", "Leslie", "Margaret", "Niklaus", "Ole", "Radia", "Shafi", "Tim", "Whitfield"}
	lastNames = []string{"Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Lamarr",
		"Sutherland", "Backus", "Johnson", "Lamport", "Hamilton", "Wirth", "Dahl", "Perlman", "Goldwasser", "Berners-Lee", "Diffie"}
	notes = []string{"", "gift", "express", "repeat order", "bulk", "discounted", "back-ordered", "pickup"}
	epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CreateDemo creates the demo fleet in dir: server sql-1 with the shard map
// manager database smm and shards customers_0 and customers_1; the range map
// CustomerMap (int64) with [0, 50000) -> customers_0 and [50000, +inf) ->
// customers_1; in every shard the ShardSchemaSQL tables, the 8 regions, and
// the customers (and 3 orders each) that the map routes there. Customer i's
// data depends only on (seed, i), so checksums are reproducible.
func CreateDemo(ctx context.Context, dir string, opts DemoOptions) (*Target, error) {
	if opts.Customers < 0 {
		return nil, &fleet.Error{Op: "create demo fleet", Target: dir, Err: fmt.Errorf("%w: negative customer count", fleet.ErrInvalidArgument)}
	}
	t, err := Init(ctx, dir, InitOptions{ShardMapManager: fleet.Location{Server: DemoServer, Database: DemoManagerDatabase}, Force: opts.Force})
	if err != nil {
		return nil, err
	}
	if err := t.buildDemo(ctx, opts); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Target) buildDemo(ctx context.Context, opts DemoOptions) error {
	if err := t.CreateDatabase(ctx, fleet.Location{Server: DemoServer, Database: DemoManagerDatabase}); err != nil {
		return err
	}
	for _, loc := range DemoShards {
		if err := t.CreateDatabase(ctx, loc); err != nil {
			return err
		}
		if err := t.ApplySQL(ctx, loc, ShardSchemaSQL); err != nil {
			return err
		}
		if err := t.fillRegions(ctx, loc); err != nil {
			return err
		}
	}
	if _, err := t.CreateShardMap(ctx, DemoShardMap, fleet.RangeMap, fleet.KeyInt64); err != nil {
		return err
	}
	for _, loc := range DemoShards {
		if _, err := t.AddShard(ctx, DemoShardMap, loc); err != nil {
			return err
		}
	}
	b, _ := shardkey.Encode(fleet.KeyInt64, int64(DemoBoundary))
	zero, _ := shardkey.Encode(fleet.KeyInt64, int64(0))
	if _, err := t.AddMapping(ctx, DemoShardMap, DemoShards[0], zero, b); err != nil {
		return err
	}
	if _, err := t.AddMapping(ctx, DemoShardMap, DemoShards[1], b, nil); err != nil {
		return err
	}
	if err := t.SetSchemaInfo(ctx, DemoShardMap, DemoSchemaInfo); err != nil {
		return err
	}
	// Put every customer where the map routes it.
	mappings, err := t.Mappings(ctx, DemoShardMap)
	if err != nil {
		return err
	}
	for _, mp := range mappings {
		r, err := shardkey.Range(fleet.KeyInt64, mp.Min, mp.Max)
		if err != nil {
			return err
		}
		lo, hi := int64(0), int64(opts.Customers)
		if r.Low != nil {
			lo = max(lo, r.Low.(int64))
		}
		if r.High != nil {
			hi = min(hi, r.High.(int64))
		}
		if lo < hi {
			if err := t.fillCustomers(ctx, mp.Location, opts.Seed, lo, hi); err != nil {
				return err
			}
		}
	}
	if err := createContosoDemo(ctx, t); err != nil {
		return err
	}
	if err := createInstancesDemo(ctx, t); err != nil {
		return err
	}
	// Fold the WAL into the files so a copy of a .db file alone is complete.
	for _, loc := range append([]fleet.Location{{Server: DemoServer, Database: DemoManagerDatabase}}, DemoShards...) {
		db, err := t.db(ctx, loc)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return sqlErr("checkpoint", loc, err)
		}
	}
	return nil
}

func (t *Target) fillRegions(ctx context.Context, loc fleet.Location) error {
	db, err := t.db(ctx, loc)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr("fill regions", loc, err)
	}
	defer tx.Rollback()
	for i, name := range DemoRegions {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO regions(id, name) VALUES(?, ?)`, i+1, name); err != nil {
			return sqlErr("fill regions", loc, err)
		}
	}
	return sqlErr("fill regions", loc, tx.Commit())
}

// demoRows is how many rows one prepared INSERT carries.
const demoRows = 64

// batchInsert prepares "INSERT INTO table(cols) VALUES (?,..),(?,..)..." for n rows.
func batchInsert(table string, cols, n int, colNames string) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return "INSERT INTO " + table + "(" + colNames + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// demoCustomer is customer id's row and orders, a function of (seed, id).
func demoCustomer(seed, id int64, cust []any, orders []any) ([]any, []any) {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(id)))
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	created := epoch.Add(time.Duration(r.Int64N(4*365*24*3600)) * time.Second)
	cust = append(cust, id, 1+r.IntN(len(DemoRegions)), first+" "+last,
		fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), id),
		float64(r.IntN(1_000_000))/100, created.Format(time.RFC3339))
	for j := int64(0); j < DemoOrdersPer; j++ {
		var note any
		if n := notes[r.IntN(len(notes))]; n != "" {
			note = n
		}
		at := created.Add(time.Duration(r.Int64N(365*24*3600)) * time.Second)
		orders = append(orders, id*DemoOrdersPer+j, id, float64(100+r.IntN(50_000))/100, note, at.Format(time.RFC3339))
	}
	return cust, orders
}

// fillCustomers inserts customers [lo, hi) and their orders in one
// transaction with batched prepared inserts.
func (t *Target) fillCustomers(ctx context.Context, loc fleet.Location, seed, lo, hi int64) error {
	const what = "fill demo data"
	db, err := t.db(ctx, loc)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	const custCols, orderCols = "id, region_id, name, email, balance, created_at", "id, customer_id, amount, note, created_at"
	prep := func(n int) (*sql.Stmt, *sql.Stmt, error) {
		c, err := tx.PrepareContext(ctx, batchInsert("customers", 6, n, custCols))
		if err != nil {
			return nil, nil, err
		}
		o, err := tx.PrepareContext(ctx, batchInsert("orders", 5, n*DemoOrdersPer, orderCols))
		return c, o, err
	}
	fullC, fullO, err := prep(demoRows)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer fullC.Close()
	defer fullO.Close()
	cust := make([]any, 0, demoRows*6)
	orders := make([]any, 0, demoRows*DemoOrdersPer*5)
	for id := lo; id < hi; id += demoRows {
		n := min(int64(demoRows), hi-id)
		cust, orders = cust[:0], orders[:0]
		for k := int64(0); k < n; k++ {
			cust, orders = demoCustomer(seed, id+k, cust, orders)
		}
		cs, os := fullC, fullO
		if n < demoRows {
			if cs, os, err = prep(int(n)); err != nil {
				return sqlErr(what, loc, err)
			}
			defer cs.Close()
			defer os.Close()
		}
		if _, err := cs.ExecContext(ctx, cust...); err != nil {
			return sqlErr(what, loc, err)
		}
		if _, err := os.ExecContext(ctx, orders...); err != nil {
			return sqlErr(what, loc, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return sqlErr(what, loc, tx.Commit())
}
