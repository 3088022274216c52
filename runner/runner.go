package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// StateDirName is the state folder's name; it lives beside fleetplan.yaml.
const StateDirName = ".fleetplan"

// Options configure a run. Dir is required; everything else has a default.
type Options struct {
	// Dir is the state directory (the .fleetplan folder beside fleetplan.yaml):
	// runs live under Dir/runs/<id>/, target locks under Dir/locks/.
	Dir string
	// Target is the opened fleet the actions run against.
	Target fleet.Target
	// Parallel is how many steps may run at once when the graph sets no limit
	// (default DefaultParallel). A graph's own limit (Graph.Parallel, kept in
	// plan.json) always wins, so apply, resume and rollback of one run obey
	// the same limit.
	Parallel int
	// Evaluator checks guards and resolves inputs (default Literal).
	Evaluator Evaluator
	// Events receives transitions and progress (default: none).
	Events EventSink
	// Retry fills the fields a step's own retry policy leaves at zero
	// (default DefaultRetry: budget 60 s, initial 250 ms, max 5 s, full jitter).
	Retry stepgraph.RetryPolicy
	// Sleep waits between retries and guard polls (default: a timer that
	// stops early when ctx is done). Tests pass a fake.
	Sleep func(ctx context.Context, d time.Duration) error
	// BaseDir is the folder relative inputs are resolved against (default:
	// the folder of the graph's Source).
	BaseDir string
	// Roots are the folders step inputs may name files in (the plan
	// repository and allowPaths); empty means BaseDir alone. Every path is
	// checked again when its step runs.
	Roots confine.Roots
	// Command is recorded in the lock holder file ("fleetplan apply ...").
	Command string
	// DiscardWritesSinceSwitch lets a rollback move traffic away from data
	// written since a traffic switch; compensations keep such data (a
	// database is renamed, never dropped). Without it such a rollback is
	// refused before anything changes.
	DiscardWritesSinceSwitch bool
	// IgnoreWindow lets steps start outside their change windows
	// (apply --ignore-window); the run's journal says so.
	IgnoreWindow bool
	// EndState, when set, describes the live state of what the graph touches
	// once every step is done; the description is journaled with run-done
	// (RunStatus.EndState), so a later plan can tell that nothing changed
	// since. An error leaves it out; the run is done all the same.
	EndState func(ctx context.Context, g *stepgraph.Graph) (string, error)
	// Lease is the locks the caller already holds (see Reserve): Start runs
	// as the reserved run, and Start, Resume and Rollback take no lock of
	// their own. Nil means each call takes and releases the locks itself.
	Lease *Lease
	// Provenance, when set, is journaled with run-started: where the plan
	// came from (commit, file, content hash), shown by runs and status.
	Provenance *Provenance
}

// Result is how a run ended for this call.
type Result struct {
	RunID  string
	Dir    string // the run's folder
	Status string // a Status* constant
	Reason string // why it failed, paused or stopped
	Total  int    // steps in the graph
	Done   int    // steps done or already live
	Failed int
	// Awaiting lists steps waiting for approval when Status is awaiting-approval.
	Awaiting []string
}

// RunError is returned together with a Result when a run did not reach the
// outcome asked for: Start and Resume aim for done (awaiting-approval is a
// clean stop, not an error), Rollback aims for rolled-back.
type RunError struct {
	RunID  string
	Status string
	Reason string
}

func (e *RunError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("run %s ended %s", e.RunID, e.Status)
	}
	return fmt.Sprintf("run %s ended %s: %s", e.RunID, e.Status, e.Reason)
}

// DefaultParallel is how many steps run at once when neither the graph nor
// the options set a limit.
const DefaultParallel = 4

// faultHit is the fault-injection hook at the runner's named points:
// "runner.step.before" (before each attempt of a step), "runner.step.after"
// (once a step's completion is durable; steps whose start that same fsync
// made durable still run) and "runner.rollback.before".
var faultHit = faults.Hit

// Start begins a new run of g: it takes the target lock, creates
// Dir/runs/<id>/ with plan.json and the journal, and executes the graph.
// The returned Result is non-nil whenever a run was created, even with an error.
func Start(ctx context.Context, g *stepgraph.Graph, opt Options) (*Result, error) {
	if err := checkOptions(&opt); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errors.New("runner: nil graph")
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("invalid step graph: %w", err)
	}
	actions, err := resolveActions(g)
	if err != nil {
		return nil, err
	}
	target, err := targetName(g, opt)
	if err != nil {
		return nil, err
	}
	runsDir := filepath.Join(opt.Dir, "runs")
	lease := opt.Lease
	if lease == nil {
		if lease, err = reserve(ctx, opt, target); err != nil {
			return nil, err
		}
		defer lease.Release()
	} else if err := lease.check(opt.Dir, target); err != nil {
		return nil, err
	}
	if lease.started {
		return nil, fmt.Errorf("runner: the lease of run %s was already used by Start", lease.id)
	}
	lease.started = true
	id := lease.id
	runDir := filepath.Join(runsDir, id)

	j, _, err := openJournal(filepath.Join(runDir, journalFile))
	if err != nil {
		return nil, err
	}
	defer j.close()
	planJSON, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	// The atomic write fsyncs the run folder, which makes the journal's
	// directory entry durable as well.
	if err := writeFileAtomic(filepath.Join(runDir, planFile), planJSON); err != nil {
		return nil, fmt.Errorf("write plan: %w", err)
	}
	if err := syncDir(runsDir); err != nil {
		return nil, err
	}

	r := newRun(g, opt, id, runDir, target, actions, j, replay(nil))
	host, _ := os.Hostname()
	r.record(Record{Type: RunStarted, Run: id, Plan: g.Plan, Kind: g.Kind, Target: target,
		Steps: len(g.Steps), PID: os.Getpid(), Host: host, Provenance: opt.Provenance, Reason: windowNote(opt)})
	r.info.Session = 1
	return r.finish(r.forward(ctx), StatusDone)
}

// Resume continues a run that did not finish: it replays the journal, re-runs
// steps that started but did not finish (and a failed step of a paused run),
// runs approved steps, and rolls back a run whose step was rejected or whose
// rollback was interrupted. Resuming a finished run is an error.
func Resume(ctx context.Context, runID string, opt Options) (*Result, error) {
	r, unlock, err := openRun(ctx, runID, opt)
	if err != nil {
		return nil, err
	}
	defer unlock()
	status := r.st.status(false)
	switch {
	case status == StatusCancelled:
		return r.result(), &RunError{RunID: runID, Status: status, Reason: "the run was cancelled; `fleetplan rollback " + runID + "` undoes what it did"}
	case status == StatusKept:
		return r.result(), &RunError{RunID: runID, Status: status, Reason: "the run stopped and production serves again, so what it prepared " +
			"may miss writes made since; `fleetplan rollback " + runID + "` removes the parts it kept for analysis, or re-apply the plan"}
	case finished(status):
		return r.result(), fmt.Errorf("run %s already ended %s; nothing to resume", runID, status)
	}
	host, _ := os.Hostname()
	r.record(Record{Type: RunResumed, PID: os.Getpid(), Host: host, Reason: windowNote(r.opt)})
	if cancelRequested(r.dir) {
		if pr, ok := r.stopInWindow(ctx, "cancel requested"); ok {
			return r.finish(pr, StatusDone)
		}
		r.record(Record{Type: RunCancelled, Reason: "cancel requested"})
		if err := r.commit(); err != nil {
			return r.finish(phaseResult{err: err}, StatusDone)
		}
		return r.finish(phaseResult{status: StatusCancelled, reason: "cancel requested"}, StatusDone)
	}
	if r.st.phase == phaseRollback {
		order := r.st.rollbackOrder()
		if !r.st.explicitRollback {
			order = r.autoRollbackOrder()
		}
		if err := r.checkLosses(ctx, order); err != nil {
			return nil, err
		}
		return r.finish(r.rollback(ctx, r.st.reason, !r.st.explicitRollback), StatusDone)
	}
	for _, s := range r.g.Steps {
		if rec := r.st.steps[s.ID]; rec != nil && rec.state == StateRejected {
			reason := fmt.Sprintf("step %q was rejected by %s", s.ID, rec.rejectedBy)
			if rec.rejectReason != "" {
				reason += ": " + rec.rejectReason
			}
			if err := r.checkRollback(ctx, r.autoRollbackOrder()); err != nil {
				return nil, err
			}
			r.record(Record{Type: RunFailed, Reason: reason})
			return r.finish(r.rollback(ctx, reason, true), StatusDone)
		}
	}
	return r.finish(r.forward(ctx), StatusDone)
}

// Rollback undoes a run: the rollback branches of its completed steps run in
// reverse dependency order, in parallel up to the graph's limit (a step
// without a branch has its action's Rollback called). Steps already rolled
// back are not undone twice, so an interrupted or failed rollback can be run
// again.
func Rollback(ctx context.Context, runID string, opt Options) (*Result, error) {
	r, unlock, err := openRun(ctx, runID, opt)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if status := r.st.status(false); status == StatusRolledBack {
		return r.result(), fmt.Errorf("run %s is already rolled back", runID)
	}
	reason := "rollback requested"
	if r.st.reason != "" && !strings.HasPrefix(r.st.reason, reason) {
		reason += " (" + r.st.reason + ")"
	} else if r.st.reason != "" {
		reason = r.st.reason
	}
	// Ask every compensation first: a rollback that would lose data written
	// since a traffic switch is refused before anything changes, the
	// journal included.
	if err := r.checkUndoable(ctx, r.st.rollbackOrder()); err != nil {
		return nil, err
	}
	if err := r.checkLosses(ctx, r.st.rollbackOrder()); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	r.record(Record{Type: RunResumed, PID: os.Getpid(), Host: host, Reason: windowNote(r.opt)})
	r.record(Record{Type: RunRollbackStarted, Reason: reason})
	return r.finish(r.rollback(ctx, reason, false), StatusRolledBack)
}

func checkOptions(opt *Options) error {
	if opt.Dir == "" {
		return errors.New("runner: Options.Dir (the state directory) is required")
	}
	if opt.Parallel <= 0 {
		opt.Parallel = DefaultParallel
	}
	if opt.Evaluator == nil {
		opt.Evaluator = Literal{}
	}
	if opt.Sleep == nil {
		opt.Sleep = sleepCtx
	}
	return nil
}

func targetName(g *stepgraph.Graph, opt Options) (string, error) {
	name := g.Target
	if opt.Target != nil {
		if name != "" && opt.Target.Name() != name {
			return "", fmt.Errorf("the plan is for target %q but the runner was given target %q", name, opt.Target.Name())
		}
		name = opt.Target.Name()
	}
	if name == "" {
		name = "default"
	}
	return name, nil
}

// resolveActions looks up every action (and rollback branch action) up front,
// so an unknown name fails before anything runs.
func resolveActions(g *stepgraph.Graph) (map[string]steps.Action, error) {
	out := map[string]steps.Action{}
	var unknown []string
	add := func(s *stepgraph.Step) {
		if _, ok := out[s.Action]; ok {
			return
		}
		a, err := steps.Lookup(s.Action)
		if err != nil {
			unknown = append(unknown, fmt.Sprintf("step %q: %v", s.ID, err))
			return
		}
		out[s.Action] = a
	}
	for _, s := range g.Steps {
		add(s)
		if s.Rollback != nil {
			add(s.Rollback)
		}
	}
	if len(unknown) > 0 {
		return nil, errors.New(strings.Join(unknown, "\n"))
	}
	return out, nil
}

// NewRunID returns a time-sortable run id: UTC time to the second and four
// random hex digits, e.g. 20261122T101500Z-ab12.
func NewRunID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func newRunDir(runsDir string) (string, error) {
	for i := 0; ; i++ {
		id := NewRunID(time.Now())
		err := os.Mkdir(filepath.Join(runsDir, id), 0o755)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", err
		}
	}
}

func holder(id string, opt Options) Holder {
	host, _ := os.Hostname()
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		dir = opt.Dir
	}
	return Holder{PID: os.Getpid(), Run: id, Host: host, Command: opt.Command, StateDir: dir, Since: time.Now().UTC()}
}

// openRun loads a run's plan, takes its target lock and replays its journal.
func openRun(ctx context.Context, runID string, opt Options) (*run, func(), error) {
	if err := checkOptions(&opt); err != nil {
		return nil, nil, err
	}
	runDir, err := runPath(opt.Dir, runID)
	if err != nil {
		return nil, nil, err
	}
	g, err := loadPlan(runDir)
	if err != nil {
		return nil, nil, err
	}
	actions, err := resolveActions(g)
	if err != nil {
		return nil, nil, err
	}
	target, err := targetName(g, opt)
	if err != nil {
		return nil, nil, err
	}
	unlock := func() {}
	if opt.Lease == nil {
		if unlock, err = takeLocks(ctx, opt, target, runID); err != nil {
			return nil, nil, err
		}
	} else if err := opt.Lease.check(opt.Dir, target); err != nil {
		return nil, nil, err
	}
	j, recs, err := openJournal(filepath.Join(runDir, journalFile))
	if err != nil {
		unlock()
		return nil, nil, err
	}
	st := replay(recs)
	r := newRun(g, opt, runID, runDir, target, actions, j, st)
	for id := range st.steps {
		if _, ok := r.index[id]; !ok {
			_ = j.close()
			unlock()
			return nil, nil, &fleet.Error{Op: "replay journal", Target: runID,
				Err:  fmt.Errorf("%s names step %q, which the run's plan.json does not have", filepath.Join(runDir, journalFile), id),
				Hint: "the run folder was changed by hand or mixed with another run's files; restore it from a backup"}
		}
	}
	r.info.Session = st.sessions + 1
	return r, func() { _ = j.close(); unlock() }, nil
}

// runPath returns the folder of a run, checking that it exists.
func runPath(dir, runID string) (string, error) {
	if runID == "" || strings.ContainsAny(runID, `/\`) || runID == "." || runID == ".." {
		return "", fmt.Errorf("invalid run id %q", runID)
	}
	p := filepath.Join(dir, "runs", runID)
	if _, err := os.Stat(filepath.Join(p, planFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &fleet.Error{Op: "find run", Target: runID, Err: errors.New("no such run"),
				Hint: "list runs with `fleetplan runs`"}
		}
		return "", err
	}
	return p, nil
}

func loadPlan(runDir string) (*stepgraph.Graph, error) {
	b, err := os.ReadFile(filepath.Join(runDir, planFile))
	if err != nil {
		return nil, err
	}
	var g stepgraph.Graph
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, planFile), err)
	}
	if g.FormatVersion != stepgraph.FormatVersion {
		return nil, fmt.Errorf("%s: plan format version %d, this fleetplan reads version %d",
			filepath.Join(runDir, planFile), g.FormatVersion, stepgraph.FormatVersion)
	}
	return &g, nil
}

// run is one process's work on a run.
type run struct {
	g       *stepgraph.Graph
	opt     Options
	id      string
	dir     string
	target  string
	actions map[string]steps.Action
	j       *journal
	ev      *events
	info    RunInfo
	baseDir string
	index   map[string]int
	ids     []string // step ids in graph order
	// parallel is how many steps may run at once: the graph's limit, else
	// Options.Parallel.
	parallel int

	kept []string // where this session's rollbacks set data aside

	mu sync.RWMutex // guards st for State readers; only the scheduler writes
	st *replayed
}

func newRun(g *stepgraph.Graph, opt Options, id, dir, target string, actions map[string]steps.Action, j *journal, st *replayed) *run {
	r := &run{
		g: g, opt: opt, id: id, dir: dir, target: target, actions: actions, j: j, st: st,
		info:  RunInfo{ID: id, Plan: g.Plan, Kind: g.Kind, Target: target},
		index: make(map[string]int, len(g.Steps)),
	}
	if opt.Events != nil {
		r.ev = &events{sink: opt.Events, run: id}
	}
	r.parallel = g.Parallel
	if r.parallel <= 0 {
		r.parallel = opt.Parallel
	}
	r.baseDir = opt.BaseDir
	if r.baseDir == "" && g.Source != "" {
		r.baseDir = filepath.Dir(g.Source)
	}
	r.ids = make([]string, len(g.Steps))
	for i, s := range g.Steps {
		r.index[s.ID] = i
		r.ids[i] = s.ID
	}
	return r
}

// Run implements State.
func (r *run) Run() RunInfo { return r.info }

// StepIDs implements State.
func (r *run) StepIDs() []string { return r.ids }

// Step implements State.
func (r *run) Step(id string) (string, steps.Outputs, bool) {
	if _, ok := r.index[id]; !ok {
		return "", nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.st.steps[id]
	if s == nil {
		return StatePending, nil, true
	}
	return s.state, s.outputs, true
}

// record applies a transition to the in-memory state (the same fold that
// replays the journal) and buffers it for the next commit.
func (r *run) record(rec Record) {
	rec.Time = time.Now().UTC()
	r.mu.Lock()
	r.st.apply(rec)
	r.mu.Unlock()
	r.j.add(rec)
}

// commit makes the buffered records durable with one fsync and reports them.
func (r *run) commit() error {
	recs, err := r.j.commit()
	if err != nil {
		return err
	}
	if r.ev != nil {
		for _, rec := range recs {
			if rec.Type == StepApplying || rec.Type == StepCheckpoint {
				continue // bookkeeping for rollback and resume; the step's start was shown
			}
			r.ev.emit(recordEvent(rec, r.st.ncomplete, len(r.g.Steps)))
		}
	}
	return nil
}

// phaseResult is how a phase ended.
type phaseResult struct {
	status, reason string
	awaiting       []string
	err            error // journal or infrastructure failure
}

func (r *run) result() *Result {
	res := &Result{RunID: r.id, Dir: r.dir, Total: len(r.g.Steps), Status: r.st.status(false), Reason: r.st.reason}
	for _, s := range r.st.steps {
		switch s.state {
		case StateDone, StateSkipped:
			res.Done++
		case StateFailed:
			res.Failed++
		}
	}
	return res
}

// finish turns a phase result into the API result; want is the status the
// call aimed for.
func (r *run) finish(pr phaseResult, want string) (*Result, error) {
	res := r.result()
	res.Awaiting = pr.awaiting
	if pr.err != nil {
		return res, pr.err
	}
	res.Status, res.Reason = pr.status, pr.reason
	if pr.status == want || (want == StatusDone && pr.status == StatusAwaitingApproval) {
		return res, nil
	}
	return res, &RunError{RunID: r.id, Status: pr.status, Reason: pr.reason}
}

func quoteList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return strings.Join(q, ", ")
}

func stepContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithCancel(ctx)
}

func timeoutErr(sctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(sctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return err
}

func (r *run) env(stepID string, undo bool) *steps.Env {
	env := &steps.Env{Target: r.opt.Target, RunID: r.id, StepID: stepID, BaseDir: r.baseDir, Roots: r.opt.Roots,
		Undo: undo, DiscardWritesSinceSwitch: r.opt.DiscardWritesSinceSwitch, IgnoreWindow: r.opt.IgnoreWindow}
	env.Reporter = reporter{ev: r.ev}
	return env
}

// windowNote is what the journal says of a session started with
// --ignore-window.
func windowNote(opt Options) string {
	if opt.IgnoreWindow {
		return "--ignore-window: steps start outside their change windows"
	}
	return ""
}

// normalizeOutputs passes outputs through JSON so a live run and a resumed
// run (which reads them back from the journal) see the same values.
func normalizeOutputs(o steps.Outputs) steps.Outputs {
	if len(o) == 0 {
		return nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return o // add() records the encoding problem
	}
	var out steps.Outputs
	if json.Unmarshal(b, &out) != nil {
		return o
	}
	return out
}

// retry calls fn until it succeeds, fails with a non-transient error, the
// step's retry policy is exhausted, or ctx is done. It returns the number of
// attempts made.
// retryNotice is what a retry tells the scheduler: the attempt that failed,
// the wait before the next one, and how much of this outage's budget the
// waits have used so far.
type retryNotice struct {
	attempt      int
	wait, waited time.Duration
	err          error
}

// retry runs fn until it succeeds or fails with an error that is not
// transient, waiting with the step's backoff between attempts. The budget
// covers one outage, not the step's whole life: when the step reported
// progress (progressed changed) since the previous failure, the failure
// starts a new outage with a fresh budget, so a long move survives any
// number of separate failovers, each within the budget. progressed may be
// nil (no progress reports).
func (r *run) retry(ctx context.Context, s *stepgraph.Step, progressed func() int64, onRetry func(retryNotice), fn func(context.Context) error) (int, error) {
	policy := mergeRetry(s.Retry, r.opt.Retry, DefaultRetry)
	b := newBackoff(policy)
	if progressed == nil {
		progressed = func() int64 { return 0 }
	}
	mark := progressed()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !fleet.IsTransient(err) || ctx.Err() != nil {
			return attempt, err
		}
		if p := progressed(); p != mark {
			mark, b = p, newBackoff(policy)
		}
		waited := b.waited
		wait, ok := b.next()
		if !ok {
			return attempt, fmt.Errorf("gave up after %d attempts and %s of backoff: %w", attempt, b.waited.Round(time.Millisecond), err)
		}
		onRetry(retryNotice{attempt: attempt, wait: wait, waited: waited, err: err})
		if serr := r.opt.Sleep(ctx, wait); serr != nil {
			return attempt, err
		}
	}
}

// checkGuard evaluates the step's guard, polling it while its wait budget
// lasts. A guard that does not hold is a *GuardError.
func (r *run) checkGuard(ctx context.Context, s *stepgraph.Step) error {
	if s.Guard == nil || s.Guard.Expr == "" {
		return nil
	}
	var waited time.Duration
	for {
		ok, detail, err := r.opt.Evaluator.Guard(ctx, s, r)
		if err != nil {
			name := s.Guard.Name
			if name == "" {
				name = s.Guard.Expr
			}
			return fmt.Errorf("evaluate guard %q: %w", name, err)
		}
		if ok {
			return nil
		}
		w := s.Guard.Wait
		if w == nil || waited >= w.Timeout {
			ge := &GuardError{Step: s.ID, Name: s.Guard.Name, Expr: s.Guard.Expr, Detail: detail}
			if w != nil {
				ge.Detail = strings.TrimSpace(ge.Detail + fmt.Sprintf(" after waiting %s", w.Timeout))
			}
			return ge
		}
		interval := w.Interval
		if interval <= 0 {
			interval = time.Second
		}
		interval = min(interval, w.Timeout-waited)
		if err := r.opt.Sleep(ctx, interval); err != nil {
			return err
		}
		waited += interval
	}
}

// nothingMade reports whether a step's rollback branch already holds: what
// the step would have made does not exist (it failed before making it), so
// there is nothing to keep for analysis and the branch's rollback is a
// no-op. When that cannot be told, the step is kept.
func (r *run) nothingMade(ctx context.Context, s *stepgraph.Step) bool {
	b := s.Rollback
	in, err := r.opt.Evaluator.Inputs(ctx, b, r)
	if err != nil {
		return false
	}
	env := r.env(s.ID, true)
	env.Reporter = nil
	live, err := r.actions[b.Action].Observe(ctx, env, in)
	return err == nil && live
}

// autoRollbackOrder is what a rollback after a failure undoes: everything
// but the branches marked keepOnFailure.
func (r *run) autoRollbackOrder() []string {
	var out []string
	for _, id := range r.st.rollbackOrder() {
		if rb := r.g.Steps[r.index[id]].Rollback; rb == nil || !rb.KeepOnFailure {
			out = append(out, id)
		}
	}
	return out
}

// checkRollback asks, changing nothing, whether a rollback of the steps in
// order can run: nothing it needs was removed for good, and it loses no
// data written since a traffic switch.
func (r *run) checkRollback(ctx context.Context, order []string) error {
	if err := r.checkUndoable(ctx, order); err != nil {
		return err
	}
	return r.checkLosses(ctx, order)
}

// checkUndoable refuses a rollback across a step whose action cannot be
// undone (steps.Irreversible) once its effect is live: what it removed is
// gone, so the steps before it cannot be undone either (traffic cannot go
// back to a dropped database). That refusal comes first, as no flag helps.
// A step whose effect is not live (it failed before it removed anything,
// or what it removed was restored by hand) does not stop the rollback.
func (r *run) checkUndoable(ctx context.Context, order []string) error {
	for _, id := range order {
		s := r.g.Steps[r.index[id]]
		ir, ok := r.actions[s.Action].(steps.Irreversible)
		if !ok || s.Rollback != nil {
			continue
		}
		in, err := r.opt.Evaluator.Inputs(ctx, s, r)
		if err == nil {
			if _, gone := steps.IrreversibleWith(r.actions[s.Action], in); !gone {
				continue // these inputs remove nothing
			}
			env := r.env(s.ID, false)
			env.Reporter = nil
			if gone, err := r.actions[s.Action].Observe(ctx, env, in); err == nil && !gone {
				continue
			}
		}
		return &fleet.Error{Op: "rollback", Target: "run " + r.id,
			Err: fmt.Errorf("step %q %s, which cannot be undone; nothing was changed", id, ir.Removed(in)),
			Hint: "what the steps before it made is what serves now, and undoing them needs what it removed: " +
				"restore that by hand first (then fleetplan rollback undoes the rest), or write a new plan that goes forward from here"}
	}
	return nil
}

// checkLosses asks the compensation of every step in order that implements
// steps.LossChecker whether it would lose data, changing nothing. The first
// refusal is returned, naming its step.
func (r *run) checkLosses(ctx context.Context, order []string) error {
	for _, id := range order {
		s := r.g.Steps[r.index[id]]
		comp, check := s, steps.LossChecker.CheckRollback
		if s.Rollback != nil {
			comp, check = s.Rollback, steps.LossChecker.CheckApply
		}
		lc, ok := r.actions[comp.Action].(steps.LossChecker)
		if !ok {
			continue
		}
		env := r.env(s.ID, true)
		env.Reporter = nil
		_, err := r.retry(ctx, comp, nil, func(retryNotice) {}, func(ctx context.Context) error {
			in, err := r.opt.Evaluator.Inputs(ctx, comp, r)
			if err != nil {
				return nil // the rollback itself reports it
			}
			return check(lc, ctx, env, in)
		})
		if err != nil {
			return fmt.Errorf("rollback of step %q: %w", id, err)
		}
	}
	return nil
}
