package stepgraph

import (
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/diag"
)

// FormatVersion is bumped whenever the JSON form of a Graph changes
// incompatibly. Saved plans of another version are refused.
const FormatVersion = 1

// Graph is an ordered step graph: what apply will do, with dependencies,
// guards, rollback branches and estimates. It is plain data with no I/O; the
// runner executes it and the renderers show it.
type Graph struct {
	FormatVersion int    `json:"formatVersion"`
	Kind          string `json:"kind"`   // plan kind, e.g. "ShardLayout"
	Plan          string `json:"plan"`   // metadata.name of the plan document
	Source        string `json:"source"` // plan file path as given
	Target        string `json:"target"` // target name in fleetplan.yaml
	// Fingerprint identifies the live state the graph was computed from. A saved
	// plan must not be applied once the live fingerprint differs.
	Fingerprint string `json:"fingerprint"`
	// OnFailure is "rollback" (default) or "pause".
	OnFailure string `json:"onFailure"`
	// Parallel is how many steps may run at once (move.parallel); 0 means the runner's default.
	Parallel int      `json:"parallel,omitempty"`
	Steps    []*Step  `json:"steps"`
	Warnings []string `json:"warnings,omitempty"`
	// Credentials says what a shard map recovery's steps connect with (the
	// sources of the target's recoveryAuth, never a secret); "" elsewhere.
	Credentials string `json:"credentials,omitempty"`
	// Changes summarises the diff for humans ("+ shard customers_2", ...).
	Changes []Change `json:"changes,omitempty"`
	// RemoveKept lists earlier runs on the target that kept parts for
	// analysis after a failure and that this graph's steps touch: apply
	// finishes their rollback (what `fleetplan rollback RUN` does) before the
	// first step, and the steps were planned as if those parts were gone.
	RemoveKept []string `json:"removeKept,omitempty"`
	// ReadOnly is how long production stays read-only (rolling upgrades);
	// nil when the plan does not freeze production.
	ReadOnly *ReadOnlyWindow `json:"readOnly,omitempty"`
	// Rollbacks says what a rollback would do before the first point of no
	// return and after each one (RollbackStages), for previews.
	Rollbacks []RollbackStage `json:"rollbacks,omitempty"`
}

// Change is one line of the human summary of a diff.
type Change struct {
	Op     ChangeOp `json:"op"`
	Object string   `json:"object"` // e.g. "shard customers_2", "range [75000, +inf)"
	Detail string   `json:"detail,omitempty"`
	// Lines break a change down, one "+", "-" or "~" line per part (a table
	// added to or dropped from the schema info, with its key).
	Lines []string `json:"lines,omitempty"`
}

// ChangeOp is the kind of a Change.
type ChangeOp string

const (
	Create ChangeOp = "create"
	Update ChangeOp = "update"
	Delete ChangeOp = "delete"
	Move   ChangeOp = "move"
)

// Step is one vertex of the graph.
type Step struct {
	ID     string         `json:"id"`
	Action string         `json:"action"` // registry name, e.g. "shardmap.move-range"
	Title  string         `json:"title,omitempty"`
	With   map[string]any `json:"with,omitempty"` // action inputs, JSON-compatible values only
	Needs  []string       `json:"needs,omitempty"`
	// Guard must hold before the step runs; it is an expr-lang expression over
	// the environment {live, params, steps, run}.
	Guard *Guard `json:"guard,omitempty"`
	// Rollback is the compensating step run if the plan fails after this step
	// completed. Nil when the effect cannot or need not be undone.
	Rollback *Step `json:"rollback,omitempty"`
	Approval bool  `json:"approval,omitempty"` // manual gate before the step runs
	// KeepOnFailure, on a rollback branch, keeps what its step made when the
	// run fails by itself: only an explicit rollback runs the branch.
	KeepOnFailure bool `json:"keepOnFailure,omitempty"`
	// ChecksWrites, on a rollback branch, marks a compensation that first
	// checks it loses no writes made since a traffic switch.
	ChecksWrites bool `json:"checksWrites,omitempty"`
	// NoUndo marks a step that changes something and has no compensation
	// (a dropped database): a point of no return.
	NoUndo bool `json:"noUndo,omitempty"`
	// Params are the template parameters the step's guard or its unresolved
	// `${{ }}` inputs still read at run time (nil when they read none).
	Params   map[string]any `json:"params,omitempty"`
	Retry    *RetryPolicy   `json:"retry,omitempty"`
	Timeout  time.Duration  `json:"timeout,omitempty"`
	Estimate Estimate       `json:"estimate"`
	// Production marks steps that touch production (shown in previews).
	Production bool `json:"production,omitempty"`
	// Pos is where the step is written in the plan (zero for steps the
	// planner made), so an error in its inputs at run time points there.
	Pos diag.Pos `json:"pos,omitzero"`
	// LiveAtPlan is set on a step whose effect was live when it was planned
	// but which stays because a step that may run before it changes what it
	// touches; it says which ("step freeze changes database sql-1/contoso
	// before it"). The runner observes the step again right before it would
	// apply and skips it if it is still live then.
	LiveAtPlan string `json:"liveAtPlan,omitempty"`
}

// Guard is a named boolean expression.
type Guard struct {
	Name string `json:"name,omitempty"`
	Expr string `json:"expr"`
	// Wait, when set, polls the guard until it holds or the timeout passes.
	Wait *Wait `json:"wait,omitempty"`
	// Pos is where the expression is written in the plan (zero when it was
	// not written as such), so an error while evaluating it points there.
	Pos diag.Pos `json:"pos,omitzero"`
}

// Wait is a polling budget.
type Wait struct {
	Timeout  time.Duration `json:"timeout"`
	Interval time.Duration `json:"interval"`
}

// RetryPolicy bounds retries of transient errors.
type RetryPolicy struct {
	Attempts int           `json:"attempts"`
	Initial  time.Duration `json:"initial"`
	Max      time.Duration `json:"max"`
	// Budget is the total time retries may take; the default outlasts a 30 s failover.
	Budget time.Duration `json:"budget"`
}

// Estimate is what a step is expected to cost.
type Estimate struct {
	Duration time.Duration `json:"duration"`
	// Unavailable is how long some data is offline or read-only during the step.
	Unavailable time.Duration `json:"unavailable,omitempty"`
	Rows        int64         `json:"rows,omitempty"`
	Basis       string        `json:"basis,omitempty"` // how the estimate was made
}

// Step returns the step with the given id, or nil.
func (g *Graph) Step(id string) *Step {
	for _, s := range g.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Empty reports whether the graph has nothing to do.
func (g *Graph) Empty() bool { return len(g.Steps) == 0 }

// Validate checks structural invariants: unique ids, known needs, no cycles.
func (g *Graph) Validate() error {
	index := make(map[string]int, len(g.Steps))
	for i, s := range g.Steps {
		if s.ID == "" {
			return fmt.Errorf("step %d has no id", i)
		}
		if _, dup := index[s.ID]; dup {
			return fmt.Errorf("duplicate step id %q", s.ID)
		}
		index[s.ID] = i
	}
	for _, s := range g.Steps {
		for _, n := range s.Needs {
			if _, ok := index[n]; !ok {
				return fmt.Errorf("step %q needs unknown step %q", s.ID, n)
			}
		}
	}
	if cycle := g.findCycle(index); cycle != nil {
		return fmt.Errorf("dependency cycle: %v", cycle)
	}
	return nil
}

// FindCycle returns the ids of one dependency cycle (first id repeated at the
// end), or nil when the graph is acyclic.
func (g *Graph) FindCycle() []string {
	index := make(map[string]int, len(g.Steps))
	for i, s := range g.Steps {
		index[s.ID] = i // of steps sharing an id, the last one's needs count
	}
	return g.findCycle(index)
}

// findCycle is FindCycle given each id's step index: colours and the path
// are kept by index, so a graph of 100,000 steps costs no map per visit.
func (g *Graph) findCycle(index map[string]int) []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.Steps))
	var stack []int
	var found []string
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, n := range g.Steps[i].Needs {
			j, ok := index[n]
			if !ok {
				continue
			}
			switch color[j] {
			case grey:
				for k, v := range stack {
					if v == j {
						for _, x := range stack[k:] {
							found = append(found, g.Steps[x].ID)
						}
						found = append(found, n)
						return true
					}
				}
			case white:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for _, s := range g.Steps {
		if i := index[s.ID]; color[i] == white && visit(i) {
			return found
		}
	}
	return nil
}
