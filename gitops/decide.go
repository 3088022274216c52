package gitops

import (
	"fmt"

	"github.com/fleetplan/fleetplan/runner"
)

// Action is what the watcher does with one plan document.
type Action int

// Actions, from doing nothing to running a plan.
const (
	// Skip: nothing to do, nothing to say (the document is unchanged).
	Skip Action = iota
	// UpToDate: the newest run of the document applied this very content.
	UpToDate
	// Hold: the document is left as it is, and the watcher says why (a
	// run of it was rolled back, is paused, or is running elsewhere).
	Hold
	// Plan: plan it and show the plan (watch without --apply).
	Plan
	// Apply: plan it and apply what the plan changes.
	Apply
)

func (a Action) String() string {
	switch a {
	case Skip:
		return "skip"
	case UpToDate:
		return "up-to-date"
	case Hold:
		return "hold"
	case Plan:
		return "plan"
	case Apply:
		return "apply"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// LastRun is what the newest run of a document says about it.
type LastRun struct {
	ID     string `json:"id"`
	Status string `json:"status"` // a runner.Status* constant
	Reason string `json:"reason,omitempty"`
	// Hash is the content hash the run was made from (its provenance).
	Hash string `json:"contentHash,omitempty"`
}

// DocState is what a decision about one document is made from.
type DocState struct {
	Hash string // the content hash of the document now
	Seen string // the hash the watcher last decided on ("" at start)
	// Last is the newest run of the document (nil: it never ran).
	Last *LastRun
	// SameAsLast reports that the document is what Last ran, though Hash
	// differs from Last.Hash: only its file was renamed.
	SameAsLast bool
	// Apply is watch --apply.
	Apply bool
}

// Decision is what to do with a document, and the line that says so ("" for
// Skip).
type Decision struct {
	Action Action
	Why    string
	// Retry says to decide again later even though the document did not
	// change: what holds it (a live run elsewhere) may pass by itself.
	Retry bool
}

// Decide chooses what the watcher does with a document. It never applies a
// document whose content is what its newest run ran: a run that finished
// is not run twice, and one that was rolled back (by itself, or by
// `fleetplan rollback`) or cancelled stays so until the file changes; the
// watcher says so instead of undoing the rollback. A run that is paused,
// waits for approval, failed to roll back or was interrupted holds every
// new version of its document until a person has settled it.
func Decide(s DocState) Decision {
	if s.Hash == s.Seen {
		return Decision{Action: Skip}
	}
	if !s.Apply {
		if s.Seen == "" {
			return Decision{Action: Plan} // the first look
		}
		return Decision{Action: Plan, Why: "changed"}
	}
	l := s.Last
	if l == nil {
		return Decision{Action: Apply, Why: "never applied"}
	}
	same := l.Hash != "" && (l.Hash == s.Hash || s.SameAsLast)
	switch l.Status {
	case runner.StatusRunning, runner.StatusRollingBack:
		return Decision{Action: Hold, Retry: true, Why: fmt.Sprintf("run %s is %s in another process; decided again once it ends", l.ID, l.Status)}
	case runner.StatusPaused, runner.StatusAwaitingApproval, runner.StatusInterrupted, runner.StatusRollbackFailed:
		what := "this version"
		if !same {
			what = "a new version"
		}
		return Decision{Action: Hold, Retry: true, Why: fmt.Sprintf("run %s is %s; %s is not applied until it is settled (`fleetplan status %s`, then resume or rollback)", l.ID, l.Status, what, l.ID)}
	}
	if !same {
		if l.Hash == "" {
			return Decision{Action: Apply, Why: fmt.Sprintf("run %s recorded no content hash", l.ID)}
		}
		return Decision{Action: Apply, Why: "changed since run " + l.ID}
	}
	switch l.Status {
	case runner.StatusDone:
		return Decision{Action: UpToDate, Why: "applied by run " + l.ID}
	case runner.StatusRolledBack, runner.StatusCancelled, runner.StatusKept:
		why := fmt.Sprintf("stays put: run %s of this version ended %s", l.ID, l.Status)
		if l.Reason != "" {
			why += " (" + l.Reason + ")"
		}
		return Decision{Action: Hold, Why: why + "; the watcher does not undo that. Change the file to apply it again"}
	}
	return Decision{Action: Hold, Why: fmt.Sprintf("run %s ended %s; change the file to apply it again", l.ID, l.Status)}
}
