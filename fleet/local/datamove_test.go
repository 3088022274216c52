package local

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

var demoTables = []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}}
var demoChildren = []fleet.ShardedTable{{Table: "orders", KeyColumn: "customer_id"}, {Table: "customers", KeyColumn: "id"}}

func moverFleet(t *testing.T, customers int) *Target {
	t.Helper()
	tg, err := CreateDemo(context.Background(), t.TempDir(), DemoOptions{Customers: customers, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestTables(t *testing.T) {
	tg := moverFleet(t, 10)
	got, err := tg.Tables(context.Background(), DemoShards[0])
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.TableInfo{
		{Name: "customers", Columns: []string{"id", "region_id", "name", "email", "balance", "created_at"},
			ColumnTypes: []string{"INTEGER", "INTEGER", "TEXT", "TEXT", "REAL", "TEXT"}, PrimaryKey: []string{"id"},
			ForeignKeys: []fleet.ForeignKey{{Table: "regions", From: []string{"region_id"}, To: []string{"id"}}}},
		{Name: "orders", Columns: []string{"id", "customer_id", "amount", "note", "created_at"},
			ColumnTypes: []string{"INTEGER", "INTEGER", "REAL", "TEXT", "TEXT"}, PrimaryKey: []string{"id"},
			ForeignKeys: []fleet.ForeignKey{{Table: "customers", From: []string{"customer_id"}, To: []string{"id"}}}},
		{Name: "regions", Columns: []string{"id", "name"}, ColumnTypes: []string{"INTEGER", "TEXT"}, PrimaryKey: []string{"id"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Tables (-want +got):\n%s", diff)
	}
	sorted, err := fleet.SortTables(got)
	if err != nil {
		t.Fatal(err)
	}
	if sorted[0].Name != "regions" || sorted[1].Name != "customers" || sorted[2].Name != "orders" {
		t.Fatalf("SortTables order: %v", sorted)
	}
}

func TestCountRange(t *testing.T) {
	tg := moverFleet(t, 300)
	ctx := context.Background()
	cases := map[string]struct {
		r         fleet.KeyRange
		customers int64
	}{
		"everything":   {fleet.KeyRange{}, 300},
		"bounded":      {fleet.KeyRange{Low: int64(0), High: int64(100)}, 100},
		"open high":    {fleet.KeyRange{Low: int64(250)}, 50},
		"open low":     {fleet.KeyRange{High: int64(50)}, 50},
		"empty":        {fleet.KeyRange{Low: int64(500), High: int64(600)}, 0},
		"int32 bounds": {fleet.KeyRange{Low: int32(10), High: int32(20)}, 10},
		"plain ints":   {fleet.KeyRange{Low: 1, High: 3}, 2},
		"inverted":     {fleet.KeyRange{Low: int64(20), High: int64(10)}, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := tg.CountRange(ctx, DemoShards[0], "customers", "id", tc.r)
			if err != nil {
				t.Fatal(err)
			}
			o, err := tg.CountRange(ctx, DemoShards[0], "orders", "customer_id", tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if c != tc.customers || o != 3*tc.customers {
				t.Fatalf("counted %d customers, %d orders; want %d, %d", c, o, tc.customers, 3*tc.customers)
			}
		})
	}
	if _, err := tg.CountRange(ctx, DemoShards[0], "customers", "id", fleet.KeyRange{Low: 1.5}); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("float bound: %v", err)
	}
}

func TestNextBound(t *testing.T) {
	tg := moverFleet(t, 300)
	ctx := context.Background()
	// Make keys sparse above 200: keep only multiples of 10.
	if err := tg.ApplySQL(ctx, DemoShards[0], `DELETE FROM orders WHERE customer_id >= 200 AND customer_id % 10 <> 0;
		DELETE FROM customers WHERE id >= 200 AND id % 10 <> 0;`); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		r    fleet.KeyRange
		n    int
		want any
	}{
		"dense":              {fleet.KeyRange{Low: int64(0), High: int64(300)}, 100, int64(100)},
		"dense from 50":      {fleet.KeyRange{Low: int64(50)}, 10, int64(60)},
		"sparse":             {fleet.KeyRange{Low: int64(200)}, 5, int64(250)},
		"sparse across":      {fleet.KeyRange{Low: int64(195)}, 7, int64(220)}, // 195..199, 200, 210
		"fewer remain":       {fleet.KeyRange{Low: int64(250), High: int64(300)}, 100, int64(300)},
		"fewer remain, +inf": {fleet.KeyRange{Low: int64(250)}, 100, nil},
		"int32 typed":        {fleet.KeyRange{Low: int32(0)}, 3, int32(3)},
		"whole range":        {fleet.KeyRange{}, 1, int64(1)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tg.NextBound(ctx, DemoShards[0], demoTables, tc.r, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("NextBound = %v (%T), want %v (%T)", got, got, tc.want, tc.want)
			}
		})
	}
	if _, err := tg.NextBound(ctx, DemoShards[0], demoTables, fleet.KeyRange{}, 0); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("n = 0: %v", err)
	}
}

func sums(t *testing.T, tg *Target, loc fleet.Location, r fleet.KeyRange) string {
	t.Helper()
	var out []string
	for _, tb := range demoTables {
		n, s, err := tg.Checksum(context.Background(), loc, tb.Table, tb.KeyColumn, r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d:%s", tb.Table, n, s))
	}
	return strings.Join(out, " ")
}

func TestCopyChecksumDelete(t *testing.T) {
	tg := moverFleet(t, 300)
	ctx := context.Background()
	src, dst := DemoShards[0], DemoShards[1]
	r := fleet.KeyRange{Low: int64(100), High: int64(200)}
	empty := sums(t, tg, dst, r)
	copied, err := tg.CopyRange(ctx, src, dst, demoTables, r)
	if err != nil {
		t.Fatal(err)
	}
	if copied["customers"] != 100 || copied["orders"] != 300 {
		t.Fatalf("copied %v", copied)
	}
	want := sums(t, tg, src, r)
	if got := sums(t, tg, dst, r); got != want || got == empty {
		t.Fatalf("checksums differ after copy:\nsrc %s\ndst %s", want, got)
	}
	if strings.Contains(want, ":0:") {
		t.Fatalf("empty checksum for a non-empty range: %s", want)
	}
	// Copying again duplicates nothing.
	again, err := tg.CopyRange(ctx, src, dst, demoTables, r)
	if err != nil {
		t.Fatal(err)
	}
	if again["customers"] != 0 || again["orders"] != 0 || sums(t, tg, dst, r) != want {
		t.Fatalf("second copy: %v", again)
	}
	// Only the range moved.
	if n, _ := tg.CountRange(ctx, dst, "customers", "id", fleet.KeyRange{}); n != 100 {
		t.Fatalf("target holds %d customers", n)
	}
	// A changed value changes the checksum but not the count.
	if err := tg.ApplySQL(ctx, dst, `UPDATE orders SET note = 'changed' WHERE id = 301`); err != nil {
		t.Fatal(err)
	}
	if got := sums(t, tg, dst, r); got == want || !strings.Contains(got, "orders:300:") {
		t.Fatalf("a changed row kept the checksum: %s", got)
	}
	// NULL and '' differ, 1 and '1' differ.
	if err := tg.ApplySQL(ctx, dst, `UPDATE orders SET note = NULL WHERE id = 301`); err != nil {
		t.Fatal(err)
	}
	nullSum := sums(t, tg, dst, r)
	if err := tg.ApplySQL(ctx, dst, `UPDATE orders SET note = '' WHERE id = 301`); err != nil {
		t.Fatal(err)
	}
	if sums(t, tg, dst, r) == nullSum {
		t.Fatal("NULL and '' give the same checksum")
	}
	deleted, err := tg.DeleteRange(ctx, src, demoChildren, r)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 400 {
		t.Fatalf("deleted %d rows, want 400", deleted)
	}
	if n, _ := tg.DeleteRange(ctx, src, demoChildren, r); n != 0 {
		t.Fatalf("second delete removed %d rows", n)
	}
	if n, _ := tg.CountRange(ctx, src, "customers", "id", fleet.KeyRange{}); n != 200 {
		t.Fatalf("source keeps %d customers, want 200", n)
	}
	// Parents first on delete breaks the foreign keys and changes nothing.
	if _, err := tg.DeleteRange(ctx, src, demoTables, fleet.KeyRange{Low: int64(0), High: int64(10)}); err == nil {
		t.Fatal("deleting parents before children succeeded despite foreign keys")
	}
	if n, _ := tg.CountRange(ctx, src, "orders", "customer_id", fleet.KeyRange{Low: int64(0), High: int64(10)}); n != 30 {
		t.Fatalf("a failed delete was not rolled back: %d orders left", n)
	}
}

// Checksums do not depend on the order rows were written in.
func TestChecksumOrderIndependent(t *testing.T) {
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	a, b := fleet.Location{Server: "s", Database: "a"}, fleet.Location{Server: "s", Database: "b"}
	for _, loc := range []fleet.Location{a, b} {
		if err := tg.CreateDatabase(ctx, loc); err != nil {
			t.Fatal(err)
		}
		if err := tg.ApplySQL(ctx, loc, `CREATE TABLE t(k INTEGER, v)`); err != nil {
			t.Fatal(err)
		}
	}
	tg.ApplySQL(ctx, a, `INSERT INTO t VALUES(1, 'x'); INSERT INTO t VALUES(2, 2.5); INSERT INTO t VALUES(3, NULL); INSERT INTO t VALUES(4, x'00ff')`)
	tg.ApplySQL(ctx, b, `INSERT INTO t VALUES(4, x'00ff'); INSERT INTO t VALUES(3, NULL); INSERT INTO t VALUES(2, 2.5); INSERT INTO t VALUES(1, 'x')`)
	na, sa, err := tg.Checksum(ctx, a, "t", "k", fleet.KeyRange{})
	if err != nil {
		t.Fatal(err)
	}
	nb, sb, _ := tg.Checksum(ctx, b, "t", "k", fleet.KeyRange{})
	if na != 4 || na != nb || sa != sb {
		t.Fatalf("%d %s vs %d %s", na, sa, nb, sb)
	}
	// A table without a primary key copies idempotently too.
	tg.ApplySQL(ctx, b, `DELETE FROM t WHERE k > 2`)
	c, err := tg.CopyRange(ctx, a, b, []fleet.ShardedTable{{Table: "t", KeyColumn: "k"}}, fleet.KeyRange{})
	if err != nil || c["t"] != 2 {
		t.Fatalf("copy without primary key: %v, %v", c, err)
	}
	if _, sb, _ = tg.Checksum(ctx, b, "t", "k", fleet.KeyRange{}); sb != sa {
		t.Fatal("copy without primary key did not complete the table")
	}
}

func TestCopyTableIfEmpty(t *testing.T) {
	tg := moverFleet(t, 10)
	ctx := context.Background()
	if n, err := tg.CopyTableIfEmpty(ctx, DemoShards[0], DemoShards[1], "regions"); err != nil || n != 0 {
		t.Fatalf("non-empty target: copied %d, %v", n, err)
	}
	fresh := fleet.Location{Server: DemoServer, Database: "customers_2"}
	if err := tg.CreateDatabase(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.CopyTableIfEmpty(ctx, DemoShards[0], fresh, "regions"); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("missing target table: %v", err)
	}
	if err := tg.ApplySQL(ctx, fresh, ShardSchemaSQL); err != nil {
		t.Fatal(err)
	}
	if n, err := tg.CopyTableIfEmpty(ctx, DemoShards[0], fresh, "regions"); err != nil || n != 8 {
		t.Fatalf("empty target: copied %d, %v", n, err)
	}
	if n, err := tg.CopyTableIfEmpty(ctx, DemoShards[0], fresh, "regions"); err != nil || n != 0 {
		t.Fatalf("second copy: %d, %v", n, err)
	}
	if _, err := tg.CopyRange(ctx, DemoShards[0], fresh, demoTables, fleet.KeyRange{}); err != nil {
		t.Fatalf("copy into a fresh shard after its reference data: %v", err)
	}
}

// An injected fault before the commit leaves the target unchanged.
func TestCopyFaultRollsBack(t *testing.T) {
	tg := moverFleet(t, 50)
	ctx := context.Background()
	injectFaults(t, "move.copy:40613:1,move.delete:hard:1,move.checksum:40501:1")
	_, err := tg.CopyRange(ctx, DemoShards[0], DemoShards[1], demoTables, fleet.KeyRange{})
	if !fleet.IsTransient(err) {
		t.Fatalf("copy error %v, want the injected transient fault", err)
	}
	if n, _ := tg.CountRange(ctx, DemoShards[1], "customers", "id", fleet.KeyRange{}); n != 0 {
		t.Fatalf("%d customers survived a failed copy", n)
	}
	if _, err := tg.CopyRange(ctx, DemoShards[0], DemoShards[1], demoTables, fleet.KeyRange{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.DeleteRange(ctx, DemoShards[0], demoChildren, fleet.KeyRange{}); err == nil || fleet.IsTransient(err) {
		t.Fatalf("delete error %v, want the injected hard fault", err)
	}
	if n, _ := tg.CountRange(ctx, DemoShards[0], "customers", "id", fleet.KeyRange{}); n != 50 {
		t.Fatalf("a failed delete removed rows: %d left", n)
	}
	if _, _, err := tg.Checksum(ctx, DemoShards[0], "orders", "customer_id", fleet.KeyRange{}); !fleet.IsTransient(err) {
		t.Fatalf("checksum error %v", err)
	}
}

// injectFaults turns fault injection on with spec for the rest of the test.
func injectFaults(t *testing.T, spec string) {
	t.Helper()
	t.Setenv(faults.EnvSpec, spec)
	t.Setenv(faults.EnvIKnow, "yes")
	if err := faults.Reload(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		t.Setenv(faults.EnvSpec, "")
		faults.Reload()
	})
}

// Non-integer keys are filtered in the shard map's order (SQL Server GUID
// order for guids), whatever their text order.
func TestGuidAndBinaryKeys(t *testing.T) {
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	loc := fleet.Location{Server: "s", Database: "g"}
	tg.CreateDatabase(ctx, loc)
	if err := tg.ApplySQL(ctx, loc, `CREATE TABLE g(id TEXT PRIMARY KEY, v); CREATE TABLE b(id BLOB PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	db, _ := tg.db(ctx, loc)
	for i := 0; i < 40; i++ {
		u := uuid.New()
		ids = append(ids, u)
		if _, err := db.Exec(`INSERT INTO g VALUES(?, ?)`, u.String(), i); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO b VALUES(?)`, []byte{byte(i), 1}); err != nil {
			t.Fatal(err)
		}
	}
	enc := func(u uuid.UUID) []byte { b, _ := shardkey.Encode(fleet.KeyGuid, u); return b }
	sort.Slice(ids, func(i, j int) bool { return shardkey.Compare(enc(ids[i]), enc(ids[j])) < 0 })
	r := fleet.KeyRange{Low: ids[10], High: ids[30]}
	n, err := tg.CountRange(ctx, loc, "g", "id", r)
	if err != nil || n != 20 {
		t.Fatalf("guid range holds %d rows (%v), want 20", n, err)
	}
	next, err := tg.NextBound(ctx, loc, []fleet.ShardedTable{{Table: "g", KeyColumn: "id"}}, r, 5)
	if err != nil || next != ids[15] {
		t.Fatalf("guid NextBound = %v (%v), want %v", next, err, ids[15])
	}
	nb, err := tg.CountRange(ctx, loc, "b", "id", fleet.KeyRange{Low: []byte{5}, High: []byte{9}})
	if err != nil || nb != 4 {
		t.Fatalf("binary range holds %d rows (%v), want 4", nb, err)
	}
}
