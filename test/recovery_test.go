package test

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// recoveryCustomers is the demo fleet of the recovery tests: the split at
// 75000 gives customers_2 the keys from 75000 up.
const recoveryCustomers = 80000

// newRecoveryWorkspace is a demo workspace after the split of
// examples/shards/split.yaml, so the fleet has three shards and a run whose
// start the restores go back to. It returns the workspace and that run.
func newRecoveryWorkspace(t *testing.T) (string, string) {
	t.Helper()
	ws := newDemoWorkspace(t, recoveryCustomers, 2000)
	res := fleetplan(t, ws, nil, "apply", "split.yaml", "--auto-approve")
	if res.err != nil {
		t.Fatalf("split: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	run := regexp.MustCompile(`Run (\S+) done`).FindStringSubmatch(res.stdout)
	if run == nil {
		t.Fatalf("no run id in:\n%s", res.stdout)
	}
	return ws, run[1]
}

// exitCode is a finished command's exit status (-1 when it did not exit).
func exitCode(res result) int {
	if res.err == nil {
		return 0
	}
	if ee, ok := res.err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	return -1
}

// shardFile is where the local fleet keeps a database.
func shardFile(ws, server, db string) string { return filepath.Join(ws, "fleet", server, db+".db") }

// routable checks, straight from the SQLite files, that every row of the
// sharded tables is on the shard its key routes to (online), that each
// customer is there exactly once, and that all of them are.
func routable(t *testing.T, ws string, customers int) {
	t.Helper()
	cat := openDB(t, filepath.Join(ws, "fleet", "fleet.db"))
	smmAt := queryStrings(t, cat, `SELECT value FROM fleet_meta WHERE key = 'shard_map_manager'`)
	if len(smmAt) != 1 {
		t.Fatalf("catalog has no shard map manager: %v", smmAt)
	}
	server, db, _ := strings.Cut(smmAt[0], "/")
	smm := openDB(t, shardFile(ws, server, db))
	type mp struct {
		min, max []byte
		online   bool
		at       string
	}
	var maps []mp
	rows, err := smm.Query(`SELECT m.MinValue, m.MaxValue, m.Status, s.ServerName || '/' || s.DatabaseName
		FROM __ShardManagement_ShardMappingsGlobal m JOIN __ShardManagement_ShardsGlobal s ON s.ShardId = m.ShardId
		WHERE m.Readable = 1 ORDER BY m.MinValue`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m mp
		var status int
		if err := rows.Scan(&m.min, &m.max, &status, &m.at); err != nil {
			t.Fatal(err)
		}
		m.online = status&1 == 1
		maps = append(maps, m)
	}
	rows.Close()
	route := func(k int64) []string {
		key := encodeInt64(k)
		var out []string
		for _, m := range maps {
			if bytes.Compare(m.min, key) <= 0 && (m.max == nil || bytes.Compare(key, m.max) < 0) && m.online {
				out = append(out, m.at)
			}
		}
		return out
	}
	seen := map[int64]string{}
	for _, at := range queryStrings(t, cat, `SELECT server || '/' || name FROM databases`) {
		server, name, _ := strings.Cut(at, "/")
		if !strings.HasPrefix(name, "customers_") {
			continue
		}
		d := openDB(t, shardFile(ws, server, name))
		for _, q := range []struct{ table, key string }{{"customers", "id"}, {"orders", "customer_id"}} {
			for _, ks := range queryStrings(t, d, `SELECT `+q.key+` FROM `+q.table) {
				var k int64
				fmt.Sscan(ks, &k)
				if r := route(k); len(r) != 1 || r[0] != at {
					t.Fatalf("%s row with key %d is on %s but routes to %v", q.table, k, at, r)
				}
				if q.table == "customers" {
					if prev, dup := seen[k]; dup {
						t.Fatalf("customer %d is on both %s and %s", k, prev, at)
					}
					seen[k] = at
				}
			}
		}
	}
	if len(seen) != customers {
		t.Fatalf("%d customers are routable, want %d", len(seen), customers)
	}
}

func sqlExec(t *testing.T, path, stmt string) {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// doctorFix runs doctor (which must find something), applies the plan it
// writes, and runs doctor again, which must find the fleet healthy.
func doctorFix(t *testing.T, ws string) {
	t.Helper()
	res := fleetplan(t, ws, nil, "doctor", "--write-plan", "fix.yaml")
	if exitCode(res) != 2 {
		t.Fatalf("doctor: exit %d, want 2 (findings)\n%s%s", exitCode(res), res.stdout, res.stderr)
	}
	if res = fleetplan(t, ws, nil, "apply", "fix.yaml", "--auto-approve"); res.err != nil {
		plan, _ := os.ReadFile(filepath.Join(ws, "fix.yaml"))
		t.Fatalf("apply the plan doctor wrote: %v\n%s\n%s%s", res.err, plan, res.stdout, res.stderr)
	}
	if res = fleetplan(t, ws, nil, "doctor"); res.err != nil {
		plan, _ := os.ReadFile(filepath.Join(ws, "fix.yaml"))
		t.Fatalf("doctor after the fix: exit %d\n%s\n%s%s", exitCode(res), plan, res.stdout, res.stderr)
	}
	if res = fleetplan(t, ws, nil, "plan", "fix.yaml", "--detailed-exitcode"); res.err != nil {
		t.Fatalf("the fix plans again: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
}

// Every way a fleet breaks, by the simulator or by hand with SQL, is found
// by doctor and repaired by the plan it writes; afterwards doctor is clean
// and every row routes to the shard that holds it.
func TestRecoveryEndToEnd(t *testing.T) {
	tmpl, run := newRecoveryWorkspace(t)
	routable(t, tmpl, recoveryCustomers)
	cases := []struct {
		name string
		brk  func(t *testing.T, ws string)
	}{
		{name: "geo-failover", brk: func(t *testing.T, ws string) {
			mustRun(t, ws, "fleet", "simulate", "geo-failover", "--server", "sql-1", "--to", "sql-2")
		}},
		{name: "restored shard", brk: func(t *testing.T, ws string) {
			mustRun(t, ws, "fleet", "simulate", "restore", "--database", "customers_1", "--to-point", run)
		}},
		{name: "restored shard map manager", brk: func(t *testing.T, ws string) {
			mustRun(t, ws, "fleet", "simulate", "restore", "--database", "smm", "--to-point", run)
		}},
		{name: "deleted shard, then restored", brk: func(t *testing.T, ws string) {
			mustRun(t, ws, "fleet", "simulate", "delete", "--database", "customers_1")
			res := fleetplan(t, ws, nil, "doctor", "--write-plan", "none.yaml")
			if exitCode(res) != 2 || !strings.Contains(res.stdout, "DatabaseMissing") || !strings.Contains(res.stdout, "restore the database") {
				t.Fatalf("doctor on a deleted shard: exit %d\n%s%s", exitCode(res), res.stdout, res.stderr)
			}
			if _, err := os.Stat(filepath.Join(ws, "none.yaml")); err == nil {
				t.Fatal("doctor wrote a plan for a deleted shard, which no plan can bring back")
			}
			mustRun(t, ws, "fleet", "simulate", "restore", "--database", "sql-1/customers_1", "--to-point", run)
		}},
		{name: "rows in the wrong shard", brk: func(t *testing.T, ws string) {
			// Customer 10 copied to customers_1 (a stale copy, the same row) and
			// customer 90000 created on customers_0 (the only copy).
			sqlExec(t, shardFile(ws, "sql-1", "customers_0"), `INSERT INTO customers(id, region_id, name) VALUES(90000, 1, 'only here')`)
			sqlExec(t, shardFile(ws, "sql-1", "customers_0"), `INSERT INTO orders(id, customer_id, amount) VALUES(900000, 90000, 1)`)
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `ATTACH '`+shardFile(ws, "sql-1", "customers_0")+`' AS c0;
				INSERT INTO customers SELECT * FROM c0.customers WHERE id = 10`)
		}},
		{name: "deleted LSM mapping row", brk: func(t *testing.T, ws string) {
			sqlExec(t, shardFile(ws, "sql-1", "customers_0"), `DELETE FROM __ShardManagement_ShardMappingsLocal`)
		}},
		{name: "duplicated mapping in an LSM", brk: func(t *testing.T, ws string) {
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `ATTACH '`+shardFile(ws, "sql-1", "customers_0")+`' AS c0;
				INSERT INTO __ShardManagement_ShardMappingsLocal(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status)
				SELECT '5a6b0c1d-0000-4000-8000-000000000002', (SELECT ShardId FROM __ShardManagement_ShardsLocal), m.ShardMapId, m.MinValue, m.MaxValue, m.Status
				FROM c0.__ShardManagement_ShardMappingsLocal m`)
		}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			tc.brk(t, ws)
			doctorFix(t, ws)
			want := recoveryCustomers
			if tc.name == "rows in the wrong shard" {
				want++ // customer 90000
			}
			routable(t, ws, want)
		})
	}
}

func mustRun(t *testing.T, ws string, args ...string) {
	t.Helper()
	if res := fleetplan(t, ws, nil, args...); res.err != nil {
		t.Fatalf("fleetplan %s: %v\n%s%s", strings.Join(args, " "), res.err, res.stdout, res.stderr)
	}
}

// A recovery killed at seeded points resumes to the same end: doctor clean,
// every row routable. Three seeds keep CI short.
func TestRecoveryCrashResume(t *testing.T) {
	tmpl, _ := newRecoveryWorkspace(t)
	mustRun(t, tmpl, "fleet", "simulate", "geo-failover", "--server", "sql-1", "--to", "sql-2")
	if res := fleetplan(t, tmpl, nil, "doctor", "--write-plan", "fix.yaml"); exitCode(res) != 2 {
		t.Fatalf("doctor: exit %d\n%s%s", exitCode(res), res.stdout, res.stderr)
	}
	kills := 0
	for seed, fault := range []string{"runner.step.before:exit:3", "runner.step.after:exit:8", "runner.step.before:exit:15"} {
		t.Run(fmt.Sprintf("seed%d-%s", seed+1, fault), func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=" + fault, "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "fix.yaml", "--auto-approve")
			if !killedBy(res.err, syscall.SIGKILL) {
				t.Fatalf("apply with %s was not killed: %v\n%s%s", fault, res.err, res.stdout, res.stderr)
			}
			kills++
			if res = fleetplan(t, ws, nil, "resume"); res.err != nil {
				t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			if res = fleetplan(t, ws, nil, "doctor"); res.err != nil {
				t.Fatalf("doctor after the resumed recovery: exit %d\n%s%s", exitCode(res), res.stdout, res.stderr)
			}
			routable(t, ws, recoveryCustomers)
		})
	}
	if kills != 3 {
		t.Fatalf("%d of 3 recoveries were killed", kills)
	}
}

// gsmRows dumps the global shard map's shard and mapping rows, every column.
func gsmRows(t *testing.T, ws string) string {
	t.Helper()
	d := openDB(t, shardFile(ws, "sql-2", "smm"))
	var out []string
	for _, table := range []string{"__ShardManagement_ShardsGlobal", "__ShardManagement_ShardMappingsGlobal"} {
		rows := queryStrings(t, d, `SELECT * FROM (SELECT quote(`+map[bool]string{true: `ShardId) || quote(Version) || quote(ServerName) || quote(DatabaseName) || quote(Status) || quote(Readable`,
			false: `MappingId) || quote(ShardId) || quote(MinValue) || quote(MaxValue) || quote(Status) || quote(LockOwnerId) || quote(Readable`}[table == "__ShardManagement_ShardsGlobal"]+`) AS r FROM `+table+`) ORDER BY r`)
		out = append(out, rows...)
	}
	return strings.Join(out, "\n")
}

// A recovery that fails half-way rolls back: every step's rollback branch
// restores the rows its snapshot kept, so the global shard map is exactly
// as it was before the run.
func TestRecoveryRollbackRestoresRows(t *testing.T) {
	ws, _ := newRecoveryWorkspace(t)
	mustRun(t, ws, "fleet", "simulate", "geo-failover", "--server", "sql-1", "--to", "sql-2")
	before := gsmRows(t, ws)
	plan, err := os.ReadFile(filepath.Join(repoRoot, "examples", "recovery", "after-failover.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(ws, "after-failover.yaml"), string(plan))
	res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=step.recovery.verify:hard:2", "FLEETPLAN_FAULTS_I_KNOW=yes"},
		"apply", "after-failover.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stdout, "rolled-back") && !strings.Contains(res.stdout+res.stderr, "rolled back") {
		t.Fatalf("apply with a failing verify: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	if after := gsmRows(t, ws); after != before {
		t.Fatalf("global shard map after the rollback:\n%s\nbefore the run:\n%s", after, before)
	}
}
