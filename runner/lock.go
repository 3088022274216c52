package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// Holder describes the process holding a target lock. It is written beside the
// lock file so a refused run can say who holds the lock and since when.
type Holder = fleet.LockHolder

// LockedError says that another process holds the target lock.
type LockedError struct {
	Target string
	Holder *Holder // nil when the holder did not leave its details
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("target %q is locked by another fleetplan process", e.Target)
	}
	h := e.Holder
	return fmt.Sprintf("target %q is locked by run %s (pid %d on %s, since %s)",
		e.Target, h.Run, h.PID, h.Host, h.Since.Local().Format(time.RFC3339))
}

// lockFleet takes the fleet's own lock through the target (fleet.Locker),
// for a command that changes the fleet. The target lock of the state folder
// only covers runs of one checkout under one target name; this one covers
// every checkout and every name that reaches the same fleet. A target that
// cannot lock (a test fake) is not locked.
func lockFleet(ctx context.Context, t fleet.Target, h Holder) (func(), error) {
	lk, ok := t.(fleet.Locker)
	if !ok {
		return func() {}, nil
	}
	return lk.LockFleet(ctx, h)
}

// takeLocks takes the state folder's target lock, then the fleet's own
// lock, both naming run id as their holder; release gives both back.
func takeLocks(ctx context.Context, opt Options, target, id string) (release func(), err error) {
	lock, err := acquireLock(opt.Dir, target, holder(id, opt))
	if err != nil {
		return nil, err
	}
	unlockFleet, err := lockFleet(ctx, opt.Target, holder(id, opt))
	if err != nil {
		lock.release()
		return nil, err
	}
	return func() { unlockFleet(); lock.release() }, nil
}

// Lease is a run reserved before its plan is made: its id and folder, and
// the target's and the fleet's locks held in its name. apply takes one
// before it plans (or checks a saved plan's freshness), so the graph it
// shows and runs is made from a fleet no other run can change meanwhile;
// Start then runs as the reserved run (Options.Lease), and so do the
// rollbacks apply runs first.
type Lease struct {
	id, dir, target string
	release         func()
	started         bool
}

// Reserve reserves a run on opt.Target: it makes the run's folder and takes
// the locks, refusing at once (a *LockedError or *fleet.FleetLockedError
// with a hint) when another run holds them. Release gives them back.
func Reserve(ctx context.Context, opt Options) (*Lease, error) {
	if err := checkOptions(&opt); err != nil {
		return nil, err
	}
	target, err := targetName(&stepgraph.Graph{}, opt)
	if err != nil {
		return nil, err
	}
	return reserve(ctx, opt, target)
}

func reserve(ctx context.Context, opt Options, target string) (*Lease, error) {
	runsDir := filepath.Join(opt.Dir, "runs")
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return nil, err
	}
	id, err := newRunDir(runsDir)
	if err != nil {
		return nil, err
	}
	release, err := takeLocks(ctx, opt, target, id)
	if err != nil {
		_ = os.Remove(filepath.Join(runsDir, id))
		return nil, err
	}
	return &Lease{id: id, dir: opt.Dir, target: target, release: release}, nil
}

// ID is the id the reserved run gets.
func (l *Lease) ID() string { return l.id }

// Release gives the locks back. A reserved run that never started leaves
// no folder behind. Releasing twice does nothing.
func (l *Lease) Release() {
	if l == nil || l.release == nil {
		return
	}
	if !l.started {
		_ = os.Remove(filepath.Join(l.dir, "runs", l.id))
	}
	l.release()
	l.release = nil
}

// check refuses a lease used for another state folder or target than it
// locks.
func (l *Lease) check(dir, target string) error {
	if l.release == nil {
		return fmt.Errorf("runner: the lease of run %s was released", l.id)
	}
	if l.dir != dir || !strings.EqualFold(l.target, target) {
		return fmt.Errorf("runner: the lease of run %s holds target %q in %s, not %q in %s", l.id, l.target, l.dir, target, dir)
	}
	return nil
}

// targetLock is a held lock on one target. The kernel drops an flock when its
// holder dies, so a killed process never keeps the target locked.
type targetLock struct {
	fl     *flock.Flock
	holder string
}

func lockPaths(dir, target string) (lock, holder string) {
	base := filepath.Join(dir, "locks", safeName(target))
	return base + ".lock", base + ".holder.json"
}

// safeName turns a target name into a file name.
func safeName(s string) string {
	if s == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// acquireLock takes the target lock without blocking (a few short retries
// absorb status probes that hold it for an instant) and records the holder.
func acquireLock(dir, target string, h Holder) (*targetLock, error) {
	lockPath, holderPath := lockPaths(dir, target)
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return nil, err
	}
	fl := flock.New(lockPath)
	var ok bool
	var err error
	for i := 0; i < 5; i++ {
		if ok, err = fl.TryLock(); err != nil || ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("lock target %q: %w", target, err)
	}
	if !ok {
		le := &LockedError{Target: target, Holder: readHolder(holderPath)}
		hint := "wait for that run to finish, or look at it with `fleetplan status " + runOf(le.Holder) + "`; the lock is released as soon as its process exits"
		return nil, &fleet.Error{Op: "lock target", Target: target, Err: le, Hint: hint}
	}
	b, _ := json.Marshal(h)
	if err := writeFileAtomic(holderPath, b); err != nil {
		_ = fl.Unlock()
		return nil, fmt.Errorf("record lock holder: %w", err)
	}
	return &targetLock{fl: fl, holder: holderPath}, nil
}

func runOf(h *Holder) string {
	if h == nil {
		return ""
	}
	return h.Run
}

// release removes the holder file, then the lock (in this order, so the next
// holder's file is never removed).
func (l *targetLock) release() {
	if l == nil {
		return
	}
	_ = os.Remove(l.holder)
	_ = l.fl.Unlock()
}

func readHolder(path string) *Holder {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	return &h
}

// liveHolder reports who holds the target lock, or nil when nobody does. It
// never blocks a runner: it probes with a shared lock and lets go at once.
func liveHolder(dir, target string) *Holder {
	lockPath, holderPath := lockPaths(dir, target)
	if _, err := os.Stat(lockPath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	fl := flock.New(lockPath)
	ok, err := fl.TryRLock()
	if err != nil {
		return nil
	}
	if ok {
		_ = fl.Unlock()
		return nil
	}
	if h := readHolder(holderPath); h != nil {
		return h
	}
	return &Holder{}
}
