package runner

import (
	"context"
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

	"github.com/fleetplan/fleetplan/steps"
	"github.com/google/go-cmp/cmp"
)

// reverse returns the edges of a rollback walk: every vertex waits on the
// vertices that waited on it.
func reverse(waitsOn [][]int) [][]int {
	out := make([][]int, len(waitsOn))
	for v, deps := range waitsOn {
		for _, u := range deps {
			out[u] = append(out[u], v)
		}
	}
	return out
}

// drain runs a walk turn by turn: every vertex handed out in a turn is
// finished before the next turn. It returns the vertices of each turn.
func drain(w *walker) [][]int {
	var turns [][]int
	for {
		var turn []int
		for {
			v, ok := w.next()
			if !ok {
				break
			}
			turn = append(turn, v)
		}
		if len(turn) == 0 {
			return turns
		}
		for _, v := range turn {
			w.done(v)
		}
		turns = append(turns, turn)
	}
}

func TestWalkerOrder(t *testing.T) {
	// 0 <- 1 <- 3, 0 <- 2 <- 3: a diamond; 4 stands alone.
	diamond := [][]int{{}, {0}, {0}, {1, 2}, {}}
	tests := map[string]struct {
		waitsOn [][]int
		limit   int
		done    []bool
		noop    []bool
		prio    []int
		want    [][]int
	}{
		"forward, one at a time: ready order, then readiness order": {
			waitsOn: diamond, limit: 1,
			want: [][]int{{0}, {4}, {1}, {2}, {3}},
		},
		"forward, in parallel: a vertex waits for every dependency": {
			waitsOn: diamond, limit: 4,
			want: [][]int{{0, 4}, {1, 2}, {3}},
		},
		"forward, resumed: done vertices are not run again": {
			waitsOn: diamond, limit: 4, done: []bool{true, true, false, false, false},
			want: [][]int{{2, 4}, {3}},
		},
		"reverse: dependants are undone first": {
			waitsOn: reverse(diamond), limit: 4,
			want: [][]int{{3, 4}, {1, 2}, {0}},
		},
		"reverse, one at a time: priority decides among the ready": {
			waitsOn: reverse(diamond), limit: 1, prio: []int{4, 2, 1, 0, 3},
			want: [][]int{{3}, {2}, {1}, {4}, {0}},
		},
		"reverse: a vertex with nothing to do passes, and what waits on it goes on": {
			waitsOn: reverse(diamond), limit: 4, noop: []bool{false, false, false, true, true},
			want: [][]int{{1, 2}, {0}},
		},
		"a limit below one runs one at a time": {
			waitsOn: [][]int{{}, {}, {}}, limit: 0,
			want: [][]int{{0}, {1}, {2}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWalker(tc.waitsOn, tc.limit, tc.done, tc.noop, tc.prio)
			if diff := cmp.Diff(tc.want, drain(w)); diff != "" {
				t.Fatalf("turns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWalkerFailureMarksDependants(t *testing.T) {
	// 0 <- 1 <- 2 <- 3, 1 <- 4, and 5 alone.
	g := [][]int{{}, {0}, {1}, {2}, {1}, {}}
	tests := map[string]struct {
		waitsOn     [][]int
		fail        int
		wantBlocked []int
		wantRun     []int // what runs and is done
	}{
		"forward: everything downstream is blocked": {
			waitsOn: g, fail: 1, wantBlocked: []int{2, 3, 4}, wantRun: []int{0, 5},
		},
		"forward: a leaf blocks nothing": {
			waitsOn: g, fail: 4, wantBlocked: nil, wantRun: []int{0, 1, 2, 3, 5},
		},
		"reverse: what the failed vertex depended on is blocked": {
			waitsOn: reverse(g), fail: 2, wantBlocked: []int{0, 1}, wantRun: []int{3, 4, 5},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWalker(tc.waitsOn, 1, nil, nil, nil)
			var ran []int
			for {
				v, ok := w.next()
				if !ok {
					break
				}
				if v == tc.fail {
					blocked := w.fail(v)
					slices.Sort(blocked)
					if diff := cmp.Diff(tc.wantBlocked, blocked); diff != "" {
						t.Fatalf("blocked (-want +got):\n%s", diff)
					}
					continue
				}
				ran = append(ran, v)
				w.done(v)
			}
			slices.Sort(ran)
			if diff := cmp.Diff(tc.wantRun, ran); diff != "" {
				t.Fatalf("ran (-want +got):\n%s", diff)
			}
			for _, b := range tc.wantBlocked {
				if w.state[b] != vertexBlocked {
					t.Errorf("vertex %d is %d, want blocked", b, w.state[b])
				}
			}
			if w.inFlight() != 0 {
				t.Fatalf("%d still in flight", w.inFlight())
			}
		})
	}
}

// TestWalkerLimitUnderConcurrency walks random graphs with real goroutines,
// as the scheduler does, and counts how many vertices run at once.
func TestWalkerLimitUnderConcurrency(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 8} {
		for _, dir := range []string{"forward", "reverse"} {
			t.Run(fmt.Sprintf("%s limit %d", dir, limit), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(limit), 7))
				const n = 200
				g := make([][]int, n)
				for v := 1; v < n; v++ {
					for range rng.IntN(3) {
						g[v] = append(g[v], rng.IntN(v))
					}
				}
				if dir == "reverse" {
					g = reverse(g)
				}
				w := newWalker(g, limit, nil, nil, nil)
				var running, peak atomic.Int64
				finished := make([]atomic.Bool, n)
				var bad sync.Map
				results := make(chan int)
				started := 0
				for inFlight := 0; ; {
					for {
						v, ok := w.next()
						if !ok {
							break
						}
						started++
						inFlight++
						go func(v int) {
							now := running.Add(1)
							for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
							}
							for _, u := range g[v] {
								if !finished[u].Load() {
									bad.Store(v, u)
								}
							}
							finished[v].Store(true)
							results <- v
						}(v)
					}
					if inFlight == 0 {
						break
					}
					// A vertex runs until the walk hears that it finished.
					v := <-results
					running.Add(-1)
					w.done(v)
					inFlight--
				}
				if started != n {
					t.Fatalf("started %d of %d", started, n)
				}
				if p := peak.Load(); p > int64(limit) {
					t.Fatalf("%d ran at once, limit %d", p, limit)
				}
				bad.Range(func(v, u any) bool {
					t.Errorf("vertex %v started before %v was done", v, u)
					return true
				})
			})
		}
	}
}

// TestCancelWatchWakesWithoutPolling: with polling turned off, a cancel
// request written after the watch started, or before, is seen.
func TestCancelWatchWakesWithoutPolling(t *testing.T) {
	tests := map[string]struct{ before bool }{
		"request written while watching":     {before: false},
		"request left by an earlier process": {before: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write := func() {
				if err := writeFileAtomic(filepath.Join(dir, cancelFile), []byte("now\n")); err != nil {
					t.Error(err)
				}
			}
			if tc.before {
				write()
			}
			c := watchCancel(dir, 0)
			defer c.close()
			if c.w == nil {
				t.Fatal("no file watch could be set up")
			}
			if !tc.before {
				if c.seen() {
					t.Fatal("a cancel was seen before any was requested")
				}
				go write()
			}
			select {
			case <-c.Requested():
			case <-time.After(time.Minute): // a hang guard, not a measurement
				t.Fatal("the cancel request never woke the watcher")
			}
		})
	}
}

// TestRollbackWalksBackwardsInParallel: rollbacks run through the walker
// with the edges reversed, up to the graph's own limit (which wins over
// the options), and a step is undone only after every step that needed it.
func TestRollbackWalksBackwardsInParallel(t *testing.T) {
	tr := &trace{}
	var running, peak atomic.Int64
	const limit = 2
	var o Options
	var open atomic.Int64 // most rollbacks the journal had started and not finished
	undo := func(_ context.Context, env *steps.Env, _ steps.Inputs) error {
		n := int64(0)
		for _, rec := range journalOf(t, o.Dir, env.RunID) {
			switch rec.Type {
			case RollbackStarted:
				n++
			case RollbackDone, RollbackSkipped, RollbackFailed:
				n--
			}
		}
		for p := open.Load(); n > p && !open.CompareAndSwap(p, n); p = open.Load() {
		}
		now := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		if strings.HasPrefix(env.StepID, "b") {
			// The b's may run side by side: wait until two have met.
			for i := 0; peak.Load() < limit; i++ {
				if i == 60000 { // a hang guard, not a measurement
					return errors.New("the rollbacks of the b steps never ran side by side")
				}
				time.Sleep(time.Millisecond)
			}
		}
		tr.add("rollback:" + env.StepID)
		return nil
	}
	ok := newFake(t, &fakeAction{rollback: undo})
	bad := newFake(t, &fakeAction{
		apply:    func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) { return nil, errors.New("boom") },
		rollback: undo,
	})
	g := graph(st("a", ok), st("b1", ok, "a"), st("b2", ok, "a"), st("b3", ok, "a"),
		st("c", ok, "b1", "b2", "b3"), st("e", bad, "c"))
	g.Parallel = limit
	o = opts(t)
	o.Parallel = 8
	res, err := Start(context.Background(), g, o)
	if res == nil || res.Status != StatusRolledBack {
		t.Fatalf("%v %+v", err, res)
	}
	got := tr.get()
	pos := map[string]int{}
	for i, c := range got {
		pos[strings.TrimPrefix(c, "rollback:")] = i
	}
	if len(pos) != 6 {
		t.Fatalf("rollbacks %v, want every step undone once", got)
	}
	for _, s := range g.Steps {
		for _, need := range s.Needs {
			if pos[need] < pos[s.ID] {
				t.Errorf("%s undone before %s, which needs it: %v", need, s.ID, got)
			}
		}
	}
	if p := open.Load(); p != limit {
		t.Fatalf("the journal had %d rollbacks running at once, want the graph's limit %d", p, limit)
	}
}

// TestCancelFromAnotherProcessWakesTheRun: `cancel` in another process ends
// a running step at once through the file watch; with polling turned off
// nothing else could notice it.
func TestCancelFromAnotherProcessWakesTheRun(t *testing.T) {
	defer func(p time.Duration) { cancelFallbackPoll = p }(cancelFallbackPoll)
	cancelFallbackPoll = 0
	tr := &trace{}
	o := opts(t)
	ok := newFake(t, tracing(tr))
	waiter := newFake(t, &fakeAction{apply: func(ctx context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		tr.add("apply:" + env.StepID)
		out, err := helperCmd("cancel", o.Dir, "RUNNER_TEST_RUN="+env.RunID).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("cancel in another process: %v: %s", err, out)
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(time.Minute): // a hang guard, not a measurement
			return nil, errors.New("the cancel request never reached the step")
		}
	}})
	res, err := Start(context.Background(), graph(st("a", ok), st("wait", waiter, "a"), st("c", ok, "wait")), o)
	if res == nil || res.Status != StatusCancelled {
		t.Fatalf("%v %+v", err, res)
	}
	if diff := cmp.Diff([]string{"apply:a", "apply:wait"}, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	if s := mustStatus(t, o.Dir, res.RunID).Status; s != StatusCancelled {
		t.Fatalf("status %s", s)
	}
}

// helperCancel cancels run RUNNER_TEST_RUN in RUNNER_TEST_DIR.
func helperCancel() int {
	if err := Cancel(os.Getenv("RUNNER_TEST_DIR"), os.Getenv("RUNNER_TEST_RUN")); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// TestResumeFindsACancelLeftInTheRunDir: a cancel request whose runner died
// before it journaled the cancellation is found by the next runner.
func TestResumeFindsACancelLeftInTheRunDir(t *testing.T) {
	tr := &trace{}
	o := opts(t)
	ctx, stop := context.WithCancel(context.Background())
	ok := newFake(t, tracing(tr))
	stopper := newFake(t, &fakeAction{apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		tr.add("apply:" + env.StepID)
		stop() // the process goes away after this step
		return nil, nil
	}})
	res, _ := Start(ctx, graph(st("a", stopper), st("b", ok, "a")), o)
	if res == nil || res.Status != StatusInterrupted {
		t.Fatalf("%+v", res)
	}
	if err := writeFileAtomic(filepath.Join(res.Dir, cancelFile), []byte("now\n")); err != nil {
		t.Fatal(err)
	}
	res, err := Resume(context.Background(), res.RunID, o)
	if res == nil || res.Status != StatusCancelled {
		t.Fatalf("%v %+v", err, res)
	}
	if diff := cmp.Diff([]string{"apply:a"}, tr.get()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
}
