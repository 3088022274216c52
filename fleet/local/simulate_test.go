package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

func demoFleet(t *testing.T) *Target {
	t.Helper()
	tg, err := CreateDemo(context.Background(), filepath.Join(t.TempDir(), "fleet"), DemoOptions{Customers: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func kindsOn(t *testing.T, tg *Target) map[string][]fleet.Difference {
	t.Helper()
	lay, err := tg.Observe(context.Background(), DemoShardMap)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]fleet.Difference{}
	for _, d := range lay.Maps[0].Differences {
		out[d.Kind] = append(out[d.Kind], d)
	}
	return out
}

func recoverDemo(t *testing.T, tg *Target, fn func(ctx context.Context, ex elasticdb.Executor, m fleet.ShardMap) error) {
	t.Helper()
	ctx := context.Background()
	m, err := tg.ShardMap(ctx, DemoShardMap)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Recover(ctx, func(ex elasticdb.Executor) error { return fn(ctx, ex, m) }); err != nil {
		t.Fatal(err)
	}
}

// A geo-failover moves every database of sql-1 (the shard map manager's
// too) to sql-2; the global shard map still names sql-1, so each shard is
// found moved, and updating the locations repairs it.
func TestSimulateGeoFailover(t *testing.T) {
	ctx := context.Background()
	tg := demoFleet(t)
	moved, err := tg.SimulateGeoFailover(ctx, "sql-1", "sql-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) < 3 {
		t.Fatalf("moved %v, want the shard map manager and both shards", moved)
	}
	if smm, _ := tg.ShardMapManager(ctx); smm != (fleet.Location{Server: "sql-2", Database: "smm"}) {
		t.Fatalf("shard map manager at %s after the failover", smm)
	}
	got := kindsOn(t, tg)[fleet.DiffShardMoved]
	if len(got) != 2 {
		t.Fatalf("ShardMoved differences %+v, want both shards", got)
	}
	for _, d := range got {
		if d.MovedTo == nil || d.MovedTo.Server != "sql-2" || d.MovedTo.Database != d.Shard.Database {
			t.Fatalf("difference %+v does not say where the shard went", d)
		}
	}
	recoverDemo(t, tg, func(ctx context.Context, ex elasticdb.Executor, m fleet.ShardMap) error {
		for _, d := range got {
			if err := elasticdb.UpdateShardLocation(ctx, ex, m, d.Shard, *d.MovedTo); err != nil {
				return err
			}
		}
		return nil
	})
	if k := kindsOn(t, tg); len(k) != 0 {
		t.Fatalf("differences after updating the locations: %v", k)
	}
	mp, err := tg.MappingForKey(ctx, DemoShardMap, demoKey(t, 10))
	if err != nil || mp.Location != (fleet.Location{Server: "sql-2", Database: "customers_0"}) {
		t.Fatalf("key 10 routes to %s (%v)", mp.Location, err)
	}
	if _, err := tg.SimulateGeoFailover(ctx, "sql-1", "sql-2"); err == nil {
		t.Fatal("a server without databases failed over")
	}
}

func demoKey(t *testing.T, k int64) []byte {
	t.Helper()
	b, err := shardkey.Encode(fleet.KeyInt64, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A restore puts the copy a run kept back: the run's changes are gone from
// that database, which observation reports; a deleted
// database comes back whole.
func TestSimulateRestoreAndDelete(t *testing.T) {
	ctx := context.Background()
	tg := demoFleet(t)
	c0 := fleet.Location{Server: "sql-1", Database: "customers_0"}
	if _, err := tg.SimulateRestore(ctx, c0, "run-1"); err == nil {
		t.Fatal("restored from a restore point never taken")
	}
	unlock, err := tg.LockFleet(ctx, fleet.LockHolder{Run: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := tg.MappingForKey(ctx, DemoShardMap, demoKey(t, 10))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tg.SplitMapping(ctx, DemoShardMap, mp.ID, demoKey(t, 20)); err != nil {
		t.Fatal(err)
	}
	unlock()
	if k := kindsOn(t, tg); len(k) != 0 {
		t.Fatalf("differences before the restore: %v", k)
	}
	rp, err := tg.SimulateRestore(ctx, c0, "run-1")
	if err != nil || rp.Run != "run-1" {
		t.Fatalf("restore: %+v, %v", rp, err)
	}
	k := kindsOn(t, tg)
	if len(k[fleet.DiffShardVersionMismatch]) != 1 || len(k[fleet.DiffMappingInShardOnly]) != 1 || len(k[fleet.DiffMappingInShardMapOnly]) != 2 {
		t.Fatalf("differences after the restore: %v", k)
	}
	if err := tg.SimulateDelete(ctx, c0); err != nil {
		t.Fatal(err)
	}
	if k := kindsOn(t, tg); len(k[fleet.DiffDatabaseMissing]) != 1 {
		t.Fatalf("differences after the delete: %v", k)
	}
	if _, err := tg.SimulateRestore(ctx, c0, rp.Taken.Format("2006-01-02T15:04:05.999999999Z07:00")); err != nil {
		t.Fatal(err)
	}
	if k := kindsOn(t, tg); len(k[fleet.DiffDatabaseMissing]) != 0 || len(k[fleet.DiffShardVersionMismatch]) != 1 {
		t.Fatalf("differences after restoring the deleted database: %v", k)
	}
	if err := tg.SimulateDelete(ctx, fleet.Location{Server: "sql-1", Database: "smm"}); err == nil {
		t.Fatal("deleted the shard map manager database")
	}
}

// A run keeps copies of the databases it uses only (and of the shard map
// manager's): restoring each to the run's point gives its state at the
// run's start, and a database the run never used has no copy, which a
// restore to that point says, naming the earlier point that has one.
func TestRestorePointCopiesWhatTheRunUses(t *testing.T) {
	ctx := context.Background()
	tg := demoFleet(t)
	all, err := tg.Databases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := fleet.Location{Server: "sql-1", Database: "customers_1"}
	b := fleet.Location{Server: "mi-prod", Database: "sales"}
	c := fleet.Location{Server: "sql-1", Database: "customers_0"}
	smm := fleet.Location{Server: "sql-1", Database: "smm"}
	if len(all) < 6 {
		t.Fatalf("demo fleet has %d databases, want several more than the run uses", len(all))
	}
	tables := func(loc fleet.Location) []string {
		t.Helper()
		db, err := tg.db(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	mark := func(loc fleet.Location, name string) {
		t.Helper()
		db, err := tg.db(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE `+name+`(v)`); err != nil {
			t.Fatal(err)
		}
	}
	run := func(id string, fn func()) {
		t.Helper()
		unlock, err := tg.LockFleet(ctx, fleet.LockHolder{Run: id})
		if err != nil {
			t.Fatal(err)
		}
		fn()
		unlock()
	}
	run("run-1", func() { mark(c, "run1_mark") })
	atRun1 := time.Now().UTC()
	before := map[string][]string{}
	for _, l := range []fleet.Location{a, b, c} {
		before[l.String()] = tables(l) // opens every pool before the run
	}
	run("run-2", func() {
		mark(a, "run2_mark")
		mark(b, "run2_mark")
		mark(a, "run2_again")
	})
	mark(c, "after_runs") // no run holds the lock: nothing is copied

	points, err := tg.RestorePoints()
	if err != nil || len(points) != 2 || points[1].Run != "run-2" {
		t.Fatalf("restore points %+v, %v", points, err)
	}
	rp := points[1]
	got := map[string]bool{}
	for _, l := range rp.Databases {
		got[l.String()] = true
	}
	if len(rp.Databases) != 3 || !got[smm.String()] || !got[a.String()] || !got[b.String()] {
		t.Fatalf("run-2 copied %v, want %s, %s and %s only", rp.Databases, smm, a, b)
	}
	if len(rp.Databases)+len(rp.Unchanged) != len(all) {
		t.Fatalf("run-2's point lists %d copies and %d unchanged of %d databases", len(rp.Databases), len(rp.Unchanged), len(all))
	}
	var files []string
	_ = filepath.WalkDir(rp.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".db") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 3 {
		t.Fatalf("run-2's point holds %v, want 3 copies", files)
	}

	for _, l := range []fleet.Location{a, b} {
		if _, err := tg.SimulateRestore(ctx, l, "run-2"); err != nil {
			t.Fatal(err)
		}
		if got := tables(l); !slices.Equal(got, before[l.String()]) {
			t.Fatalf("%s restored to run-2's point has tables %v, want those at its start %v", l, got, before[l.String()])
		}
	}

	_, err = tg.SimulateRestore(ctx, c, "run-2")
	var fe *fleet.Error
	if !errors.Is(err, fleet.ErrNotFound) || !errors.As(err, &fe) || !strings.Contains(fe.Hint, "as it was at the run's start") || !strings.Contains(fe.Hint, "run-1") {
		t.Fatalf("restore of a database run-2 never used: %v", err)
	}
	if got := tables(c); !slices.Contains(got, "after_runs") {
		t.Fatalf("a refused restore changed %s: %v", c, got)
	}
	// A time after both starts takes the newest copy there is: run-1's.
	if rp, err := tg.SimulateRestore(ctx, c, time.Now().UTC().Format(time.RFC3339Nano)); err != nil || rp.Run != "run-1" {
		t.Fatalf("restore by time: %+v, %v", rp, err)
	}
	if got := tables(c); slices.Contains(got, "run1_mark") || slices.Contains(got, "after_runs") {
		t.Fatalf("%s restored to run-1's point (%s) has tables %v", c, atRun1, got)
	}
}
