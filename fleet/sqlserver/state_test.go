package sqlserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

func TestJournalLines(t *testing.T) {
	got := journalLines([]byte("{\"a\":1}\n\n{\"b\":2}\n{\"torn\""))
	if len(got) != 2 || string(got[0]) != `{"a":1}` || string(got[1]) != `{"b":2}` {
		t.Fatalf("lines: %q", got)
	}
	if n := len(journalLines(nil)); n != 0 {
		t.Errorf("empty journal: %d lines", n)
	}
	lines := journalLines([]byte(`{"v":2,"type":"step-started","step":"a"}` + "\n" + `{"v":2,"type":"run-started","target":"prod"}` + "\n"))
	if got := runTarget(lines); got != "prod" {
		t.Errorf("target %q", got)
	}
}

func TestStateGolden(t *testing.T) {
	golden(t, "state.golden", map[string]string{
		"save run":       SaveRunSQL,
		"journal count":  JournalCountSQL,
		"append journal": AppendJournalSQL,
		"read run":       ReadRunSQL,
		"read journal":   ReadJournalSQL,
		"runs":           RunsQuery,
		"lease held":     LeaseHeldSQL,
		"lease resource": leaseResource("watch"),
	})
}

// TestStateContract pushes a run from one machine's state folder, pulls it
// into another's, refuses to overwrite either side, and hands the lease
// from a replica whose session ended to one standing by.
func TestStateContract(t *testing.T) {
	tg, _ := testTarget(t)
	ctx := context.Background()
	st, err := tg.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	run := filepath.Join(a, "r-1")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	journal := `{"v":2,"type":"run-started","run":"r-1","target":"prod"}` + "\n" + `{"v":2,"type":"step-started","step":"freeze"}` + "\n"
	os.WriteFile(filepath.Join(run, runPlanFile), []byte(`{"steps":[]}`), 0o644)
	os.WriteFile(filepath.Join(run, runJournalFile), []byte(journal), 0o644)
	if n, err := st.Push(ctx, a, "r-1"); err != nil || n != 2 {
		t.Fatalf("push: %d %v", n, err)
	}
	if n, err := st.Push(ctx, a, "r-1"); err != nil || n != 0 {
		t.Fatalf("push again: %d %v", n, err)
	}
	if n, err := st.Pull(ctx, b, "r-1"); err != nil || n != 2 {
		t.Fatalf("pull: %d %v", n, err)
	}
	got, _ := os.ReadFile(filepath.Join(b, "r-1", runJournalFile))
	if string(got) != journal {
		t.Fatalf("pulled journal:\n%s", got)
	}
	// The run goes on at b; a's shorter journal cannot be pushed over it.
	os.WriteFile(filepath.Join(b, "r-1", runJournalFile), []byte(journal+`{"v":2,"type":"step-done","step":"freeze"}`+"\n"), 0o644)
	if _, err := st.Push(ctx, b, "r-1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(run, runJournalFile), []byte(`{"v":2,"type":"run-started","run":"r-1","target":"prod"}`+"\n"), 0o644)
	if _, err := st.Push(ctx, a, "r-1"); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("a shorter journal was pushed: %v", err)
	}
	runs, err := st.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].Records != 3 || runs[0].Target != "prod" {
		t.Fatalf("runs: %+v %v", runs, err)
	}

	l1, err := st.Lease(ctx, "watch", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	other := newTarget(tg.cfg)
	defer other.Close()
	st2, _ := other.State(ctx)
	wait, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, err := st2.Lease(wait, "watch", 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second replica took a held lease: %v", err)
	}
	cancel()
	got2 := make(chan *Lease, 1)
	go func() {
		l, err := st2.Lease(ctx, "watch", 100*time.Millisecond)
		if err != nil {
			t.Error(err)
		}
		got2 <- l
	}()
	// The holder's session ends, as when its pod dies.
	close(l1.lock.stop)
	l1.lock.conn.Raw(func(dc any) error { return dc.(interface{ Close() error }).Close() })
	select {
	case l2 := <-got2:
		if l2 == nil {
			t.Fatal("no lease")
		}
		l2.Release()
	case <-time.After(30 * time.Second):
		t.Fatal("the standby never took over")
	}
	if !strings.HasPrefix(leaseResource("x"), "fleetplan:") {
		t.Error("lease resources live in fleetplan's name space")
	}
}
