package local

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// The run lock belongs to the fleet directory: two opens of the same fleet
// (two target names, two checkouts) exclude each other, and the refusal
// names the holder.
func TestLockFleetIsExclusivePerFleet(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "fleet")
	a, err := Init(ctx, dir, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dir+"/.") // another spelling of the same directory
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release, err := a.LockFleet(ctx, fleet.LockHolder{Run: "run-1", PID: 42, Host: "h", StateDir: "/repo-a/.fleetplan"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.LockFleet(ctx, fleet.LockHolder{Run: "run-2"})
	var le *fleet.FleetLockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.Run != "run-1" || le.Holder.StateDir != "/repo-a/.fleetplan" {
		t.Fatalf("second lock: %v, want FleetLockedError naming run-1 from /repo-a", err)
	}
	if fleet.HintOf(err) == "" {
		t.Fatalf("no hint: %v", err)
	}
	// Replacing the fleet while a run changes it is refused too.
	if _, err := Init(ctx, dir, InitOptions{Force: true}); !errors.As(err, &le) {
		t.Fatalf("init --force while a run holds the fleet: %v, want refused", err)
	}
	release()
	release() // idempotent
	release2, err := b.LockFleet(ctx, fleet.LockHolder{Run: "run-2"})
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
}
