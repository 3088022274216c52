package runner

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
)

// A value an action checkpoints (a cloud operation's resume token) is in
// the journal before the action goes on, and the step finds it again when
// the run resumes in a new session.
func TestCheckpointsSurviveResume(t *testing.T) {
	var seen []string
	var journaled bool
	o := opts(t)
	var runID string
	op := newFake(t, &fakeAction{apply: func(ctx context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		cp := fleet.CheckpointsFrom(ctx)
		if cp == nil {
			return nil, errors.New("no checkpoints in the step's context")
		}
		if v, ok := cp.Load("operation"); ok {
			seen = append(seen, v)
			return steps.Outputs{"resumed": v}, nil
		}
		if err := cp.Save(ctx, "operation", "token-1"); err != nil {
			return nil, err
		}
		// Durable before Save returned: the journal on disk has it.
		journaled = slices.Contains(types(journalOf(t, o.Dir, env.RunID), env.StepID), StepCheckpoint)
		runID = env.RunID
		return nil, errors.New("the process dies here")
	}})
	g := graph(st("a", op))
	g.OnFailure = "pause"
	res, err := Start(context.Background(), g, o)
	if res.Status != StatusPaused {
		t.Fatalf("start: %v %+v", err, res)
	}
	if !journaled || runID != res.RunID {
		t.Fatal("the checkpoint was not in the journal when Save returned")
	}
	res, err = Resume(context.Background(), res.RunID, o)
	if err != nil || res.Status != StatusDone {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if len(seen) != 1 || seen[0] != "token-1" {
		t.Fatalf("the resumed step loaded %v, want the checkpointed token", seen)
	}
	// Another step's checkpoints are its own.
	saver := newFake(t, &fakeAction{apply: func(ctx context.Context, _ *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		return nil, fleet.CheckpointsFrom(ctx).Save(ctx, "operation", "x-token")
	}})
	other := newFake(t, &fakeAction{apply: func(ctx context.Context, _ *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
		if v, ok := fleet.CheckpointsFrom(ctx).Load("operation"); ok {
			return nil, errors.New("saw another step's checkpoint " + v)
		}
		return nil, nil
	}})
	res, err = Start(context.Background(), graph(st("x", saver), st("y", other, "x")), opts(t))
	if err != nil || res.Status != StatusDone {
		t.Fatalf("two steps: %v %+v", err, res)
	}
}
