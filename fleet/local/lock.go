package local

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/gofrs/flock"

	"github.com/fleetplan/fleetplan/fleet"
)

// Files of the fleet's run lock, inside the fleet directory: whoever opens
// the fleet, from whichever plan repository and under whichever target name,
// locks the same file.
const (
	runLockFile   = ".fleetplan-run.lock"
	runHolderFile = ".fleetplan-run.holder.json"
)

var _ fleet.Locker = (*Target)(nil)

// LockFleet implements fleet.Locker with a kernel file lock (flock) on a
// file inside the fleet directory: exclusive between processes and between
// two locks of one process, released by the kernel when the holder dies.
// The holder's details are written beside it so a refused run can name it.
//
// A run (h.Run set) keeps a copy of each database before it first uses it,
// which `fleet simulate restore` puts back (see takeRestorePoint and
// SimulateRestore).
func (t *Target) LockFleet(ctx context.Context, h fleet.LockHolder) (func(), error) {
	unlock, err := lockRunFile(t.dir, h)
	if err != nil {
		return nil, err
	}
	endCopies, err := t.takeRestorePoint(ctx, h.Run)
	if err != nil {
		unlock()
		var fe *fleet.Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &fleet.Error{Op: "keep restore point", Target: t.dir, Err: err,
			Hint: "a run keeps a copy of each database before it first changes it; check the free disk space beside the fleet directory"}
	}
	return func() { endCopies(); unlock() }, nil
}

// lockRunFile takes the run lock of the fleet in dir.
func lockRunFile(dir string, h fleet.LockHolder) (func(), error) {
	lockPath, holderPath := filepath.Join(dir, runLockFile), filepath.Join(dir, runHolderFile)
	fl := flock.New(lockPath)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, &fleet.Error{Op: "lock fleet", Target: dir, Err: err,
			Hint: "check that the fleet directory is writable; fleetplan does not change a fleet it cannot lock"}
	}
	if !ok {
		return nil, &fleet.Error{Op: "lock fleet", Target: dir,
			Err: &fleet.FleetLockedError{Fleet: dir, Holder: readFleetHolder(holderPath)},
			Hint: "another run is changing this fleet (perhaps from another checkout of the plan repository, or under another target name); " +
				"wait for it to finish; the lock is released as soon as its process exits"}
	}
	b, _ := json.Marshal(h)
	// The details are a courtesy to the next one refused; the lock holds without them.
	tmp := holderPath + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, holderPath)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = os.Remove(holderPath)
			_ = fl.Unlock()
		})
	}, nil
}

func readFleetHolder(path string) *fleet.LockHolder {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var h fleet.LockHolder
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	return &h
}
