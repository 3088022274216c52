package generic

import (
	"context"

	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// Noop does nothing. It is useful for sequencing (a step other steps need),
// as a manual gate (with approval: true), and to measure the runner itself.
//
// Observe reports the effect as not live, so a run always journals the step as
// done; Apply returns no outputs and fails only at its fault point
// (step.generic.noop, under fault injection); Rollback has nothing to undo
// (steps.ErrNoRollback); Estimate is zero.
type Noop struct{}

var (
	_ steps.Action   = Noop{}
	_ steps.Referrer = Noop{}
)

func init() { steps.Register(stepspec.NoopName, Noop{}) }

// Observe implements steps.Action.
func (Noop) Observe(context.Context, *steps.Env, steps.Inputs) (bool, error) { return false, nil }

// Apply implements steps.Action.
func (Noop) Apply(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
	return nil, steps.HitFault(stepspec.NoopName)
}

// Rollback implements steps.Action.
func (Noop) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (Noop) Estimate(steps.Inputs) steps.Estimate { return steps.Estimate{Basis: "no-op"} }

// Refs implements steps.Referrer: a no-op touches nothing.
func (Noop) Refs(steps.Inputs) []steps.Ref { return nil }
