package runner

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/faults"
)

// The runner's fault points, driven through FLEETPLAN_FAULTS as a user would.
func TestFaultPoints(t *testing.T) {
	cases := map[string]struct {
		spec       string
		wantStatus string
		wantCalls  []string
		wantReason string
		wantRetry  bool
	}{
		"transient before a step is retried": {
			spec: "runner.step.before:40613:2", wantStatus: StatusDone, wantRetry: true,
			wantCalls: []string{"apply:a", "apply:b", "apply:c"},
		},
		"hard error before a step fails it and rolls back": {
			spec: "runner.step.before:hard:2", wantStatus: StatusRolledBack,
			wantCalls:  []string{"apply:a", "rollback:a"},
			wantReason: `step "b" failed`,
		},
		// The fault fires once a's completion is durable; b's start was made
		// durable by the same fsync, so b runs, and nothing after it starts.
		"hard error after a step fails the run": {
			spec: "runner.step.after:hard:1", wantStatus: StatusRolledBack,
			wantCalls:  []string{"apply:a", "apply:b", "rollback:b", "rollback:a"},
			wantReason: `after step "a"`,
		},
		"rollback fault makes the rollback fail loudly": {
			spec: "runner.step.after:hard:1,runner.rollback.before:hard:1", wantStatus: StatusRollbackFailed,
			wantCalls:  []string{"apply:a", "apply:b"},
			wantReason: `rollback of step "b" failed`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() { _ = faults.Reload() }) // runs after the env is restored
			t.Setenv(faults.EnvSpec, tc.spec)
			t.Setenv(faults.EnvIKnow, "yes")
			if err := faults.Reload(); err != nil {
				t.Fatal(err)
			}
			tr := &trace{}
			ok := newFake(t, tracing(tr))
			o := opts(t)
			o.Parallel = 1
			res, err := Start(context.Background(), graph(st("a", ok), st("b", ok, "a"), st("c", ok, "b")), o)
			if res == nil || res.Status != tc.wantStatus {
				t.Fatalf("%v %+v", err, res)
			}
			if (err == nil) != (tc.wantStatus == StatusDone) {
				t.Fatalf("err %v for status %s", err, res.Status)
			}
			if !strings.Contains(res.Reason, tc.wantReason) {
				t.Fatalf("reason %q lacks %q", res.Reason, tc.wantReason)
			}
			if diff := cmp.Diff(tc.wantCalls, tr.get()); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
			retried := slices.Contains(types(journalOf(t, o.Dir, res.RunID), "b"), StepRetrying)
			if retried != tc.wantRetry {
				t.Fatalf("retried %v, want %v", retried, tc.wantRetry)
			}
		})
	}
}
