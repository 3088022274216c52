package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

var _ fleet.ControlPlane = (*Target)(nil)

// Time scaling of modelled control-plane durations (geo-replica seeding).
const (
	// EnvTimeScale overrides the time scale of every local fleet opened by
	// this process, e.g. "1/3600" (an hour of the modelled service takes a
	// second), "0.001" or "0" (instant).
	EnvTimeScale = "FLEETPLAN_TIME_SCALE"
	// OptionTimeScale is the same setting as a target option in
	// fleetplan.yaml (options: {timeScale: "1/3600"}).
	OptionTimeScale = "timeScale"
	// DefaultTimeScale makes an hour of seeding take a second.
	DefaultTimeScale = 1.0 / 3600
	// Floors applied to scaled durations (when the scale is not 0), so the
	// link states stay observable on small databases.
	minSeeding  = 200 * time.Millisecond
	minCatchUp  = 100 * time.Millisecond
	seedRateBps = 220e9 / 3600 // DOMAIN.md §4: seeding runs at about 220 GB/hour
)

// controlPlane is the Target's control-plane state.
type controlPlane struct {
	once     sync.Once
	initErr  error
	scale    float64
	scaleSet bool
}

// controlDDL holds what the control plane keeps beyond the base catalog:
// where a database was copied from and its write generation (replication
// compares generations), and the seeding timeline of each link.
const controlDDL = `
CREATE TABLE IF NOT EXISTS database_control(
  server        TEXT NOT NULL COLLATE NOCASE,
  name          TEXT NOT NULL COLLATE NOCASE,
  origin_server TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
  origin_db     TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
  gen           INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(server, name)
);
CREATE TABLE IF NOT EXISTS replication_timing(
  link_id    TEXT NOT NULL PRIMARY KEY,
  size_bytes INTEGER NOT NULL,
  scale      REAL NOT NULL,
  seeded_at  TEXT NOT NULL,
  healthy_at TEXT NOT NULL,
  synced_gen INTEGER NOT NULL DEFAULT 0
);
`

// configure reads the target options the control plane understands.
func (t *Target) configure(opts map[string]string) error {
	if v, ok := opts[OptionTimeScale]; ok && v != "" {
		s, err := ParseTimeScale(v)
		if err != nil {
			return &fleet.Error{Op: "open local fleet", Target: t.dir, Err: err, Hint: `options.timeScale is a factor like "1/3600", "0.01" or "0"`}
		}
		t.cp.scale, t.cp.scaleSet = s, true
	}
	if v, ok := opts[OptionInstanceSeed]; ok && v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return &fleet.Error{Op: "open local fleet", Target: t.dir, Err: fmt.Errorf("%w: bad instanceSeed %q", fleet.ErrInvalidArgument, v), Hint: "options.instanceSeed is a whole number"}
		}
		t.SetInstanceSeed(seed)
	}
	return nil
}

// ParseTimeScale reads a time scale: a fraction "1/3600", a decimal "0.001",
// or "0" (modelled durations take no time). It must not be negative.
func ParseTimeScale(s string) (float64, error) {
	s = strings.TrimSpace(s)
	var v float64
	var err error
	if num, den, ok := strings.Cut(s, "/"); ok {
		var n, d float64
		n, err = strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err == nil {
			d, err = strconv.ParseFloat(strings.TrimSpace(den), 64)
		}
		if err == nil && d == 0 {
			err = errors.New("division by zero")
		}
		if err == nil {
			v = n / d
		}
	} else {
		v, err = strconv.ParseFloat(s, 64)
	}
	if err != nil || v < 0 || v != v {
		return 0, fmt.Errorf("%w: bad time scale %q", fleet.ErrInvalidArgument, s)
	}
	return v, nil
}

// TimeScale is the factor applied to modelled durations: the target option,
// else FLEETPLAN_TIME_SCALE, else DefaultTimeScale.
func (t *Target) TimeScale() float64 {
	if t.cp.scaleSet {
		return t.cp.scale
	}
	if v := os.Getenv(EnvTimeScale); v != "" {
		if s, err := ParseTimeScale(v); err == nil {
			return s
		}
	}
	return DefaultTimeScale
}

// SetTimeScale overrides the time scale for this Target (tests, demos).
func (t *Target) SetTimeScale(s float64) { t.cp.scale, t.cp.scaleSet = s, true }

// cpInit creates the control-plane tables once per Target.
func (t *Target) cpInit(ctx context.Context) error {
	t.cp.once.Do(func() {
		if _, err := t.catalog.ExecContext(ctx, controlDDL+baselineDDL); err != nil {
			t.cp.initErr = &fleet.Error{Op: "prepare control plane", Target: t.dir, Err: err}
		}
	})
	return t.cp.initErr
}

// readOnlySuffix keys a database's query_only pool in Target.dbs.
const readOnlySuffix = "?query_only"

// refusesWrites reports whether a database (canonical location) must not be
// written through fleet connections: its read-only setting is on, or it is
// the secondary of a replication link.
func (t *Target) refusesWrites(ctx context.Context, loc fleet.Location) (bool, error) {
	var ro bool
	err := t.pq(t.catalog).QueryRowContext(ctx, `SELECT
		(SELECT read_only FROM databases WHERE server = ?1 AND name = ?2) = 1
		OR EXISTS(SELECT 1 FROM replication_links WHERE partner_server = ?1 AND partner_db = ?2)`,
		loc.Server, loc.Database).Scan(&ro)
	if err != nil {
		return false, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	return ro, nil
}

// readOnlyDB returns the database's pool whose connections run with
// PRAGMA query_only, so every write fails inside SQLite itself.
func (t *Target) readOnlyDB(loc fleet.Location, p string) (*sql.DB, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := p + readOnlySuffix
	if db, ok := t.dbs[key]; ok {
		return db, nil
	}
	if _, err := os.Stat(p); err != nil {
		return nil, &fleet.Error{Op: "open database", Target: loc.String(), Err: fmt.Errorf("%w: %s is missing", fleet.ErrNoDatabase, p),
			Hint: "the catalog lists the database but its file is gone; drop and recreate it"}
	}
	db, err := sql.Open("sqlite", dsn(p, false)+"&_pragma=query_only(1)")
	if err != nil {
		return nil, &fleet.Error{Op: "open database", Target: loc.String(), Err: err}
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	t.dbs[key] = db
	return db, nil
}

// closePools closes this process's pools of a database file (read-write and
// query_only), so the next use opens them afresh.
func (t *Target) closePools(p string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropAttached(p, t.dbs[p], t.dbs[p+readOnlySuffix])
	for _, key := range []string{p, p + readOnlySuffix} {
		if db, ok := t.dbs[key]; ok {
			t.closeDB(db)
			delete(t.dbs, key)
		}
	}
}

// readOnlyErr explains why a database refuses writes.
func readOnlyErr(op string, info fleet.DatabaseInfo, primary fleet.Location) error {
	if info.Role == fleet.RoleSecondary {
		return &fleet.Error{Op: op, Target: info.Location.String(),
			Err:  fmt.Errorf("%w: it is a geo-secondary of %s", fleet.ErrReadOnly, primary),
			Hint: "secondaries take changes only from their primary; disconnect it first (database.disconnect-secondary)"}
	}
	return &fleet.Error{Op: op, Target: info.Location.String(), Err: fmt.Errorf("%w: its read-only setting is on", fleet.ErrReadOnly),
		Hint: "set it read-write first (database.set-read-write) if writing is intended"}
}

// Database implements fleet.ControlPlane.
func (t *Target) Database(ctx context.Context, loc fleet.Location) (fleet.DatabaseInfo, error) {
	if err := t.cpInit(ctx); err != nil {
		return fleet.DatabaseInfo{}, err
	}
	c, p, err := t.resolve(ctx, loc)
	if err != nil {
		return fleet.DatabaseInfo{Location: loc}, err
	}
	info := fleet.DatabaseInfo{Location: c, Role: fleet.RoleStandalone}
	var outgoing, incoming int
	err = t.catalog.QueryRowContext(ctx, `SELECT d.read_only, COALESCE(s.region, ''),
		COALESCE(c.origin_server, ''), COALESCE(c.origin_db, ''),
		(SELECT count(*) FROM replication_links WHERE primary_server = d.server AND primary_db = d.name),
		(SELECT count(*) FROM replication_links WHERE partner_server = d.server AND partner_db = d.name),
		EXISTS(SELECT 1 FROM stale_copies x WHERE x.server = d.server AND x.name = d.name)
		FROM databases d LEFT JOIN servers s ON s.name = d.server
		LEFT JOIN database_control c ON c.server = d.server AND c.name = d.name
		WHERE d.server = ? AND d.name = ?`, c.Server, c.Database).Scan(
		&info.ReadOnly, &info.Region, &info.Origin.Server, &info.Origin.Database, &outgoing, &incoming, &info.Stale)
	if err != nil {
		return info, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	switch {
	case incoming > 0:
		info.Role = fleet.RoleSecondary
	case outgoing > 0:
		info.Role = fleet.RolePrimary
	}
	info.SizeBytes = fileSize(p) + fileSize(p+"-wal")
	return info, nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// SetReadOnly implements fleet.ControlPlane.
func (t *Target) SetReadOnly(ctx context.Context, loc fleet.Location, readOnly bool) error {
	op := "set read-write"
	if readOnly {
		op = "set read-only"
	}
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	c, p, err := t.resolve(ctx, loc)
	if err != nil {
		return err
	}
	err = t.cpTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE databases SET read_only = ? WHERE server = ? AND name = ?`, readOnly, c.Server, c.Database); err != nil {
			return err
		}
		if !readOnly {
			if err := markStale(ctx, tx, c); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target) VALUES(?, ?, ?)`, nowText(), op, c.String())
		return err
	})
	if err != nil {
		return &fleet.Error{Op: op, Target: c.String(), Err: err}
	}
	// Like ALTER DATABASE ... WITH ROLLBACK IMMEDIATE: no connection opened
	// before the change keeps writing.
	t.closePools(p)
	return nil
}

// generation returns a database's write generation.
func generation(ctx context.Context, q querier, loc fleet.Location) (int64, error) {
	var g int64
	err := q.QueryRowContext(ctx, `SELECT gen FROM database_control WHERE server = ? AND name = ?`, loc.Server, loc.Database).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return g, err
}

// bumpGeneration records that a database's content changed.
func bumpGeneration(ctx context.Context, tx *sql.Tx, loc fleet.Location) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO database_control(server, name, gen) VALUES(?, ?, 1)
		ON CONFLICT(server, name) DO UPDATE SET gen = gen + 1`, loc.Server, loc.Database)
	return err
}

// snapshotInto writes a transactionally consistent copy of src (which may be
// written meanwhile) to dst: an online backup (a page copy in one read
// transaction, see backupInto) into a temporary file, then an atomic
// rename over dst after this process's pools of dst are closed and its WAL
// files removed. A crash leaves either the old dst or the new one.
func (t *Target) snapshotInto(ctx context.Context, src fleet.Location, srcPath, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".copy"
	for _, p := range []string{tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	db, err := t.dbAt(src, srcPath)
	if err != nil {
		return err
	}
	if err := backupInto(ctx, db, tmp); err != nil {
		return sqlErr("copy database", src, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := t.keepCopy(ctx, dst); err != nil {
		return err
	}
	t.closePools(dst)
	for _, p := range []string{dst + "-wal", dst + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return syncFile(filepath.Dir(dst))
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// cpError wraps err as a *fleet.Error unless it already is one.
func cpError(op, target string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fleet.Error
	if errors.As(err, &fe) {
		return err
	}
	return &fleet.Error{Op: op, Target: target, Err: err}
}

// cpTx runs fn in one catalog transaction and, in the same transaction,
// writes every link's state as of now into replication_links, so a reader of
// fleet.db sees current states after any control-plane change.
func (t *Target) cpTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	return t.catalogTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return t.recordLinkStates(ctx, tx)
	})
}

func (t *Target) recordLinkStates(ctx context.Context, tx *sql.Tx) error {
	links, err := t.queryLinks(ctx, tx, "")
	if err != nil {
		return err
	}
	for _, l := range links {
		if _, err := tx.ExecContext(ctx, `UPDATE replication_links SET state = ?, percent_done = ? WHERE id = ? AND (state <> ? OR percent_done <> ?)`,
			string(l.State), l.PercentDone, l.ID, string(l.State), l.PercentDone); err != nil {
			return err
		}
	}
	return nil
}
