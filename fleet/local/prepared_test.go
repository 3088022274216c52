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
