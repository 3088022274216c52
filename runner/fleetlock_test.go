package runner

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
)

// lockingTarget is a fleet.Target and fleet.Locker with func fields.
type lockingTarget struct {
	name string
	lock func(h fleet.LockHolder) (func(), error)
}

func (l *lockingTarget) Name() string               { return l.name }
func (l *lockingTarget) Driver() string             { return "fake" }
func (l *lockingTarget) Close() error               { return nil }
func (l *lockingTarget) Ping(context.Context) error { return nil }
func (l *lockingTarget) LockFleet(_ context.Context, h fleet.LockHolder) (func(), error) {
	return l.lock(h)
}

// Every command that changes the fleet (apply, resume, rollback) takes the
// fleet's lock through the target and holds it while steps run; a refusal
// stops the command before any step runs.
func TestRunnerTakesTheFleetLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var held, taken atomic.Int64
	var holders []fleet.LockHolder
	refuse := false
	tg := &lockingTarget{name: "t", lock: func(h fleet.LockHolder) (func(), error) {
		if refuse {
			return nil, &fleet.Error{Op: "lock fleet", Err: &fleet.FleetLockedError{Fleet: "f"}, Hint: "wait"}
		}
		holders = append(holders, h)
		taken.Add(1)
		held.Add(1)
		return func() { held.Add(-1) }, nil
	}}
	applied := 0
	fake := newFake(t, &fakeAction{
		apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
			applied++
			if held.Load() != 1 {
				t.Errorf("a step ran without the fleet lock")
			}
			if applied == 1 {
				return nil, errors.New("hard")
			}
			return nil, nil
		},
		rollback: func(context.Context, *steps.Env, steps.Inputs) error {
			if held.Load() != 1 {
				t.Errorf("a rollback ran without the fleet lock")
			}
			return nil
		},
	})
	g := graph(st("a", fake))
	g.OnFailure = "pause"
	res, _ := Start(ctx, g, Options{Dir: dir, Target: tg})
	if res == nil {
		t.Fatal("no run")
	}
	if _, err := Resume(ctx, res.RunID, Options{Dir: dir, Target: tg}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if _, err := Rollback(ctx, res.RunID, Options{Dir: dir, Target: tg}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if taken.Load() != 3 || held.Load() != 0 {
		t.Fatalf("fleet lock taken %d times, still held %d; want 3 and 0", taken.Load(), held.Load())
	}
	if holders[0].Run != res.RunID || holders[0].PID == 0 || holders[0].StateDir == "" {
		t.Fatalf("holder %+v does not name the run, its process and its state folder", holders[0])
	}
	refuse = true
	before := applied
	_, err := Start(ctx, graph(st("b", fake)), Options{Dir: dir, Target: tg})
	var le *fleet.FleetLockedError
	if !errors.As(err, &le) || applied != before {
		t.Fatalf("start with the fleet locked elsewhere: %v (applied %d -> %d), want refused before any step", err, before, applied)
	}
}
