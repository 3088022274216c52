package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/plans"
)

// A plan of a kind not planned yet is shown as such in every format and
// fails neither plan DIR nor drift.
func TestNotPlannedIsNoError(t *testing.T) {
	doc := &plans.Document{Kind: "ShardMapRecovery", File: "r.yaml"}
	doc.Metadata.Name = "r"
	warn := diag.List{{Severity: diag.Warning, Pos: diag.Pos{File: "r.yaml", Line: 3, Col: 1}, Message: "planning ShardMapRecovery documents is not supported yet"}}
	groups := []*gitops.TargetPlans{{Target: "local", Plans: []*gitops.Planned{{Doc: doc, NotPlanned: true, Diags: warn}}}}
	want := map[string]string{
		Text:     `ShardMapRecovery "r" is not planned: plan and apply do not take ShardMapRecovery documents yet (validate checks them).`,
		JSON:     `"notPlanned": true`,
		Markdown: "",
	}
	for format, line := range want {
		var out, errb bytes.Buffer
		if err := New(&out, &errb).PlanRepo(&RepoPlan{Groups: groups}, format, true); err != nil {
			t.Errorf("plan %s: %v", format, err)
		}
		if !strings.Contains(out.String(), line) {
			t.Errorf("plan %s: no %q in\n%s", format, line, out.String())
		}
	}
	var out, errb bytes.Buffer
	if err := New(&out, &errb).Drift(&DriftReport{Groups: groups}, Text); err != nil {
		t.Errorf("drift: %v", err)
	}
	if !strings.Contains(out.String(), `not-planned ShardMapRecovery "r" (r.yaml)`) {
		t.Errorf("drift:\n%s", out.String())
	}
}
