package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzJournal feeds arbitrary bytes to the journal parser and the replay:
// they must never panic, refuse what they cannot read with a message that
// names the file and line, and treat an unfinished last line (a kill -9 in
// the middle of a write) as torn: the records before it still count, and
// opening the journal for appending cuts it off so the next record lands on
// a line of its own.
func FuzzJournal(f *testing.F) {
	lines := []string{
		`{"v":2,"t":"2026-11-22T10:15:00Z","type":"run-started","run":"r","plan":"p","kind":"ShardLayout","target":"local","steps":3}`,
		`{"v":2,"t":"2026-11-22T10:15:01Z","type":"step-started","step":"a"}`,
		`{"v":2,"t":"2026-11-22T10:15:01Z","type":"step-applying","step":"a"}`,
		`{"v":2,"t":"2026-11-22T10:15:02Z","type":"step-done","step":"a","attempt":1,"outputs":{"rows":3}}`,
		`{"v":2,"t":"2026-11-22T10:15:02Z","type":"step-started","step":"b"}`,
		`{"v":2,"t":"2026-11-22T10:15:03Z","type":"step-skipped","step":"b","attempt":1,"resumed":true}`,
		`{"v":2,"t":"2026-11-22T10:15:03Z","type":"step-retrying","step":"c","attempt":1,"wait":250000000,"error":"x","transient":true}`,
		`{"v":2,"t":"2026-11-22T10:15:04Z","type":"step-failed","step":"c","attempt":2,"error":"boom","applied":true}`,
		`{"v":2,"t":"2026-11-22T10:15:04Z","type":"run-failed","reason":"step \"c\" failed"}`,
		`{"v":2,"t":"2026-11-22T10:15:05Z","type":"rollback-started","step":"a"}`,
		`{"v":2,"t":"2026-11-22T10:15:05Z","type":"rollback-done","step":"a"}`,
		`{"v":2,"t":"2026-11-22T10:15:06Z","type":"run-rolled-back"}`,
	}
	whole := strings.Join(lines, "\n") + "\n"
	f.Add([]byte(whole))
	f.Add([]byte(whole[:len(whole)-17])) // killed in the middle of the last line
	f.Add([]byte(strings.ReplaceAll(whole, `"v":2`, `"v":1`)))
	f.Add([]byte(lines[0] + "\n" + `{"v":2,"t":"2026-11-22T10:15:01Z","type":"step-awaiting-approval","step":"a"}` + "\n" +
		`{"v":2,"t":"2026-11-22T10:15:02Z","type":"step-approved","step":"a","who":"alice"}` + "\n"))
	f.Add([]byte(lines[0] + "\n\x00\x00\x00\n"))
	f.Add([]byte(lines[0] + "\n{\"v\":2,\"ty\n" + lines[1] + "\n"))
	f.Add([]byte(`{"v":9,"t":"2026-11-22T10:15:00Z","type":"run-started"}` + "\n"))
	f.Add([]byte("null\n[]\n\"x\"\n"))
	f.Add([]byte("\n\n  \n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, valid, err := parseJournal("j", data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "j:") || !(strings.Contains(msg, "corrupt journal record") || strings.Contains(msg, "journal format version")) {
				t.Fatalf("error without file and line or reason: %q", msg)
			}
			if recs != nil || valid != 0 {
				t.Fatalf("an error came with %d records and %d valid bytes", len(recs), valid)
			}
			return
		}
		if valid < 0 || valid > int64(len(data)) || (valid > 0 && data[valid-1] != '\n') {
			t.Fatalf("valid prefix %d of %d bytes does not end a line", valid, len(data))
		}
		// The valid prefix reads the same on its own, and is all there is.
		again, valid2, err := parseJournal("j", data[:valid])
		if err != nil || len(again) != len(recs) || valid2 != valid {
			t.Fatalf("the valid prefix re-reads as %d records, %d bytes, %v; want %d, %d", len(again), valid2, err, len(recs), valid)
		}
		// A torn tail after it (kill -9 mid-write) changes nothing.
		torn := append(append([]byte(nil), data[:valid]...), `{"v":2,"t":"2026-11-22T10:1`...)
		if tornRecs, tornValid, err := parseJournal("j", torn); err != nil || len(tornRecs) != len(recs) || tornValid != valid {
			t.Fatalf("a torn last line: %d records, %d bytes, %v; want %d, %d", len(tornRecs), tornValid, err, len(recs), valid)
		}

		p := replay(recs)
		switch st := p.status(false); st {
		case StatusInterrupted, StatusPaused, StatusAwaitingApproval, StatusDone, StatusRolledBack, StatusRollbackFailed, StatusCancelled, StatusKept:
		default:
			t.Fatalf("status of a run no process holds: %q", st)
		}
		if p.ncomplete < 0 || p.ncomplete > len(p.steps) {
			t.Fatalf("%d steps complete out of %d known", p.ncomplete, len(p.steps))
		}
		seen := map[string]bool{}
		for _, id := range p.rollbackOrder() {
			s := p.steps[id]
			if s == nil || seen[id] {
				t.Fatalf("rollback order names %q twice or unknown", id)
			}
			seen[id] = true
			if s.rollback == RollbackStateDone || s.rollback == RollbackStateNothing {
				t.Fatalf("rollback order undoes %q twice", id)
			}
			if s.state == StatePending || s.state == StateAwaitingApproval || s.state == StateApproved || s.state == StateRejected {
				t.Fatalf("rollback order undoes %q, which never ran (%s)", id, s.state)
			}
		}

		// Opening the journal for appending cuts a torn tail off, so the next
		// record starts a line of its own and the journal reads back whole.
		path := filepath.Join(t.TempDir(), journalFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		j, opened, err := openJournal(path)
		if err != nil || len(opened) != len(recs) {
			t.Fatalf("open: %d records, %v; want %d", len(opened), err, len(recs))
		}
		j.add(Record{Type: RunResumed})
		if _, err := j.commit(); err != nil {
			t.Fatal(err)
		}
		j.close()
		back, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(back, data[:valid]) {
			t.Fatal("appending changed the records before it")
		}
		after, afterValid, err := parseJournal("j", back)
		if err != nil || len(after) != len(recs)+1 || afterValid != int64(len(back)) {
			t.Fatalf("after an append: %d records, %d of %d bytes, %v; want %d whole", len(after), afterValid, len(back), err, len(recs)+1)
		}
	})
}
