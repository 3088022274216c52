package steps

import (
	"context"

	"github.com/fleetplan/fleetplan/faults"
)

// Kinds of fleet objects a step can name.
const (
	RefDatabase = "database" // Name is "server/database"
	RefSlot     = "slot"     // Name is the slot name
	RefEndpoint = "endpoint" // Name is "profile/endpoint"
	RefShardMap = "shardmap" // Name is the shard map's name (its GSM, LSMs and mappings)
	// RefFailoverGroup is a failover group (and the roles of its
	// databases); Name is the group's name.
	RefFailoverGroup = "failovergroup"
	// RefAnything stands for every object: what a step names when it cannot
	// tell what it touches (inputs not resolved yet, or not readable).
	RefAnything = "*"
)

// Anything is what Refs returns when it cannot tell what a step touches.
func Anything() []Ref { return []Ref{{Kind: RefAnything, Changes: true}} }

// Ref names one fleet object a step reads or changes. Planners use refs to
// mark steps that touch production, to fingerprint what a plan depends on,
// and to keep a step whose effect is live now when an earlier step of the
// same graph touches what it observes.
type Ref struct {
	Kind    string
	Name    string
	Changes bool // the step changes the object; false when it only reads it
}

// Referrer is implemented by actions that can name the objects of a step
// from its inputs: every object the step's Observe reads and its Apply
// changes. It must not do I/O. When an input it needs is not resolved yet
// (still "${{ }}" text) or cannot be read, it returns Anything(). An action
// that touches nothing in the fleet (a gate) returns nil.
type Referrer interface {
	Refs(in Inputs) []Ref
}

// Touches reports what a step of action a with inputs in touches. all is
// true when the step may touch anything: the action does not implement
// Referrer, or cannot tell for these inputs.
func Touches(a Action, in Inputs) (refs []Ref, all bool) {
	r, ok := a.(Referrer)
	if !ok {
		return nil, true
	}
	refs = r.Refs(in)
	for _, ref := range refs {
		if ref.Kind == RefAnything {
			return nil, true
		}
	}
	return refs, false
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
// Apply ("step.database.set-read-only"); see package faults.
func FaultPoint(action string) string { return "step." + action }

// HitFault passes through an action's fault point.
func HitFault(action string) error { return faults.Hit(FaultPoint(action)) }
