package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// No way a run stops may leave production read-only unless a person asked
// for it (an approval gate inside the read-only window). Each test stops a
// run inside the window another way and reads the catalog right after.

// failUpgrade is the recipe's failure: the upgrade script fails.
const failUpgrade = "step.database.run-sql-script:hard:1"

func TestUpgradeFailureWithoutKeepingStaging(t *testing.T) {
	t.Parallel()
	u := upgradeTemplates[1]
	ws := newUpgradeWorkspace(t, u, "    keepFailedStaging: false")
	_, v1 := appData(t, ws, "contoso-1/contoso")
	res := fleetplan(t, ws, withFault(failUpgrade), "apply", "upgrade.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, "ended rolled-back") {
		t.Fatalf("want a full rollback: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV1(t, ws, v1)
}

func TestUpgradePauseRestoresProduction(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			ws := newUpgradeWorkspace(t, u, "  onFailure: pause")
			_, v1 := appData(t, ws, "contoso-1/contoso")
			res := fleetplan(t, ws, withFault(failUpgrade), "apply", "upgrade.yaml", "--auto-approve")
			if res.err == nil || !strings.Contains(res.stdout, "production restored") {
				t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			checkProductionV1(t, ws, v1)
			id := runID(t, res.stdout)
			if !exists(dbFile(ws, "contoso-2/contoso")) {
				t.Errorf("a paused run keeps staging")
			}
			// The staging copy was taken while production was read-only;
			// production takes writes again, so the run cannot go on.
			if res := fleetplan(t, ws, instant, "resume", id); res.err == nil || !strings.Contains(res.stdout+res.stderr, "fleetplan rollback "+id) {
				t.Errorf("resume should refuse and point at rollback: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			checkProductionV1(t, ws, v1)
			removeKept(t, ws, id, v1)
		})
	}
}

func TestUpgradeCancelInWindowRestoresProduction(t *testing.T) {
	t.Parallel()
	u := upgradeTemplates[0]
	ws := newUpgradeWorkspace(t, u, "    approveBeforeSwitch: true")
	_, v1 := appData(t, ws, "contoso-1/contoso")
	res := fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
	if res.err != nil || !strings.Contains(res.stdout, "waiting for approval of approve-switch") {
		t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	id := runID(t, res.stdout)
	if st := readUpgradeState(t, ws); !st.databases["contoso-1/contoso"] {
		t.Fatalf("production should be read-only while the approval is pending (asked for)")
	}
	res = fleetplan(t, ws, instant, "cancel", id)
	if res.err != nil || !strings.Contains(res.stdout, "read-write again") {
		t.Fatalf("cancel: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkProductionV1(t, ws, v1)
	if res := fleetplan(t, ws, instant, "rollback", id); res.err != nil {
		t.Fatalf("rollback after cancel: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV1(t, ws, v1)
}

// TestUpgradeCrashInWindowThenRollback: a crash leaves production read-only
// (no process is left to help); rollback makes it read-write first.
func TestUpgradeCrashInWindowThenRollback(t *testing.T) {
	t.Parallel()
	u := upgradeTemplates[1]
	ws := newUpgradeWorkspace(t, u, "")
	_, v1 := appData(t, ws, "contoso-1/contoso")
	res := fleetplan(t, ws, withFault("step.database.run-sql-script:exit:1"), "apply", "upgrade.yaml", "--auto-approve")
	if res.err == nil {
		t.Fatalf("apply was not killed:\n%s", res.stdout)
	}
	runs, err := os.ReadDir(filepath.Join(ws, ".fleetplan", "runs"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	if st := readUpgradeState(t, ws); !st.databases["contoso-1/contoso"] {
		t.Fatalf("the crash happened outside the read-only window")
	}
	res = fleetplan(t, ws, instant, "rollback", runs[0].Name())
	if res.err != nil {
		t.Fatalf("rollback: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV1(t, ws, v1)
}

// TestUpgradeFailingRollbackStillRestoresProduction: a compensation fails
// during the rollback; production is read-write anyway, and running the
// rollback again finishes it.
func TestUpgradeFailingRollbackStillRestoresProduction(t *testing.T) {
	t.Parallel()
	u := upgradeTemplates[0]
	ws := newUpgradeWorkspace(t, u, "    keepFailedStaging: false")
	_, v1 := appData(t, ws, "contoso-1/contoso")
	// The upgrade fails; then removing the staging endpoint fails too.
	res := fleetplan(t, ws, withFault(failUpgrade+",step.traffic.remove-endpoint:hard:1"), "apply", "upgrade.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, "ended rollback-failed") {
		t.Fatalf("want a failed rollback: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkProductionV1(t, ws, v1)
	if res := fleetplan(t, ws, instant, "rollback", runID(t, res.stdout)); res.err != nil {
		t.Fatalf("rollback again: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV1(t, ws, v1)
}

// TestUpgradeReapplyRemovesKeptStaging: after the script failed (staging
// kept), the same plan applied again removes the kept parts first and makes
// a fresh staging copy, so V2 holds what production took in the meantime.
func TestUpgradeReapplyRemovesKeptStaging(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			ws := newUpgradeWorkspace(t, u, "")
			res := fleetplan(t, ws, withFault(failUpgrade), "apply", "upgrade.yaml", "--auto-approve")
			if res.err == nil || !strings.Contains(res.stdout, "ended kept-for-analysis") {
				t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			// Production takes a write after it is read-write again.
			execFile(t, dbFile(ws, "contoso-1/contoso"), `INSERT INTO accounts(id, name, email, plan, created_at)
				VALUES(100002, 'After The Failure', 'later@contoso.example', 'free', '2026-12-01T00:00:00Z')`)
			res = fleetplan(t, ws, instant, "plan", "upgrade.yaml")
			if !strings.Contains(res.stdout, "apply removes them first") {
				t.Errorf("the preview should say the kept parts go first:\n%s", res.stdout)
			}
			res = fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
			if res.err != nil || !strings.Contains(res.stdout, "Removing what run") {
				t.Fatalf("re-apply: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			checkV2(t, ws, u.dr)
			if n := scalar(t, openDB(t, dbFile(ws, "contoso-2/contoso")), `SELECT count(*) FROM accounts WHERE id = 100002`); n != 1 {
				t.Errorf("V2 misses the account production took after the failed run: the kept staging copy was reused")
			}
		})
	}
}

// TestUpgradeOtherCheckoutDoesNotReuseStaleStaging: a second checkout of
// the plans knows nothing of the run that kept staging. Its upgrade must
// not take the kept copy (made before production took more writes) for a
// fresh one: it is refused, and nothing is changed or dropped.
func TestUpgradeOtherCheckoutDoesNotReuseStaleStaging(t *testing.T) {
	t.Parallel()
	u := upgradeTemplates[0]
	ws := newUpgradeWorkspace(t, u, "")
	_, v1 := appData(t, ws, "contoso-1/contoso")
	if res := fleetplan(t, ws, withFault(failUpgrade), "apply", "upgrade.yaml", "--auto-approve"); !strings.Contains(res.stdout, "ended kept-for-analysis") {
		t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	other := t.TempDir()
	write(t, filepath.Join(other, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: "+filepath.Join(ws, "fleet")+"}\n")
	write(t, filepath.Join(other, "v2.sql"), upgradeScript)
	write(t, filepath.Join(other, "upgrade.yaml"), strings.Replace(u.plan, "EXTRA", "", 1))
	res := fleetplan(t, other, instant, "apply", "upgrade.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, "took writes since") {
		t.Fatalf("the other checkout's upgrade should refuse the stale copy: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkProductionV1(t, ws, v1)
	if v, _ := appData(t, ws, "contoso-2/contoso"); v != 1 {
		t.Errorf("the kept staging copy was changed (schema_version %d)", v)
	}
}

// slowUpgradeScript runs long enough for a signal to arrive while it runs,
// inside the read-only window; a stopped run interrupts it.
const slowUpgradeScript = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c;
UPDATE schema_version SET version = 2;
`

// TestUpgradeSignalInWindowRestoresProduction: Ctrl-C (or SIGTERM) on apply
// while the upgrade script runs stops the run as cancel does: production
// is read-write again before the process exits, and rollback removes the rest.
func TestUpgradeSignalInWindowRestoresProduction(t *testing.T) {
	for name, sig := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ws := newUpgradeWorkspace(t, upgradeTemplates[1], "")
			write(t, filepath.Join(ws, "v2.sql"), slowUpgradeScript)
			_, v1 := appData(t, ws, "contoso-1/contoso")
			cmd := exec.Command(fleetplanBin, "apply", "upgrade.yaml", "--auto-approve")
			cmd.Dir = ws
			cmd.Env = append(os.Environ(), instant...)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), "step upgrade started"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the upgrade script never started:\n%s", out.String())
				}
			}
			_ = cmd.Process.Signal(sig)
			timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
			err := cmd.Wait()
			timer.Stop()
			if err == nil || killedBy(err, syscall.SIGKILL) {
				t.Fatalf("apply should stop on %s with exit 1 (err %v):\n%s", name, err, out.String())
			}
			if !strings.Contains(out.String(), "production restored") {
				t.Errorf("apply should say production is restored:\n%s", out.String())
			}
			checkProductionV1(t, ws, v1)
			removeKept(t, ws, runID(t, out.String()), v1)
		})
	}
}

// TestUpgradeFailureBeforeMakingAnythingKeepsNothing: the first step fails
// before it made its database; the run has nothing to keep for analysis
// and says it rolled back. A later failure keeps only what exists.
func TestUpgradeFailureBeforeMakingAnythingKeepsNothing(t *testing.T) {
	t.Parallel()
	ws := newUpgradeWorkspace(t, upgradeTemplates[1], "")
	_, v1 := appData(t, ws, "contoso-1/contoso")
	res := fleetplan(t, ws, withFault("step.database.create-secondary:hard:1"), "apply", "upgrade.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, "ended rolled-back") || strings.Contains(res.stdout, "kept for analysis: what") {
		t.Fatalf("want rolled-back with nothing kept: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV1(t, ws, v1)

	res = fleetplan(t, ws, withFault("step.app.deploy-app:hard:1"), "apply", "upgrade.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, `"stage-database" made (remove it with`) || strings.Contains(res.stdout, `"stage-app", `) {
		t.Fatalf("want the staging databases kept, not the app that failed: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	removeKept(t, ws, runID(t, res.stdout), v1)
}

// TestRollbackAfterV1IsGone: once a finished run dropped V1, rollback
// refuses up front, leading with V1 being gone (not with the writes since
// the switch, which no flag could bring back to V1), and changes nothing:
// not the fleet, not the run's status.
func TestRollbackAfterV1IsGone(t *testing.T) {
	for _, written := range []bool{false, true} {
		t.Run(fmt.Sprintf("written-since-switch=%t", written), func(t *testing.T) {
			t.Parallel()
			ws := newUpgradeWorkspace(t, upgradeTemplates[1], "")
			res := fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
			if res.err != nil {
				t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			id := runID(t, res.stdout)
			if written {
				execFile(t, dbFile(ws, "contoso-2/contoso"), `INSERT INTO accounts(name, email, plan, created_at) VALUES ('new', 'new@example.com', 'free', '2026-01-01')`)
			}
			_, v2 := appData(t, ws, "contoso-2/contoso")
			res = fleetplan(t, ws, instant, "rollback", id)
			want := `error: rollback run ` + id + `: step "retire-v1-database" dropped database contoso-1/contoso, which cannot be undone; nothing was changed`
			if res.err == nil || !strings.HasPrefix(res.stderr, want) || strings.Contains(res.stderr, "--discard-writes-since-switch") {
				t.Fatalf("rollback: %v\nwant stderr starting %q\n%s%s", res.err, want, res.stdout, res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("a refused rollback prints no progress:\n%s", res.stdout)
			}
			checkV2(t, ws, true)
			if _, data := appData(t, ws, "contoso-2/contoso"); data != v2 {
				t.Errorf("V2 data changed: %s, want %s", data, v2)
			}
			if res := fleetplan(t, ws, nil, "status", id); !strings.Contains(res.stdout, "done") || strings.Contains(res.stdout, "rollback-failed") {
				t.Errorf("the run's status changed:\n%s", res.stdout)
			}
		})
	}
}
