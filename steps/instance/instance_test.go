package instance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

// logs collects what an action reports.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) Progress(string, int64, int64, string) {}
func (l *logs) Logf(_ string, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}
func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func setup(t *testing.T, scale float64) (*local.Target, *steps.Env, *logs) {
	tg, env := stepstest.Fleet(t)
	tg.SetTimeScale(scale)
	l := &logs{}
	env.Reporter = l
	return tg, env, l
}

var wednesday = time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)

func update(window *stepspec.ChangeWindow) stepspec.InstanceChange {
	in := stepspec.InstanceChange{Instance: "mi-dr", Operation: fleet.InstanceUpdate, Settings: stepspec.InstanceSettings{VCores: 16},
		Typical: 30 * time.Minute, P95: time.Hour, Unavailable: 2 * time.Minute}
	if window != nil {
		in.Window = *window
	}
	return in
}

func TestWindow(t *testing.T) {
	weekend := &stepspec.ChangeWindow{Days: []string{"Sat"}, Start: "02:00", Duration: "4h", TimeZone: "UTC"}
	tests := map[string]struct {
		window  *stepspec.ChangeWindow
		ignore  bool
		wantErr error
		clock   time.Time // the fleet's clock once the operation started
		log     string
	}{
		"no window":     {nil, false, nil, wednesday, ""},
		"waits":         {weekend, false, nil, time.Date(2030, 1, 5, 2, 0, 0, 0, time.UTC), "outside the change window Sat 02:00 for 4 h (UTC): update of mi-dr waits until Sat 2030-01-05 02:00 UTC (in 64 h), when its p95 of 1 h fits"},
		"ignore-window": {weekend, true, nil, wednesday, "--ignore-window: starting update of mi-dr outside its window"},
		"p95 never fits": {&stepspec.ChangeWindow{Days: []string{"Sat"}, Start: "02:00", Duration: "30m", TimeZone: "UTC"}, false, fleet.ErrInvalidArgument, wednesday,
			""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg, env, l := setup(t, 0)
			if err := tg.SetClock(ctx, wednesday, true); err != nil {
				t.Fatal(err)
			}
			env.IgnoreWindow = tc.ignore
			_, err := Change{}.Apply(ctx, env, stepspec.With(update(tc.window)))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Apply: %v, want %v", err, tc.wantErr)
			}
			now, _ := tg.Now(ctx)
			if !now.Equal(tc.clock) {
				t.Errorf("fleet clock %v, want %v", now, tc.clock)
			}
			if tc.log != "" && !strings.Contains(l.text(), tc.log) {
				t.Errorf("log:\n%s\nwant a line with %q", l.text(), tc.log)
			}
		})
	}
}

func TestLongRunningTransactionGuard(t *testing.T) {
	for name, allow := range map[string]bool{"refused": false, "overridden": true} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg, env, _ := setup(t, 0)
			if err := tg.StartLongTransaction(ctx, "mi-dr", "index-rebuild"); err != nil {
				t.Fatal(err)
			}
			in := update(nil)
			in.AllowLongRunningTransactions = allow
			_, err := Change{}.Apply(ctx, env, stepspec.With(in))
			if allow != (err == nil) {
				t.Fatalf("allow %v: %v", allow, err)
			}
			if !allow && (!errors.Is(err, fleet.ErrConflict) || !strings.Contains(err.Error(), "index-rebuild") || fleet.HintOf(err) == "") {
				t.Errorf("refusal: %v (hint %q)", err, fleet.HintOf(err))
			}
		})
	}
}

// A second Apply of the same run and step re-attaches to the operation the
// first one started.
func TestReattach(t *testing.T) {
	ctx := context.Background()
	tg, env, l := setup(t, 1.0/900) // the update takes a few seconds
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := Change{}.Apply(actx, env, stepspec.With(update(nil))); done <- err }()
	waitFor(t, func() bool { return strings.Contains(l.text(), "started operation") })
	cancel() // an interruption, not a cancel request: the operation goes on
	<-done
	op, found, err := tg.FindInstanceOperation(ctx, "conformance/s")
	if err != nil || !found || op.State != fleet.OpInProgress {
		t.Fatalf("after an interruption: %+v %v %v", op, found, err)
	}
	if _, err := (Change{}).Apply(ctx, env, stepspec.With(update(nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.text(), "re-attaching to operation "+op.ID) {
		t.Errorf("log:\n%s", l.text())
	}
	if n := strings.Count(l.text(), "started operation"); n != 1 {
		t.Errorf("%d operations started", n)
	}
}

// `fleetplan cancel` (the cause of the step's context) cancels the
// operation in the service; the instance keeps its settings. The request
// arrives while the step waits between reads of the operation, or while it
// reads it (the context ends inside the driver's call).
func TestCancelRequest(t *testing.T) {
	for name, duringRead := range map[string]bool{"while waiting": false, "while reading": true} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg, env, _ := setup(t, 1)
			actx, cancel := context.WithCancelCause(ctx)
			env.Target = &cancelOnRead{Target: tg, cancel: func() { cancel(steps.ErrCancelRequested) }, duringRead: duringRead}
			if _, err := (Change{}).Apply(actx, env, stepspec.With(update(nil))); !errors.Is(err, steps.ErrCancelRequested) {
				t.Errorf("Apply: %v", err)
			}
			op, _, _ := tg.FindInstanceOperation(ctx, "conformance/s")
			if op.State != fleet.OpCancelled {
				t.Errorf("operation %s", op.State)
			}
		})
	}
}

// cancelOnRead is a fleet whose first read of an instance operation sends
// the cancel request: before the read (which then ends with the context)
// with duringRead, else right after it (the step is waiting when it lands).
type cancelOnRead struct {
	*local.Target
	cancel     func()
	duringRead bool
	once       sync.Once
}

func (c *cancelOnRead) InstanceOperation(ctx context.Context, id string) (fleet.InstanceOperation, error) {
	if c.duringRead {
		c.once.Do(c.cancel)
		return c.Target.InstanceOperation(ctx, id)
	}
	op, err := c.Target.InstanceOperation(ctx, id)
	c.once.Do(c.cancel)
	return op, err
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timed out")
}

// memCheckpoints is a run's checkpoints kept in memory.
type memCheckpoints map[string]string

func (m memCheckpoints) Save(_ context.Context, k, v string) error { m[k] = v; return nil }
func (m memCheckpoints) Load(k string) (string, bool)              { v, ok := m[k]; return v, ok }

// The operation id is checkpointed when the operation starts; a step that
// finds one (a resumed run) follows that operation and starts none, even
// under another client request id.
func TestOperationIDIsCheckpointedAndFollowedOnResume(t *testing.T) {
	tg, env, l := setup(t, 0)
	cp := memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), cp)
	out, err := Change{}.Apply(ctx, env, stepspec.With(update(nil)))
	if err != nil {
		t.Fatal(err)
	}
	id := cp[CheckpointOperation]
	if id == "" || out["operationId"] != id {
		t.Fatalf("checkpoint %v, outputs %v", cp, out)
	}
	env.RunID = "another-run" // a client request id that finds nothing
	if _, err := (Change{}).Apply(ctx, env, stepspec.With(update(nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.text(), "re-attaching to operation "+id) {
		t.Errorf("the resumed step did not follow %s:\n%s", id, l.text())
	}
	if _, found, err := tg.FindInstanceOperation(context.Background(), "another-run/"+env.StepID); err != nil || found {
		t.Errorf("a second operation was started (%v)", err)
	}
}
