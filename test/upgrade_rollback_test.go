package test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests hold the safety contract of a rollback after the traffic
// switch: customers may have written to V2 since, and undoing the upgrade
// must never lose those rows. They write to the V2 file as an application
// would, then check the outcome in the catalog and the database files.

// execFile runs statements on a database file as an application would.
func execFile(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func fileBytes(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// switchedWorkspace runs an upgrade up to the approval before V1 is removed:
// traffic is on V2, V1 still exists. It returns the workspace and the run.
func switchedWorkspace(t *testing.T, u upgradeTemplate) (string, string) {
	t.Helper()
	ws := newUpgradeWorkspace(t, u, "    approveBeforeRemoveV1: true")
	res := fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
	if res.err != nil || !strings.Contains(res.stdout, "waiting for approval of approve-remove-v1") {
		t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	if st := readUpgradeState(t, ws); st.serving != "contoso-2" {
		t.Fatalf("after the switch %q serves", st.serving)
	}
	return ws, runID(t, res.stdout)
}

const newAccount = `INSERT INTO accounts(id, name, email, plan, created_at, tier)
	VALUES(100001, 'Written After Switch', 'after@contoso.example', 'team', '2026-12-01T00:00:00Z', 'standard')`

// writtenAfterSwitch is switchedWorkspace with one account written to V2
// after the switch (1000 accounts in V1, 1001 in V2); it also returns V2's file.
func writtenAfterSwitch(t *testing.T, u upgradeTemplate) (string, string, string) {
	t.Helper()
	ws, id := switchedWorkspace(t, u)
	v2 := dbFile(ws, "contoso-2/contoso")
	execFile(t, v2, newAccount)
	if n := scalar(t, openDB(t, v2), `SELECT count(*) FROM accounts`); n != 1001 {
		t.Fatalf("V2 has %d accounts, want 1001", n)
	}
	return ws, id, v2
}

// TestRollbackAfterSwitchKeepsNewWrites is the report: 1000 accounts in V1,
// 1001 in V2 after a write made once traffic had switched; rollback dropped
// V2 and the extra account with it. Now rollback refuses, names the table
// and the row counts, exits 1 and changes nothing; with
// --discard-writes-since-switch it switches back and keeps V2 renamed.
func TestRollbackAfterSwitchKeepsNewWrites(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			ws, id, v2 := writtenAfterSwitch(t, u)
			journal := filepath.Join(ws, ".fleetplan", "runs", id, "journal.jsonl")
			before, catalogBefore := fileBytes(t, journal), readUpgradeState(t, ws)

			res := fleetplan(t, ws, instant, "rollback", id)
			out := res.stdout + res.stderr
			if res.err == nil || res.code() != 1 {
				t.Fatalf("rollback with writes since the switch: exit %d, want 1\n%s", res.code(), out)
			}
			for _, want := range []string{"accounts: 1000 -> 1001 rows (+1)", "--discard-writes-since-switch", "nothing was changed"} {
				if !strings.Contains(out, want) {
					t.Errorf("refusal lacks %q:\n%s", want, out)
				}
			}
			if after := fileBytes(t, journal); after != before {
				t.Errorf("the refused rollback wrote to the journal:\n%s", strings.TrimPrefix(after, before))
			}
			st := readUpgradeState(t, ws)
			if st.serving != "contoso-2" || len(st.databases) != len(catalogBefore.databases) || st.databases["contoso-1/contoso"] != true {
				t.Errorf("the refused rollback changed the fleet: serving %q, databases %v", st.serving, st.databases)
			}
			if n := scalar(t, openDB(t, v2), `SELECT count(*) FROM accounts`); n != 1001 {
				t.Errorf("V2 has %d accounts after the refusal, want 1001", n)
			}
			if res := fleetplan(t, ws, nil, "status", id); !strings.Contains(res.stdout, "awaiting-approval") {
				t.Errorf("the run should still await approval:\n%s", res.stdout)
			}

			res = fleetplan(t, ws, instant, "rollback", id, "--discard-writes-since-switch")
			if res.err != nil {
				t.Fatalf("rollback --discard-writes-since-switch: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			kept := dbFile(ws, "contoso-2/contoso-kept-"+id)
			if !strings.Contains(res.stdout, kept) {
				t.Errorf("the output should say where V2 is kept (%s):\n%s", kept, res.stdout)
			}
			if n := scalar(t, openDB(t, kept), `SELECT count(*) FROM accounts WHERE id = 100001`); n != 1 {
				t.Errorf("the kept V2 lost the account written after the switch")
			}
			if n := scalar(t, openDB(t, kept), `SELECT count(*) FROM accounts`); n != 1001 {
				t.Errorf("the kept V2 has %d accounts, want 1001", n)
			}
			st = readUpgradeState(t, ws)
			if _, listed := st.databases["contoso-2/contoso-kept-"+id]; !listed {
				t.Errorf("the catalog does not list the kept database: %v", st.databases)
			}
			if st.serving != "contoso-1" || st.databases["contoso-1/contoso"] {
				t.Errorf("after the rollback: serving %q, V1 read-only %t; want contoso-1, read-write", st.serving, st.databases["contoso-1/contoso"])
			}
			if exists(v2) {
				t.Errorf("%s still exists; V2 should be kept under its new name", v2)
			}
			if n := scalar(t, openDB(t, dbFile(ws, "contoso-1/contoso")), `SELECT count(*) FROM accounts`); n != 1000 {
				t.Errorf("V1 has %d accounts, want 1000", n)
			}
		})
	}
}

// TestRollbackAfterSwitchSeesEveryKindOfWrite: an update that keeps the row
// count, a delete and a new table are writes too.
func TestRollbackAfterSwitchSeesEveryKindOfWrite(t *testing.T) {
	t.Parallel()
	u := upgradeTemplates[0]
	ws, id := switchedWorkspace(t, u)
	for name, c := range map[string]struct{ stmt, want string }{
		"update": {`UPDATE accounts SET plan = 'enterprise' WHERE id = 7`, "accounts: 1000 rows, contents changed (same count)"},
		"delete": {`DELETE FROM invoices WHERE id = 30`, "invoices: 3000 -> 2999 rows (-1)"},
		"create": {`CREATE TABLE notes(id INTEGER PRIMARY KEY); INSERT INTO notes VALUES(1)`, "notes: new table, 1 rows"},
	} {
		t.Run(name, func(t *testing.T) {
			w := copyWorkspace(t, ws)
			execFile(t, dbFile(w, "contoso-2/contoso"), c.stmt)
			res := fleetplan(t, w, instant, "rollback", id)
			if res.code() != 1 || !strings.Contains(res.stderr, c.want) {
				t.Fatalf("rollback after %s: exit %d, want 1 naming %q\n%s%s", name, res.code(), c.want, res.stdout, res.stderr)
			}
			if st := readUpgradeState(t, w); st.serving != "contoso-2" {
				t.Errorf("the refused rollback moved traffic to %q", st.serving)
			}
		})
	}
}

// TestFailureAfterSwitchDoesNotRollBackNewWrites: a step after the switch
// fails while V2 holds new writes. The automatic rollback would lose them,
// so the run pauses with V2 serving instead.
func TestFailureAfterSwitchDoesNotRollBackNewWrites(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			ws, id, v2 := writtenAfterSwitch(t, u)
			if res := fleetplan(t, ws, nil, "approve", id, "approve-remove-v1"); res.err != nil {
				t.Fatalf("approve: %v\n%s", res.err, res.stderr)
			}
			res := fleetplan(t, ws, withFault("step.traffic.remove-endpoint:hard:1"), "resume", id)
			if res.err == nil || !strings.Contains(res.stdout, "ended paused") || !strings.Contains(res.stdout, "not rolled back") {
				t.Fatalf("resume with a failing retire step: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			st := readUpgradeState(t, ws)
			if st.serving != "contoso-2" || st.databases["contoso-2/contoso"] {
				t.Errorf("serving %q, V2 read-only %t; want V2 serving read-write", st.serving, st.databases["contoso-2/contoso"])
			}
			if n := scalar(t, openDB(t, v2), `SELECT count(*) FROM accounts`); n != 1001 {
				t.Errorf("V2 has %d accounts, want 1001", n)
			}
			// Resuming finishes the upgrade.
			if res := fleetplan(t, ws, instant, "resume", id); res.err != nil {
				t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			checkV2(t, ws, u.dr)
			if n := scalar(t, openDB(t, v2), `SELECT count(*) FROM accounts`); n != 1001 {
				t.Errorf("V2 has %d accounts, want 1001", n)
			}
		})
	}
}

// code is the process's exit code (-1 when it did not exit normally).
func (r result) code() int {
	if r.err == nil {
		return 0
	}
	if ee, ok := r.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
