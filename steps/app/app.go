package app

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
	steps.Register(stepspec.DeployName, Deploy{})
	steps.Register(stepspec.RemoveName, Remove{})
}

// The compiler holds each action to the interfaces the runner and the
// planner look for.
var (
	_ steps.Action   = Deploy{}
	_ steps.Referrer = Deploy{}
	_ steps.Action   = Remove{}
	_ steps.Referrer = Remove{}
)

var (
	_ steps.Action   = Deploy{}
	_ steps.Referrer = Deploy{}
	_ steps.Action   = Remove{}
	_ steps.Referrer = Remove{}
)

// slotRef names the slot a step changes, or Anything while its name is
// not known.
func slotRef(slot string) []steps.Ref {
	if !steps.Literal(slot) {
		return steps.Anything()
	}
	return []steps.Ref{{Kind: steps.RefSlot, Name: slot, Changes: true}}
}

func slotOf(ctx context.Context, cp fleet.ControlPlane, name string) (fleet.Slot, bool, error) {
	s, err := cp.Slot(ctx, name)
	if errors.Is(err, fleet.ErrNotFound) {
		return s, false, nil
	}
	return s, err == nil, err
}

// Deploy deploys an application version to a slot, pointing at a database.
//
// Inputs: slot, server, database, version. An empty version keeps whatever a
// slot that already points at the database runs (for rollback branches that
// restore a removed slot from the removal's outputs). Observe: the slot runs
// that version against that database. Apply: deploys; the database must
// exist. Rollback: removes the slot unless it serves. Estimate: a minute.
type Deploy struct{}

func deployArgs(in steps.Inputs) (fleet.Slot, error) {
	spec, err := steps.ParseSpec[stepspec.Deploy](in)
	return fleet.Slot{Name: spec.Slot, Database: steps.LocationOf(spec.Location), Version: spec.Version}, err
}

// Observe implements steps.Action.
func (Deploy) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	want, cp, err := steps.Prepare(env, in, deployArgs)
	if err != nil {
		return false, err
	}
	have, ok, err := slotOf(ctx, cp, want.Name)
	if !ok {
		return false, err
	}
	return have.Database.Equal(want.Database) && (want.Version == "" || have.Version == want.Version), nil
}

// Apply implements steps.Action.
func (Deploy) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	want, cp, err := steps.Prepare(env, in, deployArgs)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.DeployName); err != nil {
		return nil, err
	}
	if err := cp.DeploySlot(ctx, want); err != nil {
		if errors.Is(err, fleet.ErrNoDatabase) {
			return nil, &fleet.Error{Op: stepspec.DeployName, Target: want.Name,
				Err:  fmt.Errorf("refusing to deploy slot %s: its database %s does not exist (%w)", want.Name, want.Database, fleet.ErrNoDatabase),
				Hint: "create the database first; in a rollback this means the old version's database was already removed, so there is nothing to go back to"}
		}
		return nil, err
	}
	env.Logf("slot %s runs version %s on %s", want.Name, want.Version, want.Database)
	return steps.Outputs{"version": want.Version}, nil
}

// Rollback implements steps.Action.
func (Deploy) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	want, cp, err := steps.Prepare(env, in, deployArgs)
	if err != nil {
		return err
	}
	return cp.RemoveSlot(ctx, want.Name)
}

// Estimate implements steps.Action.
func (Deploy) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: time.Minute, Basis: "a slot deployment"}
}

// Refs implements steps.Referrer.
func (Deploy) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.Deploy](in)
	return slotRef(spec.Slot)
}

// Remove removes an application slot.
//
// Inputs: slot. Observe: the slot does not exist. Apply: removes it,
// refusing a slot that serves traffic; outputs the removed slot's version,
// server and database. Rollback: none of its own (a rollback branch
// deploys it again from those outputs). Estimate: seconds.
type Remove struct{}

func removeArgs(in steps.Inputs) (string, error) {
	spec, err := steps.ParseSpec[stepspec.Remove](in)
	return spec.Slot, err
}

// Observe implements steps.Action.
func (Remove) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	name, cp, err := steps.Prepare(env, in, removeArgs)
	if err != nil {
		return false, err
	}
	_, ok, err := slotOf(ctx, cp, name)
	return !ok && err == nil, err
}

// Apply implements steps.Action.
func (Remove) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	name, cp, err := steps.Prepare(env, in, removeArgs)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.RemoveName); err != nil {
		return nil, err
	}
	have, ok, err := slotOf(ctx, cp, name)
	if err != nil {
		return nil, err
	}
	if err := cp.RemoveSlot(ctx, name); err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	env.Logf("removed slot %s (version %s on %s)", name, have.Version, have.Database)
	return steps.Outputs{"version": have.Version, "server": have.Database.Server, "database": have.Database.Database}, nil
}

// Rollback implements steps.Action.
func (Remove) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (Remove) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: 10 * time.Second, Basis: "a slot removal"}
}

// Refs implements steps.Referrer.
func (Remove) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.Remove](in)
	return slotRef(spec.Slot)
}
