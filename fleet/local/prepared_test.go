package local

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// The executor's prepared statements follow the schema: a statement on a
// table that does not exist yet fails with its own error and is not kept,
// works once the table is there, and keeps working after the table changes.
func TestPreparedStatementsFollowTheSchema(t *testing.T) {
	for _, inTx := range []bool{true, false} {
		t.Run(map[bool]string{true: "in a transaction", false: "on the pool"}[inTx], func(t *testing.T) {
			preparedFollowSchema(t, inTx)
		})
	}
}

func preparedFollowSchema(t *testing.T, inTx bool) {
	ctx := context.Background()
	db, err := openSQLite(filepath.Join(t.TempDir(), "x.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tg := &Target{}
	run := func(q string, args ...any) (int, error) {
		var qr querier = tg.pq(db)
		var tx *sql.Tx
		if inTx {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			qr = ptx{tx, tg.stmts(db)}
		}
		if strings.HasPrefix(q, "SELECT") {
			var n int
			err := qr.QueryRowContext(ctx, q, args...).Scan(&n)
			return n, err
		}
		if _, err := qr.ExecContext(ctx, q, args...); err != nil || tx == nil {
			return 0, err
		}
		return 0, tx.Commit()
	}
	const sel = `SELECT count(*) FROM t WHERE k >= ?`
	if _, err := run(sel, 0); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("a statement on a missing table: err = %v", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(k INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := run(`INSERT INTO t(k) VALUES(?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := run(sel, 1); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE t ADD COLUMN v TEXT; INSERT INTO t(k, v) VALUES(10, 'x')`); err != nil {
		t.Fatal(err)
	}
	if n, err := run(sel, 1); err != nil || n != 3 {
		t.Fatalf("after the table changed: count = %d, %v; want 3", n, err)
	}
}

// A closed pool's prepared statements go with it: closing a database's
// pools (a read-only switch, a failover, a replaced file) and closing the
// target leave no statement set behind, so a long watch does not collect
// one per pool it ever opened.
func TestClosedPoolsForgetTheirStatements(t *testing.T) {
	ctx := context.Background()
	tg, err := CreateDemo(ctx, t.TempDir(), DemoOptions{Customers: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	sets := func() (n int) {
		tg.prepared.Range(func(any, any) bool { n++; return true })
		return n
	}
	if _, err := tg.Observe(ctx, DemoShardMap); err != nil {
		t.Fatal(err)
	}
	before := sets()
	if before == 0 {
		t.Fatal("an observe prepared no statements; the test checks nothing")
	}
	tg.mu.Lock()
	var paths []string
	for p := range tg.dbs {
		if _, ok := tg.prepared.Load(tg.dbs[p]); ok {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		tg.mu.Unlock()
		t.Fatal("no open pool holds prepared statements")
	}
	held := 0 // the sets of the path's pools, read-write and read-only
	for _, key := range []string{paths[0], paths[0] + readOnlySuffix} {
		if db, ok := tg.dbs[key]; ok {
			if _, ok := tg.prepared.Load(db); ok {
				held++
			}
		}
	}
	tg.mu.Unlock()
	tg.closePools(paths[0])
	if got := sets(); got != before-held {
		t.Fatalf("after closing one database's pools: %d statement sets, want %d", got, before-held)
	}
	if _, err := tg.Observe(ctx, DemoShardMap); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sets(); got != 0 {
		t.Fatalf("after Close: %d statement sets, want 0", got)
	}
}
