package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

func TestParallelLimitRespected(t *testing.T) {
	cases := map[string]struct{ parallel, steps int }{
		"one at a time": {1, 6},
		"three":         {3, 21},
		"four":          {4, 24},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var cur, peak atomic.Int64
			// A barrier releases steps in groups of `parallel`: the limit is
			// reached (the run would stall at the barrier otherwise, until
			// its escape timer) and never exceeded (peak).
			var mu sync.Mutex
			arrived := 0
			gen := make(chan struct{})
			fake := newFake(t, &fakeAction{apply: func(ctx context.Context, _ *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				mu.Lock()
				arrived++
				wait := gen
				if arrived%tc.parallel == 0 {
					close(gen)
					gen = make(chan struct{})
				}
				mu.Unlock()
				select {
				case <-wait:
				case <-time.After(10 * time.Second):
				}
				cur.Add(-1)
				return nil, nil
			}})
			var ss []*stepgraph.Step
			for i := range tc.steps {
				ss = append(ss, st(fmt.Sprintf("s%02d", i), fake))
			}
			o := opts(t)
			o.Parallel = tc.parallel
			res, err := Start(context.Background(), graph(ss...), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusDone || res.Done != tc.steps {
				t.Fatalf("result %+v", res)
			}
			if got := peak.Load(); got != int64(tc.parallel) {
				t.Fatalf("peak concurrency %d, want exactly %d", got, tc.parallel)
			}
		})
	}
}

func TestNeedsRespected(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 7))
			var mu sync.Mutex
			done := map[string]bool{}
			var violations []string
			g := graph()
			needsOf := map[string][]string{}
			fake := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
				mu.Lock()
				for _, n := range needsOf[env.StepID] {
					if !done[n] {
						violations = append(violations, env.StepID+" ran before "+n)
					}
				}
				pause := time.Duration(rnd.IntN(200)) * time.Microsecond
				mu.Unlock()
				time.Sleep(pause)
				mu.Lock()
				done[env.StepID] = true
				mu.Unlock()
				return nil, nil
			}})
			for i := range 40 {
				id := fmt.Sprintf("s%02d", i)
				var needs []string
				for j := 0; j < i; j++ {
					if rnd.IntN(8) == 0 {
						needs = append(needs, fmt.Sprintf("s%02d", j))
					}
				}
				needsOf[id] = needs
				g.Steps = append(g.Steps, st(id, fake, needs...))
			}
			o := opts(t)
			o.Parallel = 5
			res, err := Start(context.Background(), g, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Done != 40 || len(violations) > 0 {
				t.Fatalf("done %d, violations %v", res.Done, violations)
			}
			// The journal agrees: no step starts before its needs are done.
			pos := map[string]int{}
			for i, r := range journalOf(t, o.Dir, res.RunID) {
				pos[string(r.Type)+" "+r.Step] = i
			}
			for id, needs := range needsOf {
				for _, n := range needs {
					if pos["step-done "+n] > pos["step-started "+id] {
						t.Errorf("journal: %s started before %s was done", id, n)
					}
				}
			}
		})
	}
}

func TestFailureRollsBackInReverseCompletionOrder(t *testing.T) {
	tr := &trace{}
	ok := newFake(t, tracing(tr))
	boom := errors.New("boom")
	failing := newFake(t, &fakeAction{
		apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
			tr.add("apply:" + env.StepID)
			return nil, boom
		},
		rollback: func(_ context.Context, env *steps.Env, _ steps.Inputs) error {
			tr.add("rollback:" + env.StepID)
			return nil
		},
	})
	noUndo := newFake(t, &fakeAction{apply: tracing(tr).apply}) // Rollback: ErrNoRollback
	branch := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
		tr.add("branch:" + env.StepID + ":" + in["what"].(string))
		return nil, nil
	}})
	b := st("b", ok, "a")
	b.Rollback = &stepgraph.Step{ID: "b-undo", Action: "test.fake", With: map[string]any{"fake": branch, "what": "undo-b"}}
	g := graph(
		st("a", ok),
		b,
		st("c", ok, "b"),
		st("d", noUndo),
		st("e", failing, "c"),
		st("f", ok, "e"),
	)
	o := opts(t)
	o.Parallel = 1
	res, err := Start(context.Background(), g, o)
	var re *RunError
	if !errors.As(err, &re) || re.Status != StatusRolledBack {
		t.Fatalf("err = %v, want RunError rolled-back", err)
	}
	if !strings.Contains(res.Reason, `step "e" failed: boom`) {
		t.Fatalf("reason %q", res.Reason)
	}
	want := []string{
		"apply:a", "apply:d", "apply:b", "apply:c", "apply:e",
		// e applied and failed (partial effect), then c, b (its branch), d (nothing to undo), a.
		"rollback:e", "rollback:c", "branch:b:undo-b", "rollback:a",
	}
	if diff := cmp.Diff(want, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	rs := mustStatus(t, o.Dir, res.RunID)
	if rs.Status != StatusRolledBack {
		t.Fatalf("status %s", rs.Status)
	}
	wantStates := map[string][2]string{
		"a": {StateDone, RollbackStateDone}, "b": {StateDone, RollbackStateDone},
		"c": {StateDone, RollbackStateDone}, "d": {StateDone, RollbackStateNothing},
		"e": {StateFailed, RollbackStateDone}, "f": {StatePending, RollbackStateNone},
	}
	for id, w := range wantStates {
		s := stepState(rs, id)
		if s.State != w[0] || s.Rollback != w[1] {
			t.Errorf("step %s: state %s/%s, want %s/%s", id, s.State, s.Rollback, w[0], w[1])
		}
	}
	if _, err := Rollback(context.Background(), res.RunID, o); err == nil {
		t.Fatal("rolling back a rolled-back run should fail")
	}
	if _, err := Resume(context.Background(), res.RunID, o); err == nil {
		t.Fatal("resuming a rolled-back run should fail")
	}
}

func TestFailureLetsRunningStepsFinishAndStartsNothingNew(t *testing.T) {
	tr := &trace{}
	o := opts(t)
	slow := newFake(t, &fakeAction{
		apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
			// Still running when the other step's failure is journaled.
			for i := 0; i < 10000; i++ {
				if stepState(mustStatus(t, o.Dir, env.RunID), "fast").State == StateFailed {
					break
				}
				time.Sleep(time.Millisecond)
			}
			tr.add("apply:" + env.StepID)
			return nil, nil
		},
		rollback: tracing(tr).rollback,
	})
	fast := newFake(t, &fakeAction{apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
		return nil, errors.New("no")
	}})
	ok := newFake(t, tracing(tr))
	g := graph(st("slow", slow), st("fast", fast), st("later", ok), st("after-slow", ok, "slow"))
	o.Parallel = 2
	res, err := Start(context.Background(), g, o)
	if err == nil {
		t.Fatal("want failure")
	}
	want := []string{"apply:slow", "rollback:slow"}
	if diff := cmp.Diff(want, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	if res.Status != StatusRolledBack {
		t.Fatalf("status %s", res.Status)
	}
}

func TestRollbackFailureIsReportedAndCanBeRetried(t *testing.T) {
	tr := &trace{}
	var undoFails atomic.Bool
	undoFails.Store(true)
	ok := newFake(t, tracing(tr))
	stubborn := newFake(t, &fakeAction{
		apply: tracing(tr).apply,
		rollback: func(_ context.Context, env *steps.Env, _ steps.Inputs) error {
			if undoFails.Load() {
				return errors.New("database is read-only")
			}
			tr.add("rollback:" + env.StepID)
			return nil
		},
	})
	bad := newFake(t, &fakeAction{apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
		return nil, errors.New("broken")
	}})
	g := graph(st("a", ok), st("b", stubborn, "a"), st("c", ok, "b"), st("d", bad, "c"))
	o := opts(t)
	o.Parallel = 1
	res, err := Start(context.Background(), g, o)
	var re *RunError
	if !errors.As(err, &re) || re.Status != StatusRollbackFailed {
		t.Fatalf("err %v, want rollback-failed", err)
	}
	for _, frag := range []string{`rollback of step "b" failed: database is read-only`, `step "d" failed: broken`} {
		if !strings.Contains(res.Reason, frag) {
			t.Errorf("reason %q lacks %q", res.Reason, frag)
		}
	}
	if diff := cmp.Diff([]string{"apply:a", "apply:b", "apply:c", "rollback:c"}, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	undoFails.Store(false)
	res, err = Rollback(context.Background(), res.RunID, o)
	if err != nil || res.Status != StatusRolledBack {
		t.Fatalf("retry rollback: %v %+v", err, res)
	}
	// c is not undone twice; b and then a are.
	want := []string{"apply:a", "apply:b", "apply:c", "rollback:c", "rollback:b", "rollback:a"}
	if diff := cmp.Diff(want, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
}

func TestPauseThenResumeRetriesFailedStep(t *testing.T) {
	tr := &trace{}
	var calls atomic.Int64
	flaky := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("disk full")
		}
		tr.add("apply:" + env.StepID)
		return steps.Outputs{"rows": 42}, nil
	}})
	ok := newFake(t, tracing(tr))
	g := graph(st("a", ok), st("b", flaky, "a"), st("c", ok, "b"))
	g.OnFailure = "pause"
	o := opts(t)
	res, err := Start(context.Background(), g, o)
	var re *RunError
	if !errors.As(err, &re) || res.Status != StatusPaused {
		t.Fatalf("err %v status %s, want paused", err, res.Status)
	}
	if rs := mustStatus(t, o.Dir, res.RunID); rs.Status != StatusPaused || stepState(rs, "b").Error != "disk full" {
		t.Fatalf("status %+v", rs)
	}
	if id, _ := NewestUnfinished(o.Dir, "t"); id != res.RunID {
		t.Fatalf("newest unfinished %q, want %q", id, res.RunID)
	}
	res, err = Resume(context.Background(), res.RunID, o)
	if err != nil || res.Status != StatusDone || res.Done != 3 {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if diff := cmp.Diff([]string{"apply:a", "apply:b", "apply:c"}, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	rs := mustStatus(t, o.Dir, res.RunID)
	if got := stepState(rs, "b").Outputs["rows"]; got != float64(42) {
		t.Fatalf("outputs of b: %v", got)
	}
	if _, err := NewestUnfinished(o.Dir, "t"); err == nil {
		t.Fatal("no run should be unfinished")
	}
}

// An interrupted session leaves a step started but not finished, and a torn
// last journal line; resume re-runs the step (or skips it when its effect is
// already live) and truncates the torn line.
func TestResumeAfterInterruptedSession(t *testing.T) {
	cases := map[string]struct {
		liveAfterCrash bool // the interrupted step's effect landed before the crash
		torn           string
	}{
		"re-run started step, torn line":      {false, `{"v":1,"t":"2026-11-22T10:15:00Z","type":"step-do`},
		"re-run started step, garbled line":   {false, "\x00\x00garbage\n"},
		"effect already live, skipped as own": {true, `{"v":1,"ty`},
		"re-run started step, clean journal":  {false, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tr := &trace{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var applied atomic.Int64
			var effect atomic.Bool
			crashy := newFake(t, &fakeAction{
				observe: func(context.Context, *steps.Env, steps.Inputs) (bool, error) { return effect.Load(), nil },
				apply: func(ctx context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
					if applied.Add(1) == 1 {
						if tc.liveAfterCrash {
							effect.Store(true)
						}
						cancel() // the process is being stopped mid-step
						<-ctx.Done()
						return nil, ctx.Err()
					}
					tr.add("apply:" + env.StepID)
					effect.Store(true)
					return nil, nil
				},
				rollback: tracing(tr).rollback,
			})
			ok := newFake(t, tracing(tr))
			g := graph(st("a", ok), st("b", crashy, "a"), st("c", ok, "b"))
			o := opts(t)
			o.Parallel = 1
			res, err := Start(ctx, g, o)
			if res == nil || res.Status != StatusInterrupted || err == nil {
				t.Fatalf("first session: %v %+v", err, res)
			}
			if got := types(journalOf(t, o.Dir, res.RunID), "b"); !slices.Equal(got, []RecordType{StepStarted, StepApplying}) {
				t.Fatalf("b journal %v, want started and applying only", got)
			}
			jpath := filepath.Join(o.Dir, "runs", res.RunID, journalFile)
			f, _ := os.OpenFile(jpath, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(tc.torn)
			f.Close()
			if rs := mustStatus(t, o.Dir, res.RunID); rs.Status != StatusInterrupted || stepState(rs, "b").State != StateRunning {
				t.Fatalf("status before resume: %s, b %s", rs.Status, stepState(rs, "b").State)
			}

			res, err = Resume(context.Background(), res.RunID, o)
			if err != nil || res.Status != StatusDone {
				t.Fatalf("resume: %v %+v", err, res)
			}
			want := []string{"apply:a", "apply:b", "apply:c"}
			wantB := []RecordType{StepStarted, StepApplying, StepStarted, StepApplying, StepDone}
			if tc.liveAfterCrash {
				want = []string{"apply:a", "apply:c"}
				wantB = []RecordType{StepStarted, StepApplying, StepStarted, StepSkipped}
			}
			if diff := cmp.Diff(want, tr.get()); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
			data, _ := os.ReadFile(jpath)
			recs, valid, err := parseJournal(jpath, data)
			if err != nil || valid != int64(len(data)) {
				t.Fatalf("journal not clean after resume: %v, %d of %d bytes valid", err, valid, len(data))
			}
			if got := types(recs, "b"); !slices.Equal(got, wantB) {
				t.Fatalf("b journal %v, want %v", got, wantB)
			}
			// The skipped step's effect is this run's own: a rollback undoes it.
			if _, err = Rollback(context.Background(), res.RunID, o); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(tr.get(), "rollback:b") {
				t.Fatalf("rollback did not undo b: %v", tr.get())
			}
		})
	}
}

func TestResumeAfterCrashBeforeFirstRecord(t *testing.T) {
	// A run folder with a plan and an empty journal: the process died right
	// after creating it.
	o := opts(t)
	tr := &trace{}
	g := graph(st("a", newFake(t, tracing(tr))))
	runDir := filepath.Join(o.Dir, "runs", "20261122T101500Z-0001")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(g)
	if err := writeFileAtomic(filepath.Join(runDir, planFile), b); err != nil {
		t.Fatal(err)
	}
	id, err := NewestUnfinished(o.Dir, "")
	if err != nil || id != "20261122T101500Z-0001" {
		t.Fatalf("newest unfinished %q, %v", id, err)
	}
	runs, _ := List(o.Dir)
	if len(runs) != 1 || runs[0].Status != StatusInterrupted || runs[0].Plan != "test-plan" || runs[0].Total != 1 {
		t.Fatalf("list %+v", runs)
	}
	res, err := Resume(context.Background(), id, o)
	if err != nil || res.Status != StatusDone {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestTransientErrorsRetriedWithBackoff(t *testing.T) {
	cases := map[string]struct {
		failures  int
		err       error
		policy    *stepgraph.RetryPolicy
		wantState string
		wantTries int // attempts made
		// wantTotal, when set, is the exact sum of waits expected.
		wantTotal time.Duration
	}{
		"three 40613 then success":    {failures: 3, err: &fleet.Error{Op: "copy", Code: 40613}, wantState: StateDone, wantTries: 4},
		"transient wrapped in %w":     {failures: 1, err: fmt.Errorf("copy: %w", &fleet.Error{Code: 10054}), wantState: StateDone, wantTries: 2},
		"non-transient fails at once": {failures: 1, err: &fleet.Error{Op: "copy", Code: 547}, wantState: StateFailed, wantTries: 1},
		"budget exhausted": {
			failures: 1 << 30, err: &fleet.Error{Code: 40613},
			policy:    &stepgraph.RetryPolicy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, Budget: 3 * time.Second},
			wantState: StateFailed, wantTotal: 3 * time.Second,
		},
		"default budget outlasts a 30 s failover": {
			failures: 1 << 30, err: &fleet.Error{Code: 40613},
			wantState: StateFailed, wantTotal: DefaultRetry.Budget,
		},
		"attempts limit": {
			failures: 1 << 30, err: &fleet.Error{Code: 40501},
			policy:    &stepgraph.RetryPolicy{Attempts: 3},
			wantState: StateFailed, wantTries: 3,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			fake := newFake(t, &fakeAction{apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
				if calls.Add(1) <= int64(tc.failures) {
					return nil, tc.err
				}
				return nil, nil
			}})
			s := st("s", fake)
			s.Retry = tc.policy
			fs := &fakeSleep{}
			o := opts(t)
			o.Sleep = fs.sleep
			res, _ := Start(context.Background(), graph(s), o)
			rs := mustStatus(t, o.Dir, res.RunID)
			ss := stepState(rs, "s")
			if ss.State != tc.wantState {
				t.Fatalf("state %s (%s), want %s", ss.State, ss.Error, tc.wantState)
			}
			if tc.wantTries != 0 && int(calls.Load()) != tc.wantTries {
				t.Fatalf("attempts %d, want %d", calls.Load(), tc.wantTries)
			}
			if ss.Retries != len(fs.waits) || rs.Waited != fs.total() {
				t.Fatalf("journal says %d retries waiting %s; slept %d times for %s", ss.Retries, rs.Waited, len(fs.waits), fs.total())
			}
			if tc.wantTotal != 0 {
				if fs.total() != tc.wantTotal {
					t.Fatalf("waited %s in total, want exactly the budget %s", fs.total(), tc.wantTotal)
				}
				if !strings.Contains(ss.Error, "gave up after") {
					t.Fatalf("error %q", ss.Error)
				}
			}
			p := mergeRetry(tc.policy, DefaultRetry)
			for i, w := range fs.waits {
				ceil := p.Max
				if i < 20 {
					ceil = min(p.Initial<<i, p.Max)
				}
				if w < 0 || w > ceil {
					t.Fatalf("wait %d = %s outside [0, %s]", i, w, ceil)
				}
			}
		})
	}
}

func TestStepTimeout(t *testing.T) {
	fake := newFake(t, &fakeAction{apply: func(ctx context.Context, _ *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	s := st("slow", fake)
	s.Timeout = 20 * time.Millisecond
	o := opts(t)
	res, err := Start(context.Background(), graph(s), o)
	if err == nil || !strings.Contains(res.Reason, "timed out after 20ms") {
		t.Fatalf("err %v, reason %q", err, res.Reason)
	}
}

// evaluator is a func-field Evaluator.
type evaluator struct {
	guard  func(step *stepgraph.Step, st State) (bool, string, error)
	inputs func(step *stepgraph.Step, st State) (steps.Inputs, error)
}

func (e evaluator) Guard(_ context.Context, step *stepgraph.Step, st State) (bool, string, error) {
	if e.guard == nil {
		return Literal{}.Guard(context.Background(), step, st)
	}
	return e.guard(step, st)
}

func (e evaluator) Inputs(_ context.Context, step *stepgraph.Step, st State) (steps.Inputs, error) {
	if e.inputs == nil {
		return Literal{}.Inputs(context.Background(), step, st)
	}
	return e.inputs(step, st)
}

func TestGuards(t *testing.T) {
	guarded := func(fake string) *stepgraph.Step {
		s := st("move", fake)
		s.Guard = &stepgraph.Guard{Name: "all-online", Expr: "all(live.shards, .online)"}
		return s
	}
	cases := map[string]struct {
		eval      Evaluator
		wait      *stepgraph.Wait
		wantState string
		wantErr   []string
		wantWaits int
	}{
		"failed guard shows name, expression and values": {
			eval: evaluator{guard: func(*stepgraph.Step, State) (bool, string, error) {
				return false, "live.shards[1].online = false", nil
			}},
			wantState: StateFailed,
			wantErr:   []string{`guard "all-online"`, "all(live.shards, .online)", "saw: live.shards[1].online = false"},
		},
		"holding guard": {
			eval:      evaluator{guard: func(*stepgraph.Step, State) (bool, string, error) { return true, "", nil }},
			wantState: StateDone,
		},
		"no evaluator for a guard fails safe": {
			eval: Literal{}, wantState: StateFailed, wantErr: []string{"no expression evaluator"},
		},
		"guard evaluation error": {
			eval: evaluator{guard: func(*stepgraph.Step, State) (bool, string, error) {
				return false, "", errors.New("unknown name shardz")
			}},
			wantState: StateFailed, wantErr: []string{`evaluate guard "all-online": unknown name shardz`},
		},
		"guard waited for until it holds": {
			eval: func() Evaluator {
				var n atomic.Int64
				return evaluator{guard: func(*stepgraph.Step, State) (bool, string, error) { return n.Add(1) > 2, "lag = 3", nil }}
			}(),
			wait:      &stepgraph.Wait{Timeout: 10 * time.Second, Interval: time.Second},
			wantState: StateDone, wantWaits: 2,
		},
		"guard wait times out": {
			eval:      evaluator{guard: func(*stepgraph.Step, State) (bool, string, error) { return false, "lag = 3", nil }},
			wait:      &stepgraph.Wait{Timeout: 3 * time.Second, Interval: time.Second},
			wantState: StateFailed, wantWaits: 3, wantErr: []string{"lag = 3 after waiting 3s"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := guarded(newFake(t, &fakeAction{}))
			s.Guard.Wait = tc.wait
			fs := &fakeSleep{}
			o := opts(t)
			o.Evaluator, o.Sleep = tc.eval, fs.sleep
			res, _ := Start(context.Background(), graph(s), o)
			ss := stepState(mustStatus(t, o.Dir, res.RunID), "move")
			if ss.State != tc.wantState {
				t.Fatalf("state %s (%s), want %s", ss.State, ss.Error, tc.wantState)
			}
			for _, frag := range tc.wantErr {
				if !strings.Contains(ss.Error, frag) || !strings.Contains(res.Reason, frag) {
					t.Errorf("error %q / reason %q lacks %q", ss.Error, res.Reason, frag)
				}
			}
			if len(fs.waits) != tc.wantWaits {
				t.Errorf("waits %v, want %d", fs.waits, tc.wantWaits)
			}
		})
	}
}

func TestEvaluatorSeesOutputsOfDoneSteps(t *testing.T) {
	producer := newFake(t, &fakeAction{apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
		return steps.Outputs{"lagSeconds": 0, "shard": "customers_2"}, nil
	}})
	var got steps.Inputs
	consumer := newFake(t, &fakeAction{apply: func(_ context.Context, _ *steps.Env, in steps.Inputs) (steps.Outputs, error) {
		got = in
		return nil, nil
	}})
	o := opts(t)
	o.Evaluator = evaluator{inputs: func(step *stepgraph.Step, st State) (steps.Inputs, error) {
		in, _ := Literal{}.Inputs(context.Background(), step, st)
		if step.ID == "use" {
			status, out, ok := st.Step("make")
			in["from"] = fmt.Sprint(status, " ", out["shard"], " ", ok, " ", st.Run().Plan, " ", st.Run().Session, " ", st.StepIDs())
		}
		return in, nil
	}}
	if _, err := Start(context.Background(), graph(st("make", producer), st("use", consumer, "make")), o); err != nil {
		t.Fatal(err)
	}
	if got["from"] != "done customers_2 true test-plan 1 [make use]" {
		t.Fatalf("inputs %v", got)
	}
}

func TestApprovalFlow(t *testing.T) {
	for _, approve := range []bool{true, false} {
		t.Run(fmt.Sprint("approve=", approve), func(t *testing.T) {
			tr := &trace{}
			ok := newFake(t, tracing(tr))
			gate := st("switch", ok, "prepare")
			gate.Approval = true
			g := graph(st("prepare", ok), gate, st("cleanup", ok, "switch"), st("side", ok))
			o := opts(t)
			o.Parallel = 1
			res, err := Start(context.Background(), g, o)
			if err != nil || res.Status != StatusAwaitingApproval || !slices.Equal(res.Awaiting, []string{"switch"}) {
				t.Fatalf("start: %v %+v", err, res)
			}
			if diff := cmp.Diff([]string{"apply:prepare", "apply:side"}, tr.get()); diff != "" {
				t.Fatalf("calls before approval (-want +got):\n%s", diff)
			}
			// The lock is released while waiting: status sees no live holder.
			rs := mustStatus(t, o.Dir, res.RunID)
			if rs.Holder != nil || stepState(rs, "switch").State != StateAwaitingApproval {
				t.Fatalf("status %+v", rs)
			}
			if err := Approve(o.Dir, res.RunID, "cleanup", "alice"); err == nil {
				t.Fatal("approving a step that does not await approval should fail")
			}
			if err := Approve(o.Dir, res.RunID, "nope", "alice"); err == nil {
				t.Fatal("approving an unknown step should fail")
			}
			// Resuming before a decision stops again, without running the gate.
			if res, err := Resume(context.Background(), res.RunID, o); err != nil || res.Status != StatusAwaitingApproval {
				t.Fatalf("resume before decision: %v %+v", err, res)
			}
			if approve {
				if err := Approve(o.Dir, res.RunID, "switch", "alice"); err != nil {
					t.Fatal(err)
				}
				if s := stepState(mustStatus(t, o.Dir, res.RunID), "switch"); s.State != StateApproved || s.ApprovedBy != "alice" {
					t.Fatalf("after approve: %+v", s)
				}
			} else {
				if err := Reject(o.Dir, res.RunID, "switch", "bob", "numbers look wrong"); err != nil {
					t.Fatal(err)
				}
			}
			res, err = Resume(context.Background(), res.RunID, o)
			if approve {
				if err != nil || res.Status != StatusDone {
					t.Fatalf("resume: %v %+v", err, res)
				}
				want := []string{"apply:prepare", "apply:side", "apply:switch", "apply:cleanup"}
				if diff := cmp.Diff(want, tr.get()); diff != "" {
					t.Fatalf("calls (-want +got):\n%s", diff)
				}
				return
			}
			if res.Status != StatusRolledBack || !strings.Contains(res.Reason, `"switch" was rejected by bob: numbers look wrong`) {
				t.Fatalf("resume after reject: %v %+v", err, res)
			}
			want := []string{"apply:prepare", "apply:side", "rollback:side", "rollback:prepare"}
			if diff := cmp.Diff(want, tr.get()); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Run("live run stops between steps without rollback", func(t *testing.T) {
		tr := &trace{}
		o := opts(t)
		ok := newFake(t, tracing(tr))
		canceller := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
			tr.add("apply:" + env.StepID)
			if rs := mustStatus(t, o.Dir, env.RunID); rs.Status != StatusRunning || rs.Holder == nil || rs.Holder.PID != os.Getpid() {
				t.Errorf("live status %+v", rs)
			}
			return nil, Cancel(o.Dir, env.RunID)
		}, rollback: tracing(tr).rollback})
		o.Parallel = 1
		res, err := Start(context.Background(), graph(st("a", ok), st("b", canceller, "a"), st("c", ok, "b")), o)
		var re *RunError
		if !errors.As(err, &re) || res.Status != StatusCancelled {
			t.Fatalf("%v %+v", err, res)
		}
		if diff := cmp.Diff([]string{"apply:a", "apply:b"}, tr.get()); diff != "" {
			t.Fatalf("calls (-want +got):\n%s", diff)
		}
		if _, err := Resume(context.Background(), res.RunID, o); err == nil {
			t.Fatal("resuming a cancelled run should fail")
		}
		if err := Cancel(o.Dir, res.RunID); err == nil {
			t.Fatal("cancelling a cancelled run should fail")
		}
		// A cancelled run can still be undone.
		if res, err := Rollback(context.Background(), res.RunID, o); err != nil || res.Status != StatusRolledBack {
			t.Fatalf("rollback: %v %+v", err, res)
		}
		if diff := cmp.Diff([]string{"apply:a", "apply:b", "rollback:b", "rollback:a"}, tr.get()); diff != "" {
			t.Fatalf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("idle run is cancelled at once; finished run refuses", func(t *testing.T) {
		o := opts(t)
		ok := newFake(t, &fakeAction{})
		gate := st("gate", ok)
		gate.Approval = true
		res, _ := Start(context.Background(), graph(gate), o)
		if err := Cancel(o.Dir, res.RunID); err != nil {
			t.Fatal(err)
		}
		if s := mustStatus(t, o.Dir, res.RunID).Status; s != StatusCancelled {
			t.Fatalf("status %s", s)
		}
		done, err := Start(context.Background(), graph(st("x", ok)), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := Cancel(o.Dir, done.RunID); err == nil || !strings.Contains(err.Error(), "already ended done") {
			t.Fatalf("cancel finished: %v", err)
		}
	})
}

func TestEventsForTransitionsAndProgress(t *testing.T) {
	var evs []Event
	fake := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		env.Progress(500, 1000, "rows")
		env.Logf("copied %d rows", 500)
		return nil, nil
	}})
	o := opts(t)
	o.Events = EventFunc(func(e Event) { evs = append(evs, e) })
	res, err := Start(context.Background(), graph(st("a", fake), st("b", fake, "a")), o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Run != res.RunID {
			t.Fatalf("event for run %q", e.Run)
		}
		s := e.Type + " " + e.Step
		switch e.Type {
		case EventProgress:
			s += fmt.Sprintf(" %d/%d %s", e.Done, e.Total, e.Unit)
		case EventLog:
			s += " " + e.Message
		case string(StepDone), string(RunDone):
			s += fmt.Sprintf(" %d/%d %s", e.Done, e.Total, e.Unit)
		}
		got = append(got, s)
	}
	want := []string{
		"run-started ", "step-started a", "progress a 500/1000 rows", "log a copied 500 rows",
		"step-done a 1/2 steps", "step-started b", "progress b 500/1000 rows", "log b copied 500 rows",
		"step-done b 2/2 steps", "run-done  2/2 steps",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestStartRefusesBadInput(t *testing.T) {
	ok := newFake(t, &fakeAction{})
	cases := map[string]struct {
		g    *stepgraph.Graph
		opt  func(*Options)
		want string
	}{
		"unknown action": {g: graph(&stepgraph.Step{ID: "x", Action: "nope.nothing"}), want: `unknown action "nope.nothing"`},
		"cycle":          {g: graph(st("a", ok, "b"), st("b", ok, "a")), want: "cycle"},
		"no dir":         {g: graph(st("a", ok)), opt: func(o *Options) { o.Dir = "" }, want: "Options.Dir"},
		"target mismatch": {g: graph(st("a", ok)), opt: func(o *Options) { o.Target = namedTarget("other") },
			want: `plan is for target "t"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := opts(t)
			if tc.opt != nil {
				tc.opt(&o)
			}
			_, err := Start(context.Background(), tc.g, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if o.Dir != "" {
				if runs, _ := List(o.Dir); len(runs) != 0 {
					t.Fatalf("a refused run left %d runs behind", len(runs))
				}
			}
		})
	}
}

type namedTarget string

func (n namedTarget) Name() string             { return string(n) }
func (namedTarget) Driver() string             { return "fake" }
func (namedTarget) Close() error               { return nil }
func (namedTarget) Ping(context.Context) error { return nil }

func TestListAndNewest(t *testing.T) {
	o := opts(t)
	ok := newFake(t, &fakeAction{})
	gate := st("gate", ok)
	gate.Approval = true
	var ids []string
	for _, g := range []*stepgraph.Graph{graph(st("a", ok)), graph(gate), graph(st("b", ok))} {
		res, err := Start(context.Background(), g, o)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.RunID)
	}
	runs, err := List(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("runs %+v", runs)
	}
	got := map[string]string{}
	for _, r := range runs {
		got[r.ID] = r.Status
		if r.Plan != "test-plan" || r.Target != "t" || r.Total != 1 || r.Started.IsZero() {
			t.Fatalf("summary %+v", r)
		}
	}
	want := map[string]string{ids[0]: StatusDone, ids[1]: StatusAwaitingApproval, ids[2]: StatusDone}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if id, _ := NewestUnfinished(o.Dir, "t"); id != ids[1] {
		t.Fatalf("newest unfinished %s, want %s", id, ids[1])
	}
	if _, err := NewestUnfinished(o.Dir, "elsewhere"); err == nil {
		t.Fatal("no run for that target")
	}
	if id, _ := Newest(o.Dir); id != runs[2].ID {
		t.Fatalf("newest %s", id)
	}
}

// TestGraphLimitOutlivesTheSession: the graph's step limit (kept in
// plan.json) holds in every session of a run, whatever limit the options of
// a later command ask for. Concurrency is read from the journal: steps
// started and not yet finished at once.
func TestGraphLimitOutlivesTheSession(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int64
			fake := newFake(t, &fakeAction{apply: func(ctx context.Context, _ *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
				if calls.Add(1) == 1 {
					cancel() // the first session stops inside its first step
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return nil, nil
			}})
			var ss []*stepgraph.Step
			for i := range 8 {
				ss = append(ss, st(fmt.Sprintf("s%d", i), fake))
			}
			g := graph(ss...)
			g.Parallel = limit
			o := opts(t)
			o.Parallel = 8
			res, err := Start(ctx, g, o)
			if res == nil || res.Status != StatusInterrupted || err == nil {
				t.Fatalf("first session: %v %+v", err, res)
			}
			if res, err = Resume(context.Background(), res.RunID, o); err != nil || res.Status != StatusDone {
				t.Fatalf("resume: %v %+v", err, res)
			}
			var peaks []int
			running := map[string]bool{}
			for _, rec := range journalOf(t, o.Dir, res.RunID) {
				switch rec.Type {
				case RunStarted, RunResumed:
					peaks = append(peaks, 0)
					clear(running)
				case StepStarted:
					running[rec.Step] = true
					peaks[len(peaks)-1] = max(peaks[len(peaks)-1], len(running))
				case StepDone, StepSkipped, StepFailed:
					delete(running, rec.Step)
				}
			}
			// Eight steps are ready in each session: the limit is reached, never passed.
			if want := []int{limit, limit}; !slices.Equal(peaks, want) {
				t.Fatalf("steps at once per session %v, want %v", peaks, want)
			}
		})
	}
}

// TestStepThatNeverAppliedIsNotUndone: a step interrupted before its Apply
// (the process died while it observed) did nothing. Whether a resume then
// finds its effect live (it was live before the run) or the run is rolled
// back at once, a rollback leaves it alone.
func TestStepThatNeverAppliedIsNotUndone(t *testing.T) {
	for _, resumeFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("resume first %t", resumeFirst), func(t *testing.T) {
			tr := &trace{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var observed atomic.Int64
			thaw := newFake(t, &fakeAction{
				observe: func(ctx context.Context, _ *steps.Env, _ steps.Inputs) (bool, error) {
					if observed.Add(1) == 1 {
						cancel() // the process is stopped while the step observes
						<-ctx.Done()
						return false, ctx.Err()
					}
					return true, nil // live, as it was before the run
				},
				apply:    tracing(tr).apply,
				rollback: tracing(tr).rollback,
			})
			ok := newFake(t, tracing(tr))
			broken := newFake(t, &fakeAction{apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
				return nil, errors.New("broken")
			}})
			g := graph(st("a", ok), st("thaw", thaw, "a"), st("broken", broken, "thaw"))
			o := opts(t)
			res, err := Start(ctx, g, o)
			if res == nil || res.Status != StatusInterrupted || err == nil {
				t.Fatalf("first session: %v %+v", err, res)
			}
			if got := types(journalOf(t, o.Dir, res.RunID), "thaw"); !slices.Equal(got, []RecordType{StepStarted}) {
				t.Fatalf("thaw journal %v, want started only", got)
			}
			if resumeFirst {
				res, err = Resume(context.Background(), res.RunID, o)
				if res == nil || res.Status != StatusRolledBack {
					t.Fatalf("resume: %v %+v", err, res)
				}
				if got := types(journalOf(t, o.Dir, res.RunID), "thaw"); !slices.Equal(got, []RecordType{StepStarted, StepStarted, StepSkipped}) {
					t.Fatalf("thaw journal %v", got)
				}
			} else if _, err = Rollback(context.Background(), res.RunID, o); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"apply:a", "rollback:a"}, tr.get()); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRetryBudgetResetsOnProgress: a long step that meets three failovers,
// each within the retry budget but together far beyond it, survives them
// because every batch it finishes starts a fresh budget; the journal says how
// long each failover has been waited out.
func TestRetryBudgetResetsOnProgress(t *testing.T) {
	const batches, outage = 6, 2 * time.Second
	outageAt := map[int]bool{1: true, 3: true, 5: true} // batches that meet a failover
	fs := &fakeSleep{}
	var done int                  // batches finished: the step's progress
	var outageStart time.Duration // fs.total() when the current outage began, -1 none
	outageStart = -1
	fake := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		for done < batches {
			if outageAt[done] {
				if outageStart < 0 {
					outageStart = fs.total()
				}
				if fs.total()-outageStart < outage {
					return nil, &fleet.Error{Op: "copy batch", Target: "sql-1/customers_2", Code: 40613}
				}
				delete(outageAt, done)
				outageStart = -1
			}
			done++
			env.Progress(int64(done), batches, "batches")
		}
		return nil, nil
	}})
	s := st("move", fake)
	s.Retry = &stepgraph.RetryPolicy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, Budget: 3 * time.Second}
	o := opts(t)
	o.Sleep = fs.sleep
	res, _ := Start(context.Background(), graph(s), o)
	if ss := stepState(mustStatus(t, o.Dir, res.RunID), "move"); ss.State != StateDone {
		t.Fatalf("state %s (%s), want done after three failovers of %s each", ss.State, ss.Error, outage)
	}
	if fs.total() <= s.Retry.Budget {
		t.Fatalf("waited %s in all: the test needs more than one budget (%s) of failovers", fs.total(), s.Retry.Budget)
	}
	var outages int
	var last time.Duration = -1
	for _, rec := range journalOf(t, o.Dir, res.RunID) {
		if rec.Type != StepRetrying {
			continue
		}
		if !rec.Failover || rec.Waited > s.Retry.Budget {
			t.Errorf("retry record %+v: want a failover within the budget", rec)
		}
		if rec.Waited == 0 || rec.Waited < last {
			outages++
		}
		last = rec.Waited
		msg := recordEvent(rec, 0, 1).Message
		if want := "waiting out a failover, " + waitedText(rec.Waited) + " so far"; !strings.Contains(msg, want) {
			t.Errorf("retry message %q, want it to say %q", msg, want)
		}
	}
	if outages != 3 {
		t.Errorf("the journal shows %d failovers, want 3", outages)
	}
}
