package local

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// moveBench holds pristine copies of a demo fleet's two shard files, so
// every iteration moves the same rows between the same files.
type moveBench struct {
	dir        string
	customers  int
	src, dst   string // live files
	srcT, dstT string // templates
}

func newMoveBench(b *testing.B, customers int) *moveBench {
	b.Helper()
	dir := b.TempDir()
	tg, err := CreateDemo(context.Background(), dir, DemoOptions{Customers: customers, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	tg.Close()
	m := &moveBench{dir: dir, customers: customers,
		src: filepath.Join(dir, "sql-1", "customers_0.db"), dst: filepath.Join(dir, "sql-1", "customers_1.db")}
	m.srcT, m.dstT = m.src+".template", m.dst+".template"
	copyFile(b, m.src, m.srcT)
	copyFile(b, m.dst, m.dstT)
	return m
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(to + suffix)
	}
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// reset restores both shard files (nothing may hold them open).
func (m *moveBench) reset(b *testing.B) {
	copyFile(b, m.srcT, m.src)
	copyFile(b, m.dstT, m.dst)
}

func (m *moveBench) rows() float64 { return float64(m.customers * (1 + DemoOrdersPer)) }

var benchSizes = []int{5000, 20000}

// BenchmarkCopyRange moves every customer (and their orders) from one shard
// to the other through the DataMover: CopyRange, then DeleteRange on the
// source. Compare rows/s with BenchmarkInEngine.
func BenchmarkCopyRange(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("customers="+strconv.Itoa(n), func(b *testing.B) {
			m := newMoveBench(b, n)
			ctx := context.Background()
			r := fleet.KeyRange{Low: int64(0), High: int64(n)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m.reset(b)
				tg, err := Open(ctx, m.dir)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				copied, err := tg.CopyRange(ctx, DemoShards[0], DemoShards[1], demoTables, r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tg.DeleteRange(ctx, DemoShards[0], demoChildren, r); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if copied["customers"] != int64(n) {
					b.Fatalf("copied %v", copied)
				}
				tg.Close()
			}
			b.ReportMetric(m.rows()*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkInEngine is the limit: the same move written by hand with the
// same driver, ATTACH + INSERT..SELECT + DELETE, nothing else.
func BenchmarkInEngine(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("customers="+strconv.Itoa(n), func(b *testing.B) {
			m := newMoveBench(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m.reset(b)
				dst, err := sql.Open("sqlite", dsn(m.dst, false))
				if err != nil {
					b.Fatal(err)
				}
				src, err := sql.Open("sqlite", dsn(m.src, false))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				conn, err := dst.Conn(ctx)
				if err != nil {
					b.Fatal(err)
				}
				mustExec(b, conn, `ATTACH DATABASE ? AS src`, m.src)
				tx, err := conn.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				mustExec(b, tx, `INSERT INTO main.customers SELECT * FROM src.customers WHERE id >= ? AND id < ?`, 0, n)
				mustExec(b, tx, `INSERT INTO main.orders SELECT * FROM src.orders WHERE customer_id >= ? AND customer_id < ?`, 0, n)
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				mustExec(b, conn, `DETACH DATABASE src`)
				conn.Close()
				tx, err = src.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				mustExec(b, tx, `DELETE FROM orders WHERE customer_id >= ? AND customer_id < ?`, 0, n)
				mustExec(b, tx, `DELETE FROM customers WHERE id >= ? AND id < ?`, 0, n)
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				dst.Close()
				src.Close()
			}
			b.ReportMetric(m.rows()*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func mustExec(b *testing.B, e execer, q string, args ...any) {
	b.Helper()
	if _, err := e.ExecContext(context.Background(), q, args...); err != nil {
		b.Fatal(err)
	}
}
