package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
)

func init() { commands = append(commands, newWatchCmd) }

// Defaults of watch's timing flags.
const (
	defaultDebounce = 100 * time.Millisecond
	defaultMaxWait  = time.Second
	defaultRecheck  = 5 * time.Second
	defaultDrift    = 5 * time.Minute
)

type watchOptions struct {
	apply, once, selfHeal bool
	output                string
	debounce, maxWait     time.Duration
	recheck, drift        time.Duration
}

func newWatchCmd(a *app) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch DIR...",
		Short: "Re-plan plans as their files change, and with --apply apply them",
		Long: `watch plans every plan document under DIR, then watches the files (fsnotify)
and re-plans each document whose content hash changed: its file, a template,
a SQL file it reads, its fleetplan.yaml. Editors' atomic saves, git checkouts and
pulls, and git-sync's symlink swap of the whole tree are seen; a burst of events
(a pull touching 50 files) is one re-plan after --debounce of quiet.

With --apply it applies what changed, serially per target and in parallel across
targets, without asking (as apply --auto-approve). It never applies a version of a
plan its newest run already ran: a run that rolled back, was rolled back by hand or
was cancelled stays so until the file changes, and the watcher says so. A run
that is paused, awaits approval or failed to roll back holds its plan until a
person settles it. Interrupted runs are resumed at start. Two watchers on one
target never both apply: the target's lock decides, and the other says so.

A file that does not load is reported at its position; the others are still
watched. Every --drift-interval the plans applied are planned again and drift is
reported; --self-heal applies it (never a plan whose run was rolled back).

SIGINT or SIGTERM lets running steps finish, checkpoints the run (it resumes at
the next start) and exits 0; a second signal force-stops. --once plans or
applies what changed since it was last applied, and exits: for cron and CI.`,
		Example: `  fleetplan watch plans/
  fleetplan watch plans/ --apply --output json
  fleetplan watch . --apply --once`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.selfHeal && !o.apply {
				return usageErr("--"+flagSelfHeal+" applies drift", "add --apply")
			}
			if o.debounce <= 0 {
				return usageErr("--"+flagDebounce+" must be positive", "the default is "+defaultDebounce.String())
			}
			w := newWatcher(a, args, o)
			return w.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.apply, flagApply, false, "apply what changed (without asking), serially per target, in parallel across targets")
	cmd.Flags().BoolVar(&o.once, flagOnce, false, "plan (or apply) what changed since it was last applied, then exit")
	cmd.Flags().BoolVar(&o.selfHeal, flagSelfHeal, false, "with --apply: apply the drift found every --drift-interval")
	cmd.Flags().DurationVar(&o.debounce, flagDebounce, defaultDebounce, "quiet time that ends a burst of file events")
	cmd.Flags().DurationVar(&o.maxWait, flagMaxWait, defaultMaxWait, "longest a burst of file events is gathered before re-planning")
	cmd.Flags().DurationVar(&o.drift, flagDriftInterval, defaultDrift, "how often plans are checked for drift (0: never)")
	cmd.Flags().DurationVar(&o.recheck, flagRecheck, defaultRecheck, "how often a plan held by a run of another process is decided again")
	addOutputFlag(cmd, &o.output)
	return cmd
}

// watcher is one watch command: the documents it knows, a worker per target
// that plans and applies them in turn, and the log.
type watcher struct {
	a     *app
	roots []string
	o     watchOptions
	log   *views.WatchLog
	runs  *gitops.RunIndex

	mu       sync.Mutex
	docs     map[string]*watched // by docKey
	loadDiag map[string]string   // diagnostics already reported, and their files
	workers  map[string]*worker  // by config path and target
	failed   bool                // something went wrong (--once exits 1)
	followed string              // the files the tree watch was last told of
	wg       sync.WaitGroup
}

// watched is what the watcher knows of one plan document.
type watched struct {
	doc  *plans.Document
	hash string
	seen string // the hash last decided on
	// retry: decide again on the next recheck (a run elsewhere held it, or
	// the lock was taken).
	retry bool
	said  string // the last hold message, so it is said once
	// applied: its newest run applied this version (drift is checked).
	applied bool
	// real are the real paths of its file, its fleetplan.yaml and what it
	// reads, for matching file events (set when it is read).
	real struct {
		file, config string
		reads        []string
	}
}

func docKey(d *plans.Document) string {
	return d.Config.Path + "\x00" + d.Kind + "\x00" + d.Metadata.Name + "\x00" + engine.TargetOf(d)
}

func newWatcher(a *app, roots []string, o watchOptions) *watcher {
	return &watcher{a: a, roots: roots, o: o, log: a.view.WatchLog(o.output), runs: gitops.NewRunIndex(),
		docs: map[string]*watched{}, loadDiag: map[string]string{}, workers: map[string]*worker{}}
}

func (w *watcher) event(e views.WatchEvent) { w.log.Event(e) }

func (w *watcher) docEvent(d *plans.Document, event, msg string) views.WatchEvent {
	return views.WatchEvent{Event: event, Kind: d.Kind, Plan: d.Metadata.Name, File: displayFile(d.File), Target: engine.TargetOf(d), Message: msg}
}

func (w *watcher) run(ctx context.Context) error {
	var tree *gitops.TreeWatch
	if !w.o.once {
		var err error
		tree, err = gitops.NewTreeWatch(w.roots, nil)
		if err != nil {
			return &fleet.Error{Op: "watch", Err: err, Hint: "check that the folders exist; on Linux raise fs.inotify.max_user_watches if the kernel refuses more watches"}
		}
		defer tree.Close()
		tree.OnError = func(err error) { w.event(views.WatchEvent{Event: "error", Message: err.Error()}) }
		w.event(views.WatchEvent{Event: "watching", Message: fmt.Sprintf("%s in %s; debounce %s", strings.Join(w.roots, ", "), views.Plural(len(tree.Watched()), "folder"), w.o.debounce)})
	}
	w.resumeInterrupted(ctx)
	w.reconcile(ctx, time.Time{})
	if w.o.once {
		w.stopWorkers()
		w.wg.Wait()
		if err := w.log.Err(); err != nil {
			return err
		}
		if w.failed {
			return &views.ExitError{Code: 1}
		}
		return nil
	}
	w.follow(tree)
	batches := make(chan gitops.Batch)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go tree.Run(watchCtx, w.o.debounce, w.o.maxWait, batches)
	recheck := time.NewTicker(w.o.recheck)
	defer recheck.Stop()
	var drift <-chan time.Time
	if w.o.drift > 0 {
		t := time.NewTicker(w.o.drift)
		defer t.Stop()
		drift = t.C
	}
	for {
		select {
		case <-ctx.Done():
			w.event(views.WatchEvent{Event: "stopping", Message: "running steps finish their current work; an unfinished run is checkpointed and resumes when the watcher starts again"})
			stopWatch()
			w.stopWorkers()
			w.wg.Wait()
			w.event(views.WatchEvent{Event: "stopped"})
			return w.log.Err()
		case b := <-batches:
			if b.Rescan {
				w.event(views.WatchEvent{Event: "rescan", Message: "file events may have been lost (a folder moved, a symlink swapped, the kernel's queue overflowed): every folder is read again"})
			}
			w.reconcileBatch(ctx, &b, b.First)
			w.follow(tree)
		case <-recheck.C:
			if w.anyRetry() {
				w.reconcile(ctx, time.Time{})
			}
		case <-drift:
			w.checkDrift(ctx)
		}
	}
}

// follow tells the tree watch which files besides YAML files the plans
// read, and the folders holding them (and fleetplan.yaml) that may lie
// outside the watched trees.
func (w *watcher) follow(tree *gitops.TreeWatch) {
	w.mu.Lock()
	seen := map[string]bool{}
	var dirs, files []string
	add := func(f string) {
		files = append(files, f)
		if d := filepath.Dir(f); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, x := range w.docs {
		add(x.doc.Config.Path)
		for _, r := range x.doc.Reads {
			add(r)
		}
	}
	w.mu.Unlock()
	sort.Strings(dirs)
	sort.Strings(files)
	sig := strings.Join(files, "\x00")
	if sig == w.followed {
		return // the same files as after the last batch; the tree watch re-syncs folders itself
	}
	w.followed = sig
	tree.SetExtra(dirs)
	tree.SetReads(files)
	_ = tree.Sync()
}

func (w *watcher) anyRetry() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.docs {
		if x.retry {
			return true
		}
	}
	return false
}

// reconcile reads every plan under the roots again and decides, for each
// document whose content hash changed, what to do. first is when the
// change that asks for it was first seen (zero at start).
func (w *watcher) reconcile(ctx context.Context, first time.Time) { w.reconcileBatch(ctx, nil, first) }

// reconcileBatch is reconcile after a batch of file events: when the batch
// touches only files of known documents (and what they read), those
// documents are read again, not the whole tree (a save in a repository of
// 1,000 plans reads one file, not 1,000). A rescan, a new or deleted file
// or folder, a fleetplan.yaml or anything else reads everything.
func (w *watcher) reconcileBatch(ctx context.Context, b *gitops.Batch, first time.Time) {
	files, partial := w.changedFiles(b)
	var set *plans.Set
	var diags diag.List
	if partial {
		set, diags = engine.LoadOptions(w.a.configPath).Load(files...)
	} else {
		set, diags = engine.LoadOptions(w.a.configPath).Load(w.realRoots()...)
	}
	reloaded := map[string]bool{}
	for _, f := range files {
		reloaded[f] = true
	}
	w.reportLoad(diags, partial, reloaded)
	now := map[string]*plans.Document{}
	w.mu.Lock()
	if partial {
		for k, x := range w.docs {
			if !reloaded[x.doc.File] {
				now[k] = x.doc
			}
		}
	}
	fresh := map[string]bool{}
	for _, d := range set.Documents {
		if d.Kind == plans.KindTemplate || d.Config == nil {
			continue
		}
		now[docKey(d)] = d
		fresh[docKey(d)] = true
	}
	// A document missing from a load that failed somewhere may be in the
	// file that failed: it is still managed. Only a clean load says that a
	// document left.
	if !diags.HasErrors() {
		var gone []string
		for k := range w.docs {
			if now[k] == nil {
				gone = append(gone, k)
			}
		}
		sort.Strings(gone)
		for _, k := range gone {
			d := w.docs[k].doc
			delete(w.docs, k)
			w.event(w.docEvent(d, "unmanaged", "no longer managed: its file or document is gone; nothing it described is changed or destroyed"))
		}
	}
	keys := make([]string, 0, len(now))
	for k := range now {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type job struct {
		x    *watched
		act  gitops.Action
		why  string
		last string // the newest run when decided
	}
	var jobs []job
	for _, k := range keys {
		d := now[k]
		x := w.docs[k]
		if x == nil {
			x = &watched{}
			w.docs[k] = x
		}
		if fresh[k] || x.doc == nil {
			x.real.file, x.real.config, x.real.reads = realPath(d.File), realPath(d.Config.Path), nil
			for _, r := range d.Reads {
				x.real.reads = append(x.real.reads, realPath(r))
			}
		}
		x.doc = d
		hash := x.hash
		if fresh[k] || hash == "" {
			var err error
			if hash, err = gitops.ContentHash(d); err != nil {
				w.failed = true
				w.event(w.docEvent(d, "error", err.Error()))
				continue
			}
		}
		x.hash = hash
		if hash == x.seen && !x.retry {
			continue
		}
		if _, ok := planner.KindNamed(d.Kind); !ok {
			x.seen = hash
			w.event(w.docEvent(d, "warning", fmt.Sprintf("not planned: plan and apply do not take %s documents yet (validate checks them)", d.Kind)))
			continue
		}
		st := gitops.DocState{Hash: hash, Apply: w.o.apply}
		if !x.retry {
			st.Seen = x.seen
		}
		last, file, err := w.runs.Newest(d)
		if err != nil {
			w.failed = true
			w.event(w.docEvent(d, "error", "read its runs: "+err.Error()))
			continue
		}
		st.Last = last
		if last != nil && last.Hash != "" && last.Hash != hash && file != "" {
			// Renamed, or the whole tree moved (a symlink swapped to a
			// new checkout): the same content is the same version.
			for _, as := range []func(*plans.Document, string) (string, error){gitops.ContentHashAs, gitops.ContentHashMoved} {
				if h, err := as(d, file); err == nil && h == last.Hash {
					st.SameAsLast = true
				}
			}
		}
		dec := gitops.Decide(st)
		x.retry = dec.Retry
		if !dec.Retry {
			x.seen = hash
		}
		switch dec.Action {
		case gitops.Skip:
		case gitops.UpToDate:
			x.applied = true
			w.event(w.docEvent(d, "up-to-date", dec.Why))
		case gitops.Hold:
			x.applied = false
			if dec.Why != x.said {
				x.said = dec.Why
				w.event(w.docEvent(d, "hold", dec.Why))
			}
		default:
			x.said = ""
			j := job{x: x, act: dec.Action, why: dec.Why}
			if last != nil {
				j.last = last.ID
			}
			jobs = append(jobs, j)
		}
	}
	w.mu.Unlock()
	for _, j := range jobs {
		w.enqueue(ctx, j.x, j.act, j.why, j.last, first)
	}
}

// realRoots are the roots with symlinks resolved as they are now: a root
// that is a symlink (git-sync's) is read where it points.
func (w *watcher) realRoots() []string {
	out := make([]string, len(w.roots))
	for i, r := range w.roots {
		out[i] = r
		if real, err := filepath.EvalSymlinks(r); err == nil {
			out[i] = real
		}
	}
	return out
}

// changedFiles returns, for a batch that touches only existing files of
// known documents or files they read, the files to read again: those of the
// documents concerned, spelled as the documents name them. ok is false when
// everything must be read.
func (w *watcher) changedFiles(b *gitops.Batch) (files []string, ok bool) {
	if b == nil || b.Rescan || len(b.Paths) == 0 {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	docFile := map[string]string{}   // real path -> the file as documents name it
	readers := map[string][]string{} // real path of a file read -> files of the documents reading it
	configs := map[string]bool{}     // real paths of fleetplan.yaml files
	for _, x := range w.docs {
		docFile[x.real.file] = x.doc.File
		configs[x.real.config] = true
		for _, r := range x.real.reads {
			readers[r] = append(readers[r], x.doc.File)
		}
	}
	want := map[string]bool{}
	for _, p := range b.Paths {
		if configs[p] || !isRegular(p) {
			return nil, false
		}
		known := false
		if f, isDoc := docFile[p]; isDoc {
			want[f], known = true, true
		}
		for _, f := range readers[p] {
			want[f], known = true, true
		}
		if !known {
			return nil, false
		}
	}
	for f := range want {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, true
}

func realPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	return p
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// reportLoad reports each problem loading the plans once, at its position.
// After a partial load (of the files reloaded), what was reported of the
// other files stands.
func (w *watcher) reportLoad(diags diag.List, partial bool, reloaded map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]string{}
	if partial {
		for line, file := range w.loadDiag {
			if !reloaded[file] {
				seen[line] = file
			}
		}
	}
	for _, d := range diags {
		var b strings.Builder
		_ = diag.Write(&b, diag.List{d}, "text")
		line := strings.TrimSuffix(b.String(), "\n")
		seen[line] = d.Pos.File
		if _, said := w.loadDiag[line]; said {
			continue
		}
		ev := "warning"
		if d.Severity == diag.Error {
			w.failed = true
			ev = "invalid"
		}
		w.event(views.WatchEvent{Event: ev, File: d.Pos.File, Message: line})
	}
	w.loadDiag = seen
}

// worker plans and applies the documents of one target, one at a time.
type worker struct {
	queue   []func()
	wake    chan struct{}
	stopped bool
	// planned is the target the worker's plan-only jobs share while its
	// queue has work (a burst of saves, the first reconcile of a large
	// repository): opening a target reads its catalog, which costs more
	// than planning most documents. It is closed when the queue runs dry
	// and before every apply, so no plan reads a fleet older than the
	// burst it belongs to, nor one from before an apply. Only the
	// worker's own goroutine touches it.
	planned     fleet.Target
	plannedMode fleet.OpenMode
}

// closePlanned closes the target the worker's plans share, if open.
func (wk *worker) closePlanned() {
	if wk.planned != nil {
		wk.planned.Close()
		wk.planned = nil
	}
}

func (w *watcher) workerFor(d *plans.Document) *worker {
	key := d.Config.Path + "\x00" + engine.TargetOf(d)
	wk := w.workers[key]
	if wk == nil {
		wk = &worker{wake: make(chan struct{}, 1)}
		w.workers[key] = wk
		w.wg.Add(1)
		go w.work(wk)
	}
	return wk
}

func (w *watcher) work(wk *worker) {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		if len(wk.queue) == 0 {
			stopped := wk.stopped
			w.mu.Unlock()
			wk.closePlanned()
			if stopped {
				return
			}
			<-wk.wake
			continue
		}
		job := wk.queue[0]
		wk.queue = wk.queue[1:]
		w.mu.Unlock()
		job()
	}
}

// submit queues fn on the worker of d's target.
func (w *watcher) submit(d *plans.Document, fn func()) {
	w.mu.Lock()
	wk := w.workerFor(d)
	wk.queue = append(wk.queue, fn)
	w.mu.Unlock()
	select {
	case wk.wake <- struct{}{}:
	default:
	}
}

// stopWorkers lets every worker finish its queue (jobs check the context
// first) and end.
func (w *watcher) stopWorkers() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wk := range w.workers {
		wk.stopped = true
		select {
		case wk.wake <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) enqueue(ctx context.Context, x *watched, act gitops.Action, why, lastRun string, first time.Time) {
	d := x.doc
	hash := x.hash
	w.submit(d, func() {
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		current := x.hash == hash
		w.mu.Unlock()
		if !current {
			return // a newer version is queued behind
		}
		e := w.docEvent(d, act.String(), why)
		if !first.IsZero() {
			e.LatencyMS = float64(time.Since(first).Microseconds()) / 1000
		}
		w.event(e)
		if act == gitops.Apply {
			w.apply(ctx, x, hash, lastRun)
		} else {
			w.plan(ctx, d)
		}
	})
}

// plan plans a document and logs what the plan would change.
func (w *watcher) plan(ctx context.Context, d *plans.Document) {
	if g, ok := w.quietPlan(ctx, d); ok {
		w.event(w.docEvent(d, "planned", planSummary(g)))
	}
}

// planSummary says in one line what a plan changes.
func planSummary(g *stepgraph.Graph) string {
	if !gitops.Changed(g) {
		return "no changes"
	}
	return planrender.SummaryLine(g) + "; " + views.Plural(len(g.Steps), "step")
}

// errNotNow gives the lock back when, once it is held, the document turns
// out to be decided otherwise (a watcher elsewhere applied it meanwhile).
var errNotNow = errors.New("decided otherwise under the lock")

// apply plans a document and applies what it changes, under the target's
// lock. lastRun is the newest run of the document when it was decided to
// apply it ("" for none).
func (w *watcher) apply(ctx context.Context, x *watched, hash, lastRun string) {
	d := x.doc
	w.worker(d).closePlanned() // the apply changes what later plans read
	target, err := w.a.openTargetFor(ctx, d.Config, engine.TargetOf(d), engine.ModeFor(d.Kind))
	if err != nil {
		w.fail(d, err)
		return
	}
	defer target.Close()
	command := "fleetplan watch --apply " + displayFile(d.File)
	var g0 *stepgraph.Graph
	graph := func() (*stepgraph.Graph, diag.List, error) {
		g, diags, err := planGraph(ctx, d, target)
		if err == nil && !gitops.Changed(g) {
			g0 = g
			g = &stepgraph.Graph{} // nothing to run: take no lock
		}
		return g, diags, err
	}
	// Once the lock is held, the newest run may be one another watcher
	// made meanwhile: decide again.
	locked := func() error {
		last, _, err := w.runs.Newest(d)
		if err != nil || last == nil || last.ID == lastRun {
			return err
		}
		if dec := gitops.Decide(gitops.DocState{Hash: hash, Last: last, Apply: true}); dec.Action != gitops.Apply {
			w.event(w.docEvent(d, dec.Action.String(), dec.Why))
			return errNotNow
		}
		return nil
	}
	g, lease, err := lockAndPlan(ctx, d, target, command, graph, func(l diag.List) { w.warn(d, l) }, locked)
	var le *runner.LockedError
	switch {
	case errors.Is(err, errNotNow):
		return
	case errors.As(err, &le):
		w.mu.Lock()
		x.retry = true
		w.mu.Unlock()
		w.event(w.docEvent(d, "locked", fmt.Sprintf("not applied: %v; decided again in %s", le, w.o.recheck)))
		return
	case err != nil:
		w.fail(d, err)
		return
	}
	if lease == nil {
		if g0 != nil && len(g0.Steps) > 0 {
			w.event(w.docEvent(d, "planned", "no changes: its steps change nothing in the fleet; nothing to apply"))
		} else {
			w.event(w.docEvent(d, "planned", "no changes"))
		}
		w.mu.Lock()
		x.applied = true
		w.mu.Unlock()
		return
	}
	defer lease.Release()
	prov, err := gitops.ProvenanceOf(ctx, d)
	if err == nil {
		err = engine.CheckPaths(g, d.Config.Roots())
	}
	if err != nil {
		w.fail(d, err)
		return
	}
	w.event(views.WatchEvent{Event: "run", Kind: d.Kind, Plan: d.Metadata.Name, File: displayFile(d.File), Target: engine.TargetOf(d), Run: lease.ID(),
		Message: "run " + lease.ID() + " started: " + planSummary(g)})
	res, err := startRun(ctx, d, g, target, lease, prov, w.log.RunSink(), command, false, func(kept string) {
		w.event(w.docEvent(d, "run", "removing what run "+kept+" kept for analysis first"))
	})
	w.runEnded(w.docEvent(d, "run", ""), res, err)
	w.mu.Lock()
	x.applied = res != nil && res.Status == runner.StatusDone
	w.mu.Unlock()
}

// runEnded logs how a run ended, on the fields of e.
func (w *watcher) runEnded(e views.WatchEvent, res *runner.Result, err error) {
	if res == nil {
		w.mu.Lock()
		w.failed = true
		w.mu.Unlock()
		e.Event, e.Message = "error", err.Error()
		if hint := fleet.HintOf(err); hint != "" {
			e.Message += " (hint: " + hint + ")"
		}
		w.event(e)
		return
	}
	e.Run = res.RunID
	switch res.Status {
	case runner.StatusDone:
		e.Message = fmt.Sprintf("run %s done: %d of %d steps", res.RunID, res.Done, res.Total)
	case runner.StatusInterrupted:
		e.Message = fmt.Sprintf("run %s interrupted after %d of %d steps; checkpointed, it resumes when the watcher starts again", res.RunID, res.Done, res.Total)
	case runner.StatusAwaitingApproval:
		e.Message = fmt.Sprintf("run %s waits for approval of %s: `fleetplan approve %s STEP`, then `fleetplan resume %s`", res.RunID, strings.Join(res.Awaiting, ", "), res.RunID, res.RunID)
	default:
		w.mu.Lock()
		w.failed = true
		w.mu.Unlock()
		e.Message = fmt.Sprintf("run %s ended %s: %s; the watcher leaves it so until the file changes", res.RunID, res.Status, res.Reason)
	}
	w.event(e)
}

func (w *watcher) fail(d *plans.Document, err error) {
	w.mu.Lock()
	w.failed = true
	w.mu.Unlock()
	var le *diag.ListError
	if errors.As(err, &le) {
		w.warn(d, le.List)
		return
	}
	msg := err.Error()
	if hint := fleet.HintOf(err); hint != "" {
		msg += " (hint: " + hint + ")"
	}
	w.event(w.docEvent(d, "error", msg))
}

// warn logs diagnostics about a document, each at its position.
func (w *watcher) warn(d *plans.Document, l diag.List) {
	for _, x := range l {
		var b strings.Builder
		_ = diag.Write(&b, diag.List{x}, "text")
		ev := "warning"
		if x.Severity == diag.Error {
			ev = "invalid"
		}
		w.event(w.docEvent(d, ev, strings.TrimSuffix(b.String(), "\n")))
	}
}

// resumeInterrupted resumes, on their targets' workers, the runs that a
// stopped or killed process left interrupted in the state folders of the
// plans under the roots (without --apply it only says so), and returns once
// they have ended, so plans are decided on what they did.
func (w *watcher) resumeInterrupted(ctx context.Context) {
	var resumed sync.WaitGroup
	defer resumed.Wait()
	set, _ := engine.LoadOptions(w.a.configPath).Load(w.realRoots()...)
	configs := map[string]*plans.Config{}
	for _, d := range set.Documents {
		if d.Config != nil {
			configs[d.Config.Path] = d.Config
		}
	}
	paths := make([]string, 0, len(configs))
	for p := range configs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		cfg := configs[p]
		dir := runhistory.StateDir(cfg)
		runs, err := runner.List(dir)
		if err != nil {
			w.event(views.WatchEvent{Event: "error", Message: fmt.Sprintf("read the runs in %s: %v", displayFile(dir), err)})
			continue
		}
		for _, r := range runs {
			if r.Status != runner.StatusInterrupted {
				continue
			}
			e := views.WatchEvent{Event: "resume", Target: r.Target, Run: r.ID}
			if !w.o.apply {
				e.Message = fmt.Sprintf("run %s (%s) was interrupted; `fleetplan resume %s` or watch --apply resumes it", r.ID, r.Plan, r.ID)
				w.event(e)
				continue
			}
			e.Message = fmt.Sprintf("run %s (%s) was interrupted; resuming it", r.ID, r.Plan)
			w.event(e)
			id, target := r.ID, r.Target
			resumed.Add(1)
			w.submit(&plans.Document{Config: cfg, Target: target}, func() {
				defer resumed.Done()
				if ctx.Err() != nil {
					return
				}
				t, err := w.a.openTarget(ctx, cfg, target)
				if err != nil {
					w.event(views.WatchEvent{Event: "error", Target: target, Run: id, Message: err.Error()})
					return
				}
				defer t.Close()
				opt := engine.RunOptions(cfg, t, w.log.RunSink(), "fleetplan watch --apply (resume "+id+")")
				res, err := runner.Resume(ctx, id, opt)
				w.runEnded(views.WatchEvent{Event: "run", Target: target, Run: id}, res, err)
			})
		}
	}
}

// checkDrift plans again the documents whose version was applied, and
// reports drift; with --self-heal it applies it.
func (w *watcher) checkDrift(ctx context.Context) {
	w.mu.Lock()
	var xs []*watched
	for _, x := range w.docs {
		if (x.applied || !w.o.apply) && !x.retry {
			xs = append(xs, x)
		}
	}
	w.mu.Unlock()
	sort.Slice(xs, func(i, j int) bool { return docKey(xs[i].doc) < docKey(xs[j].doc) })
	for _, x := range xs {
		x, hash := x, x.hash
		last, _, err := w.runs.Newest(x.doc)
		if err != nil {
			w.fail(x.doc, err)
			continue
		}
		lastRun := ""
		if last != nil {
			lastRun = last.ID
		}
		w.submit(x.doc, func() {
			if ctx.Err() != nil {
				return
			}
			g, ok := w.quietPlan(ctx, x.doc)
			if !ok || !gitops.Changed(g) {
				return
			}
			if !w.o.selfHeal {
				w.event(w.docEvent(x.doc, "drift", "the fleet no longer matches the plan: "+planSummary(g)+"; not acted on (--self-heal applies it)"))
				return
			}
			w.event(w.docEvent(x.doc, "drift", "the fleet no longer matches the plan: "+planSummary(g)+"; applying it (--self-heal)"))
			w.apply(ctx, x, hash, lastRun)
		})
	}
}

// quietPlan plans a document, logging only what went wrong and warnings.
func (w *watcher) quietPlan(ctx context.Context, d *plans.Document) (*stepgraph.Graph, bool) {
	target, err := w.plannedTarget(ctx, d)
	if err != nil {
		w.fail(d, err)
		return nil, false
	}
	g, diags, err := planGraph(ctx, d, target)
	if err != nil {
		w.fail(d, err)
		return nil, false
	}
	w.warn(d, diags)
	return g, true
}

// plannedTarget is the target d plans against: the one its worker's plans
// share (see worker.planned), opened when there is none for d's mode.
// It runs on the worker's goroutine.
func (w *watcher) plannedTarget(ctx context.Context, d *plans.Document) (fleet.Target, error) {
	wk := w.worker(d)
	mode := engine.ModeFor(d.Kind)
	if wk.planned != nil && wk.plannedMode == mode {
		return wk.planned, nil
	}
	wk.closePlanned()
	t, err := w.a.openTargetFor(ctx, d.Config, engine.TargetOf(d), mode)
	if err != nil {
		return nil, err
	}
	wk.planned, wk.plannedMode = t, mode
	return t, nil
}

// worker is d's target's worker.
func (w *watcher) worker(d *plans.Document) *worker {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.workerFor(d)
}

// displayFile names a file relative to the working folder when below it.
func displayFile(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}
