package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// fakeAction is a test action with func fields; nil fields behave as a
// no-op that is never live and has nothing to roll back.
type fakeAction struct {
	observe  func(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error)
	apply    func(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error)
	rollback func(ctx context.Context, env *steps.Env, in steps.Inputs) error
}

// fakes maps the "fake" input of a step to the fakeAction that serves it, so
// one registered action ("test.fake") can behave differently in every test.
var (
	fakes   sync.Map
	fakeSeq atomic.Int64
)

type dispatch struct{}

func (dispatch) get(in steps.Inputs) *fakeAction {
	key, _ := in["fake"].(string)
	if v, ok := fakes.Load(key); ok {
		return v.(*fakeAction)
	}
	return &fakeAction{}
}

func (d dispatch) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	if f := d.get(in).observe; f != nil {
		return f(ctx, env, in)
	}
	return false, nil
}

func (d dispatch) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if f := d.get(in).apply; f != nil {
		return f(ctx, env, in)
	}
	return nil, nil
}

func (d dispatch) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	if f := d.get(in).rollback; f != nil {
		return f(ctx, env, in)
	}
	return steps.ErrNoRollback
}

func (dispatch) Estimate(steps.Inputs) steps.Estimate { return steps.Estimate{} }

func init() { steps.Register("test.fake", dispatch{}) }

// newFake registers f for the current test and returns its key.
func newFake(t *testing.T, f *fakeAction) string {
	key := fmt.Sprintf("%s#%d", t.Name(), fakeSeq.Add(1))
	fakes.Store(key, f)
	t.Cleanup(func() { fakes.Delete(key) })
	return key
}

// st builds a test step served by the fake with key.
func st(id, fake string, needs ...string) *stepgraph.Step {
	return &stepgraph.Step{ID: id, Action: "test.fake", With: map[string]any{"fake": fake}, Needs: needs}
}

func graph(ss ...*stepgraph.Step) *stepgraph.Graph {
	return &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: "Test", Plan: "test-plan", Target: "t", Steps: ss}
}

// trace records the order of calls made by fake actions.
type trace struct {
	mu    sync.Mutex
	calls []string
}

func (tr *trace) add(s string) {
	tr.mu.Lock()
	tr.calls = append(tr.calls, s)
	tr.mu.Unlock()
}

func (tr *trace) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.calls...)
}

// tracing returns a fake whose Apply and Rollback are recorded as
// "apply:<step>" and "rollback:<step>".
func tracing(tr *trace) *fakeAction {
	return &fakeAction{
		apply: func(_ context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
			tr.add("apply:" + env.StepID)
			return nil, nil
		},
		rollback: func(_ context.Context, env *steps.Env, _ steps.Inputs) error {
			tr.add("rollback:" + env.StepID)
			return nil
		},
	}
}

// fakeSleep records waits instead of sleeping.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeSleep) total() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s time.Duration
	for _, w := range f.waits {
		s += w
	}
	return s
}

func opts(t *testing.T) Options {
	fs := &fakeSleep{}
	return Options{Dir: t.TempDir(), Parallel: 4, Sleep: fs.sleep}
}

// journalOf reads a run's journal records.
func journalOf(t *testing.T, dir, runID string) []Record {
	t.Helper()
	recs, _, err := readJournal(filepath.Join(dir, "runs", runID, journalFile))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// types lists the record types of recs for one step ("" = run-level).
func types(recs []Record, step string) []RecordType {
	var out []RecordType
	for _, r := range recs {
		if r.Step == step {
			out = append(out, r.Type)
		}
	}
	return out
}

func mustStatus(t *testing.T, dir, runID string) *RunStatus {
	t.Helper()
	s, err := Status(dir, runID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stepState(rs *RunStatus, id string) StepStatus {
	for _, s := range rs.Steps {
		if s.ID == id {
			return s
		}
	}
	return StepStatus{}
}
