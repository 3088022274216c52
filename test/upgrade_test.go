package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// The rolling-upgrade end-to-end tests run both built-in upgrade templates
// against fresh demo fleets with the real binary, inject failures and
// crashes at every step, and check the outcome by opening the catalog and
// the database files directly.

// upgradeTemplate is one template under test: its plan and its forward steps
// in run order, with the action each runs.
type upgradeTemplate struct {
	name  string
	plan  string
	steps [][2]string // step id, action
	dr    bool        // the geo-DR option: a chained copy and a standby in the backup region
}

var upgradeTemplates = []upgradeTemplate{
	{name: "single-region", plan: `apiVersion: fleetplan/v1
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
EXTRA
`, steps: [][2]string{
		{"stage-database", "database.create-secondary"}, {"stage-seeded", "database.wait-seeded"}, {"stage-app", "app.deploy-app"},
		{"stage-endpoint", "traffic.add-endpoint"}, {"freeze", "database.set-read-only"}, {"disconnect", "database.disconnect-secondary"},
		{"unfreeze-staging", "database.set-read-write"}, {"upgrade", "database.run-sql-script"}, {"switch", "traffic.switch-traffic"},
		{"retire-v1-endpoint", "traffic.remove-endpoint"}, {"retire-v1-app", "app.remove-app"}, {"retire-v1-database", "database.drop-database"},
	}},
	{name: "geo-dr", dr: true, plan: `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: contoso-v2}
spec:
  target: local
  desired: {endpoint: contoso-2, version: "2"}
  uses: builtin:geo-rolling-upgrade-geo-dr
  with:
    primary: {server: contoso-1, database: contoso, slot: contoso-1}
    staging: {server: contoso-2, slot: contoso-2}
    stagingDR: {server: contoso-dr, slot: contoso-3}
    trafficManager: {profile: contoso, from: contoso-1, to: contoso-2, standby: contoso-3}
    version: "2"
    upgradeScript: v2.sql
EXTRA
`, steps: [][2]string{
		{"stage-database", "database.create-secondary"}, {"stage-seeded", "database.wait-seeded"}, {"stage-app", "app.deploy-app"},
		{"dr-database", "database.create-secondary"}, {"dr-seeded", "database.wait-seeded"}, {"dr-app", "app.deploy-app"},
		{"stage-endpoint", "traffic.add-endpoint"}, {"dr-endpoint", "traffic.add-endpoint"}, {"freeze", "database.set-read-only"},
		{"disconnect", "database.disconnect-secondary"}, {"unfreeze-staging", "database.set-read-write"}, {"upgrade", "database.run-sql-script"},
		{"switch", "traffic.switch-traffic"}, {"standby-online", "traffic.set-endpoint-status"},
		{"retire-v1-endpoint", "traffic.remove-endpoint"}, {"retire-v1-app", "app.remove-app"}, {"retire-v1-database", "database.drop-database"},
	}},
}

// faultsAtEveryStep returns, for each forward step, the fault point that
// fires at its start: step.<action> at the hit that step makes. Steps of one
// action that may run in parallel (stage-app and dr-app) can swap hits; then
// each still fails in one of the two cases.
func (u upgradeTemplate) faultsAtEveryStep(kind string) map[string]string {
	out := map[string]string{}
	seen := map[string]int{}
	for _, s := range u.steps {
		seen[s[1]]++
		out[s[0]] = fmt.Sprintf("step.%s:%s:%d", s[1], kind, seen[s[1]])
	}
	return out
}

const upgradeScript = `ALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';
UPDATE accounts SET tier = 'premium' WHERE plan = 'enterprise';
UPDATE schema_version SET version = 2;
`

// newUpgradeWorkspace creates a demo fleet and the template's plan.
func newUpgradeWorkspace(t *testing.T, u upgradeTemplate, extra string) string {
	t.Helper()
	ws := t.TempDir()
	if res := fleetplan(t, ws, nil, "fleet", "init", "--demo", filepath.Join(ws, "fleet"), "--customers", "10"); res.err != nil {
		t.Fatalf("fleet init: %v\n%s", res.err, res.stderr)
	}
	write(t, filepath.Join(ws, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n")
	write(t, filepath.Join(ws, "v2.sql"), upgradeScript)
	write(t, filepath.Join(ws, "upgrade.yaml"), strings.Replace(u.plan, "EXTRA", extra, 1))
	return ws
}

// instant makes modelled seeding take no time.
var instant = []string{"FLEETPLAN_TIME_SCALE=0"}

// withFault injects a fault. Seeding is instant, except when the fault is
// in wait-seeded: that step only runs while a link is still seeding.
func withFault(fault string) []string {
	env := []string{"FLEETPLAN_FAULTS=" + fault, "FLEETPLAN_FAULTS_I_KNOW=yes"}
	if strings.Contains(fault, "wait-seeded") {
		return env
	}
	return append(env, instant...)
}

// ---- the fleet as the files say ----

type endpointRow struct {
	status, target string
	priority       int
}

type slotRow struct{ version, db string }

type upgradeState struct {
	databases map[string]bool // "server/name" -> read_only
	links     []string        // "primary -> partner state"
	endpoints map[string]endpointRow
	slots     map[string]slotRow
	serving   string // the online endpoint with the lowest priority
}

func readUpgradeState(t *testing.T, ws string) *upgradeState {
	t.Helper()
	cat := openDB(t, filepath.Join(ws, "fleet", "fleet.db"))
	st := &upgradeState{databases: map[string]bool{}, endpoints: map[string]endpointRow{}, slots: map[string]slotRow{}}
	rows, err := cat.Query(`SELECT server || '/' || name, read_only FROM databases WHERE server LIKE 'contoso%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var ro bool
		if err := rows.Scan(&k, &ro); err != nil {
			t.Fatal(err)
		}
		st.databases[k] = ro
	}
	rows.Close()
	st.links = queryStrings(t, cat, `SELECT primary_server || '/' || primary_db || ' -> ' || partner_server || '/' || partner_db || ' ' || state
		FROM replication_links ORDER BY 1`)
	rows, err = cat.Query(`SELECT name, status, target, priority FROM traffic_manager_endpoints WHERE profile = 'contoso' ORDER BY priority`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var e endpointRow
		if err := rows.Scan(&name, &e.status, &e.target, &e.priority); err != nil {
			t.Fatal(err)
		}
		st.endpoints[name] = e
		if st.serving == "" && e.status == "Online" {
			st.serving = name
		}
	}
	rows.Close()
	rows, err = cat.Query(`SELECT name, version, server || '/' || database FROM app_slots`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var s slotRow
		if err := rows.Scan(&name, &s.version, &s.db); err != nil {
			t.Fatal(err)
		}
		st.slots[name] = s
	}
	rows.Close()
	return st
}

func dbFile(ws, loc string) string { return filepath.Join(ws, "fleet", filepath.FromSlash(loc)+".db") }

// appData fingerprints the contoso tables of a database file.
func appData(t *testing.T, ws, loc string) (version int64, checksum string) {
	t.Helper()
	db := openDB(t, dbFile(ws, loc))
	version = scalar(t, db, `SELECT max(version) FROM schema_version`)
	var all []string
	for _, q := range []string{`SELECT quote(id) || quote(name) || quote(email) || quote(plan) || quote(created_at) FROM accounts`,
		`SELECT quote(id) || quote(account_id) || quote(amount) || quote(issued_at) FROM invoices`} {
		all = append(all, queryStrings(t, db, q)...)
	}
	sort.Strings(all)
	return version, fmt.Sprintf("%d rows %x", len(all), fnv(strings.Join(all, "\n")))
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// checkV1 asserts the state after any rollback: V1 intact, read-write and
// serving; no staging part left in the catalog or on disk.
func checkV1(t *testing.T, ws, v1Data string) {
	t.Helper()
	st := readUpgradeState(t, ws)
	if ro, ok := st.databases["contoso-1/contoso"]; !ok || ro {
		t.Errorf("V1 database: present %t, read-only %t; want present and read-write", ok, ro)
	}
	if len(st.databases) != 1 {
		t.Errorf("databases left: %v; want only contoso-1/contoso", st.databases)
	}
	if len(st.links) != 0 {
		t.Errorf("replication links left: %v", st.links)
	}
	if st.serving != "contoso-1" || len(st.endpoints) != 1 || st.endpoints["contoso-1"].target != "contoso-1" {
		t.Errorf("traffic: serving %q, endpoints %v; want only contoso-1, serving", st.serving, st.endpoints)
	}
	if s, ok := st.slots["contoso-1"]; !ok || s.version != "1" || s.db != "contoso-1/contoso" || len(st.slots) != 1 {
		t.Errorf("slots %v; want only contoso-1 at version 1 on contoso-1/contoso", st.slots)
	}
	for _, f := range []string{"contoso-2/contoso", "contoso-dr/contoso"} {
		if exists(dbFile(ws, f)) {
			t.Errorf("staging file %s left behind", f)
		}
	}
	if v, data := appData(t, ws, "contoso-1/contoso"); v != 1 || data != v1Data {
		t.Errorf("V1 data: schema_version %d, %s; want 1, %s", v, data, v1Data)
	}
}

// checkProductionV1 asserts what every failure leaves at once, before any
// cleanup: V1 intact, read-write and serving.
func checkProductionV1(t *testing.T, ws, v1Data string) {
	t.Helper()
	st := readUpgradeState(t, ws)
	if ro, ok := st.databases["contoso-1/contoso"]; !ok || ro {
		t.Errorf("V1 database: present %t, read-only %t; want present and read-write", ok, ro)
	}
	if st.serving != "contoso-1" {
		t.Errorf("traffic: serving %q, endpoints %v; want contoso-1", st.serving, st.endpoints)
	}
	if v, data := appData(t, ws, "contoso-1/contoso"); v != 1 || data != v1Data {
		t.Errorf("V1 data: schema_version %d, %s; want 1, %s", v, data, v1Data)
	}
}

// removeKept finishes the removal of what a failed run kept for analysis
// (the staging copy is there until then) and checks V1 as after a rollback.
func removeKept(t *testing.T, ws, id, v1Data string) {
	t.Helper()
	if res := fleetplan(t, ws, nil, "status", id); !strings.Contains(res.stdout, "fleetplan rollback "+id) {
		t.Errorf("status should say how to remove the kept staging parts:\n%s", res.stdout)
	}
	res := fleetplan(t, ws, instant, "rollback", id)
	if res.err != nil || !strings.Contains(res.stdout, "ended rolled-back") {
		t.Fatalf("rollback of the kept parts: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV1(t, ws, v1Data)
}

// checkV2 asserts the state after a successful run.
func checkV2(t *testing.T, ws string, dr bool) {
	t.Helper()
	st := readUpgradeState(t, ws)
	if st.serving != "contoso-2" {
		t.Errorf("serving %q, want contoso-2 (endpoints %v)", st.serving, st.endpoints)
	}
	if s := st.slots["contoso-2"]; s.version != "2" || s.db != "contoso-2/contoso" {
		t.Errorf("slot contoso-2 = %+v, want version 2 on contoso-2/contoso", s)
	}
	if ro, ok := st.databases["contoso-2/contoso"]; !ok || ro {
		t.Errorf("V2 database: present %t, read-only %t", ok, ro)
	}
	if _, ok := st.databases["contoso-1/contoso"]; ok || exists(dbFile(ws, "contoso-1/contoso")) {
		t.Errorf("V1 database still there")
	}
	if _, ok := st.slots["contoso-1"]; ok {
		t.Errorf("V1 slot still there")
	}
	if _, ok := st.endpoints["contoso-1"]; ok {
		t.Errorf("V1 endpoint still there")
	}
	if v, _ := appData(t, ws, "contoso-2/contoso"); v != 2 {
		t.Errorf("V2 schema_version %d, want 2", v)
	}
	wantLinks := 0
	if dr {
		wantLinks = 1
		if len(st.links) != 1 || st.links[0] != "contoso-2/contoso -> contoso-dr/contoso healthy" {
			t.Errorf("links %v, want the healthy chain to contoso-dr", st.links)
		}
		if v, _ := appData(t, ws, "contoso-dr/contoso"); v != 2 {
			t.Errorf("the backup-region copy has schema_version %d, want 2 (replicated)", v)
		}
		if e := st.endpoints["contoso-3"]; e.status != "Online" || e.priority <= st.endpoints["contoso-2"].priority {
			t.Errorf("standby endpoint %+v, want online behind contoso-2", e)
		}
		if s := st.slots["contoso-3"]; s.version != "2" || s.db != "contoso-dr/contoso" {
			t.Errorf("standby slot %+v", s)
		}
	}
	if len(st.links) != wantLinks {
		t.Errorf("links %v", st.links)
	}
}

// planIsEmpty asserts that re-planning finds nothing to do.
func planIsEmpty(t *testing.T, ws string) {
	t.Helper()
	if res := fleetplan(t, ws, instant, "plan", "upgrade.yaml", "--detailed-exitcode"); res.err != nil {
		t.Errorf("plan after the upgrade is not a no-op: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
}

var runIDPattern = regexp.MustCompile(`Run (\S+) `)

func runID(t *testing.T, out string) string {
	t.Helper()
	m := runIDPattern.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no run id in output:\n%s", out)
	}
	return m[1]
}

// ---- the tests ----

func TestUpgradeSuccess(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			ws := newUpgradeWorkspace(t, u, "")
			// The default time scale: seeding goes through its states for real.
			res := fleetplan(t, ws, nil, "apply", "upgrade.yaml", "--auto-approve")
			if res.err != nil {
				t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			for _, want := range []string{"seeding", "healthy", "Read-only window:", "Touches production: freeze, switch"} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("apply output lacks %q:\n%s", want, res.stdout)
				}
			}
			id := runID(t, res.stdout)
			checkV2(t, ws, u.dr)
			planIsEmpty(t, ws)
			res = fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
			if res.err != nil || !strings.Contains(res.stdout, "No changes") {
				t.Errorf("re-apply: %v\n%s", res.err, res.stdout)
			}
			// After the switch and V1's removal, rollback refuses and says why.
			res = fleetplan(t, ws, instant, "rollback", id)
			if res.err == nil || !strings.Contains(res.stderr, "dropped database contoso-1/contoso, which cannot be undone") {
				t.Errorf("rollback after the upgrade should refuse with a reason: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			checkV2(t, ws, u.dr)
		})
	}
}

// TestUpgradeFailureAtEveryStep fails each step in turn (a hard error at the
// start of its action) and checks that the run rolled back to V1 by itself.
func TestUpgradeFailureAtEveryStep(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			tmpl := newUpgradeWorkspace(t, u, "")
			_, v1 := appData(t, tmpl, "contoso-1/contoso")
			faults := u.faultsAtEveryStep("hard")
			// Inside multi-part operations of the driver, too.
			faults["copy made, catalog not written"] = "local.create-secondary.copied:hard:1"
			faults["copy resynchronized, link not ended"] = "local.disconnect.synced:hard:1"
			faults["script committed, not replicated"] = "local.run-script.committed:hard:1"
			for step, fault := range faults {
				t.Run(step, func(t *testing.T) {
					ws := copyWorkspace(t, tmpl)
					res := fleetplan(t, ws, withFault(fault), "apply", "upgrade.yaml", "--auto-approve")
					if res.err == nil {
						t.Fatalf("apply with %s succeeded:\n%s", fault, res.stdout)
					}
					if step == "stage-database" {
						// It failed before making anything: nothing to keep.
						if !strings.Contains(res.stdout, "ended rolled-back") || !strings.Contains(res.stdout, "injected fault") {
							t.Fatalf("want a rollback explaining the failure, nothing kept:\n%s%s", res.stdout, res.stderr)
						}
						checkV1(t, ws, v1)
						return
					}
					if !strings.Contains(res.stdout, "ended kept-for-analysis") || !strings.Contains(res.stdout, "injected fault") {
						t.Fatalf("want a rollback explaining the failure, staging kept:\n%s%s", res.stdout, res.stderr)
					}
					checkProductionV1(t, ws, v1)
					if step == "upgrade" && !exists(dbFile(ws, "contoso-2/contoso")) {
						t.Errorf("the staging copy was not kept for analysis")
					}
					removeKept(t, ws, runID(t, res.stdout), v1)
				})
			}
		})
	}
}

// TestUpgradeCrashAtEveryStep kills the process (SIGKILL) at each step, then
// resumes: the upgrade completes as if nothing happened, and re-planning is a
// no-op.
func TestUpgradeCrashAtEveryStep(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			tmpl := newUpgradeWorkspace(t, u, "")
			faults := u.faultsAtEveryStep("exit")
			faults["copy made, catalog not written"] = "local.create-secondary.copied:exit:1"
			faults["copy resynchronized, link not ended"] = "local.disconnect.synced:exit:1"
			faults["script committed, not replicated"] = "local.run-script.committed:exit:1"
			faults["checkpoint after a step"] = "runner.step.after:exit:6"
			for step, fault := range faults {
				t.Run(step, func(t *testing.T) {
					ws := copyWorkspace(t, tmpl)
					res := fleetplan(t, ws, withFault(fault), "apply", "upgrade.yaml", "--auto-approve")
					if !killedBy(res.err, syscall.SIGKILL) {
						t.Fatalf("apply with %s was not killed: %v\n%s%s", fault, res.err, res.stdout, res.stderr)
					}
					res = fleetplan(t, ws, instant, "resume")
					if res.err != nil {
						t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
					}
					checkV2(t, ws, u.dr)
					planIsEmpty(t, ws)
				})
			}
		})
	}
}

// TestUpgradeApproval: the run stops before the switch with production
// read-only; approving finishes it, rejecting rolls it back.
func TestUpgradeApproval(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			tmpl := newUpgradeWorkspace(t, u, "    approveBeforeSwitch: true")
			_, v1 := appData(t, tmpl, "contoso-1/contoso")
			for _, decision := range []string{"approve", "reject"} {
				t.Run(decision, func(t *testing.T) {
					ws := copyWorkspace(t, tmpl)
					res := fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
					if res.err != nil || !strings.Contains(res.stdout, "waiting for approval of approve-switch") {
						t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
					}
					id := runID(t, res.stdout)
					st := readUpgradeState(t, ws)
					if !st.databases["contoso-1/contoso"] || st.serving != "contoso-1" {
						t.Fatalf("while waiting: V1 read-only %t, serving %q; want read-only, contoso-1", st.databases["contoso-1/contoso"], st.serving)
					}
					if res := fleetplan(t, ws, instant, decision, id, "approve-switch"); res.err != nil {
						t.Fatalf("%s: %v\n%s", decision, res.err, res.stderr)
					}
					if decision == "reject" {
						// Rejecting rolls back at once: production first.
						checkProductionV1(t, ws, v1)
						removeKept(t, ws, id, v1)
						return
					}
					res = fleetplan(t, ws, instant, "resume", id)
					if res.err != nil {
						t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
					}
					checkV2(t, ws, u.dr)
					planIsEmpty(t, ws)
				})
			}
		})
	}
}

// TestUpgradeRollbackAfterSwitch: with V1 still there (the run waits before
// removing it), fleetplan rollback moves traffic back to V1.
func TestUpgradeRollbackAfterSwitch(t *testing.T) {
	for _, u := range upgradeTemplates {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			ws := newUpgradeWorkspace(t, u, "    approveBeforeRemoveV1: true")
			_, v1 := appData(t, ws, "contoso-1/contoso")
			res := fleetplan(t, ws, instant, "apply", "upgrade.yaml", "--auto-approve")
			if res.err != nil || !strings.Contains(res.stdout, "waiting for approval of approve-remove-v1") {
				t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			if st := readUpgradeState(t, ws); st.serving != "contoso-2" {
				t.Fatalf("after the switch %q serves", st.serving)
			}
			res = fleetplan(t, ws, instant, "rollback", runID(t, res.stdout))
			if res.err != nil || !strings.Contains(res.stdout, "rolled-back") {
				t.Fatalf("rollback: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			checkV1(t, ws, v1)
		})
	}
}

// TestUpgradeExamples runs the examples as make demo does: the broken script
// rolls back by itself, then the real upgrade succeeds.
func TestUpgradeExamples(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if res := fleetplan(t, ws, nil, "fleet", "init", "--demo", filepath.Join(ws, "fleet"), "--customers", "10"); res.err != nil {
		t.Fatalf("fleet init: %v\n%s", res.err, res.stderr)
	}
	write(t, filepath.Join(ws, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n")
	for _, f := range []string{"contoso-v2.yaml", "contoso-v2-broken.yaml", "v2.sql", "v2-broken.sql"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "examples", "upgrades", f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(ws, f), string(b))
	}
	_, v1 := appData(t, ws, "contoso-1/contoso")
	res := fleetplan(t, ws, instant, "apply", "contoso-v2-broken.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, "ended kept-for-analysis") || !strings.Contains(res.stdout, "account_tiers") {
		t.Fatalf("the broken upgrade should fail on its script, restore production and keep staging: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkProductionV1(t, ws, v1)
	// The real upgrade removes the kept staging parts first.
	if res := fleetplan(t, ws, instant, "apply", "contoso-v2.yaml", "--auto-approve"); res.err != nil || !strings.Contains(res.stdout, "Removing what run") {
		t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	checkV2(t, ws, true)
	db := openDB(t, dbFile(ws, "contoso-2/contoso"))
	if n := scalar(t, db, `SELECT count(*) FROM accounts WHERE tier = 'premium'`); n == 0 {
		t.Error("v2.sql did not run: no premium accounts")
	}
}
