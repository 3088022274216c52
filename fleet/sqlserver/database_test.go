package sqlserver

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// TestDatabaseContract checks the database operations a real server can
// do alone (geo-replication needs two Azure SQL servers and is not here):
// read-only and back, scripts with GO batches run once, sizes and roles.
func TestDatabaseContract(t *testing.T) {
	tg, locs := testTarget(t, "app")
	ctx := context.Background()
	app := locs[0]
	script := "CREATE TABLE dbo.accounts (id int PRIMARY KEY, name nvarchar(50))\nGO\nINSERT dbo.accounts VALUES (1, N'a')\nGO 1\n"
	applied, err := tg.RunScript(ctx, app, script)
	if err != nil || !applied {
		t.Fatalf("run script: %v %v", applied, err)
	}
	if applied, err = tg.RunScript(ctx, app, script); err != nil || applied {
		t.Fatalf("the same script ran twice: %v %v", applied, err)
	}
	if ok, err := tg.ScriptApplied(ctx, app, script); err != nil || !ok {
		t.Fatalf("script applied: %v %v", ok, err)
	}
	if err := tg.SetReadOnly(ctx, app, true); err != nil {
		t.Fatal(err)
	}
	info, err := tg.Database(ctx, app)
	if err != nil || !info.ReadOnly || info.Role != fleet.RoleStandalone || info.SizeBytes <= 0 {
		t.Fatalf("database: %+v %v", info, err)
	}
	if _, err := tg.RunScript(ctx, app, "INSERT dbo.accounts VALUES (2, N'b')"); !errors.Is(err, fleet.ErrReadOnly) {
		t.Fatalf("a write to a read-only database: %v", err)
	}
	if err := tg.SetReadOnly(ctx, app, false); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.LinkTo(ctx, app); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("a standalone database has no link: %v", err)
	}
	if _, err := tg.Database(ctx, fleet.Location{Server: app.Server, Database: app.Database + "_gone"}); !errors.Is(err, fleet.ErrNoDatabase) {
		t.Errorf("a missing database: %v", err)
	}
}

// TestMoveContract moves a key range between two databases with the data
// mover: keyset pages, bulk copy in one transaction per batch, FK order,
// re-runs that copy nothing twice, copies told from other rows, chunked
// deletes, and the split-merge preconditions.
func TestMoveContract(t *testing.T) {
	tg, locs := testTarget(t, "src", "dst")
	ctx := context.Background()
	src, dst := locs[0], locs[1]
	schema := `CREATE TABLE dbo.customers (id bigint PRIMARY KEY, name nvarchar(50) NOT NULL);
CREATE TABLE sales.orders (customer_id bigint NOT NULL REFERENCES dbo.customers (id), order_id int NOT NULL, total decimal(10,2) NULL,
	CONSTRAINT pk_orders PRIMARY KEY (customer_id, order_id));`
	for _, loc := range locs {
		if err := tg.ApplySQL(ctx, loc, "CREATE SCHEMA sales\nGO\n"+schema); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.ApplySQL(ctx, src, `WITH n AS (SELECT TOP (12000) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i FROM sys.all_objects a CROSS JOIN sys.all_objects b)
INSERT dbo.customers SELECT i, CONCAT(N'c', i) FROM n;
INSERT sales.orders SELECT id, 1, 10.5 FROM dbo.customers;
INSERT sales.orders SELECT id, 2, NULL FROM dbo.customers WHERE id % 2 = 0;`); err != nil {
		t.Fatal(err)
	}
	tables, err := tg.Tables(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	sorted, err := fleet.SortTables(tables)
	if err != nil || len(sorted) != 2 || sorted[0].Name != "customers" || sorted[1].Name != "sales.orders" {
		t.Fatalf("tables in FK order: %+v %v", sorted, err)
	}
	sharded := []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "sales.orders", KeyColumn: "customer_id"}}
	r := fleet.KeyRange{Low: int64(1000), High: int64(11000)}
	b, err := tg.NextBound(ctx, src, sharded, r, 100)
	if err != nil || b != int64(1100) {
		t.Fatalf("next bound: %v %v", b, err)
	}
	copied, err := tg.CopyRange(ctx, src, dst, sharded, r)
	if err != nil || copied["customers"] != 10000 || copied["sales.orders"] != 15000 {
		t.Fatalf("copy: %v %v", copied, err)
	}
	again, err := tg.CopyRange(ctx, src, dst, sharded, r)
	if err != nil || again["customers"] != 0 || again["sales.orders"] != 0 {
		t.Fatalf("a re-run copied again: %v %v", again, err)
	}
	for _, st := range sharded {
		n1, s1, err1 := tg.Checksum(ctx, src, st.Table, st.KeyColumn, r)
		n2, s2, err2 := tg.Checksum(ctx, dst, st.Table, st.KeyColumn, r)
		if err1 != nil || err2 != nil || n1 != n2 || s1 != s2 {
			t.Fatalf("%s checksums differ: %d %s / %d %s (%v %v)", st.Table, n1, s1, n2, s2, err1, err2)
		}
	}
	if err := tg.ApplySQL(ctx, dst, `INSERT dbo.customers VALUES (20000, N'not a copy')`); err != nil {
		t.Fatal(err)
	}
	wide := fleet.KeyRange{Low: int64(1000)}
	cmp, err := tg.CompareRange(ctx, src, dst, "customers", "id", wide)
	if err != nil || cmp.Copies != 10000 || cmp.Others != 1 {
		t.Fatalf("compare: %+v %v", cmp, err)
	}
	n, err := tg.DeleteRange(ctx, src, []fleet.ShardedTable{sharded[1], sharded[0]}, r)
	if err != nil || n != 25000 {
		t.Fatalf("delete range: %d %v", n, err)
	}
	if err := tg.ApplySQL(ctx, src, `CREATE TABLE dbo.audit (id bigint PRIMARY KEY);
CREATE TABLE dbo.heap (customer_id bigint NOT NULL, v int)`); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, src, "CREATE TRIGGER dbo.trg_del ON dbo.audit AFTER DELETE AS SELECT 1"); err != nil {
		t.Fatal(err)
	}
	for table, key := range map[string]string{"audit": "id", "heap": "customer_id"} {
		_, err := tg.CopyRange(ctx, src, dst, []fleet.ShardedTable{{Table: table, KeyColumn: key}}, r)
		if !errors.Is(err, fleet.ErrInvalidArgument) || fleet.HintOf(err) == "" {
			t.Errorf("%s: the split-merge preconditions did not refuse: %v", table, err)
		}
	}
}
