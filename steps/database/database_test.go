package database

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
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

// TestActionContract runs every database action through the contract:
// Observe says not live, Apply makes it live, Apply again is a no-op, and
// Rollback (where there is one) makes it not live again.
func TestActionContract(t *testing.T) {
	script := "UPDATE schema_version SET version = 2;\nALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';\n"
	secondary := func(t *testing.T, env *steps.Env) {
		mustApply(t, env, CreateSecondaryName, with(loc(prod), "partnerServer", staging.Server))
	}
	cases := map[string]struct {
		action   string
		prepare  func(t *testing.T, env *steps.Env)
		in       steps.Inputs
		undoable bool
	}{
		"create-secondary": {action: CreateSecondaryName, in: with(loc(prod), "partnerServer", staging.Server), undoable: true},
		"wait-seeded": {action: WaitSeededName, in: loc(staging), prepare: func(t *testing.T, env *steps.Env) {
			env.Target.(*local.Target).SetTimeScale(0.02) // seeding ~0.8 s: observable, short
			secondary(t, env)
		}},
		"set-read-only": {action: SetReadOnlyName, in: loc(prod), undoable: true},
		"set-read-write": {action: SetReadWriteName, in: loc(prod), undoable: true,
			prepare: func(t *testing.T, env *steps.Env) { mustApply(t, env, SetReadOnlyName, loc(prod)) }},
		"disconnect-secondary": {action: DisconnectName, prepare: secondary, in: loc(staging)},
		"run-sql-script (file)": {action: RunScriptName, in: with(loc(prod), "file", "v2.sql"),
			prepare: func(t *testing.T, env *steps.Env) {
				if err := os.WriteFile(filepath.Join(env.BaseDir, "v2.sql"), []byte(script), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
		"run-sql-script (inline)": {action: RunScriptName, in: with(loc(prod), "sql", script)},
		"drop-database":           {action: DropName, prepare: secondary, in: loc(staging)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, env := fixture(t)
			if tc.prepare != nil {
				tc.prepare(t, env)
			}
			a, err := steps.Lookup(tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if observe(t, env, tc.action, tc.in) {
				t.Fatal("Observe says live before Apply")
			}
			mustApply(t, env, tc.action, tc.in)
			if !observe(t, env, tc.action, tc.in) {
				t.Fatal("Observe says not live after Apply")
			}
			mustApply(t, env, tc.action, tc.in)
			err = a.Rollback(context.Background(), env, tc.in)
			switch {
			case !tc.undoable:
				if !errors.Is(err, steps.ErrNoRollback) {
					t.Fatalf("Rollback: want ErrNoRollback, got %v", err)
				}
			case err != nil:
				t.Fatalf("Rollback: %v", err)
			default:
				if observe(t, env, tc.action, tc.in) {
					t.Fatal("Observe says live after Rollback")
				}
				if err := a.Rollback(context.Background(), env, tc.in); err != nil {
					t.Fatalf("second Rollback: %v", err)
				}
			}
			if a.Estimate(tc.in).Basis == "" {
				t.Error("Estimate without a basis")
			}
		})
	}
}

func TestRunScriptOnReadOnlyDatabase(t *testing.T) {
	tg, env := fixture(t)
	mustApply(t, env, SetReadOnlyName, loc(prod))
	a, _ := steps.Lookup(RunScriptName)
	_, err := a.Apply(context.Background(), env, with(loc(prod), "sql", "UPDATE schema_version SET version = 2"))
	if !errors.Is(err, fleet.ErrReadOnly) {
		t.Fatalf("want a read-only error, got %v", err)
	}
	// A secondary refuses too.
	mustApply(t, env, CreateSecondaryName, with(loc(prod), "partnerServer", staging.Server))
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
		"missing server":         {SetReadOnlyName, steps.Inputs{"database": "contoso"}},
		"no partner server":      {CreateSecondaryName, loc(prod)},
		"file and sql":           {RunScriptName, with(loc(prod), "file", "x.sql", "sql", "select 1")},
		"missing script file":    {RunScriptName, with(loc(prod), "file", "nope.sql")},
		"forced disconnect":      {DisconnectName, with(loc(staging), "mode", "forced")},
		"bad wait timeout":       {WaitSeededName, with(loc(staging), "timeout", "soon")},
		"database as a number":   {DropName, steps.Inputs{"server": "x", "database": []any{1}}},
		"not a secondary (wait)": {WaitSeededName, loc(prod)},
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
	a, _ := steps.Lookup(CreateSecondaryName)
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
