package stepstest

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
)

// fake is an action over one fact of the fleet: whether the demo's contoso
// database is read-only. Its methods are set per test.
type fake struct {
	observe  func(readOnly bool) bool
	apply    func(readOnly bool) bool // the setting Apply leaves
	rollback func(readOnly bool) (bool, error)
}

func readOnly(ctx context.Context, env *steps.Env) bool {
	info, _ := env.Target.(fleet.ControlPlane).Database(ctx, local.ContosoLocation)
	return info.ReadOnly
}

func set(ctx context.Context, env *steps.Env, v bool) error {
	return env.Target.(fleet.ControlPlane).SetReadOnly(ctx, local.ContosoLocation, v)
}

func (f fake) Observe(ctx context.Context, env *steps.Env, _ steps.Inputs) (bool, error) {
	return f.observe(readOnly(ctx, env)), nil
}

func (f fake) Apply(ctx context.Context, env *steps.Env, _ steps.Inputs) (steps.Outputs, error) {
	return nil, set(ctx, env, f.apply(readOnly(ctx, env)))
}

func (f fake) Rollback(ctx context.Context, env *steps.Env, _ steps.Inputs) error {
	v, err := f.rollback(readOnly(ctx, env))
	if err != nil {
		return err
	}
	return set(ctx, env, v)
}

func (fake) Estimate(steps.Inputs) steps.Estimate { return steps.Estimate{Basis: "a test"} }

type fakeSpec struct{ name string }

func (s fakeSpec) Action() string { return s.name }

func TestCheckHoldsActionsToTheirClaims(t *testing.T) {
	freeze := func(bool) bool { return true }
	isFrozen := func(ro bool) bool { return ro }
	thaw := func(bool) (bool, error) { return false, nil }
	cases := map[string]struct {
		action fake
		claim  Case
		fails  string // "" when the action keeps its claims
	}{
		"keeps the contract": {action: fake{observe: isFrozen, apply: freeze, rollback: thaw}},
		"second Apply changes the fleet": {action: fake{observe: isFrozen, apply: func(ro bool) bool { return !ro }, rollback: thaw},
			fails: "the second Apply changed the fleet"},
		"Rollback undoes nothing": {action: fake{observe: isFrozen, apply: freeze, rollback: func(ro bool) (bool, error) { return ro, nil }},
			fails: "Observe after Rollback"},
		"claims no rollback but has one": {action: fake{observe: isFrozen, apply: freeze, rollback: thaw},
			claim: Case{Undo: NoRollback}, fails: "claims no rollback"},
		"claims no rollback rightly": {action: fake{observe: isFrozen, apply: freeze, rollback: func(bool) (bool, error) { return false, steps.ErrNoRollback }},
			claim: Case{Undo: NoRollback}},
		"claims no effect but has one": {action: fake{observe: func(bool) bool { return false }, apply: freeze, rollback: thaw},
			claim: Case{Effect: NeverLive}, fails: "claims no effect changed the fleet"},
		"live before Apply": {action: fake{observe: func(bool) bool { return true }, apply: freeze, rollback: thaw},
			fails: "Observe before Apply"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg, env := Fleet(t)
			c := tc.claim
			c.Spec = fakeSpec{name: "test." + name}
			err := check(t.Context(), tc.action, c, tg, env)
			switch {
			case tc.fails == "" && err != nil:
				t.Fatalf("an action that keeps its claims failed: %v", err)
			case tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)):
				t.Fatalf("want a failure saying %q, got %v", tc.fails, err)
			}
		})
	}
}
