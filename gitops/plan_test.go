package gitops

import (
	"testing"

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
