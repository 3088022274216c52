package generic

import (
	"context"

	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() {
	steps.Register(stepspec.WaitName, Wait{})
	steps.Register(stepspec.ApproveName, Approve{})
}

// The compiler holds each action to the interfaces the runner and the
// planner look for.
var (
	_ steps.Action       = Approve{}
	_ steps.Referrer     = Approve{}
	_ steps.Gate         = Approve{}
	_ steps.ApprovalGate = Approve{}
	_ steps.Action       = Wait{}
	_ steps.Referrer     = Wait{}
	_ steps.Gate         = Wait{}
)

var (
	_ steps.Action       = Wait{}
	_ steps.Gate         = Wait{}
	_ steps.Referrer     = Wait{}
	_ steps.Action       = Approve{}
	_ steps.Gate         = Approve{}
	_ steps.ApprovalGate = Approve{}
	_ steps.Referrer     = Approve{}
)

// Wait holds the run until an expression holds.
//
// Inputs: until (an expression over live, params, steps and run, like a
// guard), timeout (default 10m), interval (default 1s). The planner turns
// them into the step's guard with a wait budget, so the runner polls the
// expression; the step fails when the timeout passes first. Observe: never
// live. Apply: nothing left to do once the guard held. Rollback: none.
type Wait struct{}

// Observe implements steps.Action.
func (Wait) Observe(context.Context, *steps.Env, steps.Inputs) (bool, error) { return false, nil }

// Apply implements steps.Action.
func (Wait) Apply(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.WaitName); err != nil {
		return nil, err
	}
	return steps.Outputs{"held": true}, nil
}

// Rollback implements steps.Action.
func (Wait) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (Wait) Estimate(in steps.Inputs) steps.Estimate {
	spec, _ := steps.ParseSpec[stepspec.Wait](in)
	return steps.Estimate{Duration: spec.Timeout, Basis: "at most the timeout"}
}

// IsGate implements steps.Gate.
func (Wait) IsGate() {}

// Approve is a manual gate: the run stops before the step until a person
// runs `fleetplan approve RUN STEP` (or `fleetplan reject RUN STEP`, which
// rolls the run back).
//
// Inputs: required (default true; false makes the gate a no-op, so a
// template can offer an optional approval), message (shown in previews).
// Observe: live when not required. Apply: records the approval. Rollback:
// none. Estimate: none of its own (the wait is a person's).
type Approve struct{}

// NeedsApproval implements steps.ApprovalGate.
func (Approve) NeedsApproval(in steps.Inputs) bool {
	spec, _ := steps.ParseSpec[stepspec.Approve](in)
	return spec.Required
}

// Observe implements steps.Action.
func (a Approve) Observe(_ context.Context, _ *steps.Env, in steps.Inputs) (bool, error) {
	spec, err := steps.ParseSpec[stepspec.Approve](in)
	return !spec.Required, err
}

// Apply implements steps.Action.
func (Approve) Apply(_ context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.ApproveName); err != nil {
		return nil, err
	}
	if spec, _ := steps.ParseSpec[stepspec.Approve](in); spec.Message != "" {
		m := spec.Message
		env.Logf("approved: %s", m)
	}
	return steps.Outputs{"approved": true}, nil
}

// Rollback implements steps.Action.
func (Approve) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (Approve) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Basis: "waits for a person"}
}

// IsGate implements steps.Gate.
func (Approve) IsGate() {}

// Refs implements steps.Referrer: waiting touches nothing in the fleet.
func (Wait) Refs(steps.Inputs) []steps.Ref { return nil }

// Refs implements steps.Referrer: an approval touches nothing in the fleet.
func (Approve) Refs(steps.Inputs) []steps.Ref { return nil }
