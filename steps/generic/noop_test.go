package generic

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func TestNoopRegisteredAndInert(t *testing.T) {
	a, err := steps.Lookup(stepspec.NoopName)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env := &steps.Env{StepID: "x"}
	if live, err := a.Observe(ctx, env, nil); live || err != nil {
		t.Fatalf("Observe = %v, %v; want false, nil", live, err)
	}
	if out, err := a.Apply(ctx, env, steps.Inputs{"ignored": 1}); out != nil || err != nil {
		t.Fatalf("Apply = %v, %v; want nil, nil", out, err)
	}
	if err := a.Rollback(ctx, env, nil); !errors.Is(err, steps.ErrNoRollback) {
		t.Fatalf("Rollback = %v; want ErrNoRollback", err)
	}
	if est := a.Estimate(nil); est.Duration != 0 || est.Rows != 0 {
		t.Fatalf("Estimate = %+v; want zero cost", est)
	}
}
