package sqlserver

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/atomicfile"
	"github.com/fleetplan/fleetplan/fleet"
)

// The sqlserver state backend: runs (their plan and their journal) and the
// lease of replicas, kept in fleetplan's own schema (fleetplan.Runs,
// fleetplan.Journal) of the shard map manager database, never in the
// library's tables. A run started on one machine is pushed there and pulled
// into another machine's state folder, where `fleetplan resume` continues
// it; replicas take turns through a lease that is sp_getapplock held by a
// pinned session, which SQL Server releases when its holder dies.

// Files of a run folder (runner: runs/<id>/plan.json and journal.jsonl).
const (
	runPlanFile    = "plan.json"
	runJournalFile = "journal.jsonl"
)

// State is the state backend of one fleet.
type State struct{ t *Target }

// StoredRun is a run the backend holds.
type StoredRun struct {
	ID, Target string
	Created    time.Time
	Records    int64
}

// State returns the fleet's state backend, creating fleetplan's schema in
// the shard map manager database when it is missing.
func (t *Target) State(ctx context.Context) (*State, error) {
	if err := t.exec(ctx, t.cfg.SMM(), "create fleetplan schema", EnsureStateSchemaSQL); err != nil {
		return nil, err
	}
	return &State{t: t}, nil
}

// journalLines splits a journal into its whole lines; a torn last line
// (no newline: a writer died mid-line) is not one.
func journalLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			break
		}
		if line := data[:nl]; len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
		data = data[nl+1:]
	}
	return out
}

// Push stores the run's plan and the journal records the backend does not
// have yet, in one transaction. It refuses a local journal shorter than
// the stored one (another machine went on with the run): nothing stored is
// ever replaced. It returns the records added.
func (s *State) Push(ctx context.Context, runsDir, runID string) (int, error) {
	const what = "push run"
	dir := filepath.Join(runsDir, runID)
	plan, err := os.ReadFile(filepath.Join(dir, runPlanFile))
	if err != nil {
		return 0, &fleet.Error{Op: what, Target: runID, Err: err, Hint: "name a run of this state folder (fleetplan runs lists them)"}
	}
	journal, err := os.ReadFile(filepath.Join(dir, runJournalFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, &fleet.Error{Op: what, Target: runID, Err: err}
	}
	lines := journalLines(journal)
	smm := s.t.cfg.SMM().String()
	tx, err := s.t.beginTx(ctx, s.t.cfg.SMM(), what)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var stored int64
	if err := tx.QueryRowContext(ctx, JournalCountSQL, sql.Named("run", runID)).Scan(&stored); err != nil {
		return 0, s.t.red.wrap(what, smm, err)
	}
	if int64(len(lines)) < stored {
		return 0, &fleet.Error{Op: what, Target: runID,
			Err:  fmt.Errorf("%w: the backend holds %d journal records of the run, this machine %d", fleet.ErrConflict, stored, len(lines)),
			Hint: "the run went on elsewhere: pull it here (fleetplan state pull) instead of pushing"}
	}
	if _, err := tx.ExecContext(ctx, SaveRunSQL, sql.Named("run", runID), sql.Named("target", runTarget(lines)), sql.Named("plan", string(plan))); err != nil {
		return 0, s.t.red.wrap(what, smm, err)
	}
	for i := stored; i < int64(len(lines)); i++ {
		if _, err := tx.ExecContext(ctx, AppendJournalSQL, sql.Named("run", runID), sql.Named("seq", i), sql.Named("record", string(lines[i]))); err != nil {
			return 0, s.t.red.wrap(what, smm, err)
		}
	}
	return len(lines) - int(stored), s.t.red.wrap(what, smm, tx.Commit())
}

// runTarget reads the target name from a journal's run-started record.
func runTarget(lines [][]byte) string {
	for _, l := range lines {
		var r struct {
			Type, Target string
		}
		if json.Unmarshal(l, &r) == nil && r.Type == "run-started" {
			return r.Target
		}
	}
	return ""
}

// Pull writes the stored run into runsDir/<run>: its plan, and its journal
// when the local one is a prefix of it (a journal that went further here,
// or differs, is refused: nothing local is overwritten). Files are written
// whole and renamed into place. It returns the records written.
func (s *State) Pull(ctx context.Context, runsDir, runID string) (int, error) {
	const what = "pull run"
	smm := s.t.cfg.SMM().String()
	db, err := s.t.gsm()
	if err != nil {
		return 0, err
	}
	var target, plan string
	err = db.QueryRowContext(ctx, ReadRunSQL, sql.Named("run", runID)).Scan(&target, &plan)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &fleet.Error{Op: what, Target: runID, Err: fmt.Errorf("%w: the backend holds no run %s", fleet.ErrNotFound, runID),
			Hint: "push it from the machine that ran it (fleetplan state push)"}
	}
	if err != nil {
		return 0, s.t.red.wrap(what, smm, err)
	}
	rows, err := db.QueryContext(ctx, ReadJournalSQL, sql.Named("run", runID))
	if err != nil {
		return 0, s.t.red.wrap(what, smm, err)
	}
	var remote bytes.Buffer
	n := 0
	for rows.Next() {
		var rec string
		if err := rows.Scan(&rec); err != nil {
			rows.Close()
			return 0, s.t.red.wrap(what, smm, err)
		}
		remote.WriteString(rec + "\n")
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, s.t.red.wrap(what, smm, err)
	}
	dir := filepath.Join(runsDir, runID)
	local, err := os.ReadFile(filepath.Join(dir, runJournalFile))
	if err == nil && !bytes.HasPrefix(remote.Bytes(), bytes.Join(append(journalLines(local), nil), []byte("\n"))) {
		return 0, &fleet.Error{Op: what, Target: runID, Err: fmt.Errorf("%w: this machine's journal of the run is not a prefix of the stored one", fleet.ErrConflict),
			Hint: "the run went on here too; push from the machine that ran it last, or move this run folder aside"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, &fleet.Error{Op: what, Target: runID, Err: err}
	}
	for name, data := range map[string][]byte{runPlanFile: []byte(plan), runJournalFile: remote.Bytes()} {
		if err := atomicfile.Write(filepath.Join(dir, name), data); err != nil {
			return 0, &fleet.Error{Op: what, Target: runID, Err: err}
		}
	}
	return n, nil
}

// Runs lists the stored runs, oldest first.
func (s *State) Runs(ctx context.Context) ([]StoredRun, error) {
	db, err := s.t.gsm()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, RunsQuery)
	if err != nil {
		return nil, s.t.red.wrap("list stored runs", s.t.cfg.SMM().String(), err)
	}
	defer rows.Close()
	var out []StoredRun
	for rows.Next() {
		var r StoredRun
		if err := rows.Scan(&r.ID, &r.Target, &r.Created, &r.Records); err != nil {
			return nil, s.t.red.wrap("list stored runs", s.t.cfg.SMM().String(), err)
		}
		out = append(out, r)
	}
	return out, s.t.red.wrap("list stored runs", s.t.cfg.SMM().String(), rows.Err())
}

// Lease is a replica's turn: an exclusive application lock held by a
// pinned session of the shard map manager database.
type Lease struct {
	lock *appLock
	lost chan struct{}
	once sync.Once
}

// leaseResource names a lease of replicas.
func leaseResource(name string) string { return "fleetplan:lease:" + name }

// Lease waits until this process holds the lease name (standing by while
// another replica holds it, polling every poll), or ctx ends. The holder
// checks every poll that its session still holds the lock; Lost is closed
// when it does not (the session was cut): the holder must stop changing
// the fleet, as another replica may take over.
func (s *State) Lease(ctx context.Context, name string, poll time.Duration) (*Lease, error) {
	db, err := s.t.gsm()
	if err != nil {
		return nil, err
	}
	for {
		l, ok, err := getAppLock(ctx, db, leaseResource(name), 0)
		if err != nil {
			return nil, s.t.red.wrap("take lease "+name, s.t.cfg.SMM().String(), err)
		}
		if ok {
			ls := &Lease{lock: l, lost: make(chan struct{})}
			go ls.watch(poll)
			return ls, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

func (l *Lease) watch(poll time.Duration) {
	tk := time.NewTicker(poll)
	defer tk.Stop()
	for {
		select {
		case <-l.lock.stop:
			return
		case <-tk.C:
			ctx, cancel := context.WithTimeout(context.Background(), poll)
			var mode sql.NullString
			err := l.lock.conn.QueryRowContext(ctx, LeaseHeldSQL, sql.Named("resource", l.lock.resource)).Scan(&mode)
			cancel()
			if err != nil || mode.String != "Exclusive" {
				l.once.Do(func() { close(l.lost) })
				return
			}
		}
	}
}

// Lost is closed when the lease is lost.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release gives the lease back. Idempotent.
func (l *Lease) Release() { l.lock.release() }

// PullAll pulls every stored run into runsDir; a run that went further in
// runsDir than in the backend is left as it is. It returns the runs pulled.
func (s *State) PullAll(ctx context.Context, runsDir string) (int, error) {
	runs, err := s.Runs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		switch _, err := s.Pull(ctx, runsDir, r.ID); {
		case errors.Is(err, fleet.ErrConflict):
		case err != nil:
			return n, err
		default:
			n++
		}
	}
	return n, nil
}

// PushAll pushes every run of runsDir; a run the backend holds further
// (another machine went on with it) is left to it. It returns the journal
// records added.
func (s *State) PushAll(ctx context.Context, runsDir string) (int, error) {
	entries, err := os.ReadDir(runsDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, &fleet.Error{Op: "push runs", Target: runsDir, Err: err}
	}
	total := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(runsDir, e.Name(), runPlanFile)); err != nil {
			continue // a run reserved but never started
		}
		switch n, err := s.Push(ctx, runsDir, e.Name()); {
		case errors.Is(err, fleet.ErrConflict):
		case err != nil:
			return total, err
		default:
			total += n
		}
	}
	return total, nil
}
