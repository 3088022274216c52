package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/stepgraph"
)

// Production comes first. The planner marks the read-only window of a plan
// (Graph.ReadOnly): from the step that makes production read-only to the
// step that moves traffic away from it. Whenever a run stops inside that
// window without finishing it (a failure rolled back or paused, a cancel, a
// rollback that itself fails, a rejection), the runner undoes the step that
// opened the window before anything else, so production is read-write and
// serves again at once (the recipe's step 8). A run stops holding
// production read-only only when a person asked for it: an approval gate
// inside the window, shown in the preview.

// stepInPlace reports whether a step's own effect may be live: it is done
// (or was skipped after this run started it), started, or failed after
// Apply ran, and it was not rolled back.
func (r *run) stepInPlace(id string) bool {
	s := r.st.steps[id]
	if s == nil || s.rollback == RollbackStateDone || s.rollback == RollbackStateNothing {
		return false
	}
	switch {
	case s.state == StateDone, s.state == StateSkipped && s.ownSkip, s.state == StateRunning, s.state == StateFailed && s.applied:
		return true
	}
	return false
}

// windowOpen reports whether production is held read-only by this run: the
// window's first step is in place and traffic has not moved away.
func (r *run) windowOpen(ctx context.Context) bool {
	w := r.g.ReadOnly
	if w == nil || w.From == "" || r.g.Step(w.From) == nil || !r.stepInPlace(w.From) {
		return false
	}
	if w.To == "" || r.g.Step(w.To) == nil {
		return true
	}
	to := r.st.steps[w.To]
	if to == nil || to.rollback == RollbackStateDone {
		return true
	}
	switch {
	case to.state == StateDone || to.state == StateSkipped:
		return false
	case to.state == StateRunning || to.state == StateFailed && to.applied:
		// Maybe moved: ask the step itself whether traffic left.
		s := r.g.Step(w.To)
		in, err := r.opt.Evaluator.Inputs(ctx, s, r)
		if err != nil {
			return false
		}
		moved, err := r.actions[s.Action].Observe(ctx, r.env(s.ID, false), in)
		return err == nil && !moved
	}
	return true
}

// productionFirst reorders a rollback so the step that made production
// read-only is undone as soon as traffic is back on production.
func (r *run) productionFirst(order []string) []string {
	if w := r.g.ReadOnly; w != nil && w.From != "" {
		return stepgraph.ProductionFirst(order, w.From, w.To)
	}
	return order
}

// restoreProduction undoes the step that opened the read-only window when
// the window is still open, journaling it like any rollback. A failure to
// do so is recorded on the step and left for the run's status to show.
// It runs even when the run was asked to stop (see untilForceStop).
func (r *run) restoreProduction(ctx context.Context, reason string) error {
	ctx = untilForceStop(ctx)
	if !r.windowOpen(ctx) {
		return nil
	}
	pr, _ := r.undoSteps(ctx, []string{r.g.ReadOnly.From}, reason)
	return pr.err
}

// endKept ends a run whose failure left parts kept for analysis.
func (r *run) endKept(reason string, keep []string) phaseResult {
	why := fmt.Sprintf("%s; kept for analysis: what %s made (remove it with: fleetplan rollback %s, or re-apply the plan)",
		reason, quoteList(keep), r.id)
	r.record(Record{Type: RunKept, Reason: why})
	if err := r.commit(); err != nil {
		return phaseResult{err: err}
	}
	return phaseResult{status: StatusKept, reason: why}
}

// stopInWindow restores production when a run stops inside the read-only
// window (a pause or a cancel); ok is false when nothing needed restoring.
// The run cannot go on afterwards: what it copied while production was
// read-only may miss the writes production takes from now on, so the rest
// is kept for analysis and an explicit rollback (or a re-apply) removes it.
func (r *run) stopInWindow(ctx context.Context, reason string) (pr phaseResult, ok bool) {
	ctx = untilForceStop(ctx)
	if !r.windowOpen(ctx) {
		return phaseResult{}, false
	}
	from := r.g.ReadOnly.From
	if pr, stop := r.undoSteps(ctx, []string{from}, reason); stop {
		return pr, true
	}
	return r.endKept(fmt.Sprintf("%s; production restored (rollback of step %q)", reason, from), r.keepAll()), true
}

// untilForceStop is the context for making production available again: a
// stop request (Ctrl-C, SIGTERM, a cancelled context) stops the run, not
// the undo of the step that froze production, so that no way of stopping
// leaves production read-only. Only a force-stop (a second Ctrl-C, which
// kills the process) or a crash does; then rollback restores it first.
func untilForceStop(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// keepAll lists the steps a stop inside the read-only window leaves as they
// are once production is restored: everything else the run did.
func (r *run) keepAll() []string {
	var out []string
	for _, id := range r.st.rollbackOrder() {
		if r.g.ReadOnly == nil || id != r.g.ReadOnly.From {
			out = append(out, id)
		}
	}
	return out
}

// KeptSteps returns, for every run on target that ended kept-for-analysis,
// the steps whose effects it still holds (what `fleetplan rollback` would
// undo), newest first. A new run that touches them must remove them first.
func KeptSteps(dir, target string) (map[string][]*stepgraph.Step, error) {
	runs, err := List(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]*stepgraph.Step{}
	for _, rs := range runs {
		if rs.Status != StatusKept || !strings.EqualFold(rs.Target, target) {
			continue
		}
		_, g, p, err := readRun(dir, rs.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range p.rollbackOrder() {
			if s := g.Step(id); s != nil {
				out[rs.ID] = append(out[rs.ID], s)
			}
		}
	}
	return out, nil
}

// RestoreProduction makes production available again for a run that
// stopped without a process inside its read-only window (cancelled while it
// waited for approval): the step that froze production is undone, journaled
// like any rollback; the run's status stays as it is. It does nothing when
// the window is not open.
func RestoreProduction(ctx context.Context, runID string, opt Options) (restored bool, err error) {
	r, unlock, err := openRun(ctx, runID, opt)
	if err != nil {
		return false, err
	}
	defer unlock()
	if !r.windowOpen(ctx) {
		return false, nil
	}
	if err := r.restoreProduction(ctx, "cancel requested"); err != nil {
		return false, err
	}
	if s := r.st.steps[r.g.ReadOnly.From]; s != nil && s.rollback == RollbackStateFailed {
		return false, fmt.Errorf("could not make production read-write again: rollback of step %q failed: %s", r.g.ReadOnly.From, s.rollbackErr)
	}
	return true, nil
}
