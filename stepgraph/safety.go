package stepgraph

import (
	"slices"
	"time"
)

// ReadOnlyWindow is how long production stays read-only during a run: from
// the step that freezes it to the step that moves traffic away.
type ReadOnlyWindow struct {
	Duration time.Duration `json:"duration"`
	Basis    string        `json:"basis"`
	From     string        `json:"from"` // the step that makes production read-only
	To       string        `json:"to"`   // the step that ends the window
	// Approvals are gates inside the window: the window lasts until a person approves.
	Approvals []string `json:"approvals,omitempty"`
}

// RollbackStage is what a rollback would do once a run has got past a
// point: before the first point of no return, or after one of them.
type RollbackStage struct {
	// After is the point of no return the stage follows ("" for a failure
	// before any), and Why says what it changes for a rollback.
	After string `json:"after,omitempty"`
	Why   string `json:"why"`
	// Steps are "step -> rollback action (note)" in the order they run.
	Steps []string `json:"steps"`
}

// ProductionFirst orders a rollback (step ids, newest first) so from, the
// step that made production read-only, is undone right after to (the step
// that moved traffic away), or first when to is not among ids. The runner
// orders rollbacks this way and previews show it.
func ProductionFirst(ids []string, from, to string) []string {
	at := slices.Index(ids, from)
	if at < 0 {
		return ids
	}
	rest := slices.Delete(slices.Clone(ids), at, at+1)
	pos := slices.Index(rest, to) + 1
	return slices.Insert(rest, pos, from)
}
