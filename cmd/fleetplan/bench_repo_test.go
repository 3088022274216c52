package main

import (
	"fmt"
	"strings"
	"testing"
)

// writeRepo1000 writes, in a new folder, fleetplan.yaml (an empty local
// fleet) and 1,000 plan files (writeRepoN) in 10 folders: RollingUpgrades of two steps
// each, half of them through a template, the way a repository of many
// small plans looks. It returns the folder.
func writeRepo1000(b testing.TB) string { return writeRepoN(b, 1000) }

// writeRepoN is writeRepo1000 with n plan files.
func writeRepoN(b testing.TB, n int) string {
	b.Helper()
	dir := b.TempDir()
	files := map[string]string{
		"fleetplan.yaml":   "targets:\n  local: {driver: local, path: fleet}\n",
		"tpl/upgrade.yaml": "apiVersion: fleetplan/v1\nkind: Template\nmetadata: {name: upgrade}\nparameters:\n  type: object\n  properties: {app: {type: string}}\nsteps:\n  - {id: hello, action: generic.noop}\n  - {id: bye, action: generic.noop, needs: [hello]}\n",
	}
	for i := range n {
		name := fmt.Sprintf("team%d/p%04d.yaml", i%10, i)
		if i%2 == 0 {
			files[name] = fmt.Sprintf("apiVersion: fleetplan/v1\nkind: RollingUpgrade\nmetadata: {name: p%04d}\nspec:\n  target: local\n  uses: ../tpl/upgrade.yaml\n  with: {app: a%d}\n", i, i)
			continue
		}
		files[name] = fmt.Sprintf("apiVersion: fleetplan/v1\nkind: RollingUpgrade\nmetadata: {name: p%04d}\nspec:\n  target: local\n  steps:\n    - {id: hello, action: generic.noop}\n    - {id: bye, action: generic.noop, needs: [hello]}\n", i)
	}
	writeRepo(b, dir, files)
	return dir
}

// BenchmarkValidateRepo1000Files is `fleetplan validate .` of a repository
// of 1,000 plan files: loading alone, the baseline of the plan below.
func BenchmarkValidateRepo1000Files(b *testing.B) { benchIn(b, writeRepo1000(b), "validate", ".") }

// BenchmarkPlanRepo1000Files is `fleetplan plan .` of the same repository:
// every plan made against the local fleet, grouped per target.
func BenchmarkPlanRepo1000Files(b *testing.B) { benchIn(b, writeRepo1000(b), "plan", ".") }

// BenchmarkWatchOnce1000Files is `fleetplan watch . --once`: load, hash and
// plan every one of the 1,000 documents, as a watcher does at start.
func BenchmarkWatchOnce1000Files(b *testing.B) {
	benchIn(b, writeRepo1000(b), "watch", ".", "--once")
}

// TestWatchOncePlansABurstAgainstOneTarget: the documents of one target
// that a watcher plans in one go share one open target (opening it reads
// the fleet's catalog, which costs more than planning a small document),
// and the plans are those of `plan .`.
func TestWatchOncePlansABurstAgainstOneTarget(t *testing.T) {
	dir := writeRepoN(t, 40)
	t.Chdir(dir)
	var out, stderr strings.Builder
	before := targetOpens.Load()
	if code := run([]string{"watch", ".", "--once", "--output", "json"}, nil, &out, &stderr); code != 0 {
		t.Fatalf("watch --once: exit %d\n%s", code, stderr.String())
	}
	opens := targetOpens.Load() - before
	if opens > 2 { // the start's look for interrupted runs, and the burst
		t.Errorf("watch --once opened the target %d times for 40 documents of one target, want at most 2", opens)
	}
	if n := strings.Count(out.String(), `"planned"`); n != 40 {
		t.Errorf("%d documents planned, want 40:\n%s%s", n, out.String(), stderr.String())
	}
}
