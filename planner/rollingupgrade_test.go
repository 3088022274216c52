package planner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// fakeUpgrade answers UpgradeLive with func fields.
type fakeUpgrade struct {
	facts   func(s *plans.StepSpec) (StepFacts, error)
	desired func(d plans.UpgradeDesired) (bool, string, error)
}

func (f fakeUpgrade) Facts(_ context.Context, s *plans.StepSpec) (StepFacts, error) {
	return f.facts(s)
}
func (f fakeUpgrade) Desired(_ context.Context, d plans.UpgradeDesired) (bool, string, error) {
	if f.desired == nil {
		return false, "contoso-1 serves version 1 (profile contoso)", nil
	}
	return f.desired(d)
}
func (fakeUpgrade) Fingerprint(context.Context, []*plans.StepSpec) (string, error) {
	return "fp-upgrade", nil
}

// recipeFacts answers like the engine does for the demo fleet: production is
// contoso-1, approvals follow their `required` input, and live is the set of
// step ids whose effect is there.
func recipeFacts(live ...string) func(s *plans.StepSpec) (StepFacts, error) {
	isLive := map[string]bool{}
	for _, id := range live {
		isLive[id] = true
	}
	return func(s *plans.StepSpec) (StepFacts, error) {
		f := StepFacts{Live: isLive[s.ID], Estimate: stepgraph.Estimate{Duration: 5 * time.Second, Basis: "nominal"}}
		f.Touches, f.TouchesKnown = recipeTouches(s)
		switch s.Action {
		case "generic.approve":
			f.Gate, f.Estimate = true, stepgraph.Estimate{Basis: "waits for a person"}
			f.Approval = s.With["required"] == true
			f.Live = f.Live || !f.Approval
		case "database.wait-seeded":
			f.Gate = true
		case "database.create-secondary":
			f.Estimate = stepgraph.Estimate{Duration: 90 * time.Second, Basis: "seeding 10 MB at 220 GB/h"}
		case "database.run-sql-script":
			if e, ok := s.With["estimate"].(string); ok && e != "" {
				d, _ := time.ParseDuration(e)
				f.Estimate, f.EstimateIsHint = stepgraph.Estimate{Duration: d, Basis: "the plan's estimate"}, true
			} else {
				f.Estimate = stepgraph.Estimate{Duration: time.Minute, Basis: "nominal"}
			}
		}
		switch s.ID {
		case "freeze":
			f.Production, f.ReadOnlyStarts = true, true
		case "switch":
			f.Production, f.ReadOnlyEnds = true, true
		case "retire-v1-endpoint", "retire-v1-app", "retire-v1-database":
			f.Production = true
		}
		return f, nil
	}
}

// recipeTouches names what a step touches the way the actions do, from its
// (here unresolved, but consistently written) inputs.
func recipeTouches(s *plans.StepSpec) ([]Touch, bool) {
	in := func(k string) string { v, _ := s.With[k].(string); return v }
	db := func(server, database string, changes bool) Touch {
		return Touch{Object: "database " + in(server) + "/" + in(database), Changes: changes}
	}
	endpoint := func(name string) Touch {
		return Touch{Object: "endpoint " + in("profile") + "/" + in(name), Changes: true}
	}
	switch s.Action {
	case "generic.approve", "generic.wait", "generic.noop":
		return nil, true
	case "database.create-secondary":
		return []Touch{db("server", "database", false), db("partnerServer", "partnerDatabase", true)}, true
	case "database.wait-seeded":
		return []Touch{db("server", "database", false)}, true
	case "database.set-read-only", "database.set-read-write", "database.disconnect-secondary",
		"database.run-sql-script", "database.drop-database":
		return []Touch{db("server", "database", true)}, true
	case "app.deploy-app", "app.remove-app":
		return []Touch{{Object: "slot " + in("slot"), Changes: true}}, true
	case "traffic.add-endpoint", "traffic.remove-endpoint", "traffic.set-endpoint-status":
		return []Touch{endpoint("endpoint")}, true
	case "traffic.switch-traffic":
		return []Touch{endpoint("from"), endpoint("to")}, true
	}
	return nil, false
}

const upgradePlan = `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: contoso-v2}
spec:
  target: local
  desired: {endpoint: contoso-2, version: "2"}
  uses: builtin:TEMPLATE
  with:
    primary: {server: contoso-1, database: contoso, slot: contoso-1}
    staging: {server: contoso-2, slot: contoso-2}
    trafficManager: {profile: contoso, from: contoso-1, to: contoso-2}
    version: "2"
    upgradeScript: v2.sql
WITH
`

// loadUpgrade loads the single-region template with extra `with:` lines.
func loadUpgrade(t *testing.T, with string) *plans.Document {
	t.Helper()
	return loadUpgradeOf(t, "geo-rolling-upgrade-single-region", with)
}

func loadUpgradeOf(t *testing.T, template, with string) *plans.Document {
	t.Helper()
	src := strings.Replace(strings.Replace(upgradePlan, "TEMPLATE", template, 1), "WITH", with, 1)
	if template == "geo-rolling-upgrade-geo-dr" {
		src = strings.Replace(src, "to: contoso-2}", "to: contoso-2, standby: contoso-3}\n    stagingDR: {server: contoso-dr, slot: contoso-3}", 1)
	}
	return loadPlan(t, src)
}

func ids(g *stepgraph.Graph) []string {
	var out []string
	for _, s := range g.Steps {
		out = append(out, s.ID)
	}
	return out
}

func TestPlanRollingUpgradePruning(t *testing.T) {
	all := []string{"stage-database", "stage-seeded", "stage-app", "stage-endpoint", "freeze", "disconnect", "unfreeze-staging",
		"upgrade", "switch", "retire-v1-endpoint", "retire-v1-app", "retire-v1-database"}
	cases := map[string]struct {
		with      string
		live      []string
		reached   bool
		wantSteps []string
		wantNeeds map[string][]string
	}{
		"fresh fleet: every step, optional approvals pruned": {wantSteps: all,
			wantNeeds: map[string][]string{"switch": {"upgrade"}, "retire-v1-endpoint": {"switch"}}},
		"approval asked for": {with: "    approveBeforeSwitch: true",
			wantSteps: append(append(append([]string{}, all[:8]...), "approve-switch"), all[8:]...),
			wantNeeds: map[string][]string{"approve-switch": {"upgrade"}, "switch": {"approve-switch"}}},
		"a person already made the staging copy": {live: []string{"stage-database"}, wantSteps: all[1:],
			wantNeeds: map[string][]string{"stage-seeded": nil}},
		"half done, desired not reached: only live steps go": {live: []string{"stage-database", "stage-seeded", "freeze"},
			wantSteps: []string{"stage-app", "stage-endpoint", "disconnect", "unfreeze-staging", "upgrade", "switch",
				"retire-v1-endpoint", "retire-v1-app", "retire-v1-database"},
			wantNeeds: map[string][]string{"disconnect": {"stage-endpoint"}}},
		"switched, V1 not removed yet": {live: []string{"switch"}, reached: true,
			wantSteps: []string{"retire-v1-endpoint", "retire-v1-app", "retire-v1-database"},
			wantNeeds: map[string][]string{"retire-v1-endpoint": nil}},
		"switched, removal gated": {with: "    approveBeforeRemoveV1: true", live: []string{"switch"}, reached: true,
			wantSteps: []string{"approve-remove-v1", "retire-v1-endpoint", "retire-v1-app", "retire-v1-database"}},
		"finished upgrade: nothing to do": {with: "    approveBeforeSwitch: true\n    approveBeforeRemoveV1: true",
			live: []string{"switch", "retire-v1-endpoint", "retire-v1-app", "retire-v1-database"}, reached: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc := loadUpgrade(t, tc.with)
			live := fakeUpgrade{facts: recipeFacts(tc.live...), desired: func(plans.UpgradeDesired) (bool, string, error) {
				return tc.reached, "somebody serves", nil
			}}
			g, diags := PlanRollingUpgrade(context.Background(), doc, live, Options{})
			if diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			if diff := cmp.Diff(tc.wantSteps, ids(g)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			for id, want := range tc.wantNeeds {
				s := g.Step(id)
				if s == nil {
					t.Fatalf("no step %s", id)
				}
				if diff := cmp.Diff(want, s.Needs); diff != "" {
					t.Errorf("needs of %s (-want +got):\n%s", id, diff)
				}
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if g.Empty() != (len(tc.wantSteps) == 0) {
				t.Errorf("Empty() = %t", g.Empty())
			}
		})
	}
}

func TestPlanRollingUpgradeEstimates(t *testing.T) {
	cases := map[string]struct {
		with       string
		measured   map[string]Measured
		readOnly   string
		wantWindow time.Duration
		wantBasis  string
		wantGates  []string
	}{
		"nominal script": {wantWindow: 5*time.Second + 5*time.Second + time.Minute + 5*time.Second, wantBasis: "mostly step upgrade: nominal"},
		"measured in an earlier run": {measured: map[string]Measured{"upgrade": {Duration: 3 * time.Second, RunID: "r1"}},
			wantWindow: 18 * time.Second, wantBasis: "mostly step disconnect: nominal"},
		"the plan's hint wins over a measurement": {with: "    scriptEstimate: 45s", measured: map[string]Measured{"upgrade": {Duration: 3 * time.Second, RunID: "r1"}},
			wantWindow: 60 * time.Second, wantBasis: "mostly step upgrade: the plan's estimate"},
		"readOnlyEstimate overrides": {readOnly: "2m", wantWindow: 2 * time.Minute, wantBasis: "the plan's readOnlyEstimate"},
		"approval inside the window": {with: "    approveBeforeSwitch: true", wantWindow: 75 * time.Second,
			wantBasis: "mostly step upgrade: nominal", wantGates: []string{"approve-switch"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc := loadUpgrade(t, tc.with)
			if tc.readOnly != "" {
				doc.RollingUpgrade().ReadOnlyEstimate, _ = time.ParseDuration(tc.readOnly)
			}
			g, diags := PlanRollingUpgrade(context.Background(), doc, fakeUpgrade{facts: recipeFacts()}, Options{Measured: tc.measured})
			if diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			w := g.ReadOnly
			if w == nil || w.From != "freeze" || w.To != "switch" {
				t.Fatalf("window %+v", w)
			}
			if w.Duration != tc.wantWindow || w.Basis != tc.wantBasis {
				t.Errorf("window %s (%s), want %s (%s)", w.Duration, w.Basis, tc.wantWindow, tc.wantBasis)
			}
			if diff := cmp.Diff(tc.wantGates, w.Approvals); diff != "" {
				t.Errorf("approvals in the window (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRollingUpgradeErrors(t *testing.T) {
	cases := map[string]struct {
		facts   func(s *plans.StepSpec) (StepFacts, error)
		desired func(plans.UpgradeDesired) (bool, string, error)
		want    string
	}{
		"a step cannot be observed": {facts: func(s *plans.StepSpec) (StepFacts, error) {
			if s.ID == "upgrade" {
				return StepFacts{}, errors.New("read script: no such file v2.sql")
			}
			return StepFacts{}, nil
		}, want: `plan.yaml:7:9: step "upgrade" (database.run-sql-script) (defined at builtin:geo-rolling-upgrade-single-region:`},
		"desired end unobservable": {facts: recipeFacts(), desired: func(plans.UpgradeDesired) (bool, string, error) {
			return false, "", errors.New("catalog unreadable")
		}, want: "observe the desired end: catalog unreadable"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc := loadUpgrade(t, "")
			_, diags := PlanRollingUpgrade(context.Background(), doc, fakeUpgrade{facts: tc.facts, desired: tc.desired}, Options{})
			if !diags.HasErrors() || !strings.Contains(diags.Err().Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, diags.Err())
			}
			if d := diags.Errors()[0]; d.Pos.Line == 0 {
				t.Errorf("diagnostic without a position: %+v", d)
			}
		})
	}
}

func TestUntilGuard(t *testing.T) {
	cases := map[string]struct {
		with    map[string]any
		guard   *plans.Guard
		want    *stepgraph.Guard
		wantErr string
	}{
		"defaults": {with: map[string]any{"until": "all(live.links, .state == 'healthy')"},
			want: &stepgraph.Guard{Name: "until", Expr: "all(live.links, .state == 'healthy')", Wait: &stepgraph.Wait{Timeout: 10 * time.Minute, Interval: time.Second}}},
		"budget": {with: map[string]any{"until": "true", "timeout": "30s", "interval": "250ms"},
			want: &stepgraph.Guard{Name: "until", Expr: "true", Wait: &stepgraph.Wait{Timeout: 30 * time.Second, Interval: 250 * time.Millisecond}}},
		"an unknown name": {with: map[string]any{"until": "nope > 1"}, wantErr: "until"},
		"combined":        {with: map[string]any{"until": "true"}, guard: &plans.Guard{Expr: "false"}, want: &stepgraph.Guard{Name: "until", Expr: "(false) && (true)", Wait: &stepgraph.Wait{Timeout: 10 * time.Minute, Interval: time.Second}}},
		"missing":         {with: map[string]any{}, wantErr: "needs until"},
		"bad duration":    {with: map[string]any{"until": "true", "timeout": "soon"}, wantErr: "timeout"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, err := untilGuard(&plans.StepSpec{ID: "w", Action: stepspec.WaitName, With: tc.with, Guard: tc.guard})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error with %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("guard (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRollingUpgradeGolden(t *testing.T) {
	single, diags := PlanRollingUpgrade(context.Background(), loadUpgrade(t, "    approveBeforeSwitch: true\n    scriptEstimate: 45s"),
		fakeUpgrade{facts: recipeFacts()}, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	dr, diags := PlanRollingUpgrade(context.Background(), loadUpgradeOf(t, "geo-rolling-upgrade-geo-dr", ""),
		fakeUpgrade{facts: recipeFacts()}, Options{Measured: map[string]Measured{"upgrade": {Duration: 1200 * time.Millisecond, RunID: "20261122T101500Z-ab12"}}})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	for _, tc := range []struct {
		name, format string
		g            *stepgraph.Graph
	}{
		{"upgrade-single-region.txt", planrender.FormatText, single}, {"upgrade-single-region.md", planrender.FormatMarkdown, single},
		{"upgrade-geo-dr.txt", planrender.FormatText, dr},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc.name, tc.g, tc.format) })
	}
}

func TestProductionFirst(t *testing.T) {
	for name, c := range map[string]struct {
		ids, want []string
	}{
		"traffic never left: freeze first": {
			ids:  []string{"upgrade", "unfreeze", "disconnect", "freeze", "stage"},
			want: []string{"freeze", "upgrade", "unfreeze", "disconnect", "stage"}},
		"traffic moved: right after the switch back": {
			ids:  []string{"standby", "switch", "upgrade", "freeze", "stage"},
			want: []string{"standby", "switch", "freeze", "upgrade", "stage"}},
		"nothing froze": {
			ids:  []string{"b", "a"},
			want: []string{"b", "a"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := stepgraph.ProductionFirst(c.ids, "freeze", "switch"); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
