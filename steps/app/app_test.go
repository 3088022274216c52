package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func fixture(t *testing.T) (*local.Target, *steps.Env) {
	t.Helper()
	tg, err := local.CreateDemo(context.Background(), filepath.Join(t.TempDir(), "fleet"), local.DemoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg, &steps.Env{Target: tg, StepID: "s"}
}

func TestDeployAndRemove(t *testing.T) {
	tg, env := fixture(t)
	ctx := context.Background()
	deploy := steps.Inputs{"slot": "contoso-9", "server": "contoso-1", "database": "contoso", "version": "2"}
	cases := map[string]struct {
		action  string
		in      steps.Inputs
		wantErr error // from Apply; nil means success
	}{
		"deploy":                  {stepspec.DeployName, deploy, nil},
		"deploy to a missing db":  {stepspec.DeployName, steps.Inputs{"slot": "x", "server": "contoso-1", "database": "nope", "version": "2"}, fleet.ErrNoDatabase},
		"remove the serving slot": {stepspec.RemoveName, steps.Inputs{"slot": local.ContosoSlot}, fleet.ErrConflict},
		"remove a missing slot":   {stepspec.RemoveName, steps.Inputs{"slot": "nope"}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, _ := steps.Lookup(tc.action)
			_, err := a.Apply(ctx, env, tc.in)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("want %v, got %v", tc.wantErr, err)
			}
		})
	}
	// Deployed slot: live; removing it reports what it ran, and a deploy
	// with an empty version keeps a slot that exists.
	if ok, err := (Deploy{}).Observe(ctx, env, deploy); err != nil || !ok {
		t.Fatalf("deployed slot not live: %v %v", ok, err)
	}
	out, err := Remove{}.Apply(ctx, env, steps.Inputs{"slot": "contoso-9"})
	if err != nil || out["version"] != "2" || out["database"] != "contoso" {
		t.Fatalf("remove: %v %v", out, err)
	}
	if _, err := tg.Slot(ctx, "contoso-9"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("slot still there: %v", err)
	}
	restore := steps.Inputs{"slot": "contoso-9", "server": "contoso-1", "database": "contoso", "version": out["version"]}
	if _, err := (Deploy{}).Apply(ctx, env, restore); err != nil {
		t.Fatal(err)
	}
	keep := steps.Inputs{"slot": "contoso-9", "server": "contoso-1", "database": "contoso", "version": nil}
	if ok, err := (Deploy{}).Observe(ctx, env, keep); err != nil || !ok {
		t.Fatalf("an empty version should keep the existing slot: %v %v", ok, err)
	}
}
