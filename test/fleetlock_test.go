package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockWorkspaces makes one demo fleet reached three ways: checkout A with two
// target names for it (local, other), and checkout B, a second clone of the
// plan repository with its own .fleetplan folder. Each has split.yaml; A also
// has split-other.yaml, the same plan for target `other`. othermap.yaml (A:
// target other, B: target local) creates a second shard map, a change that
// does not touch CustomerMap at all.
func lockWorkspaces(t *testing.T, batch int) (a, b string) {
	t.Helper()
	a = newDemoWorkspace(t, crashCustomers, batch)
	fleetDir := filepath.Join(a, "fleet")
	write(t, filepath.Join(a, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: fleet}\n  other: {driver: local, path: ./fleet/.}\n")
	plan, err := os.ReadFile(filepath.Join(a, "split.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(a, "split-other.yaml"), strings.Replace(string(plan), "target: local", "target: other", 1))
	b = t.TempDir()
	write(t, filepath.Join(b, "fleetplan.yaml"), "targets:\n  local: {driver: local, path: "+fleetDir+"}\n")
	other := `apiVersion: fleetplan/v1
kind: ShardLayout
metadata: {name: tenants}
spec:
  target: %s
  shardMap: TenantMap
  keyType: int64
  shards:
    - {name: customers_0, server: sql-1, database: customers_0}
  ranges:
    - {low: 0, shard: customers_0}
  tables:
    sharded: [{table: customers, key: id}]
`
	write(t, filepath.Join(a, "othermap.yaml"), fmt.Sprintf(other, "other"))
	write(t, filepath.Join(b, "othermap.yaml"), fmt.Sprintf(other, "local"))
	for _, f := range []string{"split.yaml", "schema.sql"} {
		data, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(b, f), string(data))
	}
	return a, b
}

// startHolding starts `apply split.yaml` in ws and returns once it holds
// the fleet's lock.
func startHolding(t *testing.T, ws string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(fleetplanBin, "apply", "split.yaml", "--auto-approve")
	cmd.Dir = ws
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	holder := filepath.Join(ws, "fleet", ".fleetplan-run.holder.json")
	for deadline := time.Now().Add(30 * time.Second); !exists(holder); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the first run never took the fleet lock:\n%s", out.String())
		}
	}
	return cmd, out
}

// The run lock belongs to the fleet: while a move runs, the same plan under
// another target name, or from another checkout, is refused and names the
// run that holds the fleet; afterwards every row is there exactly once.
func TestFleetLockAcrossCheckoutsAndTargetNames(t *testing.T) {
	a, b := lockWorkspaces(t, 25) // 200 batches: the move takes a while
	before := fleetState(t, a)
	first, out := startHolding(t, a)
	for name, try := range map[string]struct{ dir, plan string }{
		"another target name": {a, "split-other.yaml"},
		"another checkout":    {b, "split.yaml"},
	} {
		// The same move: the planner already sees the running move's locked
		// and offline mappings and refuses.
		res := fleetplan(t, try.dir, nil, "apply", try.plan, "--auto-approve")
		if res.err == nil || !strings.Contains(res.stderr, "locked by") {
			first.Process.Kill()
			t.Fatalf("%s: the same move during the first run: %v\nstdout:\n%s\nstderr:\n%s", name, res.err, res.stdout, res.stderr)
		}
	}
	for name, dir := range map[string]string{"another target name": a, "another checkout": b} {
		// A change elsewhere in the fleet: the fleet lock refuses it.
		res := fleetplan(t, dir, nil, "apply", "othermap.yaml", "--auto-approve")
		if res.err == nil || !strings.Contains(res.stderr, "is locked by run ") || !strings.Contains(res.stderr, filepath.Join(a, ".fleetplan")) {
			first.Process.Kill()
			t.Fatalf("%s: apply during the first run: %v\nstdout:\n%s\nstderr:\n%s", name, res.err, res.stdout, res.stderr)
		}
		if !strings.Contains(res.stderr, "hint: ") || strings.Contains(res.stderr, "panic") {
			t.Errorf("%s: refusal without a hint:\n%s", name, res.stderr)
		}
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out.String())
	}
	fleetState(t, a).checkMoved(t, before)
	// Afterwards the others find nothing to do.
	for _, try := range []struct{ dir, plan string }{{a, "split-other.yaml"}, {b, "split.yaml"}} {
		if res := fleetplan(t, try.dir, nil, "plan", try.plan, "--detailed-exitcode"); res.err != nil {
			t.Fatalf("plan in %s after the move: %v\n%s%s", try.dir, res.err, res.stdout, res.stderr)
		}
	}
}

// Two processes started at the same moment, from two checkouts, race for the
// fleet: whichever wins moves the range, the other is refused (or, starting
// after the winner finished, finds nothing to do). Nothing is lost.
func TestFleetLockRace(t *testing.T) {
	for round := 0; round < 3; round++ {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			a, b := lockWorkspaces(t, 500)
			before := fleetState(t, a)
			var wg sync.WaitGroup
			results := make([]result, 3)
			for i, try := range []struct{ dir, plan string }{{a, "split.yaml"}, {b, "split.yaml"}, {a, "split-other.yaml"}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = fleetplan(t, try.dir, nil, "apply", try.plan, "--auto-approve")
				}()
			}
			wg.Wait()
			moved := 0
			for i, r := range results {
				switch {
				case r.err == nil && strings.Contains(r.stdout, "No changes"):
				case r.err == nil:
					moved++
				case strings.Contains(r.stderr, "is locked by"):
				default:
					t.Errorf("process %d failed otherwise: %v\n%s%s", i, r.err, r.stdout, r.stderr)
				}
			}
			if moved != 1 {
				t.Errorf("%d processes moved the range, want exactly 1", moved)
			}
			fleetState(t, a).checkMoved(t, before)
		})
	}
}

// A run killed in the middle of a move keeps the library's mapping locks on
// its range (with an owner derived from its run id), so another checkout is
// refused by the shard map itself; resume takes them again as the same owner
// and releases them at the end.
func TestMappingLocksSurviveACrash(t *testing.T) {
	a, b := lockWorkspaces(t, 500)
	before := fleetState(t, a)
	res := fleetplan(t, a, []string{"FLEETPLAN_FAULTS=move.copy:exit:3", "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "split.yaml", "--auto-approve")
	if !killedBy(res.err, syscall.SIGKILL) {
		t.Fatalf("apply was not killed: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	smm := openDB(t, filepath.Join(a, "fleet", "sql-1", "smm.db"))
	owners := queryStrings(t, smm, `SELECT DISTINCT LockOwnerId FROM __ShardManagement_ShardMappingsGlobal WHERE LockOwnerId <> '00000000-0000-0000-0000-000000000000'`)
	if len(owners) != 1 {
		t.Fatalf("lock owners after the crash: %v, want one", owners)
	}
	// The other checkout: the fleet lock is free (its holder died), but the
	// range is locked in the shard map.
	res = fleetplan(t, b, nil, "plan", "split.yaml")
	if res.err == nil || !strings.Contains(res.stderr, "locked by owner "+owners[0]) {
		t.Fatalf("plan from another checkout during the crashed move: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	res = fleetplan(t, a, nil, "resume")
	if res.err != nil {
		t.Fatalf("resume: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	fleetState(t, a).checkMoved(t, before) // includes: nothing locked
}

// apply takes the fleet lock before it plans, so that what it runs is what
// it showed: while another run holds the fleet, apply (of a plan file or a
// saved plan, from any checkout) is refused before it shows a plan, and a
// saved plan's freshness is checked only under the lock.
func TestApplyLocksTheFleetBeforePlanning(t *testing.T) {
	a, b := lockWorkspaces(t, 25)
	if res := fleetplan(t, b, nil, "plan", "othermap.yaml", "--out", "other.plan"); res.err != nil {
		t.Fatalf("plan --out: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	first, out := startHolding(t, a)
	for name, try := range map[string]struct{ dir, plan string }{
		"plan file, other target name": {a, "othermap.yaml"},
		"plan file, other checkout":    {b, "othermap.yaml"},
		"saved plan, other checkout":   {b, "other.plan"},
	} {
		res := fleetplan(t, try.dir, nil, "apply", try.plan, "--auto-approve")
		if res.err == nil || !strings.Contains(res.stderr, "is locked by run ") {
			first.Process.Kill()
			t.Fatalf("%s: apply during the first run: %v\nstdout:\n%s\nstderr:\n%s", name, res.err, res.stdout, res.stderr)
		}
		if res.stdout != "" {
			t.Errorf("%s: apply showed a plan it could not run under the lock:\n%s", name, res.stdout)
		}
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out.String())
	}
	if res := fleetplan(t, b, nil, "apply", "othermap.yaml", "--auto-approve"); res.err != nil {
		t.Fatalf("apply after the first run: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	if res := fleetplan(t, b, nil, "runs"); strings.Count(res.stdout, "\n") != 2 {
		t.Errorf("the refused applies left runs behind:\n%s", res.stdout)
	}
}
