package planner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/plans"
)

const failoverPlan = `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: region-switch}
spec:
  target: local
  steps:
    - id: freeze
      action: database.set-read-only
      with: {server: contoso-1, database: contoso}
    - id: switch-region
      action: database.failover-group
      needs: [freeze]
      with: {group: fog-contoso, server: contoso-2}
    - id: force-orders
      action: database.failover-group
      needs: [switch-region]
      with: {group: fog-orders, server: orders-2, mode: forced, allowDataLoss: true}
`

// loadPlan loads the plan src next to a fleetplan.yaml with a local target.
func loadPlan(t *testing.T, src string) *plans.Document {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"plan.yaml": src, "fleetplan.yaml": "targets:\n  local: {driver: local, path: fleet}\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, diags := plans.Load(filepath.Join(dir, "plan.yaml"))
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags.Err())
	}
	return set.Documents[0]
}

// A failover changes which server of its group takes writes: the plan
// lists each failover-group step's group as a change and counts it, and a
// failover whose group is on its server already is not counted.
func TestFailoverIsAChange(t *testing.T) {
	g, diags := PlanRollingUpgrade(context.Background(), loadPlan(t, failoverPlan), fakeUpgrade{facts: recipeFacts()}, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if got, want := planrender.SummaryLine(g), "0 to create, 2 to change, 0 to move, 0 to delete"; got != want {
		t.Fatalf("summary %q; want %q", got, want)
	}
	checkGolden(t, "upgrade-failover.txt", g, planrender.FormatText)

	g, diags = PlanRollingUpgrade(context.Background(), loadPlan(t, failoverPlan), fakeUpgrade{facts: recipeFacts("force-orders")}, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if got, want := planrender.SummaryLine(g), "0 to create, 1 to change, 0 to move, 0 to delete"; got != want {
		t.Fatalf("with fog-orders on orders-2 already: summary %q; want %q", got, want)
	}
}
