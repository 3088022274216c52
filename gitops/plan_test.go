package gitops

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	_ "github.com/fleetplan/fleetplan/steps/generic"
)

func TestChanged(t *testing.T) {
	step := func(action string, with map[string]any) *stepgraph.Step {
		return &stepgraph.Step{ID: action, Action: action, With: with}
	}
	tests := map[string]struct {
		g    *stepgraph.Graph
		want bool
	}{
		"no graph":                      {g: nil},
		"no steps":                      {g: &stepgraph.Graph{}},
		"a no-op":                       {g: &stepgraph.Graph{Steps: []*stepgraph.Step{step("generic.noop", nil)}}},
		"gates only":                    {g: &stepgraph.Graph{Steps: []*stepgraph.Step{step("generic.noop", nil), step("generic.approve", map[string]any{"message": "go"}), step("generic.wait", map[string]any{"until": "true"})}}},
		"a command may change anything": {g: &stepgraph.Graph{Steps: []*stepgraph.Step{step("generic.noop", nil), step("generic.exec", map[string]any{"command": "true"})}}, want: true},
		"an object change":              {g: &stepgraph.Graph{Steps: []*stepgraph.Step{step("generic.noop", nil)}, Changes: []stepgraph.Change{{Op: stepgraph.Update, Object: "endpoint e serves version 2"}}}, want: true},
		"removing what a run kept":      {g: &stepgraph.Graph{Steps: []*stepgraph.Step{step("generic.noop", nil)}, RemoveKept: []string{"R1"}}, want: true},
		"an action nobody registered":   {g: &stepgraph.Graph{Steps: []*stepgraph.Step{step("nobody.knows", nil)}}, want: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Changed(tt.g); got != tt.want {
				t.Errorf("Changed = %v, want %v", got, tt.want)
			}
		})
	}
}

type fakeTarget struct{ name string }

func (f fakeTarget) Name() string                 { return f.name }
func (fakeTarget) Driver() string                 { return "fake" }
func (fakeTarget) Close() error                   { return nil }
func (fakeTarget) Ping(ctx context.Context) error { return nil }

// A repository holding a document of a kind no planner takes yet is planned
// all the same: that document is "not planned", with a warning, and is not
// an error of the repository.
func TestPlanAllKindWithoutPlanner(t *testing.T) {
	cfg := &plans.Config{Path: filepath.Join(t.TempDir(), "fleetplan.yaml")}
	cfg.Dir = filepath.Dir(cfg.Path)
	doc := &plans.Document{Kind: "NoSuchKind", File: "x.yaml", Config: cfg, Target: "local", Pos: diag.Pos{File: "x.yaml", Line: 1, Col: 1}}
	doc.Metadata.Name = "x"
	groups := Group([]*plans.Document{doc}, nil, nil)
	PlanAll(context.Background(), groups, func(context.Context, *plans.Config, string) (fleet.Target, error) {
		return fakeTarget{"local"}, nil
	})
	p := groups[0].Plans[0]
	if !p.NotPlanned || p.Graph != nil {
		t.Fatalf("NotPlanned = %v, graph %v", p.NotPlanned, p.Graph)
	}
	if len(p.Diags) == 0 || p.Diags.HasErrors() {
		t.Errorf("diagnostics %v, want warnings only", p.Diags)
	}
	if Errors(groups) {
		t.Error("a kind without a planner fails the repository")
	}
	if Changes(groups) {
		t.Error("a plan not made changes something")
	}
}
