package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/runner"
)

// TestMoveWaitsOutThreeFailovers: the target database of a move fails over
// three times during the move (every connection to it fails with 40613 for
// the outage's duration). The move waits each one out, shows the wait, and
// finishes with every row in place. The outages last 0.5 s here;
// `make outagetest` runs the same test with 30 s outages, which add up to
// more than the default 60 s retry budget: only a budget that starts afresh
// after every batch survives them.
func TestMoveWaitsOutThreeFailovers(t *testing.T) {
	outage := 500 * time.Millisecond
	if v := os.Getenv("FLEETPLAN_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("FLEETPLAN_OUTAGE=%q: want a duration like 30s", v)
		}
		outage = d
	}
	ws := newDemoWorkspace(t, splitAt+2000, 100) // 20 batches
	before := fleetState(t, ws)
	var spec []string
	for _, hit := range []int{3, 9, 15} {
		spec = append(spec, fmt.Sprintf("move.copy:outage:%s:%d", outage, hit))
	}
	res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=" + strings.Join(spec, ","), "FLEETPLAN_FAULTS_I_KNOW=yes"},
		"apply", "split.yaml", "--auto-approve")
	if res.err != nil {
		t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	fleetState(t, ws).checkMoved(t, before)
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.Contains(l, "retrying") {
			t.Log(l)
			break
		}
	}
	if !strings.Contains(res.stdout, "waiting out a failover") {
		t.Errorf("the run's output does not show the wait:\n%s", res.stdout)
	}
	// The journal: three outages, each waited out within its own budget.
	runs, err := filepath.Glob(filepath.Join(ws, ".fleetplan", "runs", "*", "journal.jsonl"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("journals %v %v", runs, err)
	}
	f, err := os.Open(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outages := 0
	var last, longest time.Duration = -1, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec runner.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type != runner.StepRetrying {
			continue
		}
		if !rec.Failover || !strings.Contains(rec.Error, "40613") {
			t.Errorf("retry record %+v: want a failover (40613)", rec)
		}
		if rec.Waited == 0 || rec.Waited < last {
			outages++
		}
		last = rec.Waited
		longest = max(longest, rec.Waited+rec.Wait)
	}
	if outages != 3 {
		t.Errorf("the journal shows %d failovers waited out, want 3", outages)
	}
	t.Logf("three outages of %s: the longest was waited out with %s of backoff (budget %s per outage)", outage, longest.Round(time.Millisecond), runner.DefaultRetry.Budget)
}
