package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newInstanceWorkspace is a demo fleet (with its managed instances) and the
// instance examples beside it.
func newInstanceWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	if res := fleetplan(t, ws, nil, "fleet", "init", "--demo", filepath.Join(ws, "fleet")); res.err != nil {
		t.Fatalf("fleet init: %v\n%s", res.err, res.stderr)
	}
	write(t, filepath.Join(ws, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n")
	plans, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "instances", "*.yaml"))
	for _, p := range plans {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(ws, filepath.Base(p)), string(data))
	}
	return ws
}

var startedOp = regexp.MustCompile(`started operation (op-[0-9a-f]+)`)

// TestKillMidInstanceOperation kills apply with SIGKILL while the instance's
// operation seeds, then resumes: the operation id is in the run's journal,
// resume re-attaches to that operation instead of starting a second one,
// and the instance ends on its new configuration.
func TestKillMidInstanceOperation(t *testing.T) {
	ws := newInstanceWorkspace(t)
	env := append(os.Environ(), "FLEETPLAN_INSTANCE_SEED=3")
	cmd := exec.Command(fleetplanBin, "apply", "mi-prod-bc.yaml", "--auto-approve", "--ignore-window", "--time-scale", "1/1800")
	cmd.Dir, cmd.Env = ws, env
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), "update mi-prod: phase 4/6 seeding") && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if err := cmd.Wait(); !killedBy(err, syscall.SIGKILL) {
		t.Fatalf("apply was not killed mid-operation (%v):\n%s", err, out.String())
	}
	m := startedOp.FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "update mi-prod: phase 4/6 seeding") {
		t.Fatalf("killed before the operation seeded:\n%s", out.String())
	}
	opID := m[1]

	// The journal holds the operation id, durable before it was polled.
	journals, _ := filepath.Glob(filepath.Join(ws, ".fleetplan", "runs", "*", "journal.jsonl"))
	if len(journals) != 1 {
		t.Fatalf("journals: %v", journals)
	}
	if got := journaledOperations(t, journals[0]); len(got) != 1 || got[0] != opID {
		t.Fatalf("operation ids in the journal: %v, want [%s]", got, opID)
	}
	db := openDB(t, filepath.Join(ws, "fleet", "fleet.db"))
	if ops := queryStrings(t, db, `SELECT id || ' ' || state FROM mi_operations`); len(ops) != 1 || ops[0] != opID+" InProgress" {
		t.Fatalf("operations after the kill: %v", ops)
	}

	res := fleetplan(t, ws, []string{"FLEETPLAN_INSTANCE_SEED=3"}, "resume")
	if res.err != nil {
		t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout+res.stderr, "re-attaching to operation "+opID) {
		t.Errorf("resume did not re-attach to %s:\n%s%s", opID, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, "started operation") {
		t.Errorf("resume started an operation:\n%s%s", res.stdout, res.stderr)
	}
	if ops := queryStrings(t, db, `SELECT id || ' ' || state FROM mi_operations`); len(ops) != 1 || ops[0] != opID+" Succeeded" {
		t.Fatalf("operations after resume: %v, want only %s, succeeded", ops, opID)
	}
	if got := queryStrings(t, db, `SELECT tier || ' ' || vcores FROM mi_instances WHERE name = 'mi-prod'`); len(got) != 1 || got[0] != "BusinessCritical 16" {
		t.Errorf("mi-prod after resume: %v", got)
	}
	// The plan is now in effect: planning it again finds nothing to do.
	if res := fleetplan(t, ws, nil, "plan", "mi-prod-bc.yaml", "--detailed-exitcode"); res.err != nil {
		t.Errorf("plan after resume: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
}

// journaledOperations lists the operation ids a journal's step-checkpoint records hold.
func journaledOperations(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct{ Type, Key, Value string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Type == "step-checkpoint" && rec.Key == "instance.operation" {
			ids = append(ids, rec.Value)
		}
	}
	return ids
}
