package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// RunStatus is the state of one run, rebuilt from its journal.
type RunStatus struct {
	ID      string    `json:"id"`
	Plan    string    `json:"plan"`
	Kind    string    `json:"kind,omitempty"`
	Target  string    `json:"target"`
	Source  string    `json:"source,omitempty"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Holder is the live process working on the run, nil when none is.
	Holder *Holder       `json:"holder,omitempty"`
	Done   int           `json:"done"`
	Total  int           `json:"total"`
	Steps  []StepStatus  `json:"steps"`
	Dir    string        `json:"dir"`
	Waited time.Duration `json:"waited,omitempty"` // total retry backoff
	// EndState describes the live state of what the graph touched when the
	// run was done ("" when not done, or not described).
	EndState string `json:"endState,omitempty"`
	// Provenance is where the plan came from (nil for runs before it was recorded).
	Provenance *Provenance `json:"provenance,omitempty"`
}

// StepStatus is the state of one step of a run.
type StepStatus struct {
	ID          string        `json:"id"`
	Action      string        `json:"action"`
	Title       string        `json:"title,omitempty"`
	State       string        `json:"state"`              // a State* constant
	Rollback    string        `json:"rollback,omitempty"` // a RollbackState* constant
	Attempts    int           `json:"attempts,omitempty"`
	Retries     int           `json:"retries,omitempty"`
	Waited      time.Duration `json:"waited,omitempty"`
	Error       string        `json:"error,omitempty"`
	RollbackErr string        `json:"rollbackError,omitempty"`
	Outputs     steps.Outputs `json:"outputs,omitempty"`
	Started     time.Time     `json:"started,omitzero"`
	Finished    time.Time     `json:"finished,omitzero"`
	ApprovedBy  string        `json:"approvedBy,omitempty"`
	RejectedBy  string        `json:"rejectedBy,omitempty"`
	Reason      string        `json:"reason,omitempty"` // rejection reason
	Approval    bool          `json:"approval,omitempty"`
	HasRollback bool          `json:"hasRollback,omitempty"`
}

// RunSummary is one line of List.
type RunSummary struct {
	ID      string    `json:"id"`
	Plan    string    `json:"plan"`
	Target  string    `json:"target"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started"`
	Done    int       `json:"done"`
	Total   int       `json:"total"`
	// Provenance is where the plan came from (nil for runs before it was recorded).
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Status rebuilds the state of a run from its plan and journal. It takes no
// lock and never blocks a runner.
func Status(dir, runID string) (*RunStatus, error) {
	runDir, g, p, err := readRun(dir, runID)
	if err != nil {
		return nil, err
	}
	target := p.target
	if target == "" {
		target = g.Target
	}
	h := runHolder(dir, target, runID)
	rs := &RunStatus{
		ID: runID, Plan: g.Plan, Kind: g.Kind, Target: target, Source: g.Source,
		Status: p.status(h != nil), Reason: p.reason, Started: p.started, Updated: p.updated,
		Holder: h, Done: p.ncomplete, Total: len(g.Steps), Dir: runDir, Provenance: p.provenance,
	}
	if p.last == RunDone {
		rs.EndState = p.endState
	}
	kept := map[string]bool{}
	if rs.Status == StatusKept {
		for _, id := range p.rollbackOrder() {
			kept[id] = true
		}
	}
	for _, s := range g.Steps {
		ss := StepStatus{ID: s.ID, Action: s.Action, Title: s.Title, State: StatePending,
			Approval: s.Approval, HasRollback: s.Rollback != nil}
		if rec := p.steps[s.ID]; rec != nil {
			ss.State, ss.Rollback = rec.state, rec.rollback
			ss.Attempts, ss.Retries, ss.Waited = rec.attempts, rec.retries, rec.waited
			ss.Error, ss.RollbackErr, ss.Outputs = rec.err, rec.rollbackErr, rec.outputs
			ss.Started, ss.Finished = rec.startedAt, rec.finishedAt
			ss.ApprovedBy, ss.RejectedBy, ss.Reason = rec.approvedBy, rec.rejectedBy, rec.rejectReason
			rs.Waited += rec.waited
		}
		if kept[s.ID] && ss.Rollback == RollbackStateNone {
			ss.Rollback = RollbackStateKept
		}
		rs.Steps = append(rs.Steps, ss)
	}
	return rs, nil
}

// runHolder returns the live holder of the target lock when it is working on
// runID, else nil.
func runHolder(dir, target, runID string) *Holder {
	h := liveHolder(dir, target)
	if h == nil || (h.Run != "" && h.Run != runID) {
		return nil
	}
	return h
}

// Graph returns the step graph of a run, as its plan.json holds it.
func Graph(dir, runID string) (*stepgraph.Graph, error) {
	runDir, err := runPath(dir, runID)
	if err != nil {
		return nil, err
	}
	return loadPlan(runDir)
}

// List summarises every run under dir, oldest first.
// Folders without a plan (a run that crashed while being created) are left out.
func List(dir string) ([]RunSummary, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "runs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RunSummary
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := summary(dir, e.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	// Run ids sort by time to the second; the start time orders runs begun
	// within the same second.
	sort.Slice(out, func(i, j int) bool {
		a, b := startKey(out[i]), startKey(out[j])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func startKey(s RunSummary) time.Time {
	if !s.Started.IsZero() {
		return s.Started
	}
	if len(s.ID) >= 16 {
		if t, err := time.Parse("20060102T150405Z", s.ID[:16]); err == nil {
			return t
		}
	}
	return time.Time{}
}

func summary(dir, id string) (*RunSummary, error) {
	runDir := filepath.Join(dir, "runs", id)
	if _, err := os.Stat(filepath.Join(runDir, planFile)); err != nil {
		return nil, err
	}
	recs, _, err := readJournal(filepath.Join(runDir, journalFile))
	if err != nil {
		return nil, err
	}
	p := replay(recs)
	s := &RunSummary{ID: id, Plan: p.plan, Target: p.target, Started: p.started, Done: p.ncomplete, Total: p.total, Provenance: p.provenance}
	if p.runID == "" {
		// Crashed before its first journal record: the plan says what it is.
		g, err := loadPlan(runDir)
		if err != nil {
			return nil, err
		}
		s.Plan, s.Target, s.Total = g.Plan, g.Target, len(g.Steps)
	}
	s.Status = p.status(runHolder(dir, s.Target, id) != nil)
	s.Reason = p.reason
	return s, nil
}

// NewestUnfinished returns the id of the newest run that can be resumed
// (not done, rolled back or cancelled), restricted to target unless it is "".
func NewestUnfinished(dir, target string) (string, error) {
	runs, err := List(dir)
	if err != nil {
		return "", err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if !finished(r.Status) && (target == "" || r.Target == target) {
			return r.ID, nil
		}
	}
	where := ""
	if target != "" {
		where = fmt.Sprintf(" for target %q", target)
	}
	return "", &fleet.Error{Op: "find run", Target: target, Err: fmt.Errorf("no unfinished run%s", where),
		Hint: "list runs with `fleetplan runs`"}
}

// Newest returns the id of the newest run, or an error when there is none.
func Newest(dir string) (string, error) {
	runs, err := List(dir)
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", &fleet.Error{Op: "find run", Err: fmt.Errorf("no runs in %s", dir),
			Hint: "runs are created by `fleetplan apply`"}
	}
	return runs[len(runs)-1].ID, nil
}

// Cancel asks a run to stop. A live runner notices between steps, lets its
// running steps finish and ends the run "cancelled" without rolling back; a
// run nobody is executing is marked cancelled at once. `Rollback` can undo a
// cancelled run later. Cancelling a finished run is an error.
func Cancel(dir, runID string) error {
	st, err := Status(dir, runID)
	if err != nil {
		return err
	}
	if finished(st.Status) {
		return fmt.Errorf("run %s already ended %s; nothing to cancel", runID, st.Status)
	}
	if st.Status == StatusRollingBack {
		return fmt.Errorf("run %s is rolling back; a rollback is not cancelled half-way", runID)
	}
	runDir := st.Dir
	if err := writeFileAtomic(filepath.Join(runDir, cancelFile), []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		return err
	}
	if runHolder(dir, st.Target, runID) != nil {
		return nil // the live runner records the cancellation
	}
	return appendRecords(dir, runID, st.Target, Record{Type: RunCancelled, Reason: "cancelled while " + st.Status})
}

// Approve records approval of a step that awaits it; `Resume` then runs it.
func Approve(dir, runID, stepID, who string) error {
	st, err := gateCheck(dir, runID, stepID)
	if err != nil {
		return err
	}
	return appendRecords(dir, runID, st.Target, Record{Type: StepApproved, Step: stepID, Who: who})
}

// Reject records rejection of a step that awaits approval; the next `Resume`
// rolls the run back.
func Reject(dir, runID, stepID, who, reason string) error {
	st, err := gateCheck(dir, runID, stepID)
	if err != nil {
		return err
	}
	return appendRecords(dir, runID, st.Target, Record{Type: StepRejected, Step: stepID, Who: who, Reason: reason})
}

// gateCheck verifies that stepID of runID awaits approval.
func gateCheck(dir, runID, stepID string) (*RunStatus, error) {
	st, err := Status(dir, runID)
	if err != nil {
		return nil, err
	}
	if finished(st.Status) {
		return nil, fmt.Errorf("run %s already ended %s", runID, st.Status)
	}
	for _, s := range st.Steps {
		if s.ID != stepID {
			continue
		}
		if s.State != StateAwaitingApproval {
			return nil, &fleet.Error{Op: "approve", Target: runID + "/" + stepID,
				Err:  fmt.Errorf("step %q is not awaiting approval (it is %s)", stepID, s.State),
				Hint: "`fleetplan status " + runID + "` shows which steps wait for approval"}
		}
		return st, nil
	}
	return nil, &fleet.Error{Op: "approve", Target: runID, Err: fmt.Errorf("run has no step %q", stepID),
		Hint: "`fleetplan status " + runID + "` lists its steps"}
}

// readRun loads a run's plan and replays its journal, taking no lock.
func readRun(dir, runID string) (string, *stepgraph.Graph, *replayed, error) {
	runDir, err := runPath(dir, runID)
	if err != nil {
		return "", nil, nil, err
	}
	g, err := loadPlan(runDir)
	if err != nil {
		return "", nil, nil, err
	}
	recs, _, err := readJournal(filepath.Join(runDir, journalFile))
	if err != nil {
		return "", nil, nil, err
	}
	return runDir, g, replay(recs), nil
}
