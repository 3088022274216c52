package runner

import (
	"context"
	"fmt"
	"sort"

	"github.com/fleetplan/fleetplan/fleet"
)

// stopReason is why a walk stops starting steps.
type stopReason int

const (
	goOn stopReason = iota
	stopFailed
	stopCancelled
	stopInterrupted
	stopJournal
)

// forwardWalk is one session's forward execution of the graph.
type forwardWalk struct {
	*scheduler
	ctx context.Context
	// stepCtx is what running steps see: a cancel request ends it at once
	// (a long move stops at its next batch boundary).
	stepCtx     context.Context
	cancelSteps context.CancelCauseFunc
	cancel      *cancelWatch
	// ownEffect marks steps an earlier session began to apply: if their
	// effect is live now, it is this run's doing.
	ownEffect  []bool
	stop       stopReason
	failure    string
	journalErr error
	awaiting   []string
	finished   []int        // steps done or skipped in the current turn
	releases   []chan error // workers waiting for their step-applying record
}

// forward walks the graph: ready steps (all needs done) run in parallel up
// to the graph's limit (r.parallel). A step's "started" record is durable
// before its action runs, and its "done" record before any dependant starts.
func (r *run) forward(ctx context.Context) phaseResult {
	f := r.newForwardWalk(ctx)
	defer f.close()
	var batch []msg
	for {
		f.collectOutcomes(batch)
		f.checkStop()
		launch := f.ready()
		if !f.commitTurn() {
			for _, i := range launch {
				f.w.abandon(i)
			}
			launch = nil
		}
		f.faultsAfterDone()
		// Steps in launch are journaled as started, so they run even if a
		// fault failed the run just now; nothing further is started.
		f.launch(f.stepCtx, launch)
		if f.w.inFlight() == 0 && (f.stop != goOn || !f.w.hasReady()) {
			break
		}
		var woken bool
		wake := f.cancel.Requested()
		if f.stop != goOn {
			wake = nil
		}
		batch, woken = f.collect(batch[:0], wake)
		if woken {
			f.stopFor(stopCancelled)
		}
	}
	return f.end()
}

// newForwardWalk builds the walker from the graph and what the journal says
// is complete, and starts watching for a cancel request.
func (r *run) newForwardWalk(ctx context.Context) *forwardWalk {
	n := len(r.g.Steps)
	complete := make([]bool, n)
	ownEffect := make([]bool, n)
	for i, s := range r.g.Steps {
		if rec := r.st.steps[s.ID]; rec != nil {
			complete[i] = rec.state == StateDone || rec.state == StateSkipped
			ownEffect[i] = rec.applied
		}
	}
	needs := make([][]int, n)
	for i, s := range r.g.Steps {
		for _, need := range s.Needs {
			needs[i] = append(needs[i], r.index[need])
		}
	}
	f := &forwardWalk{
		scheduler: r.newScheduler(newWalker(needs, r.parallel, complete, nil, nil), forwards),
		ctx:       ctx,
		ownEffect: ownEffect,
		cancel:    watchCancel(r.dir, cancelFallbackPoll),
	}
	f.stepCtx, f.cancelSteps = context.WithCancelCause(ctx)
	return f
}

func (f *forwardWalk) close() {
	f.cancelSteps(nil)
	f.cancel.close()
}

// stopFor stops the walk for why, unless it already stopped; a cancel also
// ends what is running.
func (f *forwardWalk) stopFor(why stopReason) {
	if f.stop != goOn {
		return
	}
	f.stop = why
	if why == stopCancelled {
		f.cancelSteps(errCancelRequested)
	}
}

// collectOutcomes journals what the workers reported and moves the walker
// on: a done or skipped step may make its dependants ready, a failed one
// stops the walk and marks its dependants blocked.
func (f *forwardWalk) collectOutcomes(batch []msg) {
	r := f.r
	f.finished = f.finished[:0]
	for _, m := range batch {
		s := r.g.Steps[m.idx]
		switch m.kind {
		case msgRetry:
			r.record(Record{Type: StepRetrying, Step: s.ID, Attempt: m.attempts, Wait: m.wait,
				Waited: m.waited, Failover: m.failover, Error: m.err.Error(), Transient: true})
		case msgApplying:
			r.record(Record{Type: StepApplying, Step: s.ID})
			f.releases = append(f.releases, m.release)
		case msgCheckpoint:
			r.record(Record{Type: StepCheckpoint, Step: s.ID, Key: m.key, Value: m.val})
			f.releases = append(f.releases, m.release)
		case msgDone, msgSkipped:
			if m.kind == msgDone {
				r.record(Record{Type: StepDone, Step: s.ID, Attempt: m.attempts, Outputs: m.outputs})
			} else {
				r.record(Record{Type: StepSkipped, Step: s.ID, Attempt: m.attempts, Resumed: f.ownEffect[m.idx]})
			}
			f.w.done(m.idx)
			f.finished = append(f.finished, m.idx)
		case msgFailed:
			r.record(Record{Type: StepFailed, Step: s.ID, Attempt: m.attempts, Error: m.err.Error(),
				Transient: fleet.IsTransient(m.err), Applied: m.applied})
			f.w.fail(m.idx)
			if f.stop == goOn {
				f.stop, f.failure = stopFailed, fmt.Sprintf("step %q failed: %v", s.ID, m.err)
			}
		case msgInterrupted:
			f.w.abandon(m.idx)
			if f.ctx.Err() == nil && f.cancel.seen() {
				f.stopFor(stopCancelled)
			}
			f.stopFor(stopInterrupted)
		}
	}
}

// checkStop stops the walk when the caller's context ended or a cancel was
// requested. Before steps start, the cancel request is looked for on disk
// too, as the watch may not have delivered it yet.
func (f *forwardWalk) checkStop() {
	if f.ctx.Err() != nil {
		f.stopFor(stopInterrupted)
	}
	if f.cancel.seen() || f.stop == goOn && f.w.canStart() && f.cancel.before() {
		f.stopFor(stopCancelled)
	}
}

// ready takes the steps that may start now from the walker, up to the
// limit, and journals each as started. A step behind an approval gate that
// nobody approved yet is held, journaled as awaiting approval.
func (f *forwardWalk) ready() []int {
	var launch []int
	for f.stop == goOn {
		i, ok := f.w.next()
		if !ok {
			break
		}
		s := f.r.g.Steps[i]
		if s.Approval {
			rec := f.r.st.steps[s.ID]
			if rec == nil || rec.state != StateApproved {
				if rec == nil || rec.state != StateAwaitingApproval {
					f.r.record(Record{Type: StepAwaitingApproval, Step: s.ID})
				}
				f.awaiting = append(f.awaiting, s.ID)
				f.w.hold(i)
				continue
			}
		}
		f.r.record(Record{Type: StepStarted, Step: s.ID})
		launch = append(launch, i)
	}
	return launch
}

// commitTurn makes the turn's records durable with one fsync and lets the
// workers waiting for their step-applying record go on. It reports whether
// the journal took them.
func (f *forwardWalk) commitTurn() bool {
	if f.journalErr == nil {
		if err := f.r.commit(); err != nil {
			f.journalErr = err
			f.stop = stopJournal
		}
	}
	for _, rel := range f.releases {
		rel <- f.journalErr
	}
	f.releases = f.releases[:0]
	return f.journalErr == nil
}

// faultsAfterDone hits the fault point after each step whose completion
// the turn made durable.
func (f *forwardWalk) faultsAfterDone() {
	if f.journalErr != nil {
		return
	}
	for _, i := range f.finished {
		if err := faultHit("runner.step.after"); err != nil && f.stop == goOn {
			f.stop, f.failure = stopFailed, fmt.Sprintf("after step %q: %v", f.r.g.Steps[i].ID, err)
		}
	}
}

// end journals how the walk ended: a failure rolls back (or pauses), an
// interrupt or a cancel stops, approval gates wait, and otherwise the run
// is done.
func (f *forwardWalk) end() phaseResult {
	r, ctx := f.r, f.ctx
	switch f.stop {
	case stopJournal:
		return phaseResult{err: f.journalErr}
	case stopFailed:
		return r.afterFailure(ctx, f.failure)
	case stopInterrupted:
		reason := "stopped before finishing"
		if ctx.Err() != nil {
			reason = "stopped: " + context.Cause(ctx).Error()
		}
		// Stopped inside the read-only window: as a cancel does, production
		// is made read-write again before the process goes.
		if pr, ok := r.stopInWindow(ctx, reason); ok {
			return pr
		}
		return r.endWith(Record{Type: RunInterrupted, Reason: reason}, phaseResult{status: StatusInterrupted, reason: reason})
	case stopCancelled:
		if pr, ok := r.stopInWindow(ctx, "cancel requested"); ok {
			return pr
		}
		return r.endWith(Record{Type: RunCancelled, Reason: "cancel requested"}, phaseResult{status: StatusCancelled, reason: "cancel requested"})
	}
	if len(f.awaiting) > 0 {
		sort.Strings(f.awaiting)
		reason := "waiting for approval of " + quoteList(f.awaiting)
		return r.endWith(Record{Type: RunAwaitingApproval, Reason: reason},
			phaseResult{status: StatusAwaitingApproval, reason: reason, awaiting: f.awaiting})
	}
	if n := len(r.g.Steps); r.st.ncomplete != n {
		// Unreachable for a validated graph: every step is either complete,
		// blocked behind a gate (awaiting), or was started.
		return phaseResult{err: fmt.Errorf("internal error: run stopped with %d of %d steps complete", r.st.ncomplete, n)}
	}
	done := Record{Type: RunDone}
	if r.opt.EndState != nil {
		done.EndState, _ = r.opt.EndState(ctx, r.g)
	}
	return r.endWith(done, phaseResult{status: StatusDone})
}

// afterFailure ends a run whose step failed: it pauses when the plan says
// so, or when rolling back would lose what was written since a traffic
// switch; otherwise it rolls back.
func (r *run) afterFailure(ctx context.Context, failure string) phaseResult {
	if r.g.OnFailure == "pause" {
		if pr, ok := r.stopInWindow(ctx, failure); ok {
			return pr
		}
		return r.endWith(Record{Type: RunPaused, Reason: failure}, phaseResult{status: StatusPaused, reason: failure})
	}
	if err := r.checkRollback(ctx, r.autoRollbackOrder()); err != nil {
		// Rolling back would lose what was written since a traffic
		// switch: the new version keeps serving and the run waits.
		reason := failure + "; not rolled back: " + err.Error()
		return r.endWith(Record{Type: RunPaused, Reason: reason}, phaseResult{status: StatusPaused, reason: reason})
	}
	r.record(Record{Type: RunFailed, Reason: failure})
	return r.rollback(ctx, failure, true)
}

// endWith journals a run-level record and returns pr once it is durable.
func (r *run) endWith(rec Record, pr phaseResult) phaseResult {
	r.record(rec)
	if err := r.commit(); err != nil {
		return phaseResult{err: err}
	}
	return pr
}
