package gitops

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/runner"
)

func TestDecide(t *testing.T) {
	run := func(status, hash string) *LastRun {
		return &LastRun{ID: "R1", Status: status, Hash: hash, Reason: map[string]string{runner.StatusRolledBack: "step \"s\" failed"}[status]}
	}
	tests := map[string]struct {
		in   DocState
		want Decision
	}{
		"unchanged since the watcher last looked": {
			in: DocState{Hash: "h2", Seen: "h2", Apply: true, Last: run(runner.StatusRolledBack, "h1")}, want: Decision{Action: Skip}},
		"without --apply a change is planned": {
			in: DocState{Hash: "h2", Seen: "h1", Last: run(runner.StatusRolledBack, "h2")}, want: Decision{Action: Plan, Why: "changed"}},
		"without --apply every plan is planned at start": {
			in: DocState{Hash: "h1", Last: run(runner.StatusDone, "h1")}, want: Decision{Action: Plan}},
		"never applied": {
			in: DocState{Hash: "h1", Apply: true}, want: Decision{Action: Apply, Why: "never applied"}},
		"changed since its last run": {
			in: DocState{Hash: "h2", Seen: "h1", Apply: true, Last: run(runner.StatusDone, "h1")}, want: Decision{Action: Apply, Why: "changed since run R1"}},
		"changed since a rolled-back run: the new version is applied": {
			in: DocState{Hash: "h2", Seen: "h1", Apply: true, Last: run(runner.StatusRolledBack, "h1")}, want: Decision{Action: Apply, Why: "changed since run R1"}},
		"at start, what the newest run applied is not applied again": {
			in: DocState{Hash: "h1", Apply: true, Last: run(runner.StatusDone, "h1")}, want: Decision{Action: UpToDate, Why: "applied by run R1"}},
		"a renamed file of the same content is not applied again": {
			in: DocState{Hash: "h9", Seen: "h1", SameAsLast: true, Apply: true, Last: run(runner.StatusDone, "h1")}, want: Decision{Action: UpToDate, Why: "applied by run R1"}},
		"a rolled-back version stays put": {
			in:   DocState{Hash: "h1", Apply: true, Last: run(runner.StatusRolledBack, "h1")},
			want: Decision{Action: Hold, Why: `stays put: run R1 of this version ended rolled-back (step "s" failed); the watcher does not undo that. Change the file to apply it again`}},
		"a version rolled back by hand, renamed, still stays put": {
			in:   DocState{Hash: "h9", Seen: "h1", SameAsLast: true, Apply: true, Last: run(runner.StatusRolledBack, "h1")},
			want: Decision{Action: Hold, Why: `stays put: run R1 of this version ended rolled-back (step "s" failed); the watcher does not undo that. Change the file to apply it again`}},
		"a cancelled version stays put": {
			in:   DocState{Hash: "h1", Apply: true, Last: run(runner.StatusCancelled, "h1")},
			want: Decision{Action: Hold, Why: "stays put: run R1 of this version ended cancelled; the watcher does not undo that. Change the file to apply it again"}},
		"a version kept for analysis stays put": {
			in:   DocState{Hash: "h1", Apply: true, Last: run(runner.StatusKept, "h1")},
			want: Decision{Action: Hold, Why: "stays put: run R1 of this version ended kept-for-analysis; the watcher does not undo that. Change the file to apply it again"}},
		"a paused run holds a new version": {
			in:   DocState{Hash: "h2", Seen: "h1", Apply: true, Last: run(runner.StatusPaused, "h1")},
			want: Decision{Action: Hold, Retry: true, Why: "run R1 is paused; a new version is not applied until it is settled (`fleetplan status R1`, then resume or rollback)"}},
		"a run awaiting approval holds its own version": {
			in:   DocState{Hash: "h1", Apply: true, Last: run(runner.StatusAwaitingApproval, "h1")},
			want: Decision{Action: Hold, Retry: true, Why: "run R1 is awaiting-approval; this version is not applied until it is settled (`fleetplan status R1`, then resume or rollback)"}},
		"a failed rollback holds": {
			in:   DocState{Hash: "h2", Apply: true, Last: run(runner.StatusRollbackFailed, "h1")},
			want: Decision{Action: Hold, Retry: true, Why: "run R1 is rollback-failed; a new version is not applied until it is settled (`fleetplan status R1`, then resume or rollback)"}},
		"a run live in another process holds, and is looked at again": {
			in:   DocState{Hash: "h2", Apply: true, Last: run(runner.StatusRunning, "h1")},
			want: Decision{Action: Hold, Retry: true, Why: "run R1 is running in another process; decided again once it ends"}},
		"a run from before provenance was recorded": {
			in: DocState{Hash: "h2", Apply: true, Last: run(runner.StatusDone, "")}, want: Decision{Action: Apply, Why: "run R1 recorded no content hash"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Decide(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
