package database

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

func TestConformance(t *testing.T) {
	script := "UPDATE schema_version SET version = 2;\nALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';\n"
	prodSpec := stepspec.Location(prod)
	stagingSpec := stepspec.Location(staging)
	create := stepspec.CreateSecondary{Location: prodSpec, PartnerServer: staging.Server}
	secondary := func(t *testing.T, env *steps.Env) {
		mustApply(t, env, stepspec.CreateSecondaryName, stepspec.With(create))
	}
	group := func(t *testing.T, env *steps.Env) {
		secondary(t, env)
		if err := env.Target.(*local.Target).CreateFailoverGroup(t.Context(), "fog-contoso", prod.Server, staging.Server, []string{prod.Database}, fleet.FailoverManual, 0); err != nil {
			t.Fatal(err)
		}
	}
	stepstest.Run(t,
		stepstest.Case{Spec: create},
		stepstest.Case{Spec: stepspec.WaitSeeded{Location: stagingSpec}, Undo: stepstest.NoRollback,
			Prepare: func(t *testing.T, env *steps.Env) {
				env.Target.(*local.Target).SetTimeScale(0.02) // seeding ~0.8 s: observable, short
				secondary(t, env)
			}},
		stepstest.Case{Spec: stepspec.SetReadOnly{Location: prodSpec}},
		stepstest.Case{Spec: stepspec.SetReadWrite{Location: prodSpec},
			Prepare: func(t *testing.T, env *steps.Env) { mustApply(t, env, stepspec.SetReadOnlyName, loc(prod)) }},
		stepstest.Case{Spec: stepspec.Disconnect{Location: stagingSpec}, Prepare: secondary, Undo: stepstest.NoRollback},
		stepstest.Case{Name: "file", Spec: stepspec.RunScript{Location: prodSpec, File: "v2.sql"}, Undo: stepstest.NoRollback,
			Prepare: func(t *testing.T, env *steps.Env) {
				if err := os.WriteFile(filepath.Join(env.BaseDir, "v2.sql"), []byte(script), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
		stepstest.Case{Name: "inline", Spec: stepspec.RunScript{Location: prodSpec, SQL: script}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.Drop{Location: stagingSpec}, Prepare: secondary, Undo: stepstest.NoRollback},
		stepstest.Case{Name: "planned", Spec: stepspec.FailoverGroup{Group: "fog-contoso", Server: staging.Server}, Prepare: group},
		stepstest.Case{Name: "forced", Spec: stepspec.FailoverGroup{Group: "fog-contoso", Server: staging.Server, Mode: stepspec.FailoverForced, AllowDataLoss: true},
			Prepare: group, Undo: stepstest.NoRollback},
	)
}
