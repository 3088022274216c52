package planrender

import (
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// Instance operations have no rollback: the preview of a plan made only of
// them says what a failure really leaves, not "roll back completed steps".
// A plan with any step that can be rolled back keeps the usual line.
func TestInstancePreviewSaysWhatAFailureLeaves(t *testing.T) {
	inst := func(id string) *stepgraph.Step { return &stepgraph.Step{ID: id, Action: stepspec.InstanceChangeName} }
	for name, tc := range map[string]struct {
		g          *stepgraph.Graph
		text, mark string
	}{
		"instances only": {
			&stepgraph.Graph{Kind: "InstanceChange", OnFailure: "rollback", Steps: []*stepgraph.Step{inst("a"), inst("b")}},
			"On failure: nothing is rolled back; no further operation starts and operations already running finish; the instance whose operation failed keeps its old configuration, and instances already changed keep their new one (an instance operation cannot be rolled back).\n",
			"On failure, **nothing is rolled back**: no further operation starts",
		},
		"with a step that rolls back": {
			&stepgraph.Graph{Kind: "InstanceChange", OnFailure: "rollback", Steps: []*stepgraph.Step{inst("a"), {ID: "n", Action: stepspec.NoopName}}},
			"On failure: roll back completed steps in reverse order.\n",
			"On failure, completed steps are **rolled back** in reverse order.",
		},
		"paused": {
			&stepgraph.Graph{Kind: "InstanceChange", OnFailure: "pause", Steps: []*stepgraph.Step{inst("a")}},
			"On failure: pause (resume with `fleetplan resume`); nothing is rolled back; no further operation starts and operations already running finish; the instance whose operation failed keeps its old configuration, and instances already changed keep their new one (an instance operation cannot be rolled back).\n",
			"On failure the run **pauses** (`fleetplan resume` continues it) and **nothing is rolled back**: no further operation starts",
		},
	} {
		var text, mark strings.Builder
		if err := Text(&text, tc.g); err != nil {
			t.Fatal(err)
		}
		if err := Markdown(&mark, tc.g); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(text.String(), tc.text) {
			t.Errorf("%s: text ends\n%s\nwant %q", name, text.String(), tc.text)
		}
		if !strings.Contains(mark.String(), tc.mark) || strings.Contains(text.String()+mark.String(), "roll back completed") != strings.Contains(tc.text, "roll back completed") {
			t.Errorf("%s: markdown\n%s\nwant %q", name, mark.String(), tc.mark)
		}
	}
}
