package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// TestKilledParallelRollbackUndoesEachStepOnce kills a run while its
// rollback walks backwards in parallel (at the runner's rollback fault
// point, or from outside at a random moment), resumes it until it is rolled
// back, and checks that every applied step was undone exactly once, each
// after every step that needed it.
func TestKilledParallelRollbackUndoesEachStepOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RUNNER_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RUNNER_CRASH_SEED to replay)", seed)
	rnd := rand.New(rand.NewPCG(seed, 17))
	kills := 0
	for round := 0; kills < 6; round++ {
		if round == 10 {
			t.Fatalf("only %d kills landed", kills)
		}
		kills += crashRollbackRound(t, rnd, t.TempDir())
	}
}

func crashRollbackRound(t *testing.T, rnd *rand.Rand, dir string) (kills int) {
	for sessions := 1; ; sessions++ {
		if sessions > 60 {
			t.Fatalf("run not rolled back after %d sessions", sessions)
		}
		var env []string
		var killAfter time.Duration = -1
		switch mode := rnd.IntN(3); {
		case sessions > 30:
		case mode == 0:
			killAfter = time.Duration(rnd.IntN(40_000)) * time.Microsecond
		default:
			env = []string{faults.EnvSpec + "=runner.rollback.before:exit:" + strconv.Itoa(1+rnd.IntN(8)), faults.EnvIKnow + "=yes"}
		}
		out, killed := killableSession(t, "crash-rollback", dir, killAfter, env...)
		if killed {
			kills++
			continue
		}
		if strings.Contains(out, "rolled-back") {
			break
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "effects.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	g := undoGraph()
	for _, s := range g.Steps[:len(g.Steps)-1] {
		if n := strings.Count("\n"+string(data), "\n"+s.ID+"\n"); n != 1 {
			t.Errorf("%s applied %d times", s.ID, n)
		}
		undone := slices.Index(lines, "undo:"+s.ID)
		if n := strings.Count("\n"+string(data), "\nundo:"+s.ID+"\n"); n != 1 {
			t.Errorf("%s undone %d times", s.ID, n)
		}
		for _, need := range s.Needs {
			if slices.Index(lines, "undo:"+need) < undone {
				t.Errorf("%s undone before %s, which needs it", need, s.ID)
			}
		}
	}
	runs, _ := List(dir)
	if rs := mustStatus(t, dir, runs[0].ID); rs.Status != StatusRolledBack {
		t.Fatalf("status %s", rs.Status)
	}
	return kills
}

// undoGraph is 3 layers of 8 steps (each needs two of the layer before)
// and a last step that fails, so the run rolls back.
func undoGraph() *stepgraph.Graph {
	g := graph()
	id := func(i int) string { return fmt.Sprintf("u%02d", i) }
	for i := range 24 {
		s := &stepgraph.Step{ID: id(i), Action: "test.undo-marker"}
		if layer, k := i/8, i%8; layer > 0 {
			s.Needs = []string{id((layer-1)*8 + k), id((layer-1)*8 + (k+3)%8)}
		}
		g.Steps = append(g.Steps, s)
	}
	g.Steps = append(g.Steps, &stepgraph.Step{ID: "boom", Action: "test.undo-marker", Needs: []string{id(23)}})
	g.Parallel = 4
	return g
}

// undoMarker is test.marker with an undo: Rollback appends "undo:<id>" to
// effects.log when the step's line is there and not yet undone. Step
// "boom" fails.
type undoMarker struct{ marker }

func init() { steps.Register("test.undo-marker", &undoMarker{}) }

func (m *undoMarker) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if env.StepID == "boom" {
		return nil, errors.New("boom")
	}
	return m.marker.Apply(ctx, env, in)
}

func (m *undoMarker) Rollback(_ context.Context, env *steps.Env, _ steps.Inputs) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok, err := m.has(env.StepID); !ok || err != nil {
		return err
	}
	if ok, err := m.has("undo:" + env.StepID); ok || err != nil {
		return err
	}
	f, err := os.OpenFile(m.path(), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString("undo:" + env.StepID + "\n"); err != nil {
		return err
	}
	return f.Sync()
}

// helperCrashRollback starts the undo graph, or resumes its run, and
// prints how the run ended.
func helperCrashRollback() int {
	dir := os.Getenv("RUNNER_TEST_DIR")
	o := Options{Dir: dir, Parallel: 1}
	runs, err := List(dir)
	if err != nil {
		fmt.Println("list:", err)
		return 1
	}
	var res *Result
	switch {
	case len(runs) == 0:
		res, _ = Start(context.Background(), undoGraph(), o)
	case runs[0].Status == StatusRolledBack:
		fmt.Println("run rolled-back")
		return 0
	default:
		res, _ = Resume(context.Background(), runs[0].ID, o)
	}
	if res == nil {
		fmt.Println("no run")
		return 1
	}
	fmt.Println("run", res.Status)
	return 0
}
