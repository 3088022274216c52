package livestate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/planner"
)

const upgradeYAML = `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: contoso-v2}
spec:
  target: local
  desired: {endpoint: contoso-2, version: "2"}
  uses: builtin:geo-rolling-upgrade-single-region
  with:
    primary: {server: contoso-1, database: contoso, slot: contoso-1}
    staging: {server: contoso-2, slot: contoso-2}
    trafficManager: {profile: contoso, from: contoso-1, to: contoso-2}
    version: "2"
    upgradeScript: v2.sql
    approveBeforeSwitch: true
`

// workspace writes fleetplan.yaml, the plan and its script beside a demo fleet.
func workspace(t *testing.T) (string, *local.Target) {
	t.Helper()
	dir := t.TempDir()
	tg, err := local.CreateDemo(context.Background(), filepath.Join(dir, "fleet"), local.DemoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	for name, body := range map[string]string{
		"fleetplan.yaml": "targets:\n  local: {driver: local, path: fleet}\n",
		"upgrade.yaml":   upgradeYAML,
		"v2.sql":         "UPDATE schema_version SET version = 2;\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, tg
}

func TestPlanRollingUpgradeOnTheDemoFleet(t *testing.T) {
	ctx := context.Background()
	dir, tg := workspace(t)
	doc, diags := loadDocument(t, filepath.Join(dir, "upgrade.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	g, diags := rollingUpgrade{}.Plan(ctx, doc, tg, planner.Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	want := map[string]struct{ production, approval bool }{
		"freeze": {production: true}, "switch": {production: true}, "retire-v1-database": {production: true},
		"stage-database": {}, "upgrade": {}, "approve-switch": {approval: true},
	}
	for id, w := range want {
		s := g.Step(id)
		if s == nil {
			t.Fatalf("no step %s", id)
		}
		if s.Production != w.production || s.Approval != w.approval {
			t.Errorf("step %s: production %t approval %t, want %t %t", id, s.Production, s.Approval, w.production, w.approval)
		}
	}
	if g.Step("approve-remove-v1") != nil {
		t.Error("an approval that is not asked for was kept")
	}
	if g.ReadOnly == nil || g.ReadOnly.From != "freeze" || g.ReadOnly.To != "switch" || len(g.ReadOnly.Approvals) != 1 {
		t.Fatalf("read-only window %+v", g.ReadOnly)
	}
	// A saved plan is fresh until something it names changes.
	if fp, err := (rollingUpgrade{}).Fingerprint(ctx, doc, tg); err != nil || fp != g.Fingerprint {
		t.Fatalf("fresh plan: fingerprint %s, %v; planned %s", fp, err, g.Fingerprint)
	}
	if err := tg.SetReadOnly(ctx, local.ContosoLocation, true); err != nil {
		t.Fatal(err)
	}
	if fp, err := (rollingUpgrade{}).Fingerprint(ctx, doc, tg); err != nil || fp == g.Fingerprint {
		t.Fatalf("want another fingerprint after production went read-only, got %s, %v", fp, err)
	}
}

func TestPlanRollingUpgradeMissingScript(t *testing.T) {
	dir, tg := workspace(t)
	if err := os.Remove(filepath.Join(dir, "v2.sql")); err != nil {
		t.Fatal(err)
	}
	doc, diags := loadDocument(t, filepath.Join(dir, "upgrade.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	_, diags = rollingUpgrade{}.Plan(context.Background(), doc, tg, planner.Options{})
	if !diags.HasErrors() {
		t.Fatal("a plan whose upgrade script is missing was accepted")
	}
	if d := diags.Errors()[0]; d.Pos.Line == 0 {
		t.Errorf("no position: %+v", d)
	}
}
