package local

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// SQLite errors are classified by result code into typed errors with
// fleetplan's words and a hint, never shown as SQLite's raw message.
func TestSQLErrClassifiesByCode(t *testing.T) {
	ctx := context.Background()
	db, err := openSQLite(filepath.Join(t.TempDir(), "x.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(k INTEGER PRIMARY KEY, u TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES(1, 'a')`); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		stmt      string
		want      error
		transient bool
	}{
		"unique":      {`INSERT INTO t VALUES(2, 'a')`, fleet.ErrConstraint, false},
		"primary key": {`INSERT INTO t VALUES(1, 'b')`, fleet.ErrConstraint, false},
		"read-only":   {`PRAGMA query_only = 1; INSERT INTO t VALUES(3, 'c')`, fleet.ErrReadOnly, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, raw := conn.ExecContext(ctx, tc.stmt)
			_, _ = conn.ExecContext(ctx, `PRAGMA query_only = 0`)
			err = sqlErr("write", fleet.Location{Server: "s", Database: "d"}, raw)
			var fe *fleet.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Hint == "" || fleet.IsTransient(err) != tc.transient {
				t.Fatalf("sqlErr(%v) = %v (hint %q), want %v with a hint", raw, err, fleet.HintOf(err), tc.want)
			}
			if msg := err.Error(); strings.Contains(msg, "constraint failed") || strings.Contains(msg, "SQLITE_") || strings.Contains(msg, "readonly") {
				t.Fatalf("message shows SQLite's words: %s", msg)
			}
		})
	}
	if err := sqlErr("read", fleet.Location{}, errors.New("plain")); !strings.Contains(err.Error(), "plain") {
		t.Fatalf("a non-SQLite error lost its text: %v", err)
	}
}

func copyDBFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A shard restored to an earlier point: observation reports the differences,
// the store refuses to write the stale LSM (typed, with a hint, never a
// constraint error) and leaves nothing pending, and routing validation
// refuses the shard.
func TestRestoredShardIsRefusedTyped(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "fleet")
	tg, err := CreateDemo(ctx, dir, DemoOptions{Customers: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c0 := fleet.Location{Server: "sql-1", Database: "customers_0"}
	at := func(k int64) []byte { b, _ := shardkey.Encode(fleet.KeyInt64, k); return b }
	mp, err := tg.MappingForKey(ctx, "CustomerMap", at(10))
	if err != nil {
		t.Fatal(err)
	}
	tg.Close()
	file := filepath.Join(dir, "sql-1", "customers_0.db")
	copyDBFile(t, file, file+".bak")
	tg, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tg.SplitMapping(ctx, "CustomerMap", mp.ID, at(20)); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	copyDBFile(t, file+".bak", file) // the restore
	tg, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()

	lay, err := tg.Observe(ctx, "CustomerMap")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range lay.Maps[0].Differences {
		if d.Shard.Equal(c0) {
			kinds[d.Kind]++
		}
	}
	if kinds[fleet.DiffShardVersionMismatch] != 1 || kinds[fleet.DiffMappingInShardMapOnly] != 2 || kinds[fleet.DiffMappingInShardOnly] != 1 {
		t.Fatalf("differences on customers_0 = %v", kinds)
	}

	lower, err := tg.MappingForKey(ctx, "CustomerMap", at(10))
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"split": func() error { _, _, err := tg.SplitMapping(ctx, "CustomerMap", lower.ID, at(5)); return err },
		"offline": func() error {
			_, err := tg.SetMappingOnline(ctx, "CustomerMap", lower.ID, false)
			return err
		},
	} {
		err := write()
		if !errors.Is(err, fleet.ResultShardVersionMismatch) || errors.Is(err, fleet.ErrConstraint) || fleet.HintOf(err) == "" {
			t.Fatalf("%s on the restored shard: %v, want a shard version mismatch with a hint", name, err)
		}
		if !strings.Contains(fleet.HintOf(err), "fleetplan doctor --write-plan") {
			t.Fatalf("%s: the hint does not point at the recovery plan: %s", name, fleet.HintOf(err))
		}
	}
	if lay, err = tg.Observe(ctx, "CustomerMap"); err != nil || len(lay.Maps[0].Pending) != 0 {
		t.Fatalf("pending after the refused writes: %v, %v", lay.Maps[0].Pending, err)
	}
	if err := tg.ValidateMapping(ctx, "CustomerMap", lower); !errors.Is(err, fleet.ResultShardVersionMismatch) {
		t.Fatalf("ValidateMapping on the restored shard: %v", err)
	}
	other, err := tg.MappingForKey(ctx, "CustomerMap", at(60000))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.ValidateMapping(ctx, "CustomerMap", other); err != nil {
		t.Fatalf("ValidateMapping on a consistent shard: %v", err)
	}
}
