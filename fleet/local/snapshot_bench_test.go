package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDatabaseCopy copies the demo's larger shard (about 14 MB) the
// way a geo-secondary is seeded or a group fails over (snapshotInto), beside
// the VACUUM INTO it used before, measured in the same run.
func BenchmarkDatabaseCopy(b *testing.B) {
	ctx := context.Background()
	tg, err := CreateDemo(ctx, b.TempDir(), DemoOptions{Customers: DemoCustomers, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	src := DemoShards[1]
	srcPath := tg.pathOf(src)
	dst := filepath.Join(b.TempDir(), "copy.db")
	b.Run("snapshotInto", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := tg.snapshotInto(ctx, src, srcPath, dst); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		holdsCustomers(b, dst)
	})
	b.Run("vacuum-into", func(b *testing.B) {
		db, err := tg.dbAt(src, srcPath)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			os.Remove(dst)
			if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
				b.Fatal(err)
			}
			if err := syncFile(dst); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		holdsCustomers(b, dst)
	})
}

func holdsCustomers(b *testing.B, p string) {
	db, err := openSQLite(p, false)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM customers`).Scan(&n); err != nil || n == 0 {
		b.Fatalf("the copy holds %d customers, %v", n, err)
	}
}
