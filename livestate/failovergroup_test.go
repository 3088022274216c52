package livestate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/planrender"
)

const failoverYAML = `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: region-switch}
spec:
  target: local
  steps:
    - id: switch-region
      action: database.failover-group
      guard: all(live.failoverGroups, .state == "healthy")
      with: {group: fog-contoso, server: contoso-2, MODE}
`

// failoverWorkspace is the demo fleet with contoso-1/contoso in failover
// group fog-contoso (secondary on contoso-2) and a plan that fails it over.
func failoverWorkspace(t *testing.T, mode string) (string, *local.Target) {
	dir, tg := workspace(t)
	ctx := context.Background()
	tg.SetTimeScale(0)
	secondary := fleet.Location{Server: "contoso-2", Database: "contoso"}
	if _, err := tg.CreateSecondary(ctx, local.ContosoLocation, secondary, ""); err != nil {
		t.Fatal(err)
	}
	if err := tg.CreateFailoverGroup(ctx, "fog-contoso", "contoso-1", "contoso-2", []string{"contoso"}, fleet.FailoverManual, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "switch.yaml"), []byte(strings.Replace(failoverYAML, "MODE", mode, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, tg
}

// The group shows in live state for guards, and a failover of the group
// that serves production is a production step; a forced one is a point of
// no return in the preview, a planned one is undone by failing back.
func TestFailoverGroupStep(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		noUndo bool
	}{{"mode: planned", false}, {"mode: forced, allowDataLoss: true", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx := context.Background()
			dir, tg := failoverWorkspace(t, tc.mode)
			live, err := ObserveLive(ctx, tg)
			if err != nil || len(live.FailoverGroups) != 1 || live.FailoverGroups[0].Primary != "contoso-1" || live.FailoverGroups[0].State != "healthy" {
				t.Fatalf("live state: %+v, %v", live, err)
			}
			doc, diags := loadDocument(t, filepath.Join(dir, "switch.yaml"))
			if diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			g, diags := rollingUpgrade{}.Plan(ctx, doc, tg, planner.Options{})
			if diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			s := g.Step("switch-region")
			if s == nil || !s.Production || s.NoUndo != tc.noUndo {
				t.Fatalf("step %+v: want production, noUndo %t", s, tc.noUndo)
			}
			var b bytes.Buffer
			if err := planrender.Text(&b, g); err != nil {
				t.Fatal(err)
			}
			if noReturn := strings.Contains(b.String(), "After step switch-region (point of no return)"); noReturn != tc.noUndo {
				t.Fatalf("preview (point of no return %t, want %t):\n%s", noReturn, tc.noUndo, b.String())
			}
		})
	}
}

// A forced failover without allowDataLoss is refused when the plan is
// made, at the step, and nothing changes.
func TestForcedFailoverNeedsAllowDataLoss(t *testing.T) {
	ctx := context.Background()
	dir, tg := failoverWorkspace(t, "mode: forced")
	doc, diags := loadDocument(t, filepath.Join(dir, "switch.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	_, diags = rollingUpgrade{}.Plan(ctx, doc, tg, planner.Options{})
	if !diags.HasErrors() {
		t.Fatal("a forced failover without allowDataLoss was planned")
	}
	d := diags.Errors()[0]
	if d.Pos.Line == 0 || !strings.Contains(d.Message, "allowDataLoss") || !strings.Contains(d.Hint, "allowDataLoss: true") {
		t.Fatalf("diagnostic %+v: want a position, the reason and a hint naming allowDataLoss: true", d)
	}
	if g, err := tg.FailoverGroup(ctx, "contoso-1", "fog-contoso"); err != nil || g.Primary != "contoso-1" {
		t.Fatalf("group after the refusal: %+v, %v", g, err)
	}
}
