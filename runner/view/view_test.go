package view

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/runner"
)

var t0 = time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC)

func at(sec float64, e runner.Event) runner.Event {
	e.Time = t0.Add(time.Duration(sec * float64(time.Second)))
	e.Run = "20261122T101500Z-ab12"
	return e
}

// a small run: two steps, one moving rows, one retrying, then done.
var sample = []runner.Event{
	at(0, runner.Event{Type: "run-started", Unit: "steps", Total: 2}),
	at(0, runner.Event{Type: "step-started", Step: "move-1", Unit: "steps", Total: 2}),
	at(0.1, runner.Event{Type: "progress", Step: "move-1", Done: 100, Total: 1000, Unit: "rows"}),
	at(0.5, runner.Event{Type: "progress", Step: "move-1", Done: 500, Total: 1000, Unit: "rows"}),
	at(1.2, runner.Event{Type: "progress", Step: "move-1", Done: 900, Total: 1000, Unit: "rows"}),
	at(1.3, runner.Event{Type: "progress", Step: "move-1", Done: 1000, Total: 1000, Unit: "rows"}),
	at(1.3, runner.Event{Type: "log", Step: "move-1", Message: "checksums match"}),
	at(1.4, runner.Event{Type: "step-done", Step: "move-1", Done: 1, Total: 2, Unit: "steps"}),
	at(1.4, runner.Event{Type: "step-started", Step: "merge", Done: 1, Total: 2, Unit: "steps"}),
	at(1.5, runner.Event{Type: "step-retrying", Step: "merge", Done: 1, Total: 2, Unit: "steps", Attempt: 1,
		Wait: 250 * time.Millisecond, Message: "attempt 1 failed, retrying in 250ms", Error: "open sql-1/customers_0 (error 40613)"}),
	at(2, runner.Event{Type: "step-skipped", Step: "merge", Done: 2, Total: 2, Unit: "steps", Message: "already live"}),
	at(2, runner.Event{Type: "run-done", Done: 2, Total: 2, Unit: "steps"}),
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	s, err := NewSink(&buf, "text", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sample {
		s.Event(e)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := `10:15:00Z run started
10:15:00Z step move-1 started
10:15:00Z step move-1: 100/1000 rows (10%)
10:15:01Z step move-1: 900/1000 rows (90%)
10:15:01Z step move-1: 1000/1000 rows (100%)
10:15:01Z step move-1: checksums match
10:15:01Z step move-1 done [1/2]
10:15:01Z step merge started
10:15:01Z step merge retrying: attempt 1 failed, retrying in 250ms: open sql-1/customers_0 (error 40613)
10:15:02Z step merge skipped [2/2]: already live
10:15:02Z run done [2/2]
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Fatalf("text (-want +got):\n%s", diff)
	}
}

func TestLine(t *testing.T) {
	cases := map[string]struct {
		e    runner.Event
		want string
	}{
		"failed step": {runner.Event{Type: "step-failed", Step: "b", Error: "boom"}, "10:15:00Z step b failed: boom"},
		"run failed":  {runner.Event{Type: "run-failed", Message: `step "b" failed: boom`}, `10:15:00Z run failed: step "b" failed: boom`},
		"rollback":    {runner.Event{Type: "rollback-done", Step: "a"}, "10:15:00Z rollback of a done"},
		"rollback failed": {runner.Event{Type: "rollback-failed", Step: "a", Error: "read-only"},
			"10:15:00Z rollback of a failed: read-only"},
		"awaiting":      {runner.Event{Type: "step-awaiting-approval", Step: "switch"}, "10:15:00Z step switch awaiting approval"},
		"unknown total": {runner.Event{Type: "progress", Step: "x", Done: 7, Unit: "batches"}, "10:15:00Z step x: 7 batches"},
		"percent":       {runner.Event{Type: "progress", Step: "instance-mi-prod", Done: 15, Total: 100, Unit: "%"}, "10:15:00Z step instance-mi-prod: 15%"},
		"percent start": {runner.Event{Type: "progress", Step: "instance-mi-prod", Done: 0, Total: 100, Unit: "%"}, "10:15:00Z step instance-mi-prod: 0%"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.e.Time = t0
			if got := Line(tc.e); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	s, _ := NewSink(&buf, "json", true) // bars never apply to JSON
	for _, e := range sample {
		s.Event(e)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(sample) {
		t.Fatalf("%d lines for %d events", len(lines), len(sample))
	}
	for i, l := range lines {
		var e runner.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if diff := cmp.Diff(sample[i], e); diff != "" {
			t.Fatalf("line %d (-want +got):\n%s", i, diff)
		}
	}
	if !strings.Contains(lines[9], `"wait":250000000`) || !strings.Contains(lines[0], `"run":"20261122T101500Z-ab12"`) {
		t.Fatalf("unexpected encoding: %s / %s", lines[0], lines[9])
	}
}

func TestBars(t *testing.T) {
	var buf bytes.Buffer
	s, _ := NewSink(&buf, "text", true)
	for _, e := range sample {
		s.Event(e)
	}
	s.Close()
	out := buf.String()
	for _, frag := range []string{
		"[0/2 steps] move-1", "(100/1000, ", "(500/1000, ", " rows/s", // the bar, with a count
		"10:15:01Z step move-1 done [1/2]\n", "10:15:02Z run done [2/2]\n", // transitions as lines
	} {
		if !strings.Contains(out, frag) {
			t.Errorf("output lacks %q:\n%q", frag, out)
		}
	}
	if strings.Contains(out, "step move-1: 500/1000 rows") {
		t.Errorf("progress printed as text lines although bars are on:\n%q", out)
	}
}

func TestFormats(t *testing.T) {
	if _, err := NewSink(&bytes.Buffer{}, "yaml", false); err == nil {
		t.Fatal("want error for an unknown format")
	}
	// New never draws bars on something that is not a terminal.
	var buf bytes.Buffer
	s, finish := New(&buf, "text")
	s.Event(sample[3])
	finish()
	finish()
	if buf.String() != "10:15:00Z step move-1: 500/1000 rows (50%)\n" {
		t.Fatalf("got %q", buf.String())
	}
}
