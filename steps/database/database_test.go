package database

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

// fixture is a demo fleet (no shard data) with instant seeding.
func fixture(t *testing.T) (*local.Target, *steps.Env) {
	t.Helper()
	ctx := context.Background()
	tg, err := local.CreateDemo(ctx, filepath.Join(t.TempDir(), "fleet"), local.DemoOptions{Customers: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(0)
	return tg, &steps.Env{Target: tg, StepID: "s", BaseDir: t.TempDir()}
}

var (
	prod    = local.ContosoLocation
	staging = fleet.Location{Server: "contoso-2", Database: "contoso"}
)

func loc(l fleet.Location) steps.Inputs {
	return steps.Inputs{"server": l.Server, "database": l.Database}
}

func with(in steps.Inputs, kv ...any) steps.Inputs {
	out := steps.Inputs{}
	for k, v := range in {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func mustApply(t *testing.T, env *steps.Env, name string, in steps.Inputs) steps.Outputs {
	t.Helper()
	a, err := steps.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Apply(context.Background(), env, in)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
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

func TestRunScriptOnReadOnlyDatabase(t *testing.T) {
	tg, env := fixture(t)
	mustApply(t, env, stepspec.SetReadOnlyName, loc(prod))
	a, _ := steps.Lookup(stepspec.RunScriptName)
	_, err := a.Apply(context.Background(), env, with(loc(prod), "sql", "UPDATE schema_version SET version = 2"))
	if !errors.Is(err, fleet.ErrReadOnly) {
		t.Fatalf("want a read-only error, got %v", err)
	}
	// A secondary refuses too.
	mustApply(t, env, stepspec.CreateSecondaryName, with(loc(prod), "partnerServer", staging.Server))
	_, err = a.Apply(context.Background(), env, with(loc(staging), "sql", "UPDATE schema_version SET version = 2"))
	if !errors.Is(err, fleet.ErrReadOnly) {
		t.Fatalf("want a read-only error on the secondary, got %v", err)
	}
	info, _ := tg.Database(context.Background(), staging)
	if info.Role != fleet.RoleSecondary {
		t.Fatalf("staging %+v", info)
	}
}

func TestInputErrors(t *testing.T) {
	_, env := fixture(t)
	cases := map[string]struct {
		action string
		in     steps.Inputs
	}{
		"missing server":         {stepspec.SetReadOnlyName, steps.Inputs{"database": "contoso"}},
		"no partner server":      {stepspec.CreateSecondaryName, loc(prod)},
		"file and sql":           {stepspec.RunScriptName, with(loc(prod), "file", "x.sql", "sql", "select 1")},
		"missing script file":    {stepspec.RunScriptName, with(loc(prod), "file", "nope.sql")},
		"forced disconnect":      {stepspec.DisconnectName, with(loc(staging), "mode", "forced")},
		"bad wait timeout":       {stepspec.WaitSeededName, with(loc(staging), "timeout", "soon")},
		"database as a number":   {stepspec.DropName, steps.Inputs{"server": "x", "database": []any{1}}},
		"not a secondary (wait)": {stepspec.WaitSeededName, loc(prod)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, _ := steps.Lookup(tc.action)
			_, err := a.Apply(context.Background(), env, tc.in)
			if err == nil {
				t.Fatal("Apply accepted bad inputs")
			}
			var fe *fleet.Error
			if !errors.As(err, &fe) || fleet.IsTransient(err) {
				t.Fatalf("want a non-transient *fleet.Error, got %T %v", err, err)
			}
		})
	}
}

func TestCreateSecondaryRollbackLeavesOthersAlone(t *testing.T) {
	tg, env := fixture(t)
	ctx := context.Background()
	// Someone else's database at the partner's place is not dropped.
	if err := tg.CreateDatabase(ctx, staging); err != nil {
		t.Fatal(err)
	}
	a, _ := steps.Lookup(stepspec.CreateSecondaryName)
	in := with(loc(prod), "partnerServer", staging.Server)
	if _, err := a.Apply(ctx, env, in); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	if err := a.Rollback(ctx, env, in); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tg.DatabaseExists(ctx, staging); !ok {
		t.Fatal("rollback dropped a database the step did not create")
	}
}

func TestEstimateLiveUsesTheSize(t *testing.T) {
	_, env := fixture(t)
	est, err := CreateSecondary{}.EstimateLive(context.Background(), env, with(loc(prod), "partnerServer", staging.Server))
	if err != nil {
		t.Fatal(err)
	}
	if est.Duration <= 0 || est.Basis == "" {
		t.Fatalf("estimate %+v", est)
	}
}
