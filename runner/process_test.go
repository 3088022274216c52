package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// The test binary doubles as a helper process: RUNNER_TEST_HELPER picks what
// it does instead of running tests.
const helperEnv = "RUNNER_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "hold-lock":
		helperHoldLock()
	case "crash-run":
		os.Exit(helperCrashRun())
	case "cancel":
		os.Exit(helperCancel())
	case "crash-rollback":
		os.Exit(helperCrashRollback())
	}
	os.Exit(m.Run())
}

func helperCmd(mode, dir string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "RUNNER_TEST_DIR="+dir)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// helperHoldLock takes the lock of target "t", says so, and waits to be killed.
func helperHoldLock() {
	_, err := acquireLock(os.Getenv("RUNNER_TEST_DIR"), "t",
		Holder{PID: os.Getpid(), Run: "20261122T101500Z-beef", Host: "helper", Since: time.Now().UTC()})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	select {}
}

func TestLockHeldByAnotherProcessUntilItIsKilled(t *testing.T) {
	o := opts(t)
	cmd := helperCmd("hold-lock", o.Dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q", line)
	}

	tr := &trace{}
	g := graph(st("a", newFake(t, tracing(tr))))
	_, err = Start(context.Background(), g, o)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("err %v, want LockedError", err)
	}
	if le.Holder == nil || le.Holder.PID != cmd.Process.Pid || le.Holder.Run != "20261122T101500Z-beef" {
		t.Fatalf("holder %+v, want pid %d", le.Holder, cmd.Process.Pid)
	}
	for _, frag := range []string{`target "t" is locked by run 20261122T101500Z-beef`, fmt.Sprintf("pid %d", cmd.Process.Pid), "since"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q lacks %q", err, frag)
		}
	}
	if hint := fleet.HintOf(err); !strings.Contains(hint, "released as soon as its process exits") {
		t.Errorf("hint %q", hint)
	}
	if len(tr.get()) != 0 {
		t.Fatal("a step ran without the lock")
	}
	if runs, _ := List(o.Dir); len(runs) != 0 {
		t.Fatalf("refused run left %+v", runs)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	res, err := Start(context.Background(), g, o)
	if err != nil || res.Status != StatusDone {
		t.Fatalf("after the holder died: %v %+v", err, res)
	}
}

// Crash test: a helper process runs a 50-step graph whose steps each append
// a marker line (idempotently) to effects.log. It is killed with SIGKILL at
// seeded moments (at a runner fault point, inside an action, or after a
// random delay from outside), sometimes with a torn line added to
// the journal, and resumed each time until the run is done. Then every marker
// exists exactly once and the journal says done. Rounds on fresh folders
// repeat until at least 12 kills have landed.
func TestCrashAndResumeExactlyOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RUNNER_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RUNNER_CRASH_SEED to replay)", seed)
	rnd := rand.New(rand.NewPCG(seed, 99))
	kills, sessions := 0, 0
	for round := 0; kills < 12; round++ {
		if round == 10 {
			t.Fatalf("only %d kills landed in %d sessions", kills, sessions)
		}
		k, n := crashRound(t, rnd, t.TempDir())
		kills += k
		sessions += n
	}
	t.Logf("%d sessions, %d killed with SIGKILL", sessions, kills)
}

// crashRound runs the crash graph in dir to completion through killed
// sessions, checks the outcome, and returns the kills and sessions it took.
func crashRound(t *testing.T, rnd *rand.Rand, dir string) (kills, sessions int) {
	for done := false; !done; {
		sessions++
		if sessions > 100 {
			t.Fatalf("run does not finish after %d sessions", sessions)
		}
		// Where this session dies: from outside after a random delay, at
		// the n-th pass of a runner fault point (FLEETPLAN_FAULTS, as a user
		// would inject it), or inside an action once its effect is written.
		external := false
		var env []string
		switch mode := rnd.IntN(4); {
		case sessions > 40:
			// let it finish
		case mode == 0:
			external = true
		case mode == 1:
			env = []string{"RUNNER_CRASH_AT=" + strconv.Itoa(1+rnd.IntN(4))}
		default:
			point := []string{"runner.step.before", "runner.step.after"}[mode-2]
			env = []string{faults.EnvSpec + "=" + point + ":exit:" + strconv.Itoa(1+rnd.IntN(6)), faults.EnvIKnow + "=yes"}
		}
		var killAfter time.Duration = -1
		if external {
			killAfter = time.Duration(rnd.IntN(30_000)) * time.Microsecond
		}
		out, killed := killableSession(t, "crash-run", dir, killAfter, env...)
		if killed {
			kills++
		} else {
			done = strings.Contains(out, "run done")
		}
		if !done && rnd.IntN(4) == 0 {
			// A torn write at the end of the journal, as a power loss leaves.
			if runs, _ := List(dir); len(runs) == 1 {
				f, err := os.OpenFile(filepath.Join(dir, "runs", runs[0].ID, journalFile), os.O_APPEND|os.O_WRONLY, 0)
				if err == nil {
					f.WriteString(`{"v":1,"t":"2026-11-22T10:15:00Z","type":"step-`)
					f.Close()
				}
			}
		}
	}

	data, err := os.ReadFile(filepath.Join(dir, "effects.log"))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		count[line]++
	}
	for i := range crashSteps {
		id := crashStepID(i)
		if count[id] != 1 {
			t.Errorf("effect of %s exists %d times", id, count[id])
		}
		delete(count, id)
	}
	if len(count) != 0 {
		t.Errorf("unexpected effects %v", count)
	}
	runs, err := List(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	rs := mustStatus(t, dir, runs[0].ID)
	if rs.Status != StatusDone || rs.Done != crashSteps {
		t.Fatalf("status %s, %d/%d done", rs.Status, rs.Done, rs.Total)
	}
	for _, s := range rs.Steps {
		if s.State != StateDone && s.State != StateSkipped {
			t.Errorf("step %s is %s", s.ID, s.State)
		}
	}
	return kills, sessions
}

// killableSession runs a helper process in dir, killing it with SIGKILL
// after killAfter unless that is negative. It returns what the process
// printed and whether it died of SIGKILL; any other failure fails the test.
func killableSession(t *testing.T, mode, dir string, killAfter time.Duration, env ...string) (string, bool) {
	t.Helper()
	cmd := helperCmd(mode, dir, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if killAfter >= 0 {
		time.Sleep(killAfter)
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return out.String(), true
	}
	if err != nil {
		t.Fatalf("%s session: %v\n%s", mode, err, out.String())
	}
	return out.String(), false
}

const crashSteps = 50

func crashStepID(i int) string { return fmt.Sprintf("s%02d", i) }

// crashGraph is 5 layers of 10 steps; each step needs two of the layer before.
func crashGraph() *stepgraph.Graph {
	g := graph()
	for i := range crashSteps {
		s := &stepgraph.Step{ID: crashStepID(i), Action: "test.marker"}
		if layer, k := i/10, i%10; layer > 0 {
			s.Needs = []string{crashStepID((layer-1)*10 + k), crashStepID((layer-1)*10 + (k+3)%10)}
		}
		g.Steps = append(g.Steps, s)
	}
	return g
}

// marker appends "<step id>\n" to effects.log unless the line is there.
type marker struct{ mu sync.Mutex }

func init() { steps.Register("test.marker", &marker{}) }

var crashPoint func()

func (m *marker) path() string { return filepath.Join(os.Getenv("RUNNER_TEST_DIR"), "effects.log") }

func (m *marker) has(id string) (bool, error) {
	data, err := os.ReadFile(m.path())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == id {
			return true, nil
		}
	}
	return false, err
}

func (m *marker) Observe(_ context.Context, env *steps.Env, _ steps.Inputs) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.has(env.StepID)
}

func (m *marker) Apply(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok, err := m.has(env.StepID); ok || err != nil {
		return nil, err
	}
	f, err := os.OpenFile(m.path(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(env.StepID + "\n"); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if crashPoint != nil {
		crashPoint() // the effect is there but the runner has not heard of it
	}
	return steps.Outputs{"marked": env.StepID}, nil
}

func (m *marker) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}
func (m *marker) Estimate(steps.Inputs) steps.Estimate { return steps.Estimate{} }

// helperCrashRun starts the crash graph, or resumes its run; it prints "run
// done" once the run is done. With RUNNER_CRASH_AT=n it kills itself with
// SIGKILL in the n-th Apply, right after writing the marker.
func helperCrashRun() int {
	dir := os.Getenv("RUNNER_TEST_DIR")
	if n, err := strconv.Atoi(os.Getenv("RUNNER_CRASH_AT")); err == nil && n > 0 {
		var passed atomic.Int64
		crashPoint = func() {
			if passed.Add(1) == int64(n) {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	o := Options{Dir: dir, Parallel: 4}
	runs, err := List(dir)
	if err != nil {
		fmt.Println("list:", err)
		return 1
	}
	var res *Result
	if len(runs) == 0 {
		res, err = Start(context.Background(), crashGraph(), o)
	} else if runs[0].Status == StatusDone {
		fmt.Println("run done")
		return 0
	} else {
		res, err = Resume(context.Background(), runs[0].ID, o)
	}
	if err != nil {
		fmt.Println("run:", err)
		return 1
	}
	fmt.Println("run", res.Status)
	return 0
}
