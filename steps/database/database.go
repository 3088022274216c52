package database

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() {
	steps.Register(stepspec.CreateSecondaryName, CreateSecondary{})
	steps.Register(stepspec.WaitSeededName, WaitSeeded{})
	steps.Register(stepspec.SetReadOnlyName, SetReadOnly{ReadOnly: true})
	steps.Register(stepspec.SetReadWriteName, SetReadOnly{ReadOnly: false})
	steps.Register(stepspec.DisconnectName, Disconnect{})
	steps.Register(stepspec.RunScriptName, RunScript{})
	steps.Register(stepspec.DropName, Drop{})
}

// The compiler holds each action to the interfaces the runner and the
// planner look for.
var (
	_ steps.Action        = CreateSecondary{}
	_ steps.Referrer      = CreateSecondary{}
	_ steps.LiveEstimator = CreateSecondary{}
	_ steps.LossChecker   = CreateSecondary{}
	_ steps.Action        = Disconnect{}
	_ steps.Referrer      = Disconnect{}
	_ steps.Action        = Drop{}
	_ steps.Referrer      = Drop{}
	_ steps.LossChecker   = Drop{}
	_ steps.Irreversible  = Drop{}
	_ steps.Action        = RunScript{}
	_ steps.Referrer      = RunScript{}
	_ steps.FileUser      = RunScript{}
	_ steps.Action        = SetReadOnly{}
	_ steps.Referrer      = SetReadOnly{}
	_ steps.Action        = WaitSeeded{}
	_ steps.Referrer      = WaitSeeded{}
	_ steps.Gate          = WaitSeeded{}
)

// lookup returns a database's control-plane view; ok is false when it does
// not exist (which Observe reports as "not live", not as an error).
func lookup(ctx context.Context, cp fleet.ControlPlane, loc fleet.Location) (fleet.DatabaseInfo, bool, error) {
	info, err := cp.Database(ctx, loc)
	if errors.Is(err, fleet.ErrNoDatabase) {
		return info, false, nil
	}
	return info, err == nil, err
}

func dbRef(loc fleet.Location, changes bool) steps.Ref {
	return steps.Ref{Kind: steps.RefDatabase, Name: loc.String(), Changes: changes}
}

// databaseRefs names the one database a step changes, or Anything while
// its name is not known.
func databaseRefs(l stepspec.Location) []steps.Ref {
	if !steps.Literal(l.Server, l.Database) {
		return steps.Anything()
	}
	return []steps.Ref{dbRef(steps.LocationOf(l), true)}
}

// SetReadOnly sets a database read-only (ReadOnly) or read-write.
//
// Inputs: server, database. Observe: the setting is already as wanted.
// Apply: changes it; connections of the process are closed so no write
// slips through. Rollback: the opposite setting. Estimate: a few seconds.
type SetReadOnly struct{ ReadOnly bool }

func (a SetReadOnly) name() string {
	if a.ReadOnly {
		return stepspec.SetReadOnlyName
	}
	return stepspec.SetReadWriteName
}

func (a SetReadOnly) args(in steps.Inputs) (fleet.Location, error) {
	if a.ReadOnly {
		spec, err := steps.ParseSpec[stepspec.SetReadOnly](in)
		return steps.LocationOf(spec.Location), err
	}
	spec, err := steps.ParseSpec[stepspec.SetReadWrite](in)
	return steps.LocationOf(spec.Location), err
}

// Observe implements steps.Action.
func (a SetReadOnly) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	loc, cp, err := steps.Prepare(env, in, a.args)
	if err != nil {
		return false, err
	}
	info, ok, err := lookup(ctx, cp, loc)
	if !ok {
		return false, err
	}
	return info.ReadOnly == a.ReadOnly, nil
}

// Apply implements steps.Action.
func (a SetReadOnly) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	loc, cp, err := steps.Prepare(env, in, a.args)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(a.name()); err != nil {
		return nil, err
	}
	if err := cp.SetReadOnly(ctx, loc, a.ReadOnly); err != nil {
		return nil, err
	}
	env.Logf("%s is now %s", loc, map[bool]string{true: "read-only", false: "read-write"}[a.ReadOnly])
	return steps.Outputs{"readOnly": a.ReadOnly}, nil
}

// Rollback implements steps.Action: the opposite setting.
func (a SetReadOnly) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	loc, cp, err := steps.Prepare(env, in, a.args)
	if err != nil {
		return err
	}
	if _, ok, err := lookup(ctx, cp, loc); !ok {
		return err // gone: nothing to undo
	}
	return cp.SetReadOnly(ctx, loc, !a.ReadOnly)
}

// Estimate implements steps.Action.
func (a SetReadOnly) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: 2 * time.Second, Basis: "a catalog change"}
}

// Refs implements steps.Referrer.
func (a SetReadOnly) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.SetReadOnly](in)
	return databaseRefs(spec.Location)
}

// Drop drops a database and its link to its primary.
//
// Inputs: server, database. Observe: the database does not exist (nor do
// files an interrupted copy left at its place). Apply: drops it; a database that still has secondaries or that an app slot points
// at is refused. Rollback: none (the data is gone). Estimate: seconds.
type Drop struct{}

func dropArgs(in steps.Inputs) (fleet.Location, error) {
	spec, err := steps.ParseSpec[stepspec.Drop](in)
	return steps.LocationOf(spec.Location), err
}

// Observe implements steps.Action.
func (Drop) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	loc, cp, err := steps.Prepare(env, in, dropArgs)
	if err != nil {
		return false, err
	}
	_, ok, err := lookup(ctx, cp, loc)
	if ok || err != nil {
		return false, err
	}
	if lo, isLo := env.Target.(leftovers); isLo {
		left, err := lo.Leftovers(ctx, loc)
		return !left, err
	}
	return true, nil
}

// leftovers is implemented by drivers that can tell files of an
// interrupted copy lying at a database's place.
type leftovers interface {
	Leftovers(ctx context.Context, loc fleet.Location) (bool, error)
}

// Apply implements steps.Action.
func (Drop) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	loc, cp, err := steps.Prepare(env, in, dropArgs)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.DropName); err != nil {
		return nil, err
	}
	if env.Undo {
		return nil, removeOrKeep(ctx, env, cp, loc)
	}
	if err := cp.RemoveDatabase(ctx, loc); err != nil {
		return nil, err
	}
	env.Logf("dropped %s", loc)
	return nil, nil
}

// Rollback implements steps.Action.
func (Drop) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Removed implements steps.Irreversible: the data is gone.
func (Drop) Removed(in steps.Inputs) string {
	if loc, err := dropArgs(in); err == nil {
		return "dropped database " + loc.String()
	}
	return "dropped a database"
}

// CheckApply implements steps.LossChecker: a drop run as a compensating
// step refuses a database that holds writes made since traffic switched to
// it (with the run's permission it keeps the database instead).
func (Drop) CheckApply(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	loc, err := dropArgs(in)
	if err != nil {
		return err
	}
	_, err = lossOf(ctx, env, loc)
	return err
}

// CheckRollback implements steps.LossChecker: a drop has no rollback.
func (Drop) CheckRollback(context.Context, *steps.Env, steps.Inputs) error { return nil }

// lossOf reports what removing loc would lose: the tables written since
// traffic switched to it. It returns a refusal unless the run allows
// discarding them.
func lossOf(ctx context.Context, env *steps.Env, loc fleet.Location) ([]fleet.TableChange, error) {
	changes, tracked, err := steps.WritesSinceSwitch(ctx, env, loc)
	if err != nil || !tracked || len(changes) == 0 {
		return nil, err
	}
	if !env.DiscardWritesSinceSwitch {
		return nil, steps.LossError(stepspec.DropName, env, "drop "+loc.String(), loc, changes, false)
	}
	return changes, nil
}

// removeOrKeep removes a database as a compensating step: a database that
// holds writes made since traffic switched to it is never dropped. Without
// the run's permission that is refused; with it the database is renamed
// (steps.KeptName) and the log says where its data now lies.
func removeOrKeep(ctx context.Context, env *steps.Env, cp fleet.ControlPlane, loc fleet.Location) error {
	changes, err := lossOf(ctx, env, loc)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		if err := cp.RemoveDatabase(ctx, loc); err != nil {
			return err
		}
		env.Logf("dropped %s", loc)
		return nil
	}
	keeper, ok := env.Target.(fleet.DatabaseKeeper)
	if !ok {
		return &fleet.Error{Op: stepspec.DropName, Target: loc.String(),
			Err:  fmt.Errorf("refusing to drop %s: %w, and the %s driver cannot set a database aside", loc, fleet.ErrWritesSinceSwitch, env.Target.Driver()),
			Hint: "copy its data elsewhere, then drop it by hand"}
	}
	where, err := keeper.KeepDatabase(ctx, loc, steps.KeptName(env, loc.Database))
	if err != nil {
		return err
	}
	env.NoteKept(fmt.Sprintf("%s kept as %s", loc, where))
	env.Logf("kept %s instead of dropping it: it holds writes made since traffic switched to it (%s changed); its data is now %s", loc, steps.Plural(len(changes), "table"), where)
	return nil
}

// Estimate implements steps.Action.
func (Drop) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: 5 * time.Second, Basis: "a catalog change and a file removal"}
}

// Refs implements steps.Referrer.
func (Drop) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.Drop](in)
	return databaseRefs(spec.Location)
}
