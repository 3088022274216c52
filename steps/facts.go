package steps

import (
	"context"

	"github.com/fleetplan/fleetplan/fleet/faults"
)

// Kinds of fleet objects a step can name.
const (
	RefDatabase = "database" // Name is "server/database"
	RefSlot     = "slot"     // Name is the slot name
	RefEndpoint = "endpoint" // Name is "profile/endpoint"
)

// Ref names one fleet object a step reads or changes. Planners use refs to
// mark steps that touch production and to fingerprint what a plan depends on.
type Ref struct {
	Kind    string
	Name    string
	Changes bool // the step changes the object; false when it only reads it
}

// Referrer is implemented by actions that can name the objects of a step
// from its inputs. It must not do I/O; inputs that are not resolved yet
// (still "${{ }}" text) are skipped.
type Referrer interface {
	Refs(in Inputs) []Ref
}

// Gate is implemented by actions that change nothing in the fleet and only
// hold the run until something is true (an approval, a condition). A gate
// whose every dependent step is already live needs no running either.
type Gate interface {
	IsGate()
}

// ApprovalGate is implemented by actions that make a person approve before
// the step runs; NeedsApproval reports whether these inputs do.
type ApprovalGate interface {
	NeedsApproval(in Inputs) bool
}

// LiveEstimator is implemented by actions whose estimate depends on the
// fleet (a seeding time depends on the database size). It must not change
// anything; an error means "use Estimate".
type LiveEstimator interface {
	EstimateLive(ctx context.Context, env *Env, in Inputs) (Estimate, error)
}

// FaultPoint is the fault-injection point every action hits at the start of
// Apply ("step.database.set-read-only"); see package fleet/faults.
func FaultPoint(action string) string { return "step." + action }

// HitFault passes through an action's fault point.
func HitFault(action string) error { return faults.Hit(FaultPoint(action)) }
