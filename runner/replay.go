package runner

import (
	"sort"
	"time"

	"github.com/fleetplan/fleetplan/steps"
)

// Run statuses, as shown by Status and List.
const (
	StatusRunning          = "running"      // a live process is executing the run
	StatusRollingBack      = "rolling-back" // a live process is rolling the run back
	StatusInterrupted      = "interrupted"  // the process died or was stopped; resume continues
	StatusPaused           = "paused"       // a step failed and the plan says onFailure: pause
	StatusAwaitingApproval = "awaiting-approval"
	StatusDone             = "done"
	StatusRolledBack       = "rolled-back"
	StatusRollbackFailed   = "rollback-failed"
	StatusCancelled        = "cancelled"
	// StatusKept: the run failed by itself and was rolled back except for
	// what its plan keeps for analysis (keepOnFailure); production serves.
	// `fleetplan rollback` removes the rest; resume refuses.
	StatusKept = "kept-for-analysis"
)

// Step states, as shown by Status and seen by guards (steps.<id>.status).
const (
	StatePending          = "pending"
	StateRunning          = "running" // started, not finished (re-run on resume)
	StateDone             = "done"
	StateSkipped          = "skipped" // effect was already live
	StateFailed           = "failed"
	StateAwaitingApproval = "awaiting-approval"
	StateApproved         = "approved"
	StateRejected         = "rejected"
)

// Rollback states of a step.
const (
	RollbackStateNone    = ""
	RollbackStateRunning = "rolling-back"
	RollbackStateDone    = "rolled-back"
	RollbackStateFailed  = "rollback-failed"
	RollbackStateNothing = "nothing-to-undo"
	// RollbackStateKept (shown by Status only): a kept-for-analysis run
	// still holds what the step made; `fleetplan rollback` removes it.
	RollbackStateKept = "kept"
)

type phase int

const (
	phaseForward phase = iota
	phaseRollback
)

// replayed is the state of a run rebuilt from its journal.
type replayed struct {
	runID, plan, kind, target string
	total                     int
	provenance                *Provenance // from run-started
	started, updated          time.Time
	last                      RecordType // last run-level record, "" if none
	reason                    string     // why the run failed, paused or stopped
	phase                     phase
	explicitRollback          bool // the rollback phase was asked for (not started by a failure)
	sessions                  int  // run-started + run-resumed records
	steps                     map[string]*stepRec
	seq                       int
	ncomplete                 int // steps done or skipped
	endState                  string
}

// stepRec is one step's state rebuilt from the journal.
type stepRec struct {
	state                  string
	rollback               string
	attempts, retries      int
	waited                 time.Duration
	err                    string
	rollbackErr            string
	outputs                steps.Outputs
	applied                bool              // Apply was called (step-applying), in this session or an earlier one
	checkpoints            map[string]string // what the action saved (step-checkpoint), by key
	ownSkip                bool              // skipped after an interrupted start: this run's own effect
	startedAt, finishedAt  time.Time
	approvedBy, rejectedBy string
	rejectReason           string
	seq                    int // journal position of the latest forward transition
}

func (p *replayed) step(id string) *stepRec {
	s := p.steps[id]
	if s == nil {
		s = &stepRec{state: StatePending}
		p.steps[id] = s
	}
	return s
}

// replay folds journal records into run and step state.
func replay(recs []Record) *replayed {
	p := &replayed{steps: map[string]*stepRec{}}
	for _, r := range recs {
		p.apply(r)
	}
	return p
}

func (p *replayed) apply(r Record) {
	if r.Step != "" {
		// A step leaving or entering done/skipped moves the count.
		was := p.complete(r.Step)
		defer func() { p.ncomplete += p.complete(r.Step) - was }()
	}
	p.seq++
	p.updated = r.Time
	switch r.Type {
	case RunStarted:
		p.runID, p.plan, p.kind, p.target, p.total = r.Run, r.Plan, r.Kind, r.Target, r.Steps
		p.provenance = r.Provenance
		p.started = r.Time
		p.last, p.reason = r.Type, ""
		p.sessions++
	case RunResumed:
		p.last = r.Type
		if p.phase != phaseRollback { // a resumed rollback still rolls back for the same failure
			p.reason = ""
		}
		p.sessions++
	case RunPaused, RunAwaitingApproval, RunDone, RunCancelled, RunInterrupted, RunRolledBack, RunRollbackFailed:
		p.last = r.Type
		p.endState = r.EndState
		if r.Reason != "" || r.Type != RunRolledBack {
			p.reason = r.Reason
		}
	case RunFailed, RunRollbackStarted:
		p.last, p.reason = r.Type, r.Reason
		p.phase = phaseRollback
		p.explicitRollback = r.Type == RunRollbackStarted
	case RunKept:
		p.last, p.reason = r.Type, r.Reason

	case StepStarted:
		s := p.step(r.Step)
		s.state, s.err, s.startedAt, s.seq = StateRunning, "", r.Time, p.seq
		if r.V == 1 {
			s.applied = true // version 1 did not record step-applying: assume it was
		}
	case StepApplying:
		p.step(r.Step).applied = true
	case StepCheckpoint:
		s := p.step(r.Step)
		if s.checkpoints == nil {
			s.checkpoints = map[string]string{}
		}
		s.checkpoints[r.Key] = r.Value
	case StepDone:
		s := p.step(r.Step)
		s.state, s.err, s.outputs, s.finishedAt, s.seq = StateDone, "", r.Outputs, r.Time, p.seq
		s.attempts = r.Attempt
	case StepSkipped:
		s := p.step(r.Step)
		s.state, s.err, s.finishedAt, s.seq = StateSkipped, "", r.Time, p.seq
		s.ownSkip = s.ownSkip || r.Resumed || s.applied
		s.attempts = r.Attempt
	case StepFailed:
		s := p.step(r.Step)
		s.state, s.err, s.finishedAt, s.seq = StateFailed, r.Error, r.Time, p.seq
		s.applied = s.applied || r.Applied
		s.attempts = r.Attempt
	case StepRetrying:
		s := p.step(r.Step)
		s.retries++
		s.waited += r.Wait
		s.attempts = r.Attempt
		s.err = r.Error
	case StepAwaitingApproval:
		p.step(r.Step).state = StateAwaitingApproval
	case StepApproved:
		s := p.step(r.Step)
		s.state, s.approvedBy = StateApproved, r.Who
	case StepRejected:
		s := p.step(r.Step)
		s.state, s.rejectedBy, s.rejectReason = StateRejected, r.Who, r.Reason

	case RollbackStarted:
		p.step(r.Step).rollback = RollbackStateRunning
	case RollbackDone:
		p.step(r.Step).rollback = RollbackStateDone
	case RollbackSkipped:
		p.step(r.Step).rollback = RollbackStateNothing
	case RollbackFailed:
		s := p.step(r.Step)
		s.rollback, s.rollbackErr = RollbackStateFailed, r.Error
	}
}

// complete is 1 when the step is done or skipped, else 0.
func (p *replayed) complete(id string) int {
	if s := p.steps[id]; s != nil && (s.state == StateDone || s.state == StateSkipped) {
		return 1
	}
	return 0
}

// status derives the run status; live says whether a process holds the run.
func (p *replayed) status(live bool) string {
	switch p.last {
	case RunPaused:
		return StatusPaused
	case RunAwaitingApproval:
		return StatusAwaitingApproval
	case RunDone:
		return StatusDone
	case RunRolledBack:
		return StatusRolledBack
	case RunRollbackFailed:
		return StatusRollbackFailed
	case RunCancelled:
		return StatusCancelled
	case RunKept:
		return StatusKept
	case RunInterrupted:
		if live {
			return StatusRunning
		}
		return StatusInterrupted
	}
	if !live {
		return StatusInterrupted
	}
	if p.phase == phaseRollback {
		return StatusRollingBack
	}
	return StatusRunning
}

// finished reports whether nothing more can happen to the run by resuming it.
func finished(status string) bool {
	return status == StatusDone || status == StatusRolledBack || status == StatusCancelled
}

// rollbackOrder lists the steps a rollback must undo, most recent first: steps
// done by this run, steps skipped as live after this run began to apply them,
// and steps that failed or never finished after Apply was called (their
// effect may be partial). Steps that never reached Apply did nothing; steps
// already rolled back, or with nothing to undo, are left out.
func (p *replayed) rollbackOrder() []string {
	type cand struct {
		id  string
		seq int
	}
	var cs []cand
	for id, s := range p.steps {
		if s.rollback == RollbackStateDone || s.rollback == RollbackStateNothing {
			continue
		}
		switch {
		case s.state == StateDone,
			s.state == StateSkipped && s.ownSkip,
			s.state == StateFailed && s.applied,
			s.state == StateRunning && s.applied:
			cs = append(cs, cand{id, s.seq})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq > cs[j].seq })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}
