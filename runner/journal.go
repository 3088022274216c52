package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetplan/fleetplan/atomicfile"
	"github.com/fleetplan/fleetplan/steps"
)

// JournalVersion is the format version written in every journal record ("v").
// A journal holding a newer version is refused rather than guessed at.
//
// Version 2 adds step-applying. Version 1 writers did not record it, so a
// step a version 1 record started may have been applied (replay assumes so).
const JournalVersion = 2

// oldestJournalVersion is the oldest record version this fleetplan reads.
const oldestJournalVersion = 1

// File names inside a run directory (Dir/runs/<id>/).
const (
	planFile    = "plan.json"     // the graph, written once, atomically
	journalFile = "journal.jsonl" // one Record per line, append-only
	cancelFile  = "cancel"        // present when a cancel was requested
)

// RecordType names a journal transition.
type RecordType string

// Run-level transitions.
const (
	RunStarted          RecordType = "run-started"
	RunResumed          RecordType = "run-resumed"
	RunPaused           RecordType = "run-paused"
	RunAwaitingApproval RecordType = "run-awaiting-approval"
	RunDone             RecordType = "run-done"
	RunFailed           RecordType = "run-failed" // the rollback phase follows
	RunRollbackStarted  RecordType = "run-rollback-started"
	RunRolledBack       RecordType = "run-rolled-back"
	RunRollbackFailed   RecordType = "run-rollback-failed"
	RunCancelled        RecordType = "run-cancelled"
	RunInterrupted      RecordType = "run-interrupted" // the process was asked to stop (Ctrl-C)
	RunKept             RecordType = "run-kept"        // rolled back except what the plan keeps for analysis
)

// Step transitions.
const (
	StepStarted          RecordType = "step-started"
	StepDone             RecordType = "step-done"
	StepFailed           RecordType = "step-failed"
	StepRetrying         RecordType = "step-retrying"
	StepSkipped          RecordType = "step-skipped" // effect already live (Observe)
	StepAwaitingApproval RecordType = "step-awaiting-approval"
	StepApproved         RecordType = "step-approved"
	StepRejected         RecordType = "step-rejected"
	RollbackStarted      RecordType = "rollback-started"
	RollbackDone         RecordType = "rollback-done"
	RollbackFailed       RecordType = "rollback-failed"
	RollbackSkipped      RecordType = "rollback-skipped" // nothing to undo
)

// StepApplying is durable before a step's Apply is first called in a
// session (Observe found the effect not live): a step started but never
// applying did nothing, and a rollback leaves it alone.
const StepApplying RecordType = "step-applying"

// StepCheckpoint records a value a step's action saved through
// fleet.Checkpoints (the resume token of a cloud operation in flight, for
// example): Key and Value, durable before the action goes on, and handed
// back to the step when the run resumes.
const StepCheckpoint RecordType = "step-checkpoint"

// Record is one line of the journal. Fields are omitted when empty, so a
// line stays short; Time and Type are always present.
type Record struct {
	V    int        `json:"v"`
	Time time.Time  `json:"t"`
	Type RecordType `json:"type"`
	Step string     `json:"step,omitempty"`

	// Step details.
	Attempt int           `json:"attempt,omitempty"` // attempts made so far (step-done, step-failed, step-retrying)
	Wait    time.Duration `json:"wait,omitempty"`    // backoff before the next attempt (step-retrying)
	// Waited (step-retrying) is the backoff this outage has used before Wait:
	// since the step's last progress, whose report starts a fresh budget.
	Waited time.Duration `json:"waited,omitempty"`
	// Failover (step-retrying): the error says the database is failing over
	// (40613 and its kin), so the wait is waiting out a failover.
	Failover  bool          `json:"failover,omitempty"`
	Outputs   steps.Outputs `json:"outputs,omitempty"`
	Error     string        `json:"error,omitempty"`
	Transient bool          `json:"transient,omitempty"`
	// Applied is set on step-failed when Apply was called at least once, so a
	// rollback knows the step may have a partial effect to undo.
	Applied bool `json:"applied,omitempty"`
	// Resumed is set on step-skipped when an earlier, interrupted session
	// had begun to apply the step (step-applying): its live effect is this
	// run's own work and a rollback must undo it.
	Resumed bool `json:"resumed,omitempty"`
	// Key and Value (step-checkpoint) are what the action saved.
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`
	Who    string `json:"who,omitempty"`
	Reason string `json:"reason,omitempty"`

	// Run details (run-started, run-resumed).
	Run    string `json:"run,omitempty"`
	Plan   string `json:"plan,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Target string `json:"target,omitempty"`
	Steps  int    `json:"steps,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Host   string `json:"host,omitempty"`
	// EndState describes the live state of what the graph touches when the
	// run was done (run-done; see Options.EndState).
	EndState string `json:"endState,omitempty"`
	// Provenance (run-started) is where the plan came from.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// journal appends records to journal.jsonl. It is owned by one goroutine (the
// scheduler): records are added to a buffer and made durable together by
// commit, which is what lets one fsync cover every step that finished at the
// same time (group commit).
type journal struct {
	f   *os.File
	buf []byte
	// pending holds the records of the current batch, for events after commit.
	pending []Record
}

// add buffers a record; it becomes durable at the next commit.
func (j *journal) add(r Record) {
	r.V = JournalVersion
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		// Outputs that cannot be encoded are a bug in an action; keep the
		// transition and say what was lost rather than failing the run.
		r.Outputs = steps.Outputs{"_error": "outputs not JSON-encodable: " + err.Error()}
		b, _ = json.Marshal(r)
	}
	j.buf = append(j.buf, b...)
	j.buf = append(j.buf, '\n')
	j.pending = append(j.pending, r)
}

// commit writes the buffered records with one write and one fsync. The
// records returned are those just made durable.
func (j *journal) commit() ([]Record, error) {
	if len(j.buf) == 0 {
		return nil, nil
	}
	if _, err := j.f.Write(j.buf); err != nil {
		return nil, fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync journal: %w", err)
	}
	done := j.pending
	j.buf = j.buf[:0]
	j.pending = nil
	return done, nil
}

func (j *journal) close() error { return j.f.Close() }

// readJournal parses a journal file. A trailing line that is incomplete (no
// newline, as left by a crash in the middle of a write) or unparsable is
// ignored; validLen is the length of the well-formed prefix, so an appender can
// truncate the torn tail before writing. A missing file reads as empty.
func readJournal(path string) (recs []Record, validLen int64, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return parseJournal(path, data)
}

func parseJournal(path string, data []byte) ([]Record, int64, error) {
	var recs []Record
	var off int64
	line := 0
	for len(data) > 0 {
		line++
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			// Torn tail: the writer died mid-line.
			break
		}
		raw := data[:nl]
		var r Record
		if err := json.Unmarshal(raw, &r); err != nil {
			if len(bytes.TrimSpace(data[nl+1:])) == 0 {
				// A garbled last line is a torn write too.
				break
			}
			return nil, 0, fmt.Errorf("%s:%d: corrupt journal record: %v", path, line, err)
		}
		if r.V < oldestJournalVersion || r.V > JournalVersion {
			return nil, 0, fmt.Errorf("%s:%d: journal format version %d, this fleetplan reads versions %d to %d", path, line, r.V, oldestJournalVersion, JournalVersion)
		}
		recs = append(recs, r)
		off += int64(nl + 1)
		data = data[nl+1:]
	}
	return recs, off, nil
}

// openJournal reads the journal at path, truncates a torn tail, and opens it
// for appending. The file is created if missing.
func openJournal(path string) (*journal, []Record, error) {
	return openJournalMode(path, true)
}

// openJournalMode is openJournal; with truncate false a torn-looking tail is
// left alone (it may be a line a live runner is writing at this moment).
func openJournalMode(path string, truncate bool) (*journal, []Record, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	recs, valid, err := parseJournal(path, data)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if truncate && valid < int64(len(data)) {
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncate torn journal tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	f.Close()
	af, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return &journal{f: af}, recs, nil
}

// appendRecords appends records to a run's journal from outside a runner
// (approve, reject, cancel): one O_APPEND write and an fsync. It takes the
// target lock for the moment it needs when it can, so it may repair a torn
// tail; when a live runner holds the lock for this run, it appends without
// touching what is there (the runner's own lines are whole writes).
func appendRecords(dir, runID, target string, recs ...Record) error {
	runDir := filepath.Join(dir, "runs", runID)
	truncate := true
	lock, err := acquireLock(dir, target, holder(runID, Options{Command: "journal note"}))
	if err != nil {
		var le *LockedError
		if !errors.As(err, &le) {
			return err
		}
		truncate = le.Holder != nil && le.Holder.Run != runID
	} else {
		defer lock.release()
	}
	j, _, err := openJournalMode(filepath.Join(runDir, journalFile), truncate)
	if err != nil {
		return err
	}
	defer j.close()
	for _, r := range recs {
		j.add(r)
	}
	_, err = j.commit()
	return err
}

// writeFileAtomic writes data to path so that a crash leaves either the
// old file or the new one (atomicfile.Write).
func writeFileAtomic(path string, data []byte) error { return atomicfile.Write(path, data) }

// syncDir fsyncs a directory so entries created or renamed in it are durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
