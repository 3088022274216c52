package faults

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	cases := map[string]struct {
		spec    string
		want    []Fault
		wantErr string
	}{
		"transient":    {spec: "move.copy:40613:3", want: []Fault{{Point: "move.copy", Kind: Transient, Code: 40613, N: 3}}},
		"several":      {spec: "move.copy:hard:2, move.delete:exit:5", want: []Fault{{Point: "move.copy", Kind: Hard, N: 2}, {Point: "move.delete", Kind: Exit, N: 5}}},
		"every hit":    {spec: "a:40197:*", want: []Fault{{Point: "a", Kind: Transient, Code: 40197}}},
		"empty parts":  {spec: ",a:hard:1,", want: []Fault{{Point: "a", Kind: Hard, N: 1}}},
		"two fields":   {spec: "a:hard", wantErr: "POINT:WHAT:N"},
		"bad what":     {spec: "a:boom:1", wantErr: "WHAT"},
		"zero hit":     {spec: "a:hard:0", wantErr: "N must be"},
		"no point":     {spec: ":hard:1", wantErr: "POINT:WHAT:N"},
		"outage":       {spec: "move.copy:outage:30s", want: []Fault{{Point: "move.copy", Kind: Outage, Code: 40613, N: 1, For: 30 * time.Second}}},
		"outage at N":  {spec: "move.copy:outage:1m30s:4", want: []Fault{{Point: "move.copy", Kind: Outage, Code: 40613, N: 4, For: 90 * time.Second}}},
		"no duration":  {spec: "move.copy:outage", wantErr: "POINT:outage:DURATION"},
		"bad duration": {spec: "move.copy:outage:soon", wantErr: "DURATION must be positive"},
		"outage N":     {spec: "move.copy:outage:1s:0", wantErr: "N must be"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// setup points the package at a fresh environment and captures its stderr.
func setup(t *testing.T, spec, iknow string) *bytes.Buffer {
	t.Helper()
	t.Setenv(EnvSpec, spec)
	t.Setenv(EnvIKnow, iknow)
	var buf bytes.Buffer
	oldErr, oldKill := stderr, kill
	stderr = &buf
	mu.Lock()
	warned = false
	mu.Unlock()
	t.Cleanup(func() {
		stderr, kill = oldErr, oldKill
		os.Unsetenv(EnvSpec)
		os.Unsetenv(EnvIKnow)
		_ = Reload()
	})
	_ = Reload()
	return &buf
}

func TestHitSequence(t *testing.T) {
	buf := setup(t, "move.copy:40613:3,move.copy:hard:4,other:10928:*", "yes")
	for i := 1; i <= 2; i++ {
		if err := Hit("move.copy"); err != nil {
			t.Fatalf("hit %d: %v", i, err)
		}
	}
	err := Hit("move.copy")
	var fe *fleet.Error
	if !errors.As(err, &fe) || fe.Code != 40613 || !fleet.IsTransient(err) || !errors.Is(err, ErrInjected) {
		t.Fatalf("hit 3 = %v, want a transient 40613 *fleet.Error", err)
	}
	err = Hit("move.copy")
	if err == nil || fleet.IsTransient(err) {
		t.Fatalf("hit 4 = %v, want a hard error", err)
	}
	if err := Hit("move.copy"); err != nil {
		t.Fatalf("hit 5: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := Hit("other"); !fleet.IsTransient(err) {
			t.Fatalf("every-hit fault did not fire: %v", err)
		}
	}
	if Hit("unrelated") != nil {
		t.Fatal("unrelated point fired")
	}
	if got := strings.Count(buf.String(), "WARNING: fault injection is ON"); got != 1 {
		t.Fatalf("warning printed %d times:\n%s", got, buf.String())
	}
}

// TestOutage: an outage starts at its hit and fails every connection to
// that database, and only that one, until it is over.
func TestOutage(t *testing.T) {
	setup(t, "move.copy:outage:30s:2,move.offline:outage:5s", "yes")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	oldNow := now
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = oldNow })
	const db, other = "sql-1/customers_2", "sql-1/customers_1"
	if err := HitOn("move.copy", db); err != nil {
		t.Fatalf("hit 1: %v", err)
	}
	err := HitOn("move.copy", db)
	var fe *fleet.Error
	if !errors.As(err, &fe) || fe.Code != 40613 || !fleet.IsTransient(err) {
		t.Fatalf("hit 2 = %v, want a transient 40613", err)
	}
	for _, at := range []time.Duration{0, 10 * time.Second, 29 * time.Second} {
		clock = clock.Add(at - clock.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		if err := Unavailable(db); !fleet.IsTransient(err) || !strings.Contains(err.Error(), "not currently available") {
			t.Fatalf("%s into the outage: %v, want the database unavailable", at, err)
		}
		if err := HitOn("move.copy", db); !fleet.IsTransient(err) {
			t.Fatalf("%s into the outage: a hit of the point passed: %v", at, err)
		}
		if err := Unavailable(other); err != nil {
			t.Fatalf("another database is unavailable: %v", err)
		}
	}
	clock = clock.Add(time.Second)
	if err := Unavailable(db); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if err := HitOn("move.copy", db); err != nil {
		t.Fatalf("after the outage a hit failed: %v", err)
	}
	// A point without a database holds an outage of its own.
	if err := Hit("move.offline"); !fleet.IsTransient(err) {
		t.Fatalf("outage at a point: %v", err)
	}
	if err := Hit("move.offline"); !fleet.IsTransient(err) {
		t.Fatalf("second hit during the point's outage: %v", err)
	}
	clock = clock.Add(5 * time.Second)
	if err := Hit("move.offline"); err != nil {
		t.Fatalf("after the point's outage: %v", err)
	}
}

func TestNeedsIKnow(t *testing.T) {
	cases := map[string]struct {
		spec, iknow string
		wantErr     string
	}{
		"no i-know":    {"move.copy:hard:1", "", EnvIKnow},
		"i-know = 1":   {"move.copy:hard:1", "1", EnvIKnow},
		"bad spec":     {"move.copy", "yes", "POINT:WHAT:N"},
		"off is quiet": {"", "", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			buf := setup(t, tc.spec, tc.iknow)
			err := Check()
			hitErr := Hit("move.copy")
			if tc.wantErr == "" {
				if err != nil || hitErr != nil {
					t.Fatalf("Check = %v, Hit = %v", err, hitErr)
				}
				if buf.Len() != 0 {
					t.Fatalf("printed %q while off", buf.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || fleet.HintOf(err) == "" {
				t.Fatalf("Check = %v (hint %q), want %q", err, fleet.HintOf(err), tc.wantErr)
			}
			if hitErr == nil {
				t.Fatal("Hit ignored a misconfiguration")
			}
			if strings.Contains(buf.String(), "WARNING") {
				t.Fatal("warned although not enabled")
			}
		})
	}
}

func TestExitCallsKill(t *testing.T) {
	setup(t, "p:exit:2", "yes")
	type killed struct{}
	kill = func() { panic(killed{}) }
	if err := Hit("p"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, ok := recover().(killed); !ok {
			t.Fatal("exit fault did not kill")
		}
	}()
	_ = Hit("p")
}

// TestExitKillsProcess runs a child that really SIGKILLs itself.
func TestExitKillsProcess(t *testing.T) {
	if os.Getenv("FAULTS_CHILD") == "1" {
		_ = Hit("child.point")
		os.Exit(0) // not reached when the fault works
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExitKillsProcess$")
	cmd.Env = append(os.Environ(), "FAULTS_CHILD=1", EnvSpec+"=child.point:exit:1", EnvIKnow+"=yes")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child did not fail: %v\n%s", err, out)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL\n%s", err, out)
	}
	if !strings.Contains(string(out), "WARNING: fault injection is ON") {
		t.Fatalf("child did not warn:\n%s", out)
	}
}
