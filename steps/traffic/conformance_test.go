package traffic

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

func TestConformance(t *testing.T) {
	v2 := stepspec.Endpoint{Profile: "contoso", Endpoint: "contoso-2"}
	add := stepspec.AddEndpoint{Endpoint: v2, Target: "contoso-2"}
	// slotV2 is a V2 slot contoso-2 on its own copy of the database.
	slotV2 := func(t *testing.T, env *steps.Env) {
		ctx := context.Background()
		tg := env.Target.(*local.Target)
		db := fleet.Location{Server: "contoso-2", Database: "contoso"}
		if _, err := tg.CreateSecondary(ctx, local.ContosoLocation, db, ""); err != nil {
			t.Fatal(err)
		}
		if err := tg.DeploySlot(ctx, fleet.Slot{Name: "contoso-2", Version: "2", Database: db}); err != nil {
			t.Fatal(err)
		}
	}
	withV2 := func(t *testing.T, env *steps.Env) {
		slotV2(t, env)
		if err := apply(t, env, stepspec.AddEndpointName, stepspec.With(add)); err != nil {
			t.Fatal(err)
		}
	}
	stepstest.Run(t,
		stepstest.Case{Spec: add, Prepare: slotV2},
		stepstest.Case{Spec: stepspec.SetStatus{Endpoint: v2, Status: "online"}, Prepare: withV2},
		stepstest.Case{Spec: stepspec.Switch{Profile: "contoso", From: "contoso-1", To: "contoso-2"}, Prepare: withV2},
		stepstest.Case{Spec: stepspec.RemoveEndpoint{Endpoint: v2}, Prepare: withV2, Undo: stepstest.NoRollback},
	)
}
