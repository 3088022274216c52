package runner

import (
	"context"
	"fmt"
	"maps"

	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// RunInfo describes the run being executed, for expressions (`run`).
type RunInfo struct {
	ID     string
	Plan   string
	Kind   string
	Target string
	// Session counts the processes that have worked on the run: 1 for the
	// first, 2 after the first resume, and so on.
	Session int
}

// State is what an Evaluator may read about the run. It is safe for
// concurrent use. Outputs of a step are final once its status is "done".
type State interface {
	Run() RunInfo
	// Step returns the status (a State* constant) and outputs of a step, and
	// false when no such step exists.
	Step(id string) (status string, outputs steps.Outputs, ok bool)
	// StepIDs lists every step id in graph order. The slice is shared: do
	// not modify it.
	StepIDs() []string
}

// Evaluator checks guards and resolves `${{ }}` inputs. The caller implements
// it (with expr-lang and live state); the runner stays free of expressions.
//
// Both methods must not change the fleet. Errors fail the step without retry,
// unless they are transient (fleet.IsTransient), which are retried.
type Evaluator interface {
	// Guard reports whether step.Guard holds. detail names the values the
	// expression saw ("live.shards[2].online = false"); it is shown to the user
	// when the guard fails.
	Guard(ctx context.Context, step *stepgraph.Step, st State) (ok bool, detail string, err error)
	// Inputs resolves step.With into the values the action receives.
	Inputs(ctx context.Context, step *stepgraph.Step, st State) (steps.Inputs, error)
}

// Literal is the default Evaluator: inputs are step.With as written, and a
// step without a guard passes. A step that has a guard fails, since nothing
// here can evaluate it: skipping a guard silently would be unsafe.
type Literal struct{}

// Guard implements Evaluator.
func (Literal) Guard(_ context.Context, step *stepgraph.Step, _ State) (bool, string, error) {
	if step.Guard == nil || step.Guard.Expr == "" {
		return true, "", nil
	}
	return false, "", fmt.Errorf("step %q has a guard but the runner was given no expression evaluator", step.ID)
}

// Inputs implements Evaluator.
func (Literal) Inputs(_ context.Context, step *stepgraph.Step, _ State) (steps.Inputs, error) {
	return steps.Inputs(maps.Clone(step.With)), nil
}

// GuardError is a guard that did not hold.
type GuardError struct {
	Step   string
	Name   string
	Expr   string
	Detail string // the values the expression saw
}

func (e *GuardError) Error() string {
	name := e.Name
	if name == "" {
		name = "guard"
	} else {
		name = fmt.Sprintf("guard %q", name)
	}
	msg := fmt.Sprintf("%s of step %q does not hold: %s", name, e.Step, e.Expr)
	if e.Detail != "" {
		msg += " (saw: " + e.Detail + ")"
	}
	return msg
}
