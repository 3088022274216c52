package stepstest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// Effect is what a case claims Apply does.
type Effect int

const (
	// MakesLive is the full contract: Observe says not live before Apply
	// and live after it.
	MakesLive Effect = iota
	// NeverLive is a check or a gate (a no-op, a wait, a request): Observe
	// never says live and Apply changes nothing in the fleet.
	NeverLive
)

// Undo is what a case claims Rollback does.
type Undo int

const (
	// Undoes is the full contract: Rollback puts the fleet back as it was
	// before Apply (Observe says not live again), and a second Rollback
	// changes nothing.
	Undoes Undo = iota
	// NoRollback claims Rollback returns steps.ErrNoRollback and changes
	// nothing (the planner or the plan attaches a compensating step where
	// one makes sense).
	NoRollback
)

// Case is one run of an action through the contract.
type Case struct {
	// Name tells cases of one action apart; the subtest is "action" or
	// "action/name".
	Name string
	// Spec is the step's inputs; its Action is the action under test.
	Spec stepspec.Spec
	// Prepare, when set, puts the fleet (env.Target, a fresh local demo
	// fleet) and the plan folder (env.BaseDir) into the state the step
	// starts from.
	Prepare func(t *testing.T, env *steps.Env)
	Effect  Effect
	Undo    Undo
}

func (c Case) name() string {
	if c.Name == "" {
		return c.Spec.Action()
	}
	return c.Spec.Action() + "/" + c.Name
}

// Fleet returns a fresh local demo fleet (100 customers, instant seeding)
// and an environment to run steps against it, with a plan folder of its own.
func Fleet(t *testing.T) (*local.Target, *steps.Env) {
	t.Helper()
	tg, err := local.CreateDemo(context.Background(), filepath.Join(t.TempDir(), "fleet"), local.DemoOptions{Customers: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(0)
	return tg, &steps.Env{Target: tg, RunID: "conformance", StepID: "s", BaseDir: t.TempDir()}
}

// Run runs every case, and fails when the package calling it registered an
// action that no case covers.
func Run(t *testing.T, cases ...Case) {
	t.Helper()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.Spec.Action()] = true
	}
	pkg := steps.CallerPackage(1)
	for _, name := range steps.Names() {
		if steps.RegisteredBy(name) == pkg && !covered[name] {
			t.Errorf("action %s is registered by %s but has no conformance case: add one to the stepstest.Run call of its package", name, pkg)
		}
	}
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) { runCase(t, c) })
	}
}

func runCase(t *testing.T, c Case) {
	a, err := steps.Lookup(c.Spec.Action())
	if err != nil {
		t.Fatal(err)
	}
	tg, env := Fleet(t)
	if c.Prepare != nil {
		c.Prepare(t, env)
	}
	if err := check(t.Context(), a, c, tg, env); err != nil {
		t.Fatal(err)
	}
}

// check runs one case's action through the contract on a prepared fleet
// and returns the first broken promise.
func check(ctx context.Context, a steps.Action, c Case, tg fleet.Target, env *steps.Env) error {
	ct := &contract{ctx: ctx, a: a, tg: tg, env: env, in: steps.Inputs(stepspec.With(c.Spec))}
	if err := ct.observe("before Apply", false); err != nil {
		return err
	}
	before, beforeExact := ct.state(false), ct.state(true)
	ct.apply("")
	if c.Effect == NeverLive {
		ct.observe("after Apply", false)
		ct.unchanged("Apply of a step that claims no effect", beforeExact, true)
	} else {
		ct.observe("after Apply", true)
	}
	applied := ct.state(true)
	ct.apply("again")
	ct.unchanged("the second Apply", applied, true)
	ct.observe("after the second Apply", c.Effect == MakesLive)
	if ct.err != nil {
		return ct.err
	}
	err := a.Rollback(ctx, env, ct.in)
	switch c.Undo {
	case NoRollback:
		if !errors.Is(err, steps.ErrNoRollback) {
			return fmt.Errorf("Rollback: the case claims no rollback, but it returned %v (want steps.ErrNoRollback)", err)
		}
		ct.unchanged("Rollback of an action without one", applied, true)
	case Undoes:
		if err != nil {
			return fmt.Errorf("Rollback: %w", err)
		}
		ct.observe("after Rollback", false)
		ct.unchanged("Apply then Rollback", before, false)
		rolledBack := ct.state(true)
		if err := a.Rollback(ctx, env, ct.in); err != nil && ct.err == nil {
			ct.err = fmt.Errorf("second Rollback: %w", err)
		}
		ct.unchanged("the second Rollback", rolledBack, true)
	}
	if ct.err != nil {
		return ct.err
	}
	if a.Estimate(ct.in).Basis == "" {
		return errors.New("Estimate has no basis")
	}
	if refs, all := steps.Touches(a, ct.in); all && isReferrer(a) {
		return fmt.Errorf("Refs of literal inputs names anything, want what the step touches (got %v)", refs)
	}
	return nil
}

// contract runs the parts of the contract and keeps the first failure;
// after one, every part does nothing.
type contract struct {
	ctx context.Context
	a   steps.Action
	tg  fleet.Target
	env *steps.Env
	in  steps.Inputs
	err error
}

func (ct *contract) observe(when string, want bool) error {
	if ct.err != nil {
		return ct.err
	}
	done, err := ct.a.Observe(ct.ctx, ct.env, ct.in)
	switch {
	case err != nil:
		ct.err = fmt.Errorf("Observe %s: %w", when, err)
	case done != want:
		ct.err = fmt.Errorf("Observe %s says live=%t, want %t", when, done, want)
	}
	return ct.err
}

func (ct *contract) apply(when string) {
	if ct.err != nil {
		return
	}
	if _, err := ct.a.Apply(ct.ctx, ct.env, ct.in); err != nil {
		ct.err = fmt.Errorf("Apply %s: %w", when, err)
	}
}

// state describes the fleet now (see Snapshot).
func (ct *contract) state(identity bool) string {
	if ct.err != nil {
		return ""
	}
	s, err := Snapshot(ct.ctx, ct.tg, identity)
	if err != nil {
		ct.err = err
	}
	return s
}

// unchanged fails when the fleet no longer matches an earlier state.
func (ct *contract) unchanged(what, before string, identity bool) {
	if after := ct.state(identity); ct.err == nil && before != after {
		ct.err = fmt.Errorf("%s changed the fleet:\n%s", what, diff(before, after))
	}
}

func isReferrer(a steps.Action) bool {
	_, ok := a.(steps.Referrer)
	return ok
}

// diff shows the lines of a snapshot that differ.
func diff(before, after string) string {
	was, now := strings.Split(before, "\n"), strings.Split(after, "\n")
	in := func(lines []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lines {
			m[l] = true
		}
		return m
	}
	inWas, inNow := in(was), in(now)
	var b strings.Builder
	for _, l := range was {
		if !inNow[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range now {
		if !inWas[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
