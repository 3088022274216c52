package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watchLine is one JSON line of `fleetplan watch --output json`: a watcher
// event (event set) or an event of a run it started (type set).
type watchLine struct {
	Event   string `json:"event"`
	Type    string `json:"type"`
	Plan    string `json:"plan"`
	File    string `json:"file"`
	Run     string `json:"run"`
	Step    string `json:"step"`
	Message string `json:"message"`
}

// watchProc is a real `fleetplan watch` process whose output is read as it
// comes.
type watchProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	cond *sync.Cond
	log  []watchLine
	raw  []string
	done chan struct{}
	err  error
}

func startWatch(t *testing.T, dir string, args ...string) *watchProc {
	t.Helper()
	return startWatchOf(t, dir, ".", args...)
}

func startWatchOf(t *testing.T, dir, root string, args ...string) *watchProc {
	t.Helper()
	cmd := exec.Command(fleetplanBin, append([]string{"watch", root, "--output", "json", "--debounce", "50ms", "--recheck", "300ms"}, args...)...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &watchProc{t: t, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l watchLine
			_ = json.Unmarshal(sc.Bytes(), &l)
			p.mu.Lock()
			p.log = append(p.log, l)
			p.raw = append(p.raw, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		if stderr.Len() > 0 {
			p.raw = append(p.raw, "stderr: "+stderr.String())
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitFor waits until a line from index `from` on matches, and returns its
// index. The bound only keeps a broken watcher from hanging the test.
func (p *watchProc) waitFor(from int, what string, match func(watchLine) bool) int {
	p.t.Helper()
	deadline := time.AfterFunc(60*time.Second, func() {
		p.mu.Lock()
		p.err = fmt.Errorf("timed out")
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer deadline.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; ; {
		for ; i < len(p.log); i++ {
			if match(p.log[i]) {
				return i
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("watcher ended (%v) before %s; its output:\n%s", p.err, what, strings.Join(p.raw, "\n"))
		default:
		}
		if p.err != nil {
			p.t.Fatalf("no %s; the watcher's output:\n%s", what, strings.Join(p.raw, "\n"))
		}
		p.cond.Wait()
	}
}

func (p *watchProc) count(match func(watchLine) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.log {
		if match(l) {
			n++
		}
	}
	return n
}

func (p *watchProc) line(i int) watchLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log[i]
}

// wait waits for the process to end and returns how.
func (p *watchProc) wait() error {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Fatal("the watcher did not stop")
	}
	return p.err
}

func runDone(plan string) func(watchLine) bool {
	return func(l watchLine) bool {
		return l.Event == "run" && l.Plan == plan && strings.Contains(l.Message, " done: ")
	}
}

func event(ev, plan string) func(watchLine) bool {
	return func(l watchLine) bool { return l.Event == ev && l.Plan == plan }
}

// execPlan is a RollingUpgrade of one exec step that makes a file.
func execPlan(name, command, creates string) string {
	return fmt.Sprintf(`apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: %s}
spec:
  target: local
  steps:
    - {id: make, action: generic.exec, with: {command: %q, creates: %s}}
`, name, command, creates)
}

func newWatchWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if r := fleetplan(t, dir, nil, "fleet", "init", "fleet"); r.err != nil {
		t.Fatalf("fleet init: %v\n%s", r.err, r.stderr)
	}
	write(t, filepath.Join(dir, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n")
	return dir
}

// atomicSave writes a file the way editors do: a temporary file beside it,
// renamed over it.
func atomicSave(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestWatchAppliesEditsAndSurvivesKills runs a real watcher while files are
// saved atomically, put in new folders, broken and fixed, a plan rolls back
// and stays so, and the watcher is stopped by SIGTERM and killed by SIGKILL
// in the middle of a run: the next watcher resumes each run.
func TestWatchAppliesEditsAndSurvivesKills(t *testing.T) {
	dir := newWatchWorkspace(t)
	write(t, filepath.Join(dir, "a.yaml"), execPlan("a", "touch made-a1", "made-a1"))
	w := startWatch(t, dir, "--apply")
	at := w.waitFor(0, "the first apply of a", runDone("a"))
	if !exists(filepath.Join(dir, "made-a1")) {
		t.Fatal("a's step did not run")
	}

	// An atomic save of a new version.
	atomicSave(t, filepath.Join(dir, "a.yaml"), execPlan("a", "touch made-a2", "made-a2"))
	at = w.waitFor(at+1, "a's new version applied", runDone("a"))
	if !exists(filepath.Join(dir, "made-a2")) {
		t.Fatal("a's new version did not run")
	}

	// A new folder with a plan in it, written at once.
	if err := os.MkdirAll(filepath.Join(dir, "team", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "team", "b", "b.yaml"), execPlan("b", "touch made-b", "made-b"))
	at = w.waitFor(at+1, "b applied", runDone("b"))

	// A broken file is reported at its position; fixed, it is applied.
	write(t, filepath.Join(dir, "c.yaml"), "apiVersion: fleetplan/v1\nkind: RollingUpgrade\nmetadata: {name: c}\nspec: [\n")
	i := w.waitFor(at+1, "the broken file reported", func(l watchLine) bool { return l.Event == "invalid" })
	if got := w.line(i).Message; !strings.HasPrefix(got, "c.yaml:4:7: ") || !strings.Contains(got, "(hint: ") {
		t.Errorf("invalid: %q, want c.yaml:4:7: ... (hint: ...)", got)
	}
	atomicSave(t, filepath.Join(dir, "c.yaml"), execPlan("c", "touch made-c", "made-c"))
	at = w.waitFor(i+1, "c applied once fixed", runDone("c"))

	// A plan that fails rolls back, and stays put while other files change.
	write(t, filepath.Join(dir, "f.yaml"), execPlan("f", "exit 4", "made-f"))
	at = w.waitFor(at+1, "f rolled back", func(l watchLine) bool {
		return l.Event == "run" && l.Plan == "f" && strings.Contains(l.Message, "ended rolled-back")
	})
	atomicSave(t, filepath.Join(dir, "a.yaml"), execPlan("a", "touch made-a3", "made-a3"))
	at = w.waitFor(at+1, "a's third version applied", runDone("a"))
	if n := w.count(func(l watchLine) bool { return l.Event == "apply" && l.Plan == "f" }); n != 1 {
		t.Errorf("f was applied %d times, want once: a rolled-back plan stays put", n)
	}

	// A template a plan uses changes: the plan is applied again (only the
	// files concerned are read again).
	tpl := func(made string) string {
		return fmt.Sprintf("apiVersion: fleetplan/v1\nkind: Template\nmetadata: {name: t}\nsteps:\n  - {id: make, action: generic.exec, with: {command: \"touch %s\", creates: %s}}\n", made, made)
	}
	if err := os.Mkdir(filepath.Join(dir, "tpl"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "tpl", "t.yaml"), tpl("made-t1"))
	write(t, filepath.Join(dir, "t.yaml"), "apiVersion: fleetplan/v1\nkind: RollingUpgrade\nmetadata: {name: t}\nspec:\n  target: local\n  uses: tpl/t.yaml\n")
	at = w.waitFor(at+1, "t applied", runDone("t"))
	atomicSave(t, filepath.Join(dir, "tpl", "t.yaml"), tpl("made-t2"))
	at = w.waitFor(at+1, "t applied once its template changed", runDone("t"))
	if !exists(filepath.Join(dir, "made-t2")) {
		t.Fatal("the template's new step did not run")
	}

	// SIGTERM in the middle of a run: the watcher checkpoints and exits 0.
	write(t, filepath.Join(dir, "slow.yaml"), execPlan("slow", "sleep 2; touch made-slow", "made-slow"))
	w.waitFor(at+1, "slow started", func(l watchLine) bool {
		return l.Type == "step-started" && l.Step == "make" && w.runOf(l.Run) == "slow"
	})
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(); err != nil {
		t.Fatalf("after SIGTERM the watcher exited %v, want 0; output:\n%s", err, strings.Join(w.raw, "\n"))
	}
	w.waitFor(0, "stopped", func(l watchLine) bool { return l.Event == "stopped" })

	// The next watcher resumes it first.
	w = startWatch(t, dir, "--apply")
	w.waitFor(0, "the interrupted run resumed", func(l watchLine) bool { return l.Event == "resume" })
	at = w.waitFor(0, "the resumed run done", func(l watchLine) bool {
		return l.Event == "run" && strings.Contains(l.Message, " done: ")
	})
	if !exists(filepath.Join(dir, "made-slow")) {
		t.Fatal("the resumed run did not make its file")
	}
	w.waitFor(0, "slow up to date", event("up-to-date", "slow"))

	// SIGKILL in the middle of a run: nothing is checkpointed by the
	// watcher, the journal says where the run was; the next watcher resumes.
	write(t, filepath.Join(dir, "slow2.yaml"), execPlan("slow2", "sleep 2; touch made-slow2", "made-slow2"))
	w.waitFor(at+1, "slow2 started", func(l watchLine) bool {
		return l.Type == "step-started" && l.Step == "make" && w.runOf(l.Run) == "slow2"
	})
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(); !killedBy(err, syscall.SIGKILL) {
		t.Fatalf("watcher ended %v, want killed", err)
	}
	w = startWatch(t, dir, "--apply")
	w.waitFor(0, "the killed run resumed", func(l watchLine) bool { return l.Event == "resume" })
	w.waitFor(0, "slow2 up to date", event("up-to-date", "slow2"))
	if !exists(filepath.Join(dir, "made-slow2")) {
		t.Fatal("the resumed run did not make its file")
	}
	for _, p := range []string{"a", "b", "c", "t"} {
		w.waitFor(0, p+" up to date", event("up-to-date", p))
	}
	w.waitFor(0, "f stays put", func(l watchLine) bool {
		return l.Event == "hold" && l.Plan == "f" && strings.Contains(l.Message, "stays put")
	})
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(); err != nil {
		t.Fatalf("after SIGINT the watcher exited %v, want 0", err)
	}
}

// runOf names the plan of a run the watcher started, from its run line.
func (p *watchProc) runOf(id string) string {
	if id == "" {
		return ""
	}
	for _, l := range p.log {
		if l.Event == "run" && l.Run == id {
			return l.Plan
		}
	}
	return ""
}

// TestTwoWatchersOneTarget starts two watchers on one repository: a plan
// saved once is applied by one of them, once; the other says it is locked
// or up to date, and never runs it.
func TestTwoWatchersOneTarget(t *testing.T) {
	dir := newWatchWorkspace(t)
	w1 := startWatch(t, dir, "--apply")
	w2 := startWatch(t, dir, "--apply")
	for _, w := range []*watchProc{w1, w2} {
		w.waitFor(0, "watching", func(l watchLine) bool { return l.Event == "watching" })
	}
	write(t, filepath.Join(dir, "p.yaml"), execPlan("p", "sleep 1; echo x >> applied; touch made-p", "made-p"))
	settled := func(w *watchProc) {
		w.waitFor(0, "p settled", func(l watchLine) bool {
			return l.Plan == "p" && (l.Event == "up-to-date" || l.Event == "planned" ||
				l.Event == "run" && strings.Contains(l.Message, " done: "))
		})
	}
	settled(w1)
	settled(w2)
	runs := w1.count(func(l watchLine) bool {
		return l.Event == "run" && l.Plan == "p" && strings.Contains(l.Message, " started: ")
	}) +
		w2.count(func(l watchLine) bool {
			return l.Event == "run" && l.Plan == "p" && strings.Contains(l.Message, " started: ")
		})
	if runs != 1 {
		t.Errorf("p was run %d times by the two watchers, want once", runs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "applied"))
	if err != nil || string(b) != "x\n" {
		t.Errorf("the step ran %q times (%v), want once", b, err)
	}
	t.Logf("first watcher:\n%s\nsecond watcher:\n%s", strings.Join(w1.raw, "\n"), strings.Join(w2.raw, "\n"))
	if r := fleetplan(t, dir, nil, "runs"); strings.Count(r.stdout, " p ") != 1 {
		t.Errorf("runs:\n%s", r.stdout)
	}
}

// TestWatchRespectsTheTargetLock holds the target's lock with an apply of
// a slow plan: a watcher does not apply another plan of that target
// meanwhile, and says who holds the lock; once it is free, it does.
func TestWatchRespectsTheTargetLock(t *testing.T) {
	dir := newWatchWorkspace(t)
	plans := filepath.Join(dir, "plans")
	if err := os.Mkdir(plans, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "slow.yaml"), execPlan("slow", "sleep 3; touch made-slow", "made-slow"))
	write(t, filepath.Join(plans, "q.yaml"), execPlan("q", "touch made-q", "made-q"))
	apply := exec.Command(fleetplanBin, "apply", "slow.yaml", "--auto-approve")
	apply.Dir = dir
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	defer apply.Wait()
	holder := filepath.Join(dir, ".fleetplan", "locks", "local.holder.json")
	for i := 0; !exists(holder); i++ {
		if i > 600 {
			t.Fatal("the apply never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := fleetplan(t, dir, nil, "watch", "plans", "--apply", "--once")
	if r.err != nil {
		t.Fatalf("watch --once: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, `locked RollingUpgrade "q" (plans/q.yaml) on "local": not applied: target "local" is locked by run `) {
		t.Errorf("watch --once while locked:\n%s", r.stdout)
	}
	if exists(filepath.Join(plans, "made-q")) {
		t.Fatal("q was applied while the target was locked")
	}
	if err := apply.Wait(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	r = fleetplan(t, dir, nil, "watch", "plans", "--apply", "--once")
	if r.err != nil || !exists(filepath.Join(plans, "made-q")) {
		t.Fatalf("watch --once once the lock is free: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
}

// TestWatchFollowsASymlinkSwap publishes checkouts the way git-sync does:
// the watched folder is a symlink swapped atomically to a new tree.
func TestWatchFollowsASymlinkSwap(t *testing.T) {
	dir := newWatchWorkspace(t)
	write(t, filepath.Join(dir, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n")
	for i, rev := range []string{"rev1", "rev2"} {
		if err := os.Mkdir(filepath.Join(dir, rev), 0o755); err != nil {
			t.Fatal(err)
		}
		made := filepath.Join(dir, fmt.Sprintf("made-%d", i+1))
		write(t, filepath.Join(dir, rev, "p.yaml"), execPlan("p", "touch "+made, made))
	}
	if err := os.Symlink("rev1", filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	w := startWatchOf(t, dir, "current", "--apply", "--config", "fleetplan.yaml")
	at := w.waitFor(0, "rev1 applied", runDone("p"))
	if err := os.Symlink("rev2", filepath.Join(dir, ".current.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ".current.tmp"), filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	w.waitFor(at+1, "rev2 applied", runDone("p"))
	if !exists(filepath.Join(dir, "made-2")) {
		t.Fatal("the swapped-in version did not run")
	}
	// The same content published again at a new path is not applied again.
	if err := exec.Command("cp", "-a", filepath.Join(dir, "rev2"), filepath.Join(dir, "rev3")).Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("rev3", filepath.Join(dir, ".current.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ".current.tmp"), filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	at = w.waitFor(at+1, "the same version seen at its new path", event("up-to-date", "p"))
	// The old trees go; the new one is watched.
	for _, rev := range []string{"rev1", "rev2"} {
		if err := os.RemoveAll(filepath.Join(dir, rev)); err != nil {
			t.Fatal(err)
		}
	}
	made := filepath.Join(dir, "made-3")
	atomicSave(t, filepath.Join(dir, "rev3", "p.yaml"), execPlan("p", "touch "+made, made))
	w.waitFor(at+1, "an edit in the new tree applied", func(l watchLine) bool {
		return runDone("p")(l) && exists(made)
	})
}
