package main

import (
	"fmt"
	"testing"
)

// writeRepo1000 writes, in a new folder, fleetplan.yaml (an empty local
// fleet) and 1,000 plan files in 10 folders: RollingUpgrades of two steps
// each, half of them through a template, the way a repository of many
// small plans looks. It returns the folder.
func writeRepo1000(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	files := map[string]string{
		"fleetplan.yaml":   "targets:\n  local: {driver: local, path: fleet}\n",
		"tpl/upgrade.yaml": "apiVersion: fleetplan/v1\nkind: Template\nmetadata: {name: upgrade}\nparameters:\n  type: object\n  properties: {app: {type: string}}\nsteps:\n  - {id: hello, action: generic.noop}\n  - {id: bye, action: generic.noop, needs: [hello]}\n",
	}
	for i := range 1000 {
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
