package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// TestKilledMidOperation kills a real process (SIGKILL through fault
// injection) at each phase boundary of a split and of a move between shards,
// then checks that the next writer rolls the operation back completely.
func TestKilledMidOperation(t *testing.T) {
	if dir := os.Getenv("LOCAL_CRASH_CHILD"); dir != "" {
		crashChild(dir, os.Getenv("LOCAL_CRASH_OP"))
		os.Exit(0) // not reached when the fault fires
	}
	ctx := context.Background()
	// The operation, and the fault point it hits (shardmap.<point>).
	for _, op := range [][2]string{{"split", "split"}, {"update-mapping", "update-mapping"},
		{"cut-offline", "split"}, {"merge-all", "merge"}} {
		op, point := op[0], op[1]
		for hit := 1; hit <= 3; hit++ {
			t.Run(op+"/hit"+strconv.Itoa(hit), func(t *testing.T) {
				dir := t.TempDir()
				tg, err := CreateDemo(ctx, dir, DemoOptions{Customers: 10, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				switch op {
				case "update-mapping": // make [50000, +inf) offline so it may move
					k, _ := shardkey.Encode(fleet.KeyInt64, int64(DemoBoundary))
					mp, _ := tg.MappingForKey(ctx, DemoShardMap, k)
					if _, err := tg.SetMappingOnline(ctx, DemoShardMap, mp.ID, false); err != nil {
						t.Fatal(err)
					}
				case "merge-all": // [50000, +inf) in three
					for _, at := range []int64{60000, 70000} {
						k, _ := shardkey.Encode(fleet.KeyInt64, at)
						mp, _ := tg.MappingForKey(ctx, DemoShardMap, k)
						if _, _, err := tg.SplitMapping(ctx, DemoShardMap, mp.ID, k); err != nil {
							t.Fatal(err)
						}
					}
				}
				before, err := tg.Observe(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				tg.Close()

				cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidOperation$")
				cmd.Env = append(os.Environ(), "LOCAL_CRASH_CHILD="+dir, "LOCAL_CRASH_OP="+op,
					faults.EnvSpec+"=shardmap."+point+":exit:"+strconv.Itoa(hit), faults.EnvIKnow+"=yes")
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("child was not killed: %v\n%s", err, out)
				}
				if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("child ended with %v\n%s", err, out)
				}

				tg, err = Open(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				defer tg.Close()
				mid, err := tg.Observe(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				if len(mid.Maps[0].Pending) != 1 {
					t.Fatalf("pending operations after the kill: %v", mid.Maps[0].Pending)
				}
				ids, err := tg.RecoverPending(ctx)
				if err != nil || len(ids) != 1 {
					t.Fatalf("RecoverPending = %v, %v", ids, err)
				}
				after, err := tg.Observe(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				if after.Fingerprint != before.Fingerprint {
					t.Fatalf("rollback did not restore the layout:\nbefore %+v\nafter  %+v", before.Maps[0], after.Maps[0])
				}
			})
		}
	}
}

func crashChild(dir, op string) {
	ctx := context.Background()
	if err := faults.Reload(); err != nil {
		panic(err)
	}
	tg, err := Open(ctx, dir)
	if err != nil {
		panic(err)
	}
	k, _ := shardkey.Encode(fleet.KeyInt64, int64(DemoBoundary))
	mp, err := tg.MappingForKey(ctx, DemoShardMap, k)
	if err != nil {
		panic(err)
	}
	switch op {
	case "split":
		at, _ := shardkey.Encode(fleet.KeyInt64, int64(75000))
		_, _, err = tg.SplitMapping(ctx, DemoShardMap, mp.ID, at)
	case "update-mapping":
		_, err = tg.UpdateMappingShard(ctx, DemoShardMap, mp.ID, DemoShards[0])
	case "cut-offline":
		lo, _ := shardkey.Encode(fleet.KeyInt64, int64(60000))
		hi, _ := shardkey.Encode(fleet.KeyInt64, int64(70000))
		_, _, err = tg.CutMappingOffline(ctx, DemoShardMap, mp.ID, lo, hi)
	case "merge-all":
		ms, lerr := tg.Mappings(ctx, DemoShardMap)
		if lerr != nil {
			panic(lerr)
		}
		var ids []uuid.UUID
		for _, m := range ms[1:] {
			ids = append(ids, m.ID)
		}
		_, err = tg.MergeAllMappings(ctx, DemoShardMap, ids)
	}
	panic(err) // reached only if the fault did not fire
}
