package runner

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fleetplan/fleetplan/fleet"

	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// direction is which way a walk goes through the graph.
type direction int

const (
	// forwards applies steps along their needs.
	forwards direction = iota
	// backwards undoes steps, dependants first.
	backwards
)

// errNothingToUndo marks a rollback with no effect to undo.
var errNothingToUndo = errors.New("nothing to undo")

// msgKind is what a step worker reports to the scheduler.
type msgKind int

const (
	msgDone msgKind = iota
	msgSkipped
	msgFailed
	msgInterrupted
	msgRetry
	// msgApplying asks the scheduler to journal that the step is about to
	// call Apply; the worker waits on release until the record is durable.
	msgApplying
	// msgNothing: a rollback found nothing to undo.
	msgNothing
	// msgCheckpoint asks the scheduler to journal a value the action saved
	// (fleet.Checkpoints); the worker waits on release until it is durable.
	msgCheckpoint
)

type msg struct {
	idx      int
	kind     msgKind
	outputs  steps.Outputs
	err      error
	attempts int
	wait     time.Duration
	// waited and failover (msgRetry): the backoff this outage has used so
	// far, and whether the error says the database is failing over.
	waited   time.Duration
	failover bool
	applied  bool
	release  chan error // msgApplying, msgCheckpoint: nil once the record is durable
	key, val string     // msgCheckpoint
	kept     []string   // rollback: where data was set aside
}

// final reports whether m ends its step's attempt (not a retry notice or a
// step-applying request).
func (m msg) final() bool {
	return m.kind != msgRetry && m.kind != msgApplying && m.kind != msgCheckpoint
}

// checkpoints is the fleet.Checkpoints of one step: Save journals through
// the scheduler (the only writer of the journal) and waits until the
// record is durable; Load reads what this session or an earlier one saved.
type checkpoints struct {
	r    *run
	idx  int
	msgs chan<- msg
}

// Save implements fleet.Checkpoints.
func (c checkpoints) Save(_ context.Context, key, value string) error {
	release := make(chan error, 1)
	c.msgs <- msg{idx: c.idx, kind: msgCheckpoint, key: key, val: value, release: release}
	return <-release
}

// Load implements fleet.Checkpoints.
func (c checkpoints) Load(key string) (string, bool) {
	c.r.mu.RLock()
	defer c.r.mu.RUnlock()
	s := c.r.st.steps[c.r.g.Steps[c.idx].ID]
	if s == nil {
		return "", false
	}
	v, ok := s.checkpoints[key]
	return v, ok
}

// attemptPlan is what one direction does for one step: which step's action,
// inputs, guard, retry policy and timeout apply, and what "apply" means.
type attemptPlan struct {
	step  *stepgraph.Step // the step whose action runs: the step, or its rollback branch
	env   *steps.Env
	fault string // fault-injection point hit before each attempt
	// guardAndObserve: check the guard and skip Apply when Observe finds the
	// effect live (forwards, and a rollback branch).
	guardAndObserve bool
	// announce: have the scheduler journal step-applying before the first Apply.
	announce bool
	apply    func(ctx context.Context, a steps.Action, env *steps.Env, in steps.Inputs) (steps.Outputs, error)
}

// attemptFor says how step i is run in direction d: forwards its action's
// Apply; backwards its rollback branch (Observe, then Apply of the branch's
// action) or, without a branch, its action's own Rollback.
func (r *run) attemptFor(i int, d direction) attemptPlan {
	s := r.g.Steps[i]
	if d == forwards {
		return attemptPlan{step: s, env: r.env(s.ID, false), fault: "runner.step.before", guardAndObserve: true, announce: true,
			apply: func(ctx context.Context, a steps.Action, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
				return a.Apply(ctx, env, in)
			}}
	}
	env := r.env(s.ID, true)
	if s.Rollback != nil {
		return attemptPlan{step: s.Rollback, env: env, fault: "runner.rollback.before", guardAndObserve: true,
			apply: func(ctx context.Context, a steps.Action, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
				_, err := a.Apply(ctx, env, in)
				return nil, err
			}}
	}
	return attemptPlan{step: s, env: env, fault: "runner.rollback.before",
		apply: func(ctx context.Context, a steps.Action, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
			err := a.Rollback(ctx, env, in)
			if errors.Is(err, steps.ErrNoRollback) {
				return nil, errNothingToUndo
			}
			return nil, err
		}}
}

// attempt runs step i in direction d: guard, inputs, Observe, then Apply,
// retrying transient errors within the step's timeout. Forwards, before its
// first Apply it has the scheduler journal step-applying, so a rollback
// after a crash knows whether the step did anything. It runs on its own
// goroutine and reports retries on msgs; the returned msg is its final word.
func (r *run) attempt(ctx context.Context, i int, d direction, msgs chan<- msg) msg {
	p := r.attemptFor(i, d)
	s := p.step
	sctx, cancel := stepContext(ctx, s.Timeout)
	defer cancel()
	sctx = fleet.WithCheckpoints(sctx, checkpoints{r: r, idx: i, msgs: msgs})
	action := r.actions[s.Action]
	var kept []string
	if d == backwards {
		p.env.Kept = func(where string) { kept = append(kept, where) }
	}
	var out steps.Outputs
	skipped, applied := false, false
	// Progress the action reports resets the retry budget (see retry).
	progressed := new(atomic.Int64)
	if rep, ok := p.env.Reporter.(reporter); ok {
		rep.progressed = progressed
		p.env.Reporter = rep
	}
	attempts, err := r.retry(sctx, s, progressed.Load, func(n retryNotice) {
		msgs <- msg{idx: i, kind: msgRetry, attempts: n.attempt, wait: n.wait, waited: n.waited, failover: fleet.IsFailover(n.err), err: n.err}
	}, func(ctx context.Context) error {
		if err := faultHit(p.fault); err != nil {
			return err
		}
		if p.guardAndObserve {
			if err := r.checkGuard(ctx, s); err != nil {
				return err
			}
		}
		in, err := r.opt.Evaluator.Inputs(ctx, s, r)
		if err != nil {
			return fmt.Errorf("resolve inputs: %w", err)
		}
		if p.guardAndObserve {
			live, err := action.Observe(ctx, p.env, in)
			if err != nil {
				return err
			}
			if live {
				skipped = true
				return nil
			}
		}
		if p.announce && !applied {
			release := make(chan error, 1)
			msgs <- msg{idx: i, kind: msgApplying, release: release}
			if err := <-release; err != nil {
				return err
			}
		}
		applied = true
		o, err := p.apply(ctx, action, p.env, in)
		if err != nil {
			return err
		}
		out = normalizeOutputs(o)
		return nil
	})
	switch {
	case err == nil && skipped && d == forwards:
		return msg{idx: i, kind: msgSkipped, attempts: attempts}
	case err == nil:
		return msg{idx: i, kind: msgDone, attempts: attempts, outputs: out, kept: kept}
	case d == backwards && errors.Is(err, errNothingToUndo):
		return msg{idx: i, kind: msgNothing, attempts: attempts}
	case ctx.Err() != nil:
		return msg{idx: i, kind: msgInterrupted}
	}
	return msg{idx: i, kind: msgFailed, attempts: attempts, err: timeoutErr(sctx, s.Timeout, err), applied: applied}
}
