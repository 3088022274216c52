package traffic

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

// fixture is the demo fleet plus a V2 slot contoso-2 on its own database.
func fixture(t *testing.T) (*local.Target, *steps.Env) {
	t.Helper()
	ctx := context.Background()
	tg, err := local.CreateDemo(ctx, filepath.Join(t.TempDir(), "fleet"), local.DemoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(0)
	v2 := fleet.Location{Server: "contoso-2", Database: "contoso"}
	if _, err := tg.CreateSecondary(ctx, local.ContosoLocation, v2, ""); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeploySlot(ctx, fleet.Slot{Name: "contoso-2", Version: "2", Database: v2}); err != nil {
		t.Fatal(err)
	}
	return tg, &steps.Env{Target: tg, StepID: "s"}
}

var add2 = steps.Inputs{"profile": "contoso", "endpoint": "contoso-2", "target": "contoso-2"}

func apply(t *testing.T, env *steps.Env, name string, in steps.Inputs) error {
	t.Helper()
	a, err := steps.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Apply(context.Background(), env, in)
	return err
}

func observe(t *testing.T, env *steps.Env, name string, in steps.Inputs) bool {
	t.Helper()
	a, _ := steps.Lookup(name)
	done, err := a.Observe(context.Background(), env, in)
	if err != nil {
		t.Fatalf("%s observe: %v", name, err)
	}
	return done
}

func TestSwitchBackIsRefusedOnceV1IsGone(t *testing.T) {
	tg, env := fixture(t)
	ctx := context.Background()
	if err := apply(t, env, stepspec.AddEndpointName, add2); err != nil {
		t.Fatal(err)
	}
	in := steps.Inputs{"profile": "contoso", "from": "contoso-1", "to": "contoso-2"}
	if err := apply(t, env, stepspec.SwitchName, in); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveSlot(ctx, local.ContosoSlot); err != nil {
		t.Fatal(err)
	}
	err := Switch{}.Rollback(ctx, env, in)
	if !errors.Is(err, fleet.ErrConflict) || fleet.HintOf(err) == "" {
		t.Fatalf("switching back to a removed V1: want a refusal with a hint, got %v", err)
	}
	p, _ := tg.Profile(ctx, "contoso")
	if p.Serving != "contoso-2" {
		t.Fatalf("a refused switch moved traffic to %q", p.Serving)
	}
}

func TestRefs(t *testing.T) {
	refs := Switch{}.Refs(steps.Inputs{"profile": "contoso", "from": "contoso-1", "to": "contoso-2"})
	if len(refs) != 2 || refs[0].Name != "contoso/contoso-1" || !refs[0].Changes {
		t.Fatalf("refs %+v", refs)
	}
	if refs, all := steps.Touches(AddEndpoint{}, steps.Inputs{"profile": "${{ params.p }}", "endpoint": "x"}); !all {
		t.Fatalf("unresolved inputs gave refs %+v, want: may touch anything", refs)
	}
}
