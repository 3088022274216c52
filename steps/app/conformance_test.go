package app

import (
	"testing"

	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

func TestConformance(t *testing.T) {
	deploy := stepspec.Deploy{Slot: "contoso-9", Location: stepspec.Location{Server: "contoso-1", Database: "contoso"}, Version: "2"}
	deployed := func(t *testing.T, env *steps.Env) {
		t.Helper()
		if _, err := (Deploy{}).Apply(t.Context(), env, stepspec.With(deploy)); err != nil {
			t.Fatal(err)
		}
	}
	stepstest.Run(t,
		stepstest.Case{Spec: deploy},
		stepstest.Case{Spec: stepspec.Remove{Slot: deploy.Slot}, Prepare: deployed, Undo: stepstest.NoRollback},
	)
}
