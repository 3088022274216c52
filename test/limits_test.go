package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A layout whose graph starts with four independent steps (three new shards
// and the first split), so a runner that ignores the plan's limit has more
// ready steps than the limit allows at once.
const fourShardsPlan = `apiVersion: fleetplan/v1
kind: ShardLayout
metadata: {name: four-shards}
spec:
  target: local
  shardMap: CustomerMap
  keyType: int64
  shards:
    - {name: customers_0, server: sql-1, database: customers_0}
    - {name: customers_1, server: sql-1, database: customers_1}
    - {name: customers_2, server: sql-1, database: customers_2}
    - {name: customers_3, server: sql-1, database: customers_3}
    - {name: customers_4, server: sql-1, database: customers_4}
  ranges:
    - {low: 0, high: 500, shard: customers_0}
    - {low: 500, high: 1000, shard: customers_2}
    - {low: 1000, high: 1500, shard: customers_3}
    - {low: 1500, high: 50000, shard: customers_4}
    - {low: 50000, shard: customers_1}
  tables:
    sharded: [{table: customers, key: id}, {table: orders, key: customer_id}]
    reference: [regions]
  schemaFile: schema.sql
  move: {batchSize: 100, parallel: PARALLEL}
`

// TestGraphLimitsHoldInEverySession: the plan's step limit (move.parallel)
// holds in apply and again in the resume after a kill. Concurrency is read from the journal: the most
// steps started and not yet finished at any point of one session.
func TestGraphLimitsHoldInEverySession(t *testing.T) {
	tmpl := newDemoWorkspace(t, 2000, 100)
	cases := map[string]struct {
		parallel int
		faults   string // kills the apply; the resume finishes the run
		want     string // how the run ends
	}{
		"one at a time, killed at the second shard": {1, "step.shardmap.create-shard:exit:2", "done"},
		"one at a time, killed in the first move":   {1, "move.copy:exit:2", "done"},
		"two at a time, killed at the second shard": {2, "step.shardmap.create-shard:exit:2", "done"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			write(t, filepath.Join(ws, "plan.yaml"), strings.Replace(fourShardsPlan, "PARALLEL", fmt.Sprint(tc.parallel), 1))
			res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=" + tc.faults, "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "plan.yaml", "--auto-approve")
			if !killedBy(res.err, syscall.SIGKILL) {
				t.Fatalf("apply with %s was not killed: %v\n%s%s", tc.faults, res.err, res.stdout, res.stderr)
			}
			res = fleetplan(t, ws, nil, "resume")
			if tc.want == "done" && res.err != nil {
				t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
			}
			runs, _ := filepath.Glob(filepath.Join(ws, ".fleetplan", "runs", "*", "journal.jsonl"))
			if len(runs) != 1 {
				t.Fatalf("want one run, found %v", runs)
			}
			sessions, last := journalConcurrency(t, runs[0])
			if last != "run-"+tc.want {
				t.Fatalf("the run ended with %q, want run-%s\n%s%s", last, tc.want, res.stdout, res.stderr)
			}
			if len(sessions) != 2 {
				t.Fatalf("want 2 sessions (apply, resume), journal has %d", len(sessions))
			}
			for i, most := range sessions {
				if most > tc.parallel {
					t.Errorf("session %d ran %d steps at once; the plan allows %d", i+1, most, tc.parallel)
				}
			}
			if tc.parallel > 1 && sessions[1] < 2 {
				// Four steps were ready: a resume that runs one at a time
				// ignores the limit just as much.
				t.Errorf("the resume ran at most %d step at once; the plan allows %d", sessions[1], tc.parallel)
			}
		})
	}
}

// journalConcurrency folds a journal and returns, per session (run-started or
// run-resumed), the most steps that were started and not finished at once,
// and the type of the last run-level record.
func journalConcurrency(t *testing.T, path string) (sessions []int, last string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var running map[string]bool
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Type string `json:"type"`
			Step string `json:"step"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch rec.Type {
		case "run-started", "run-resumed":
			sessions = append(sessions, 0)
			running = map[string]bool{}
		case "step-started":
			running[rec.Step] = true
			sessions[len(sessions)-1] = max(sessions[len(sessions)-1], len(running))
		case "step-done", "step-skipped", "step-failed":
			delete(running, rec.Step)
		}
		if strings.HasPrefix(rec.Type, "run-") {
			last = rec.Type
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sessions, last
}
