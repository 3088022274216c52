package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doctor exits 0 on a healthy fleet, 2 with findings (writing the plan that
// fixes them), and 1 on an error; simulate breaks the fleet it is pointed at.
func TestDoctorExitCodesAndPlan(t *testing.T) {
	dir := t.TempDir()
	fleetDir := filepath.Join(dir, "fleet")
	if code, _, errOut := runCLI(t, "fleet", "init", "--demo", fleetDir, "--customers", "200"); code != 0 {
		t.Fatal(errOut)
	}
	cfg := filepath.Join(dir, "fleetplan.yaml")
	if err := os.WriteFile(cfg, []byte("targets:\n  local: {driver: local, path: fleet}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "doctor", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "Healthy") || !strings.Contains(errOut, "placement sql-1/customers_0: checked") {
		t.Fatalf("healthy fleet: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, "fleet", "simulate", "geo-failover", "--config", cfg, "--server", "sql-1"); code != 1 || !strings.Contains(errOut, "--to") {
		t.Fatalf("geo-failover without --to: exit %d: %s", code, errOut)
	}
	if code, out, errOut = runCLI(t, "fleet", "simulate", "geo-failover", "--config", cfg, "--server", "sql-1", "--to", "sql-2"); code != 0 || !strings.Contains(out, "moved customers_0 from sql-1 to sql-2/customers_0") {
		t.Fatalf("geo-failover: exit %d: %s%s", code, out, errOut)
	}
	plan := filepath.Join(dir, "fix.yaml")
	code, out, errOut = runCLI(t, "doctor", "--config", cfg, "--write-plan", plan)
	if code != 2 || !strings.Contains(out, "error: CustomerMap ShardMoved sql-1/customers_0") || !strings.Contains(out, "Wrote the recovery plan to "+plan) {
		t.Fatalf("after a failover: exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(plan)
	if err != nil || !strings.Contains(string(b), "failover: {fromServer: sql-1, toServer: sql-2}") || !strings.Contains(string(b), "target: local") {
		t.Fatalf("plan file (%v):\n%s", err, b)
	}
	if code, _, errOut = runCLI(t, "validate", "--config", cfg, plan); code != 0 {
		t.Fatalf("the written plan does not validate: %s", errOut)
	}
	code, out, _ = runCLI(t, "doctor", "--config", cfg, "--format", "json")
	var rep struct {
		Findings []struct{ Severity, Kind, Token string }
		Plans    []map[string]any
	}
	if code != 2 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) != 2 || rep.Findings[0].Token == "" || len(rep.Plans) != 1 {
		t.Fatalf("json: exit %d\n%s", code, out)
	}
	if code, _, errOut = runCLI(t, "doctor", "--config", cfg, "--shard-map", "NoSuchMap"); code != 1 {
		t.Fatalf("unknown map: exit %d: %s", code, errOut)
	}
}
