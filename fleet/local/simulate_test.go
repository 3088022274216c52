package local

import (
	"context"
	"path/filepath"
	"testing"

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

// A restore puts the copy taken at a run's start back: changes made since
// are gone from that database, which observation reports; a deleted
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
	unlock()
	mp, err := tg.MappingForKey(ctx, DemoShardMap, demoKey(t, 10))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tg.SplitMapping(ctx, DemoShardMap, mp.ID, demoKey(t, 20)); err != nil {
		t.Fatal(err)
	}
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
