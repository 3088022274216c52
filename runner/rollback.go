package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// rollback undoes every step the run has in place, through the same walker
// as forward execution with the edges reversed: a step's rollback runs only
// after the rollbacks of every step that depended on it, up to the graph's
// limit at once, and among the rollbacks ready at once the most recently
// completed step goes first. The step that made production read-only is
// undone as soon as traffic is back on production, ahead of the staging
// parts (see productionFirst). When the run failed by itself (onFailure),
// branches marked keepOnFailure are left for an explicit rollback and the
// run ends kept-for-analysis. The first rollback that fails stops the walk
// (rollbacks running then finish; running it again retries from there) and
// the run ends rollback-failed, after production is made available again
// if it still can be.
func (r *run) rollback(ctx context.Context, reason string, onFailure bool) phaseResult {
	if err := r.commit(); err != nil {
		return phaseResult{err: err}
	}
	var keep, undo []string
	for _, id := range r.productionFirst(r.st.rollbackOrder()) {
		if s := r.g.Steps[r.index[id]]; onFailure && s.Rollback != nil && s.Rollback.KeepOnFailure && !r.nothingMade(ctx, s) {
			keep = append(keep, id)
			continue
		}
		undo = append(undo, id)
	}
	if pr, stop := r.undoSteps(ctx, undo, reason); stop {
		if pr.status == StatusRollbackFailed {
			if perr := r.restoreProduction(ctx, reason); perr != nil {
				return phaseResult{err: perr}
			}
		}
		return pr
	}
	if ctx.Err() != nil {
		why := "rollback stopped: " + context.Cause(ctx).Error()
		if err := r.restoreProduction(ctx, why); err != nil {
			return phaseResult{err: err}
		}
		return r.endWith(Record{Type: RunInterrupted, Reason: why}, phaseResult{status: StatusInterrupted, reason: why})
	}
	if len(r.kept) > 0 {
		reason += "; " + strings.Join(r.kept, "; ")
	}
	if len(keep) > 0 {
		return r.endKept(reason, keep)
	}
	return r.endWith(Record{Type: RunRolledBack, Reason: reason}, phaseResult{status: StatusRolledBack, reason: reason})
}

// undoWalk is one walk backwards through the graph.
type undoWalk struct {
	*scheduler
	ctx    context.Context
	reason string // why the run rolls back, for the rollback-failed reason
	// releases are the workers waiting for their step-checkpoint record.
	releases []chan error
	stop     stopReason
	result   phaseResult
}

// undoSteps runs the rollbacks of ids (listed in the order they should run
// when nothing else decides) with their journal records. stop is true when
// the run cannot go on: a rollback failed (the run is then rollback-failed
// and pr says why), or the journal failed (pr.err). A walk that ctx ended
// leaves the interrupted rollbacks as rolling-back and returns stop false;
// an interrupted rollback resumes there.
func (r *run) undoSteps(ctx context.Context, ids []string, reason string) (pr phaseResult, stop bool) {
	u := &undoWalk{scheduler: r.newScheduler(r.reverseWalker(ids), backwards), ctx: ctx, reason: reason}
	var batch []msg
	for {
		u.collectOutcomes(batch)
		launch := u.ready()
		err := r.commit()
		if err != nil && u.stop != stopJournal {
			u.stop, u.result = stopJournal, phaseResult{err: err}
			for _, i := range launch {
				u.w.abandon(i)
			}
			launch = nil
		}
		for _, rel := range u.releases {
			rel <- err
		}
		u.releases = u.releases[:0]
		u.launch(ctx, launch)
		if u.w.inFlight() == 0 {
			break
		}
		batch, _ = u.collect(batch[:0], nil)
	}
	return u.result, u.stop != goOn
}

// reverseWalker builds the walker of a rollback: every step waits for the
// steps that need it, and only the steps in ids have something to do, with
// priority by their place in ids. The step that opened the read-only window
// waits for the step that closes it alone, so production is restored as
// soon as traffic is back on it; the steps it needed still wait on the
// steps that needed it.
func (r *run) reverseWalker(ids []string) *walker {
	n := len(r.g.Steps)
	waitsOn := make([][]int, n)
	for i, s := range r.g.Steps {
		for _, need := range s.Needs {
			j := r.index[need]
			waitsOn[j] = append(waitsOn[j], i)
		}
	}
	if w := r.g.ReadOnly; w != nil && w.From != "" {
		if from, ok := r.index[w.From]; ok {
			// What the step needed still waits on the steps that needed it
			// (the staging copy is not dropped while the steps after the
			// freeze are still undone on it).
			for _, need := range r.g.Steps[from].Needs {
				j := r.index[need]
				for _, d := range waitsOn[from] {
					if !slices.Contains(waitsOn[j], d) {
						waitsOn[j] = append(waitsOn[j], d)
					}
				}
			}
			waitsOn[from] = nil
			if to, ok := r.index[w.To]; ok && to != from {
				waitsOn[from] = []int{to}
			}
		}
	}
	noop := make([]bool, n)
	prio := make([]int, n)
	for i := range noop {
		noop[i], prio[i] = true, n+i
	}
	for p, id := range ids {
		i := r.index[id]
		noop[i], prio[i] = false, p
	}
	return newWalker(waitsOn, r.parallel, nil, noop, prio)
}

// collectOutcomes journals what the rollbacks reported and moves the
// walker on; the first failure stops the walk and the run.
func (u *undoWalk) collectOutcomes(batch []msg) {
	r := u.r
	for _, m := range batch {
		id := r.g.Steps[m.idx].ID
		switch m.kind {
		case msgCheckpoint:
			r.record(Record{Type: StepCheckpoint, Step: id, Key: m.key, Value: m.val})
			u.releases = append(u.releases, m.release)
		case msgRetry:
			r.record(Record{Type: StepRetrying, Step: id, Attempt: m.attempts, Wait: m.wait, Waited: m.waited,
				Failover: m.failover, Error: m.err.Error(), Transient: true, Reason: "rollback"})
		case msgDone:
			r.record(Record{Type: RollbackDone, Step: id, Reason: strings.Join(m.kept, "; ")})
			r.kept = append(r.kept, m.kept...)
			u.w.done(m.idx)
		case msgNothing:
			r.record(Record{Type: RollbackSkipped, Step: id, Reason: "the action has no rollback"})
			u.w.done(m.idx)
		case msgInterrupted:
			// Left as rolling-back; an interrupted rollback resumes here.
			u.w.abandon(m.idx)
		case msgFailed:
			r.record(Record{Type: RollbackFailed, Step: id, Error: m.err.Error()})
			u.w.fail(m.idx)
			if u.stop != goOn {
				continue
			}
			why := fmt.Sprintf("rollback of step %q failed: %v", id, m.err)
			if u.reason != "" {
				why += " (rolling back because " + u.reason + ")"
			}
			r.record(Record{Type: RunRollbackFailed, Reason: why})
			u.stop, u.result = stopFailed, phaseResult{status: StatusRollbackFailed, reason: why}
		}
	}
}

// ready takes the rollbacks that may start now and journals each as started.
func (u *undoWalk) ready() []int {
	var launch []int
	for u.stop == goOn && u.ctx.Err() == nil {
		i, ok := u.w.next()
		if !ok {
			break
		}
		u.r.record(Record{Type: RollbackStarted, Step: u.r.g.Steps[i].ID})
		launch = append(launch, i)
	}
	return launch
}
