package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

func TestParseJournal(t *testing.T) {
	good := `{"v":1,"t":"2026-11-22T10:15:00Z","type":"run-started","run":"r"}` + "\n" +
		`{"v":1,"t":"2026-11-22T10:15:01Z","type":"step-started","step":"a"}` + "\n"
	cases := map[string]struct {
		data      string
		wantRecs  int
		wantValid int
		wantErr   string
	}{
		"empty":                      {data: "", wantRecs: 0, wantValid: 0},
		"whole lines":                {data: good, wantRecs: 2, wantValid: len(good)},
		"torn tail":                  {data: good + `{"v":1,"t":"2026-11-22T10:1`, wantRecs: 2, wantValid: len(good)},
		"garbled last line":          {data: good + "\x00\x00\x00\n", wantRecs: 2, wantValid: len(good)},
		"garbled line in the middle": {data: `{"v":1,"ty` + "\n" + good, wantErr: ":1: corrupt journal record"},
		"newer version":              {data: `{"v":3,"t":"2026-11-22T10:15:00Z","type":"run-started"}` + "\n", wantErr: "journal format version 3"},
		"no version":                 {data: `{"t":"2026-11-22T10:15:00Z","type":"run-started"}` + "\n", wantErr: "journal format version 0"},
		"version 1 and 2 mixed":      {data: good + `{"v":2,"t":"2026-11-22T10:15:02Z","type":"step-applying","step":"a"}` + "\n", wantRecs: 3, wantValid: len(good) + 69},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			recs, valid, err := parseJournal("j", []byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(recs) != tc.wantRecs || valid != int64(tc.wantValid) {
				t.Fatalf("recs %d valid %d err %v; want %d, %d", len(recs), valid, err, tc.wantRecs, tc.wantValid)
			}
		})
	}
}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), journalFile)
	j, recs, err := openJournal(path)
	if err != nil || len(recs) != 0 {
		t.Fatal(err, recs)
	}
	j.add(Record{Type: RunStarted, Run: "r", Steps: 2})
	j.add(Record{Type: StepDone, Step: "a", Attempt: 2, Outputs: map[string]any{"rows": 3}})
	j.add(Record{Type: StepRetrying, Step: "b", Wait: 250 * time.Millisecond, Error: "x", Transient: true})
	if got, err := j.commit(); err != nil || len(got) != 3 {
		t.Fatal(err, got)
	}
	if got, err := j.commit(); err != nil || got != nil {
		t.Fatal("an empty commit writes nothing", err, got)
	}
	j.close()
	recs, _, err = readJournal(path)
	if err != nil || len(recs) != 3 {
		t.Fatal(err, recs)
	}
	if recs[1].Outputs["rows"] != float64(3) || recs[2].Wait != 250*time.Millisecond || recs[0].V != JournalVersion {
		t.Fatalf("round trip lost data: %+v", recs)
	}
}

// An approval appended after a crash that tore the last line repairs the
// journal first, so the approval is not glued to the torn bytes.
func TestApproveAfterTornTail(t *testing.T) {
	o := opts(t)
	gate := st("gate", newFake(t, &fakeAction{}))
	gate.Approval = true
	res, err := Start(context.Background(), graph(gate), o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "runs", res.RunID, journalFile)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"t":"2026-11-22T10:15:00Z","type":"run-resu`)
	f.Close()
	if err := Approve(o.Dir, res.RunID, "gate", "alice"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	recs, valid, err := parseJournal(path, data)
	if err != nil || valid != int64(len(data)) {
		t.Fatalf("journal after approve: %v (%d of %d bytes valid)", err, valid, len(data))
	}
	if last := recs[len(recs)-1]; last.Type != StepApproved || last.Who != "alice" {
		t.Fatalf("last record %+v", last)
	}
	if res, err := Resume(context.Background(), res.RunID, o); err != nil || res.Status != StatusDone {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestBackoff(t *testing.T) {
	p := stepgraph.RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Budget: 5 * time.Second}
	b := newBackoff(p)
	b.rnd = func(n int64) int64 { return n - 1 } // always the ceiling
	var got []time.Duration
	for {
		w, ok := b.next()
		if !ok {
			break
		}
		got = append(got, w)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000, 500} // ms; the last lands on the budget
	if len(got) != len(want) {
		t.Fatalf("waits %v", got)
	}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("wait %d = %s, want %dms (all: %v)", i, got[i], want[i], got)
		}
	}
}

// TestJournalOfAnotherPlanIsRefused: a journal that names a step its run's
// plan.json does not have is refused with a hint; nothing runs or rolls back.
func TestJournalOfAnotherPlanIsRefused(t *testing.T) {
	o := opts(t)
	ran := 0
	fake := newFake(t, &fakeAction{apply: func(context.Context, *steps.Env, steps.Inputs) (steps.Outputs, error) {
		ran++
		return nil, nil
	}})
	res, err := Start(context.Background(), graph(st("a", fake)), o)
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(o.Dir, "runs", res.RunID, journalFile)
	f, err := os.OpenFile(jpath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"v":2,"t":"2026-11-22T10:15:00Z","type":"step-done","step":"elsewhere"}` + "\n")
	f.Close()
	for name, call := range map[string]func() (*Result, error){
		"resume":   func() (*Result, error) { return Resume(context.Background(), res.RunID, o) },
		"rollback": func() (*Result, error) { return Rollback(context.Background(), res.RunID, o) },
	} {
		_, err := call()
		if err == nil || !strings.Contains(err.Error(), `names step "elsewhere", which the run's plan.json does not have`) || fleet.HintOf(err) == "" {
			t.Errorf("%s: want a refusal with a hint, got %v", name, err)
		}
	}
	if ran != 1 {
		t.Fatalf("the action ran %d times, want once (by Start)", ran)
	}
}
