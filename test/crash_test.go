package test

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/fleetplan/fleetplan/fleet"
)

// The crash test's demo fleet: 80,000 customers, so the split at 75000 moves
// 5,000 customers and 15,000 orders from customers_1 to customers_2.
const (
	crashCustomers = 80000
	crashBatch     = 500
)

// killPoints are the fault points a crash can be injected at, across every
// phase of the run: the runner's checkpoints, each step of a batch, and the
// inside of multi-database shard map operations.
var killPoints = []struct {
	point string
	max   int // hits happen at least this often in one run
}{
	{"runner.step.before", 4}, {"runner.step.after", 4}, {"step.shardmap.create-shard", 1},
	{"step.shardmap.move-range", 1}, {"move.reference", 1},
	{"move.offline", 8}, {"move.copy", 8}, {"move.verify", 8}, {"move.repoint", 8},
	{"move.delete", 8}, {"move.checksum", 12},
	// Inside multi-database shard map operations (GSM begin, LSMs, GSM end),
	// three hits each: the plan's split and each batch's cut (split), each
	// batch's repoint (update-mapping), the one merge of the batches.
	{"shardmap.add-shard", 3}, {"shardmap.split", 30}, {"shardmap.update-mapping", 30}, {"shardmap.merge", 3},
}

// envInt reads a knob of the long crash runs (make crashtest).
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// TestCrashResume kills the run at 30 seeded fault points (make crashtest:
// FLEETPLAN_CRASH_SEEDS of them), a different one each, then resumes.
func TestCrashResume(t *testing.T) {
	seeds := envInt(t, "FLEETPLAN_CRASH_SEEDS", 30)
	points := 0
	for _, kp := range killPoints {
		points += kp.max
	}
	if seeds > points {
		t.Fatalf("FLEETPLAN_CRASH_SEEDS=%d: there are only %d kill points", seeds, points)
	}
	tmpl := newDemoWorkspace(t, crashCustomers, crashBatch)
	before := fleetState(t, tmpl)
	kills := 0
	used := map[string]bool{}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		// A different kill point for every seed.
		rng := rand.New(rand.NewSource(seed))
		var fault string
		for fault == "" || used[fault] {
			kp := killPoints[rng.Intn(len(killPoints))]
			fault = fmt.Sprintf("%s:exit:%d", kp.point, 1+rng.Intn(kp.max))
		}
		used[fault] = true
		t.Run(fmt.Sprintf("seed%02d-%s", seed, fault), func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=" + fault, "FLEETPLAN_FAULTS_I_KNOW=yes"},
				"apply", "split.yaml", "--auto-approve")
			if killedBy(res.err, syscall.SIGKILL) {
				kills++
				if !strings.Contains(res.stderr, "fault injection is ON") {
					t.Errorf("fault injection did not announce itself:\n%s", res.stderr)
				}
				// A second crash during resume, for odd seeds.
				finished := false
				if seed%2 == 1 {
					res = fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=move.copy:exit:2", "FLEETPLAN_FAULTS_I_KNOW=yes"}, "resume")
					if res.err != nil && !killedBy(res.err, syscall.SIGKILL) {
						t.Fatalf("resume with a second crash failed: %v\n%s%s", res.err, res.stdout, res.stderr)
					}
					finished = res.err == nil // nothing left to copy: it ran to the end
				}
				if !finished {
					res = fleetplan(t, ws, nil, "resume")
					if res.err != nil {
						t.Fatalf("resume failed: %v\n%s%s", res.err, res.stdout, res.stderr)
					}
				}
			} else if res.err != nil {
				t.Fatalf("apply with %s neither crashed nor succeeded: %v\n%s%s", fault, res.err, res.stdout, res.stderr)
			}
			after := fleetState(t, ws)
			after.checkMoved(t, before)
			// Re-applying the plan is a no-op.
			res = fleetplan(t, ws, nil, "plan", "split.yaml", "--detailed-exitcode")
			if res.err != nil {
				t.Fatalf("plan after the move is not empty: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
		})
	}
	if kills < seeds*5/6 {
		t.Fatalf("only %d of the %d runs were killed; the crash test needs at least %d", kills, seeds, seeds*5/6)
	}
}

// TestFaults injects a transient error (retried, the run succeeds) and a hard
// error (the run rolls back to the original layout, nothing lost).
func TestFaults(t *testing.T) {
	tmpl := newDemoWorkspace(t, crashCustomers, 1000)
	before := fleetState(t, tmpl)
	cases := map[string]struct {
		fault    string
		wantFail bool
	}{
		"transient copy error is retried": {"move.copy:40613:2", false},
		"hard copy error rolls back":      {"move.copy:hard:3", true},
		"hard delete error rolls back":    {"move.delete:hard:2", true},
		"crash during the rollback":       {"move.copy:hard:3,runner.rollback.before:exit:2", true},
	}
	// A hard failure at the start of every step of the plan.
	for _, action := range []string{"generic.noop", "shardmap.create-shard", "shardmap.split", "shardmap.move-range", "shardmap.merge"} {
		cases["step "+action+" fails"] = struct {
			fault    string
			wantFail bool
		}{"step." + action + ":hard:1", true}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=" + tc.fault, "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "split.yaml", "--auto-approve")
			if killedBy(res.err, syscall.SIGKILL) {
				// resume finishes the rollback and still explains the failure
				res = fleetplan(t, ws, nil, "resume")
				if !strings.Contains(res.stderr, "injected fault") {
					t.Fatalf("resumed rollback lost the reason:\n%s%s", res.stdout, res.stderr)
				}
			}
			after := fleetState(t, ws)
			if !tc.wantFail {
				if res.err != nil {
					t.Fatalf("apply failed: %v\n%s%s", res.err, res.stdout, res.stderr)
				}
				after.checkMoved(t, before)
				return
			}
			if res.err == nil {
				t.Fatalf("apply succeeded despite %s", tc.fault)
			}
			if !strings.Contains(res.stdout+res.stderr, "rolled-back") {
				t.Fatalf("run did not roll back:\n%s%s", res.stdout, res.stderr)
			}
			after.checkConsistent(t, before)
			for _, m := range after.mappings {
				if m.db == "customers_2" {
					t.Fatalf("after rollback a mapping still points at customers_2: %+v", m)
				}
			}
		})
	}
}

// TestFaultsNeedOptIn: FLEETPLAN_FAULTS alone must not enable fault injection.
func TestFaultsNeedOptIn(t *testing.T) {
	ws := newDemoWorkspace(t, 100, 100)
	res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=move.copy:hard:1"}, "apply", "split.yaml", "--auto-approve")
	if res.err == nil || !strings.Contains(res.stderr, "FLEETPLAN_FAULTS_I_KNOW") {
		t.Fatalf("want a refusal naming FLEETPLAN_FAULTS_I_KNOW, got %v\n%s%s", res.err, res.stdout, res.stderr)
	}
}

// ---- workspace helpers ----

func newDemoWorkspace(t *testing.T, customers, batch int) string {
	t.Helper()
	ws := t.TempDir()
	if res := fleetplan(t, ws, nil, "fleet", "init", "--demo", filepath.Join(ws, "fleet"), "--customers", fmt.Sprint(customers), "--seed", "7"); res.err != nil {
		t.Fatalf("fleet init: %v\n%s", res.err, res.stderr)
	}
	write(t, filepath.Join(ws, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n")
	schema, err := os.ReadFile(filepath.Join(repoRoot, "examples", "shards", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(ws, "schema.sql"), string(schema))
	plan, err := os.ReadFile(filepath.Join(repoRoot, "examples", "shards", "split.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(plan), "batchSize: 100,") {
		t.Fatal("examples/shards/split.yaml no longer says `batchSize: 100,`; update the crash test")
	}
	write(t, filepath.Join(ws, "split.yaml"), strings.Replace(string(plan), "batchSize: 100,", fmt.Sprintf("batchSize: %d,", batch), 1))
	return ws
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyWorkspace(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput()
	if err != nil {
		t.Fatalf("copy workspace: %v %s", err, out)
	}
	return to
}

type result struct {
	stdout, stderr string
	err            error
}

func fleetplan(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(fleetplanBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return result{out.String(), errb.String(), err}
}

func killedBy(err error, sig syscall.Signal) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// ---- reading the fleet straight from the SQLite files ----

type mapping struct {
	id, shardID string
	min, max    []byte
	status      int
	lock        string
	db          string
}

type state struct {
	mappings  []mapping
	customers map[string]int64 // shard -> rows
	checksums map[string]string
	dir       string
	// lockOwner is the one mapping lock owner checkConsistent accepts (a
	// cancelled run keeps its range locked until it is rolled back); "" none.
	lockOwner string
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file %s: %v", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	return out
}

func scalar(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func fleetState(t *testing.T, ws string) *state {
	t.Helper()
	smm := openDB(t, filepath.Join(ws, "fleet", "sql-1", "smm.db"))
	st := &state{customers: map[string]int64{}, checksums: map[string]string{}, dir: ws}
	rows, err := smm.Query(`SELECT m.MappingId, m.ShardId, m.MinValue, m.MaxValue, m.Status, m.LockOwnerId, s.DatabaseName
		FROM __ShardManagement_ShardMappingsGlobal m JOIN __ShardManagement_ShardsGlobal s ON s.ShardId = m.ShardId
		WHERE m.Readable = 1 ORDER BY m.MinValue`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m mapping
		if err := rows.Scan(&m.id, &m.shardID, &m.min, &m.max, &m.status, &m.lock, &m.db); err != nil {
			t.Fatal(err)
		}
		st.mappings = append(st.mappings, m)
	}
	rows.Close()
	// Pending work must be gone.
	for _, q := range []string{
		`SELECT count(*) FROM __ShardManagement_OperationsLogGlobal`,
		`SELECT count(*) FROM __ShardManagement_ShardMappingsGlobal WHERE Readable = 0 OR OperationId IS NOT NULL`,
		`SELECT count(*) FROM __ShardManagement_ShardsGlobal WHERE Readable = 0 OR OperationId IS NOT NULL`,
	} {
		if n := scalar(t, smm, q); n != 0 {
			t.Errorf("%s = %d, want 0", q, n)
		}
	}
	// Data: per-table checksums over all shards, rows per shard.
	dbs := map[string]bool{}
	for _, m := range st.mappings {
		dbs[m.db] = true
	}
	for _, name := range []string{"customers_0", "customers_1", "customers_2"} {
		if _, err := os.Stat(filepath.Join(ws, "fleet", "sql-1", name+".db")); err == nil {
			dbs[name] = true
		}
	}
	sums := map[string][]string{}
	for name := range dbs {
		db := openDB(t, filepath.Join(ws, "fleet", "sql-1", name+".db"))
		st.customers[name] = scalar(t, db, `SELECT count(*) FROM customers`)
		for table, cols := range map[string][]string{
			"customers": {"id", "region_id", "name", "email", "balance", "created_at"},
			"orders":    {"id", "customer_id", "amount", "note", "created_at"},
		} {
			sums[table] = append(sums[table], queryStrings(t, db, `SELECT quote(`+strings.Join(cols, `) || '|' || quote(`)+`) FROM `+table)...)
		}
	}
	for table, rows := range sums {
		sort.Strings(rows)
		st.checksums[table] = fmt.Sprintf("%d rows, %x", len(rows), fnv(strings.Join(rows, "\n")))
	}
	return st
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func encodeInt64(k int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(k)^(1<<63))
	return b
}

// route returns the database a key maps to, "" when unmapped.
func (s *state) route(k int64) (string, bool) {
	key := encodeInt64(k)
	for _, m := range s.mappings {
		if bytes.Compare(m.min, key) <= 0 && (m.max == nil || bytes.Compare(key, m.max) < 0) {
			return m.db, m.status&1 == 1
		}
	}
	return "", false
}

// checkConsistent checks the invariants that hold after any finished run:
// every row exactly once, on the shard its key routes to, checksums as
// before, GSM and LSM equal, nothing offline or locked.
func (s *state) checkConsistent(t *testing.T, before *state) {
	t.Helper()
	for table, sum := range before.checksums {
		if s.checksums[table] != sum {
			t.Errorf("table %s: checksum %s, before %s", table, s.checksums[table], sum)
		}
	}
	for _, m := range s.mappings {
		if m.status&1 != 1 {
			t.Errorf("mapping %x..%x on %s is offline", m.min, m.max, m.db)
		}
		if strings.Trim(m.lock, "0-") != "" && m.lock != s.lockOwner {
			t.Errorf("mapping %x..%x on %s is locked by %s", m.min, m.max, m.db, m.lock)
		}
	}
	for db := range s.customers {
		d := openDB(t, filepath.Join(s.dir, "fleet", "sql-1", db+".db"))
		for _, q := range []struct{ table, key string }{{"customers", "id"}, {"orders", "customer_id"}} {
			rows, err := d.Query(`SELECT ` + q.key + ` FROM ` + q.table)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k int64
				rows.Scan(&k)
				if got, online := s.route(k); got != db || !online {
					t.Errorf("%s row with key %d is on %s but routes to %q (online %t)", q.table, k, db, got, online)
					rows.Close()
					return
				}
			}
			rows.Close()
		}
		s.checkLSM(t, d, db)
	}
}

// checkLSM compares a shard's local shard map with the GSM rows for it.
func (s *state) checkLSM(t *testing.T, d *sql.DB, db string) {
	t.Helper()
	var want []string
	for _, m := range s.mappings {
		if m.db == db {
			want = append(want, fmt.Sprintf("%s %x %x %d", m.id, m.min, m.max, m.status))
		}
	}
	if len(want) == 0 {
		return // not a shard (any more): its LSM may be gone
	}
	rows, err := d.Query(`SELECT MappingId, MinValue, MaxValue, Status FROM __ShardManagement_ShardMappingsLocal ORDER BY MinValue`)
	if err != nil {
		t.Fatalf("LSM of %s: %v", db, err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		var min, max []byte
		var status int
		rows.Scan(&id, &min, &max, &status)
		got = append(got, fmt.Sprintf("%s %x %x %d", id, min, max, status))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("LSM of %s differs from GSM:\n LSM %v\n GSM %v", db, got, want)
	}
	smm := openDB(t, filepath.Join(s.dir, "fleet", "sql-1", "smm.db"))
	gv := queryStrings(t, smm, `SELECT Version FROM __ShardManagement_ShardsGlobal WHERE DatabaseName = '`+db+`'`)
	lv := queryStrings(t, d, `SELECT Version FROM __ShardManagement_ShardsLocal`)
	if fmt.Sprint(gv) != fmt.Sprint(lv) {
		t.Errorf("shard %s version GSM %v, LSM %v", db, gv, lv)
	}
}

// checkMoved checks checkConsistent plus the layout the split plan asks for.
func (s *state) checkMoved(t *testing.T, before *state) {
	t.Helper()
	s.checkConsistent(t, before)
	want := map[int64]string{0: "customers_0", 49999: "customers_0", 50000: "customers_1", 74999: "customers_1", 75000: "customers_2", 1 << 40: "customers_2"}
	for k, db := range want {
		if got, _ := s.route(k); got != db {
			t.Errorf("key %d routes to %s, want %s", k, got, db)
		}
	}
	total := before.customers["customers_1"]
	if s.customers["customers_1"]+s.customers["customers_2"] != total {
		t.Errorf("customers on 1+2 = %d+%d, want %d", s.customers["customers_1"], s.customers["customers_2"], total)
	}
}

// TestExternalKill kills apply from outside at seeded moments, the way an
// operator's kill -9 or a lost machine would, then resumes.
// (make crashtest: FLEETPLAN_CRASH_KILLS of them instead of 6.)
func TestExternalKill(t *testing.T) {
	kills := envInt(t, "FLEETPLAN_CRASH_KILLS", 6)
	tmpl := newDemoWorkspace(t, crashCustomers, crashBatch)
	before := fleetState(t, tmpl)
	for seed := int64(1); seed <= int64(kills); seed++ {
		delay := time.Duration(50+rand.New(rand.NewSource(seed)).Intn(900)) * time.Millisecond
		t.Run(fmt.Sprintf("after-%s", delay), func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			cmd := exec.Command(fleetplanBin, "apply", "split.yaml", "--auto-approve")
			cmd.Dir = ws
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err := cmd.Wait()
			if killedBy(err, syscall.SIGKILL) {
				res := fleetplan(t, ws, nil, "resume")
				// Killed before the journal's first record: nothing to resume, apply again.
				if res.err != nil && strings.Contains(res.stderr, "no unfinished run") {
					res = fleetplan(t, ws, nil, "apply", "split.yaml", "--auto-approve")
				}
				if res.err != nil {
					t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
				}
			} else if err != nil {
				t.Fatalf("apply: %v\n%s", err, out.String())
			}
			fleetState(t, ws).checkMoved(t, before)
		})
	}
}

// TestCancelStopsBetweenBatches: `fleetplan cancel` stops a running move at
// its next batch boundary, with nothing left offline, and `rollback` then
// restores the original layout.
func TestCancelStopsBetweenBatches(t *testing.T) {
	ws := newDemoWorkspace(t, 100000, 100)
	before := fleetState(t, ws)
	cmd := exec.Command(fleetplanBin, "apply", "split.yaml", "--auto-approve")
	cmd.Dir = ws
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the move runs, then cancel the run.
	var runID string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(out.String(), "move-75000-inf: ") {
			res := fleetplan(t, ws, nil, "runs")
			lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
			runID = strings.Fields(lines[len(lines)-1])[0]
			break
		}
	}
	if runID == "" {
		cmd.Process.Kill()
		t.Fatalf("the move never started:\n%s", out.String())
	}
	if res := fleetplan(t, ws, nil, "cancel", runID); res.err != nil {
		t.Fatalf("cancel: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	err := cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "cancelled") {
		t.Fatalf("apply did not end cancelled (err %v):\n%s", err, out.String())
	}
	mid := fleetState(t, ws)
	// The cancelled run still owns its range (the library's mapping locks)
	// until it is rolled back.
	mid.lockOwner = fleet.RunLockOwner(runID).String()
	mid.checkConsistent(t, before) // nothing offline, every row once and routed
	locked := 0
	for _, m := range mid.mappings {
		if m.lock == mid.lockOwner {
			locked++
		}
	}
	if locked == 0 {
		t.Errorf("the cancelled run holds no mapping lock on its range")
	}
	if res := fleetplan(t, ws, nil, "rollback", runID); res.err != nil {
		t.Fatalf("rollback: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	after := fleetState(t, ws)
	after.checkConsistent(t, before)
	if got, _ := after.route(80000); got != "customers_1" {
		t.Fatalf("after rollback key 80000 routes to %s, want customers_1", got)
	}
}

// syncBuffer is a bytes.Buffer that a test may read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
