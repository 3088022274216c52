package instance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() { steps.Register(stepspec.InstanceChangeName, Change{}) }

var (
	_ steps.Action   = Change{}
	_ steps.Referrer = Change{}
)

// RefInstance is the kind of fleet object a managed instance is.
const RefInstance = "instance"

// Change runs one operation on one managed instance.
type Change struct{}

// Poll bounds: the interval grows from minPoll while nothing changes and
// falls back when a phase changes.
var (
	minPoll = 10 * time.Millisecond
	maxPoll = 250 * time.Millisecond
)

func parse(in steps.Inputs) (stepspec.InstanceChange, error) {
	return steps.ParseSpec[stepspec.InstanceChange](in)
}

func manager(env *steps.Env) (fleet.InstanceManager, error) {
	im, ok := env.Target.(fleet.InstanceManager)
	if !ok {
		return nil, &fleet.Error{Op: "change instance", Target: env.Target.Name(), Err: fmt.Errorf("%w: driver %s has no managed instances", fleet.ErrInvalidArgument, env.Target.Driver())}
	}
	return im, nil
}

// Settings turns step input back into fleet settings.
func Settings(s stepspec.InstanceSettings, op string) fleet.InstanceSettings {
	out := fleet.InstanceSettings{Tier: s.Tier, VCores: s.VCores, StorageGB: s.StorageGB, Hardware: s.Hardware,
		LicenseType: s.LicenseType, MaintenanceWindow: s.MaintenanceWindow, Pool: s.Pool,
		PoolSet: op == fleet.InstanceMoveIntoPool || op == fleet.InstanceMoveOutOfPool || s.Pool != ""}
	if b, err := strconv.ParseBool(s.ZoneRedundant); err == nil {
		out.ZoneRedundant = &b
	}
	return out
}

// Refs implements steps.Referrer.
func (Change) Refs(in steps.Inputs) []steps.Ref {
	spec, err := parse(in)
	if err != nil || !steps.Literal(spec.Instance) {
		return steps.Anything()
	}
	return []steps.Ref{{Kind: RefInstance, Name: spec.Instance, Changes: true}}
}

func find(ctx context.Context, im fleet.InstanceManager, name string) (*fleet.ManagedInstance, error) {
	all, err := im.ManagedInstances(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if strings.EqualFold(all[i].Name, name) {
			return &all[i], nil
		}
	}
	return nil, nil
}

// Observe implements steps.Action: the instance already has what the
// operation would give it.
func (Change) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	spec, err := parse(in)
	if err != nil {
		return false, err
	}
	im, err := manager(env)
	if err != nil {
		return false, err
	}
	cur, err := find(ctx, im, spec.Instance)
	if err != nil {
		return false, err
	}
	s := Settings(spec.Settings, spec.Operation)
	switch spec.Operation {
	case fleet.InstanceDelete:
		return cur == nil, nil
	case fleet.InstanceCreate:
		return cur != nil && cur.Operation == "", nil
	}
	if cur == nil || cur.Operation != "" {
		return false, nil
	}
	if s.PoolSet && !strings.EqualFold(cur.Pool, s.Pool) {
		return false, nil
	}
	return len(estimate.Diff(*cur, s)) == 0, nil
}

// CheckpointOperation is the checkpoint key (fleet.Checkpoints) under
// which a step saves the id of the operation it started.
const CheckpointOperation = "instance.operation"

// Apply implements steps.Action. The id of the operation it starts is
// saved in the run's journal (fleet.Checkpoints from ctx) before it is
// polled, and the operation's client request id is the run and step: a
// resumed run re-attaches to the operation in flight (by the journaled id,
// or by the request id when the process died between the start and the
// journal) instead of starting another, as Azure's long-running operations
// are followed. A new operation starts only inside the change window with
// room for its p95, and, when it fails over, only while no long-running
// transaction is active (unless the plan allows it).
func (Change) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	spec, err := parse(in)
	if err != nil {
		return nil, err
	}
	im, err := manager(env)
	if err != nil {
		return nil, err
	}
	op, found, err := inFlight(ctx, env, im)
	if err != nil {
		return nil, err
	}
	if found {
		env.Logf("re-attaching to operation %s of %s (phase %s, %d%%)", op.ID, spec.Instance, op.Phase, op.PercentDone)
	} else {
		if err := waitForWindow(ctx, env, spec); err != nil {
			return nil, err
		}
		if err := checkTransactions(ctx, im, spec); err != nil {
			return nil, err
		}
		op, err = im.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: spec.Instance, Type: spec.Operation,
			Settings: Settings(spec.Settings, spec.Operation), ClientRequestID: clientRequestID(env)})
		if err != nil {
			return nil, err
		}
		env.Logf("started operation %s: %s of %s (typical %s, p95 %s)", op.ID, spec.Operation, spec.Instance, estimate.Human(spec.Typical), estimate.Human(spec.P95))
	}
	if cp := fleet.CheckpointsFrom(ctx); cp != nil {
		if saved, _ := cp.Load(CheckpointOperation); saved != op.ID {
			if err := cp.Save(ctx, CheckpointOperation, op.ID); err != nil {
				return nil, err
			}
		}
	}
	op, err = poll(ctx, env, im, op)
	if err != nil {
		return nil, err
	}
	switch op.State {
	case fleet.OpSucceeded:
		return steps.Outputs{"operationId": op.ID, "operation": spec.Operation, "elapsedSeconds": op.Elapsed.Seconds(),
			"typicalSeconds": spec.Typical.Seconds(), "tableTypicalSeconds": spec.TableTypical.Seconds()}, nil
	case fleet.OpCancelled:
		return nil, &fleet.Error{Op: spec.Operation + " instance", Target: spec.Instance, Err: fmt.Errorf("operation %s was cancelled in phase %s", op.ID, op.Phase),
			Hint: "the instance keeps its old configuration; apply the plan again to start over"}
	}
	return nil, &fleet.Error{Op: spec.Operation + " instance", Target: spec.Instance, Err: fmt.Errorf("%w: operation %s, phase %s: %s", fleet.ErrOperationFailed, op.ID, op.Phase, op.Error),
		Hint: "the instance keeps its old configuration; apply the plan again once the cause is fixed"}
}

// journaled is the operation id an earlier session of the run saved, "" when none.
func journaled(ctx context.Context) string {
	if cp := fleet.CheckpointsFrom(ctx); cp != nil {
		id, _ := cp.Load(CheckpointOperation)
		return id
	}
	return ""
}

func clientRequestID(env *steps.Env) string { return env.RunID + "/" + env.StepID }

// inFlight finds the operation an earlier session of this run started for
// this step: the one whose id it journaled, else the one with this step's
// client request id.
func inFlight(ctx context.Context, env *steps.Env, im fleet.InstanceManager) (fleet.InstanceOperation, bool, error) {
	if id := journaled(ctx); id != "" {
		op, err := im.InstanceOperation(ctx, id)
		if err == nil {
			return op, true, nil
		}
		if !errors.Is(err, fleet.ErrNotFound) {
			return op, false, err
		}
		env.Logf("operation %s from the run's journal is unknown to the service; looking it up by its request id", id)
	}
	return im.FindInstanceOperation(ctx, clientRequestID(env))
}

// poll follows an operation to its end, reporting phase and progress. When
// `fleetplan cancel` stops the run, it asks the service to cancel.
func poll(ctx context.Context, env *steps.Env, im fleet.InstanceManager, op fleet.InstanceOperation) (fleet.InstanceOperation, error) {
	interval, phase, pct := minPoll, "", -1
	for {
		if op.Phase != phase {
			phase, interval = op.Phase, minPoll
			env.Logf("%s %s: phase %d/%d %s (%d%%)", op.Type, op.Instance, op.PhaseIndex+1, len(op.Phases), op.Phase, op.PercentDone)
		}
		if op.PercentDone != pct {
			pct = op.PercentDone
			env.Progress(int64(pct), 100, "%")
		}
		if op.State.Ended() {
			return op, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return op, stopped(ctx, env, im, op)
		case <-t.C:
		}
		interval = min(interval*2, maxPoll)
		next, err := im.InstanceOperation(ctx, op.ID)
		if err != nil {
			if ctx.Err() != nil {
				// Stopped while reading: the same as while waiting.
				return op, stopped(ctx, env, im, op)
			}
			return op, err
		}
		op = next
	}
}

// stopped handles the end of a step's context while poll follows op: a
// `fleetplan cancel` asks the service to cancel the operation; any other
// interruption leaves it running, to be re-attached to on resume.
func stopped(ctx context.Context, env *steps.Env, im fleet.InstanceManager, op fleet.InstanceOperation) error {
	if errors.Is(context.Cause(ctx), steps.ErrCancelRequested) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := im.CancelInstanceOperation(cctx, op.ID)
		cancel()
		if err != nil {
			env.Logf("cancel of operation %s refused: %v", op.ID, err)
		} else {
			env.Logf("operation %s cancelled; %s keeps its old configuration", op.ID, op.Instance)
		}
	}
	return context.Cause(ctx)
}

// checkTransactions is the built-in guard: the failover cancels in-flight
// transactions, so an operation that fails over does not start while
// long-running ones are active, unless the plan allows it.
func checkTransactions(ctx context.Context, im fleet.InstanceManager, spec stepspec.InstanceChange) error {
	if spec.Unavailable == 0 || spec.AllowLongRunningTransactions {
		return nil
	}
	cur, err := find(ctx, im, spec.Instance)
	if err != nil || cur == nil || len(cur.LongRunning) == 0 {
		return err
	}
	return &fleet.Error{Op: spec.Operation + " instance", Target: spec.Instance,
		Err:  fmt.Errorf("%w: long-running transactions are active (%s); the failover would cancel them", fleet.ErrConflict, strings.Join(cur.LongRunning, ", ")),
		Hint: "wait for them to end and resume, or set allowLongRunningTransactions: true in the plan"}
}

// waitForWindow waits until the window is open with room for the p95.
func waitForWindow(ctx context.Context, env *steps.Env, spec stepspec.InstanceChange) error {
	if len(spec.Window.Days) == 0 {
		return nil
	}
	w, err := estimate.WindowSpec{Days: spec.Window.Days, Start: spec.Window.Start, Duration: spec.Window.Duration, TimeZone: spec.Window.TimeZone}.Window()
	if err != nil {
		return &fleet.Error{Op: "input window", Err: fmt.Errorf("%w: %v", fleet.ErrInvalidArgument, err)}
	}
	clock := clockOf(env)
	now, err := clock.Now(ctx)
	if err != nil {
		return err
	}
	start, ok := w.NextFit(now, spec.P95)
	switch {
	case env.IgnoreWindow:
		if !ok || start.After(now) {
			env.Logf("--ignore-window: starting %s of %s outside its window %s", spec.Operation, spec.Instance, w)
		}
		return nil
	case !ok:
		return &fleet.Error{Op: spec.Operation + " instance", Target: spec.Instance,
			Err:  fmt.Errorf("%w: its p95 of %s does not fit in the window %s", fleet.ErrInvalidArgument, estimate.Human(spec.P95), w),
			Hint: "lengthen the window, or apply with --ignore-window"}
	case !start.After(now):
		return nil
	}
	env.Logf("outside the change window %s: %s of %s waits until %s (in %s), when its p95 of %s fits",
		w, spec.Operation, spec.Instance, start.In(w.Location).Format("Mon 2006-01-02 15:04 MST"), estimate.Human(start.Sub(now).Round(time.Minute)), estimate.Human(spec.P95))
	return clock.SleepUntil(ctx, start)
}

// realClock is the wall clock, for fleets that do not model time.
type realClock struct{}

func (realClock) Now(context.Context) (time.Time, error) { return time.Now(), nil }
func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	return fleet.Sleep(ctx, time.Until(t))
}

func clockOf(env *steps.Env) fleet.Clock {
	if c, ok := env.Target.(fleet.Clock); ok {
		return c
	}
	return realClock{}
}

// Rollback implements steps.Action: an instance operation has no
// compensation (a failed one leaves the old configuration by itself).
func (Change) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (Change) Estimate(in steps.Inputs) steps.Estimate {
	spec, err := parse(in)
	if err != nil {
		return steps.Estimate{}
	}
	return steps.Estimate{Duration: spec.Typical, Unavailable: spec.Unavailable, Basis: "DOMAIN.md §4 (see the preview)"}
}
