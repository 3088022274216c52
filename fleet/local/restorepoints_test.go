package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// A restore point's copy is one consistent state of the database while
// an application keeps writing to it: every transaction of the writer
// inserts one row into each of two tables, so a copy holding a part of
// one (or pages of two different moments) has tables of different counts
// or fails its integrity check.
func TestRestorePointIsConsistentWhileAWriterWrites(t *testing.T) {
	ctx := context.Background()
	tg, err := Init(ctx, filepath.Join(t.TempDir(), "fleet"), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	loc := fleet.Location{Server: "sql-1", Database: "app"}
	if err := tg.CreateDatabase(ctx, loc); err != nil {
		t.Fatal(err)
	}
	p := tg.pathOf(loc)
	app, err := openSQLite(p, false) // the application's own pool
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.ExecContext(ctx, `CREATE TABLE a(id INTEGER PRIMARY KEY, v BLOB);
		CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB);
		CREATE INDEX b_v ON b(v)`); err != nil {
		t.Fatal(err)
	}
	write := func(i int) error {
		tx, err := app.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, table := range []string{"a", "b"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+`(id, v) VALUES(?, randomblob(2000))`, i); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	for i := 1; i <= 3000; i++ { // several MB: more pages than one cache holds
		if err := write(i); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	written := 3000
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 3001; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := write(i); err != nil {
				writeErr = err
				return
			}
			written = i
		}
	}()
	for run := 1; run <= 3; run++ {
		unlock, err := tg.LockFleet(ctx, fleet.LockHolder{Run: fmt.Sprintf("run-%d", run)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tg.db(ctx, loc); err != nil { // the run's first use: the copy
			t.Fatal(err)
		}
		unlock()
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	points, err := tg.RestorePoints()
	if err != nil || len(points) != 3 {
		t.Fatalf("restore points %+v, %v", points, err)
	}
	for _, rp := range points {
		copyPath := filepath.Join(rp.dir, loc.Server, loc.Database+".db")
		db, err := openSQLite(copyPath, false)
		if err != nil {
			t.Fatal(err)
		}
		var check string
		var na, nb int
		err = errors.Join(
			db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check),
			db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)`).Scan(&na, &nb))
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if check != "ok" || na != nb || na < 3000 || na > written {
			t.Fatalf("%s's copy: integrity %q, %d rows in a and %d in b (the writer wrote %d pairs)", rp.Run, check, na, nb, written)
		}
	}
}

// An observe only reads: the databases a run observes and never writes keep
// no copy and stay listed as unchanged, while one it observes and then
// writes is copied before the write, so a restore to the run's point gives
// its state at the run's start.
func TestObserveTakesNoRestorePointCopy(t *testing.T) {
	ctx := context.Background()
	tg := demoFleet(t)
	all, err := tg.Databases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	written := fleet.Location{Server: "sql-1", Database: "customers_1"}
	observed := fleet.Location{Server: "sql-1", Database: "customers_0"}
	smm := fleet.Location{Server: "sql-1", Database: "smm"}
	schema := func(loc fleet.Location) string {
		t.Helper()
		db, err := tg.observeDB(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := db.QueryRowContext(ctx, `SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master ORDER BY name)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := schema(written)
	unlock, err := tg.LockFleet(ctx, fleet.LockHolder{Run: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	lay, err := tg.Observe(ctx, DemoShardMap)
	if err != nil {
		t.Fatal(err)
	}
	if len(lay.Maps) != 1 || len(lay.Maps[0].Shards) < 2 {
		t.Fatalf("observed %+v, want the demo map's shards", lay.Maps)
	}
	if err := tg.ApplySQL(ctx, written, `CREATE TABLE run1_mark(v)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Observe(ctx, DemoShardMap); err != nil {
		t.Fatal(err)
	}
	unlock()

	points, err := tg.RestorePoints()
	if err != nil || len(points) != 1 {
		t.Fatalf("restore points %+v, %v", points, err)
	}
	rp := points[0]
	if len(rp.Databases) != 2 || !slices.ContainsFunc(rp.Databases, smm.Equal) || !slices.ContainsFunc(rp.Databases, written.Equal) {
		t.Fatalf("run-1 copied %v, want %s and %s only", rp.Databases, smm, written)
	}
	if !slices.ContainsFunc(rp.Unchanged, observed.Equal) || len(rp.Databases)+len(rp.Unchanged) != len(all) {
		t.Fatalf("run-1 lists %v unchanged, want every database but its copies (%d), %s among them", rp.Unchanged, len(all), observed)
	}
	if _, err := tg.SimulateRestore(ctx, observed, "run-1"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("restore of %s, which run-1 only observed, to its point: %v, want not found", observed, err)
	}
	if _, err := tg.SimulateRestore(ctx, written, "run-1"); err != nil {
		t.Fatal(err)
	}
	if got := schema(written); got != before {
		t.Fatalf("%s restored to run-1's point has %s, want its schema at the run's start %s", written, got, before)
	}
}
