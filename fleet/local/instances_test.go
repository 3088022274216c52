package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
)

// newInstances makes a fleet with two instances in subnet-1 (mi-a with two
// databases) and a pool in its own subnet holding mi-p.
func newInstances(t *testing.T, scale float64) *Target {
	t.Helper()
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(scale)
	must(t, tg.AddInstancePool(ctx, fleet.InstancePool{Name: "pool-1", Subnet: "subnet-pool", VCores: 16}))
	must(t, tg.AddManagedInstance(ctx, fleet.ManagedInstance{Name: "mi-a", Tier: estimate.GeneralPurpose, VCores: 8, StorageGB: 256,
		Labels: map[string]string{"env": "prod"}, Databases: []fleet.InstanceDatabase{{Name: "sales", SizeGB: 40}, {Name: "hr", SizeGB: 4}}}))
	must(t, tg.AddManagedInstance(ctx, fleet.ManagedInstance{Name: "mi-b", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64}))
	must(t, tg.AddManagedInstance(ctx, fleet.ManagedInstance{Name: "mi-p", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64, Pool: "pool-1", Subnet: "subnet-pool"}))
	return tg
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func instance(t *testing.T, tg *Target, name string) *fleet.ManagedInstance {
	t.Helper()
	all, err := tg.ManagedInstances(context.Background())
	must(t, err)
	for i := range all {
		if all[i].Name == name {
			return &all[i]
		}
	}
	return nil
}

// wait polls an operation until it ends and returns the phases it was seen in.
func wait(t *testing.T, tg *Target, id string) (fleet.InstanceOperation, []string) {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		op, err := tg.InstanceOperation(context.Background(), id)
		must(t, err)
		if len(seen) == 0 || seen[len(seen)-1] != op.Phase {
			seen = append(seen, op.Phase)
		}
		if op.State.Ended() {
			return op, seen
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("operation %s did not end", id)
	return fleet.InstanceOperation{}, nil
}

func TestInstanceCatalog(t *testing.T) {
	tg := newInstances(t, 0)
	a := instance(t, tg, "mi-a")
	if a == nil || a.VCores != 8 || a.Labels["env"] != "prod" || len(a.Databases) != 2 || a.Databases[1].SizeGB != 40 || a.Subnet != "subnet-1" {
		t.Fatalf("mi-a: %+v", a)
	}
	ok, err := tg.DatabaseExists(context.Background(), fleet.Location{Server: "mi-a", Database: "sales"})
	if err != nil || !ok {
		t.Errorf("mi-a/sales has no database file: %v", err)
	}
	pools, err := tg.InstancePools(context.Background())
	must(t, err)
	if len(pools) != 1 || len(pools[0].Instances) != 1 || pools[0].Instances[0] != "mi-p" {
		t.Errorf("pools: %+v", pools)
	}
}

// An update goes through its phases in order, in scaled time, and the
// instance takes the new settings only at the end.
func TestUpdateAdvancesThroughPhases(t *testing.T) {
	ctx := context.Background()
	tg := newInstances(t, 1.0/360000) // an hour takes 10 ms
	op, err := tg.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceUpdate,
		Settings: fleet.InstanceSettings{Tier: estimate.BusinessCritical, VCores: 16}, ClientRequestID: "r1"})
	must(t, err)
	want := []string{estimate.PhaseValidate, estimate.PhaseVMGroup, estimate.PhaseStartInstance, estimate.PhaseSeeding, estimate.PhaseFailover, estimate.PhaseCleanup}
	if !slices.Equal(op.Phases, want) {
		t.Fatalf("phases %v, want %v", op.Phases, want)
	}
	if got := instance(t, tg, "mi-a"); got.Tier != estimate.GeneralPurpose && got.Operation == "" {
		t.Errorf("settings changed before the operation ended: %+v", got)
	}
	end, seen := wait(t, tg, op.ID)
	if end.State != fleet.OpSucceeded || end.PercentDone != 100 {
		t.Fatalf("ended %+v", end)
	}
	for i := 1; i < len(seen); i++ {
		if indexOf(want, seen[i]) < indexOf(want, seen[i-1]) {
			t.Errorf("phases seen out of order: %v", seen)
		}
	}
	if got := instance(t, tg, "mi-a"); got.Tier != estimate.BusinessCritical || got.VCores != 16 || got.Operation != "" {
		t.Errorf("after the update: %+v", got)
	}
}

func TestBeginIsIdempotentPerRequest(t *testing.T) {
	ctx := context.Background()
	tg := newInstances(t, 1) // real time: it stays in flight
	req := fleet.InstanceRequest{Instance: "mi-b", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 8}, ClientRequestID: "run-1/step-1"}
	first, err := tg.BeginInstanceOperation(ctx, req)
	must(t, err)
	again, err := tg.BeginInstanceOperation(ctx, req)
	must(t, err)
	if again.ID != first.ID {
		t.Errorf("the same request started a second operation: %s, then %s", first.ID, again.ID)
	}
	req.ClientRequestID = "run-2/step-1"
	_, err = tg.BeginInstanceOperation(ctx, req)
	if !errors.Is(err, fleet.ErrOperationInFlight) {
		t.Errorf("another request while one is in flight: %v, want ErrOperationInFlight", err)
	}
}

func TestBeginRefuses(t *testing.T) {
	ctx := context.Background()
	tg := newInstances(t, 0)
	tests := map[string]struct {
		req  fleet.InstanceRequest
		want error
	}{
		"missing instance":     {fleet.InstanceRequest{Instance: "mi-x", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 8}}, fleet.ErrNotFound},
		"create existing":      {fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceCreate, Settings: fleet.InstanceSettings{VCores: 8, StorageGB: 64}}, fleet.ErrConflict},
		"create without size":  {fleet.InstanceRequest{Instance: "mi-new", Type: fleet.InstanceCreate}, fleet.ErrInvalidArgument},
		"missing pool":         {fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceMoveIntoPool, Settings: fleet.InstanceSettings{Pool: "nope", PoolSet: true}}, fleet.ErrNotFound},
		"out of no pool":       {fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceMoveOutOfPool, Settings: fleet.InstanceSettings{PoolSet: true}}, fleet.ErrInvalidArgument},
		"update changing none": {fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 8}}, fleet.ErrInvalidArgument},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.req.ClientRequestID = name
			if _, err := tg.BeginInstanceOperation(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// A fault in any phase fails the update there and leaves the old settings.
func TestFaultInEachPhaseKeepsOldSettings(t *testing.T) {
	ctx := context.Background()
	phases := []string{estimate.PhaseValidate, estimate.PhaseVMGroup, estimate.PhaseStartInstance, estimate.PhaseStorageAttach, estimate.PhaseFailover, estimate.PhaseCleanup}
	for _, phase := range phases {
		t.Run(phase, func(t *testing.T) {
			t.Setenv(faults.EnvSpec, FaultPhase+phase+":hard:1")
			t.Setenv(faults.EnvIKnow, "yes")
			must(t, faults.Reload())
			t.Cleanup(func() { os.Unsetenv(faults.EnvSpec); _ = faults.Reload() })
			tg := newInstances(t, 0)
			op, err := tg.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-b", Type: fleet.InstanceUpdate,
				Settings: fleet.InstanceSettings{VCores: 16}, ClientRequestID: "r"})
			must(t, err)
			end, _ := wait(t, tg, op.ID)
			if end.State != fleet.OpFailed || end.Phase != phase {
				t.Errorf("ended %s in %s, want failed in %s", end.State, end.Phase, phase)
			}
			if got := instance(t, tg, "mi-b"); got.VCores != 4 {
				t.Errorf("a failed update changed the instance: %+v", got)
			}
		})
	}
}

// During the failover, connections to the instance's databases fail with
// 40613, and work again afterwards.
func TestFailoverMomentIsUnavailable(t *testing.T) {
	ctx := context.Background()
	tg := newInstances(t, 1.0/30) // a storage change takes a few seconds
	sales := fleet.Location{Server: "mi-a", Database: "sales"}
	op, err := tg.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceUpdate,
		Settings: fleet.InstanceSettings{StorageGB: 512}, ClientRequestID: "r"})
	must(t, err)
	sawFailover := false
	for {
		cur, err := tg.InstanceOperation(ctx, op.ID)
		must(t, err)
		if cur.State.Ended() {
			break
		}
		err = tg.ApplySQL(ctx, sales, `CREATE TABLE IF NOT EXISTS t(x)`)
		if cur.Phase == estimate.PhaseFailover && err != nil {
			var fe *fleet.Error
			if !fleet.IsTransient(err) || !errors.As(err, &fe) || fe.Code != 40613 {
				t.Fatalf("during the failover: %v, want a transient 40613", err)
			}
			sawFailover = true
		} else if err != nil && cur.Phase != estimate.PhaseFailover && cur.Phase != estimate.PhaseCleanup {
			t.Fatalf("in phase %s: %v", cur.Phase, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawFailover {
		t.Error("no connection failed during the failover")
	}
	must(t, tg.ApplySQL(ctx, sales, `CREATE TABLE IF NOT EXISTS t(x)`))
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	tg := newInstances(t, 1) // real time: the update stays in its first phases
	op, err := tg.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceUpdate,
		Settings: fleet.InstanceSettings{Tier: estimate.BusinessCritical}, ClientRequestID: "r"})
	must(t, err)
	must(t, tg.CancelInstanceOperation(ctx, op.ID))
	must(t, tg.CancelInstanceOperation(ctx, op.ID)) // again: a no-op
	end, err := tg.InstanceOperation(ctx, op.ID)
	must(t, err)
	if end.State != fleet.OpCancelled || !end.CancelRequested {
		t.Errorf("after cancel: %+v", end)
	}
	if got := instance(t, tg, "mi-a"); got.Tier != estimate.GeneralPurpose || got.Operation != "" {
		t.Errorf("a cancelled update changed the instance: %+v", got)
	}
	del, err := tg.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-b", Type: fleet.InstanceDelete, ClientRequestID: "d"})
	must(t, err)
	if err := tg.CancelInstanceOperation(ctx, del.ID); !errors.Is(err, fleet.ErrCannotCancel) {
		t.Errorf("cancel of a delete: %v, want ErrCannotCancel", err)
	}
}

func TestOperationsChangeTheCatalog(t *testing.T) {
	ctx := context.Background()
	tests := map[string]struct {
		req   fleet.InstanceRequest
		check func(t *testing.T, tg *Target)
	}{
		"move into pool": {fleet.InstanceRequest{Instance: "mi-b", Type: fleet.InstanceMoveIntoPool, Settings: fleet.InstanceSettings{Pool: "pool-1", PoolSet: true}},
			func(t *testing.T, tg *Target) {
				if got := instance(t, tg, "mi-b"); got.Pool != "pool-1" || got.Subnet != "subnet-pool" {
					t.Errorf("mi-b: %+v", got)
				}
			}},
		"move out of pool": {fleet.InstanceRequest{Instance: "mi-p", Type: fleet.InstanceMoveOutOfPool, Settings: fleet.InstanceSettings{PoolSet: true}},
			func(t *testing.T, tg *Target) {
				if got := instance(t, tg, "mi-p"); got.Pool != "" {
					t.Errorf("mi-p: %+v", got)
				}
			}},
		"create in pool": {fleet.InstanceRequest{Instance: "mi-new", Type: fleet.InstanceCreate, Settings: fleet.InstanceSettings{VCores: 4, StorageGB: 64, Pool: "pool-1", PoolSet: true}},
			func(t *testing.T, tg *Target) {
				if got := instance(t, tg, "mi-new"); got == nil || got.Pool != "pool-1" || got.Subnet != "subnet-pool" {
					t.Errorf("mi-new: %+v", got)
				}
			}},
		"delete keeps backups": {fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceDelete},
			func(t *testing.T, tg *Target) {
				if got := instance(t, tg, "mi-a"); got != nil {
					t.Errorf("mi-a still listed: %+v", got)
				}
				files, _ := filepath.Glob(filepath.Join(tg.Dir(), "backups", "mi-a-*", "sales.db"))
				if len(files) != 1 {
					t.Errorf("backups of mi-a/sales: %v", files)
				}
				if ok, _ := tg.DatabaseExists(ctx, fleet.Location{Server: "mi-a", Database: "sales"}); ok {
					t.Error("mi-a/sales still exists")
				}
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tg := newInstances(t, 0)
			tc.req.ClientRequestID = name
			op, err := tg.BeginInstanceOperation(ctx, tc.req)
			must(t, err)
			if end, _ := wait(t, tg, op.ID); end.State != fleet.OpSucceeded {
				t.Fatalf("ended %+v", end)
			}
			tc.check(t, tg)
		})
	}
}

// The same seed draws the same durations.
func TestDrawsAreSeeded(t *testing.T) {
	ctx := context.Background()
	elapsed := func(seed uint64) time.Duration {
		tg := newInstances(t, 0)
		tg.SetInstanceSeed(seed)
		op, err := tg.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceUpdate,
			Settings: fleet.InstanceSettings{VCores: 16}, ClientRequestID: "r"})
		must(t, err)
		end, _ := wait(t, tg, op.ID)
		return end.Elapsed
	}
	a, b, c := elapsed(7), elapsed(7), elapsed(8)
	if a != b || a == c {
		t.Errorf("seed 7 drew %v and %v, seed 8 %v", a, b, c)
	}
}

func TestClock(t *testing.T) {
	ctx := context.Background()
	tg := newInstances(t, 0)
	at := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	must(t, tg.SetClock(ctx, at, true))
	now, err := tg.Now(ctx)
	must(t, err)
	if !now.Equal(at) {
		t.Errorf("frozen clock reads %v, want %v", now, at)
	}
	must(t, tg.SleepUntil(ctx, at.Add(50*time.Hour)))
	if now, _ = tg.Now(ctx); !now.Equal(at.Add(50 * time.Hour)) {
		t.Errorf("after SleepUntil the clock reads %v", now)
	}
	must(t, tg.SleepUntil(ctx, at)) // the past: no jump back
	if now, _ = tg.Now(ctx); !now.Equal(at.Add(50 * time.Hour)) {
		t.Errorf("SleepUntil moved the clock back to %v", now)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
