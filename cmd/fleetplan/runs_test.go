package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// newGatedRun starts a run of two no-op steps, the second waiting for
// approval, and returns the state dir and run id.
func newGatedRun(t *testing.T, dir string) string {
	t.Helper()
	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: "ShardLayout", Plan: "customers", Target: "local",
		Steps: []*stepgraph.Step{
			{ID: "prepare", Action: stepspec.NoopName},
			{ID: "switch", Action: stepspec.NoopName, Needs: []string{"prepare"}, Approval: true},
		}}
	res, err := runner.Start(context.Background(), g, runner.Options{Dir: dir})
	if err != nil || res.Status != runner.StatusAwaitingApproval {
		t.Fatalf("%v %+v", err, res)
	}
	return res.RunID
}

func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestRunCommands(t *testing.T) {
	dir := t.TempDir()
	id := newGatedRun(t, dir)
	sd := "--state-dir=" + dir
	cases := map[string]struct {
		args     []string
		code     int
		stdout   []string // fragments, or regexps when starting with "re:"
		stderr   []string
		afterAll bool // run after the approval case
	}{
		"runs table": {args: []string{"runs", sd}, stdout: []string{
			"re:RUN +PLAN +TARGET +STATUS +STARTED +STEPS +COMMIT +FILE\n",
			"re:" + id + ` +customers +local +awaiting-approval +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +1/2`,
		}},
		"status of newest": {args: []string{"status", sd}, stdout: []string{
			"Run:     " + id, "Status:  awaiting-approval: waiting for approval of \"switch\"", "Steps:   1/2 done",
			"re:prepare +generic.noop +done +1 ", "re:switch +generic.noop +awaiting-approval ",
			"fleetplan approve " + id + " switch",
		}},
		"status json": {args: []string{"status", id, sd, "--output", "json"}, stdout: []string{`"status": "awaiting-approval"`, `"id": "switch"`}},
		"status unknown run": {args: []string{"status", "nope", sd}, code: 1,
			stderr: []string{"find run nope: no such run", "hint: list runs with `fleetplan runs`"}},
		"approve wrong step": {args: []string{"approve", id, "prepare", sd}, code: 1,
			stderr: []string{`step "prepare" is not awaiting approval (it is done)`}},
		"bad output": {args: []string{"runs", sd, "--output", "yaml"}, code: 1, stderr: []string{`unknown --output "yaml": use text or json`, "hint: `fleetplan runs --help`"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := cli(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			check(t, "stdout", out, tc.stdout)
			check(t, "stderr", errOut, tc.stderr)
		})
	}

	// approve, then resume through the library, then status says done.
	out, errOut, code := cli(t, "approve", id, "switch", "--as", "alice", sd)
	if code != 0 || !strings.Contains(out, "approved by alice") {
		t.Fatalf("approve: %d %s %s", code, out, errOut)
	}
	if res, err := runner.Resume(context.Background(), id, runner.Options{Dir: dir}); err != nil || res.Status != runner.StatusDone {
		t.Fatalf("resume: %v %+v", err, res)
	}
	out, _, _ = cli(t, "status", id, sd)
	check(t, "stdout", out, []string{"Status:  done", "re:switch +generic.noop +done +1 +- +- +approved by alice"})
	_, errOut, code = cli(t, "cancel", id, sd)
	if code != 1 || !strings.Contains(errOut, "already ended done") {
		t.Fatalf("cancel of a done run: %d %s", code, errOut)
	}
}

func TestRejectAndCancelCommands(t *testing.T) {
	dir := t.TempDir()
	sd := "--state-dir=" + dir
	rejected := newGatedRun(t, dir)
	out, errOut, code := cli(t, "reject", rejected, "switch", "--as", "bob", "--reason", "not today", sd)
	if code != 0 || !strings.Contains(out, "rejected by bob") {
		t.Fatalf("reject: %d %s %s", code, out, errOut)
	}
	out, _, _ = cli(t, "status", rejected, sd)
	check(t, "stdout", out, []string{"rejected by bob: not today", "Decision recorded; continue with: fleetplan resume " + rejected})

	cancelled := newGatedRun(t, dir)
	out, errOut, code = cli(t, "cancel", cancelled, sd)
	if code != 0 || !strings.Contains(out, "Run "+cancelled+" cancelled. Undo what it did with: fleetplan rollback") {
		t.Fatalf("cancel: %d %s %s", code, out, errOut)
	}
	out, _, _ = cli(t, "runs", sd, "--output", "json")
	var runs []runner.RunSummary
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("runs json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range runs {
		got[r.ID] = r.Status
	}
	if got[rejected] != runner.StatusAwaitingApproval || got[cancelled] != runner.StatusCancelled {
		t.Fatalf("statuses %v", got)
	}
}

func TestStateDirDefaults(t *testing.T) {
	root := t.TempDir()
	cases := map[string]struct {
		explicit, config, want string
	}{
		"explicit flag wins": {explicit: "/x/.fleetplan", config: root + "/fleetplan.yaml", want: "/x/.fleetplan"},
		"beside --config":    {config: root + "/fleetplan.yaml", want: root + "/.fleetplan"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := &app{configPath: tc.config}
			got, err := a.stateDir(tc.explicit)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("no runs yet", func(t *testing.T) {
		out, _, code := cli(t, "runs", "--state-dir="+t.TempDir())
		if code != 0 || !strings.HasPrefix(out, "No runs in ") {
			t.Fatalf("%d %q", code, out)
		}
	})
}

func check(t *testing.T, what, got string, wants []string) {
	t.Helper()
	for _, w := range wants {
		if re, ok := strings.CutPrefix(w, "re:"); ok {
			if !regexp.MustCompile(re).MatchString(got) {
				t.Errorf("%s does not match %q:\n%s", what, re, got)
			}
		} else if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}
