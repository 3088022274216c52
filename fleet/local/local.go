package local

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/gofrs/flock"
	"modernc.org/sqlite" // the pure-Go SQLite driver
	sqlite3 "modernc.org/sqlite/lib"
)

// DriverName is the name under which the driver registers ("driver: local").
const DriverName = "local"

// CatalogFile is the catalog database inside a fleet directory.
const CatalogFile = "fleet.db"

// lockFileName serialises shard map writers across processes.
const lockFileName = ".shardmap.lock"

// DefaultShardMapManager is where a new fleet keeps its global shard map.
var DefaultShardMapManager = fleet.Location{Server: "sql-1", Database: "smm"}

func init() {
	fleet.Register(DriverName, func(ctx context.Context, cfg fleet.TargetConfig) (fleet.Target, error) {
		if cfg.Path == "" {
			return nil, &fleet.Error{Op: "open local fleet", Target: cfg.Name, Err: fmt.Errorf("%w: no path", fleet.ErrNotAFleet),
				Hint: "set path: to the fleet directory in fleetplan.yaml"}
		}
		t, err := OpenFor(ctx, cfg.Path, cfg.Mode)
		if err != nil {
			return nil, err
		}
		if cfg.Name != "" {
			t.name = cfg.Name
		}
		if err := t.configure(cfg.Options); err != nil {
			t.Close()
			return nil, err
		}
		return t, nil
	})
}

// Compile-time checks of the capabilities the driver offers.
var (
	_ fleet.Target        = (*Target)(nil)
	_ fleet.ShardMapStore = (*Target)(nil)
	_ fleet.Observer      = (*Target)(nil)
	_ fleet.DatabaseAdmin = (*Target)(nil)
)

// Target is an opened local fleet. It is safe for concurrent use, and several
// processes may open the same fleet.
type Target struct {
	name    string
	dir     string
	catalog *sql.DB

	mu  sync.Mutex
	dbs map[string]*sql.DB // by file path

	writeMu sync.Mutex // shard map writers of this process; flock for other processes
	flock   *flock.Flock

	crashMu sync.Mutex
	crashAt string // see SimulateCrash

	cp controlPlane  // geo-replication, traffic manager, app slots (controlplane.go)
	mi instanceState // managed instances, pools and their operations (instances.go)

	prepared sync.Map      // *sql.DB -> *stmtSet: the shard map executor's statements (prepared.go)
	attached attachedConns // a move's connections with its source attached (attach.go)

	mode fleet.OpenMode // what the fleet was opened for (Ping's check of the mapping set)

	points runPoint // the running run's restore point (restorepoints.go)
}

// Dir returns the fleet directory.
func (t *Target) Dir() string { return t.dir }

// Name implements fleet.Target.
func (t *Target) Name() string { return t.name }

// Driver implements fleet.Target.
func (t *Target) Driver() string { return DriverName }

// Close releases every open database. It is safe to call twice.
func (t *Target) Close() error {
	t.attached.drop(func(attachKey) bool { return true })
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for p, db := range t.dbs {
		errs = append(errs, t.closeDB(db))
		delete(t.dbs, p)
	}
	if t.catalog != nil {
		errs = append(errs, t.closeDB(t.catalog))
		t.catalog = nil
	}
	return errors.Join(errs...)
}

// dsn builds a modernc.org/sqlite connection string: WAL, a busy timeout,
// foreign keys on, BEGIN IMMEDIATE for write transactions.
func dsn(path string, create bool) string {
	mode := "rw"
	if create {
		mode = "rwc"
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?mode=" + mode +
		"&_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

var sqliteHeader = []byte("SQLite format 3\x00")

// checkSQLiteFile reports ErrNotADatabase for a file that is not SQLite.
// An empty file is a valid (empty) SQLite database.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return nil
	}
	if err != nil || !bytes.Equal(head, sqliteHeader) {
		return fmt.Errorf("%w: %s is not an SQLite file", fleet.ErrNotADatabase, path)
	}
	return nil
}

func openSQLite(path string, create bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, create))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

func notAFleet(dir, why, hint string) error {
	return &fleet.Error{Op: "open local fleet", Target: dir, Err: fmt.Errorf("%w: %s", fleet.ErrNotAFleet, why), Hint: hint}
}

// Open opens an existing fleet directory and checks it: the catalog must be a
// fleetplan catalog of a known version, and the shard map store (when there
// is one) must be of store version 1.x with no overlapping mappings.
func Open(ctx context.Context, dir string) (*Target, error) {
	return OpenFor(ctx, dir, fleet.OpenForPlans)
}

// OpenFor is Open for a purpose: doctor, layout and ShardMapRecovery runs
// (mode.Tolerant) open a fleet whose global shard map has overlapping
// mappings, which only a recovery plan repairs; every other command is
// refused it.
func OpenFor(ctx context.Context, dir string, mode fleet.OpenMode) (*Target, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	initHint := "create a fleet with: fleetplan fleet init " + dir + " (add --demo for the demo fleet)"
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, notAFleet(dir, "the directory does not exist", initHint)
	case err != nil:
		return nil, &fleet.Error{Op: "open local fleet", Target: dir, Err: err}
	case !st.IsDir():
		return nil, notAFleet(dir, "not a directory", initHint)
	}
	catPath := filepath.Join(abs, CatalogFile)
	if _, err := os.Stat(catPath); err != nil {
		return nil, notAFleet(dir, "no "+CatalogFile+" catalog in the directory", initHint)
	}
	if err := checkSQLiteFile(catPath); err != nil {
		return nil, &fleet.Error{Op: "open local fleet", Target: dir, Err: err,
			Hint: CatalogFile + " is damaged or was replaced; restore it from a backup or create a new fleet"}
	}
	t, err := openCatalog(ctx, abs, false)
	if err != nil {
		return nil, err
	}
	t.mode = mode
	if err := t.Ping(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func openCatalog(ctx context.Context, abs string, create bool) (*Target, error) {
	catPath := filepath.Join(abs, CatalogFile)
	cat, err := openSQLite(catPath, create)
	if err != nil {
		return nil, classify(&fleet.Error{Op: "open catalog", Target: abs, Err: err}, fleet.Location{})
	}
	t := &Target{
		name:    filepath.Base(abs),
		dir:     abs,
		catalog: cat,
		dbs:     map[string]*sql.DB{},
		flock:   flock.New(filepath.Join(abs, lockFileName)),
	}
	if create {
		return t, nil
	}
	var format, version string
	err = cat.QueryRowContext(ctx, `SELECT
		(SELECT value FROM fleet_meta WHERE key = 'format'),
		(SELECT value FROM fleet_meta WHERE key = 'version')`).Scan(&format, &version)
	if err != nil || format != catalogFormat {
		cat.Close()
		if err == nil {
			err = fmt.Errorf("format %q", format)
		}
		return nil, notAFleet(abs, CatalogFile+" is SQLite but not a fleetplan catalog ("+err.Error()+")",
			"point --fleet or the target's path at a directory made by: fleetplan fleet init")
	}
	if version != catalogVersion {
		cat.Close()
		return nil, &fleet.Error{Op: "open local fleet", Target: abs,
			Err:  fmt.Errorf("%w: catalog version %s, this fleetplan reads version %s", fleet.ErrStoreVersion, version, catalogVersion),
			Hint: "use the fleetplan release that created this fleet"}
	}
	return t, nil
}

// InitOptions configures Init.
type InitOptions struct {
	// ShardMapManager is where the global shard map will live (default
	// sql-1/smm). The database is created when the first shard map is.
	ShardMapManager fleet.Location
	// Force replaces an existing fleet in the directory.
	Force bool
}

// Init creates an empty fleet in dir (created if missing). It refuses a
// directory that already holds a fleet unless opts.Force, and a non-empty
// directory that is not a fleet.
func Init(ctx context.Context, dir string, opts InitOptions) (*Target, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if opts.ShardMapManager == (fleet.Location{}) {
		opts.ShardMapManager = DefaultShardMapManager
	}
	if err := checkLocation(opts.ShardMapManager); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, classify(&fleet.Error{Op: "init fleet", Target: dir, Err: err}, fleet.Location{})
	case len(entries) > 0:
		_, statErr := os.Stat(filepath.Join(abs, CatalogFile))
		isFleet := statErr == nil
		if !opts.Force {
			if isFleet {
				return nil, &fleet.Error{Op: "init fleet", Target: dir, Err: errors.New("the directory already holds a fleet"),
					Hint: "use --force to delete it and start again, or pick another directory"}
			}
			return nil, &fleet.Error{Op: "init fleet", Target: dir, Err: errors.New("the directory is not empty"),
				Hint: "pick an empty or new directory"}
		}
		if !isFleet {
			return nil, &fleet.Error{Op: "init fleet", Target: dir, Err: errors.New("the directory is not empty and not a fleet; --force only replaces a fleet"),
				Hint: "pick an empty or new directory"}
		}
		// Never replace a fleet that a run is changing.
		unlock, err := lockRunFile(abs, fleet.LockHolder{Command: "fleet init --force"})
		if err != nil {
			return nil, err
		}
		defer unlock()
		// The restore points of the fleet replaced are not this fleet's.
		if err := os.RemoveAll(abs + restorePointsSuffix); err != nil {
			return nil, classify(&fleet.Error{Op: "init fleet", Target: dir, Err: err}, fleet.Location{})
		}
		for _, e := range entries {
			if e.Name() == runLockFile {
				continue // held until the new fleet is in place
			}
			if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
				return nil, classify(&fleet.Error{Op: "init fleet", Target: dir, Err: err}, fleet.Location{})
			}
		}
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, classify(&fleet.Error{Op: "init fleet", Target: dir, Err: err}, fleet.Location{})
	}
	// The run lock's file is part of the fleet from the start (LockFleet).
	if f, err := os.OpenFile(filepath.Join(abs, runLockFile), os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
		f.Close()
	}
	t, err := openCatalog(ctx, abs, true)
	if err != nil {
		return nil, err
	}
	if _, err := t.catalog.ExecContext(ctx, catalogDDL); err != nil {
		t.Close()
		return nil, classify(&fleet.Error{Op: "init fleet", Target: dir, Err: err}, fleet.Location{})
	}
	err = t.catalogTx(ctx, func(tx *sql.Tx) error {
		for _, kv := range [][2]string{{"format", catalogFormat}, {"version", catalogVersion}, {"created_at", nowText()},
			{"shard_map_manager", opts.ShardMapManager.Server + "/" + opts.ShardMapManager.Database}} {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO fleet_meta(key, value) VALUES(?, ?)`, kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Close()
		return nil, classify(&fleet.Error{Op: "init fleet", Target: dir, Err: err}, fleet.Location{})
	}
	return t, nil
}

// catalogTx runs fn in one catalog transaction. (One statement per Exec:
// the driver binds the same leading arguments to every statement of a script.)
func (t *Target) catalogTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := t.catalog.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func nowText() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Ping checks the catalog and, when the global shard map exists, its store
// version and that no two mappings of a map overlap (unless the fleet was
// opened for diagnosis or recovery, see OpenFor).
func (t *Target) Ping(ctx context.Context) error {
	if err := t.catalog.PingContext(ctx); err != nil {
		return classify(&fleet.Error{Op: "ping catalog", Target: t.dir, Err: err}, fleet.Location{})
	}
	g, err := t.gsm(ctx, false)
	if err != nil || g == nil {
		return err
	}
	maps, err := t.ShardMaps(ctx)
	if err != nil {
		return err
	}
	for _, m := range maps {
		if err := t.checkMappings(ctx, g, m, t.mode.Tolerant()); err != nil {
			return err
		}
	}
	return nil
}

// ShardMapManager returns the location of the global shard map's database.
func (t *Target) ShardMapManager(ctx context.Context) (fleet.Location, error) {
	var v string
	err := t.pq(t.catalog).QueryRowContext(ctx, `SELECT value FROM fleet_meta WHERE key = 'shard_map_manager'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultShardMapManager, nil
	}
	if err != nil {
		return fleet.Location{}, classify(&fleet.Error{Op: "read catalog", Target: t.dir, Err: err}, fleet.Location{})
	}
	server, db, ok := strings.Cut(v, "/")
	if !ok {
		return fleet.Location{}, &fleet.Error{Op: "read catalog", Target: t.dir, Err: fmt.Errorf("bad shard_map_manager %q", v)}
	}
	return fleet.Location{Server: server, Database: db}, nil
}

// checkName accepts names that are safe as one path element.
func checkName(kind, s string) error {
	if s == "" || len(s) > 128 || s == "." || s == ".." || strings.HasPrefix(s, ".") {
		return fmt.Errorf("%w: bad %s name %q", fleet.ErrInvalidArgument, kind, s)
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("%w: bad %s name %q (letters, digits, '-', '_' and '.' only)", fleet.ErrInvalidArgument, kind, s)
		}
	}
	return nil
}

func checkLocation(loc fleet.Location) error {
	if err := checkName("server", loc.Server); err != nil {
		return err
	}
	return checkName("database", loc.Database)
}

// resolve finds a database in the catalog (case-insensitively) and returns
// its canonical location and file path; fleet.ErrNoDatabase when absent.
func (t *Target) resolve(ctx context.Context, loc fleet.Location) (fleet.Location, string, error) {
	var c fleet.Location
	err := t.pq(t.catalog).QueryRowContext(ctx, `SELECT server, name FROM databases WHERE server = ? AND name = ?`,
		loc.Server, loc.Database).Scan(&c.Server, &c.Database)
	if errors.Is(err, sql.ErrNoRows) {
		return loc, t.pathOf(loc), &fleet.Error{Op: "open database", Target: loc.String(), Err: fleet.ErrNoDatabase,
			Hint: "list databases with: fleetplan layout, or create it first"}
	}
	if err != nil {
		return loc, "", classify(&fleet.Error{Op: "read catalog", Target: t.dir, Err: err}, fleet.Location{})
	}
	return c, t.pathOf(c), nil
}

func (t *Target) pathOf(loc fleet.Location) string {
	return filepath.Join(t.dir, loc.Server, loc.Database+".db")
}

// DatabasePath returns the SQLite file of a database.
func (t *Target) DatabasePath(ctx context.Context, loc fleet.Location) (string, error) {
	_, p, err := t.resolve(ctx, loc)
	return p, err
}

// DatabaseExists reports whether the catalog lists the database and its file exists.
func (t *Target) DatabaseExists(ctx context.Context, loc fleet.Location) (bool, error) {
	_, p, err := t.resolve(ctx, loc)
	if errors.Is(err, fleet.ErrNoDatabase) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	return err == nil, nil
}

// db returns the (cached) connection pool of an existing database.
func (t *Target) db(ctx context.Context, loc fleet.Location) (*sql.DB, error) {
	return t.pool(ctx, loc, true)
}

// observeDB is db for reads only (observing a layout, validating a
// mapping): it takes no restore point copy, as a read changes nothing of the
// database. A later write-capable use (db) copies it first; the pool is the
// same, so nothing may write through the pool observeDB returns.
func (t *Target) observeDB(ctx context.Context, loc fleet.Location) (*sql.DB, error) {
	return t.pool(ctx, loc, false)
}

// pool returns the connection pool of an existing database, keeping the
// run's restore point copy of it first when keep is true.
func (t *Target) pool(ctx context.Context, loc fleet.Location, keep bool) (*sql.DB, error) {
	if err := faults.Unavailable(loc.String()); err != nil {
		return nil, err // an injected failover
	}
	c, p, err := t.resolve(ctx, loc)
	if err != nil {
		return nil, err
	}
	if err := t.failingOver(ctx, c); err != nil {
		return nil, err // the unavailable moment of an instance operation
	}
	if keep {
		if err := t.keepCopy(ctx, p); err != nil {
			return nil, err // the run's restore point, before its first change
		}
	}
	// A read-only database (its setting, or a geo-secondary) is opened with
	// query_only connections, so no write path of the driver can change it.
	if ro, err := t.refusesWrites(ctx, c); err != nil {
		return nil, err
	} else if ro {
		return t.readOnlyDB(c, p)
	}
	return t.dbAt(loc, p)
}

func (t *Target) dbAt(loc fleet.Location, p string) (*sql.DB, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if db, ok := t.dbs[p]; ok {
		return db, nil
	}
	if _, err := os.Stat(p); err != nil {
		return nil, &fleet.Error{Op: "open database", Target: loc.String(), Err: fmt.Errorf("%w: %s is missing", fleet.ErrNoDatabase, p),
			Hint: "the catalog lists the database but its file is gone; drop and recreate it"}
	}
	if err := checkSQLiteFile(p); err != nil {
		return nil, &fleet.Error{Op: "open database", Target: loc.String(), Err: err, Hint: "the file was damaged or replaced; restore it from a backup"}
	}
	db, err := openSQLite(p, false)
	if err != nil {
		return nil, &fleet.Error{Op: "open database", Target: loc.String(), Err: err}
	}
	t.dbs[p] = db
	return db, nil
}

// CreateDatabase creates an empty database file and registers it (and its
// server) in the catalog. Idempotent for a listed database; a file the
// catalog does not list is refused with fleet.ErrDatabaseExists (see
// AdoptDatabase).
func (t *Target) CreateDatabase(ctx context.Context, loc fleet.Location) error {
	if err := checkLocation(loc); err != nil {
		return classify(&fleet.Error{Op: "create database", Target: loc.String(), Err: err}, fleet.Location{})
	}
	if c, p, err := t.resolve(ctx, loc); err == nil {
		if _, statErr := os.Stat(p); statErr == nil {
			return nil
		}
		loc = c // listed but the file is gone: recreate it under the catalog's spelling
	} else if !errors.Is(err, fleet.ErrNoDatabase) {
		return err
	} else if _, statErr := os.Stat(t.pathOf(loc)); statErr == nil {
		// A file the catalog does not list holds someone's data: never take
		// it over silently.
		return unlistedErr("create database", loc, t.pathOf(loc))
	}
	p := t.pathOf(loc)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return classify(&fleet.Error{Op: "create database", Target: loc.String(), Err: err}, fleet.Location{})
	}
	db, err := openSQLite(p, true)
	if err != nil {
		return classify(&fleet.Error{Op: "create database", Target: loc.String(), Err: err}, fleet.Location{})
	}
	// Switching to WAL writes the file header, so the file is a real database.
	_, err = db.ExecContext(ctx, `PRAGMA journal_mode=WAL; PRAGMA user_version=0;`)
	db.Close()
	if err != nil {
		return classify(&fleet.Error{Op: "create database", Target: loc.String(), Err: err}, fleet.Location{})
	}
	return t.list(ctx, loc, "create database")
}

// list adds a database (and its server) to the catalog and logs operation.
func (t *Target) list(ctx context.Context, loc fleet.Location, operation string) error {
	now := nowText()
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT OR IGNORE INTO servers(name, created_at) VALUES(?, ?)`, []any{loc.Server, now}},
			{`INSERT OR IGNORE INTO databases(server, name, created_at) VALUES(?, ?, ?)`, []any{loc.Server, loc.Database, now}},
			{`INSERT INTO operation_log(at, operation, target) VALUES(?, ?, ?)`, []any{now, operation, loc.String()}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return classify(&fleet.Error{Op: operation, Target: loc.String(), Err: err}, fleet.Location{})
	}
	return nil
}

// DropDatabase deletes a database file and its catalog entry. Idempotent. It
// refuses the shard map manager database.
func (t *Target) DropDatabase(ctx context.Context, loc fleet.Location) error {
	return t.forget(ctx, loc, "drop database", true)
}

// forget takes a database out of the catalog and, with removeFile, deletes
// its file. Idempotent; the shard map manager database is refused.
func (t *Target) forget(ctx context.Context, loc fleet.Location, op string, removeFile bool) error {
	c, p, err := t.resolve(ctx, loc)
	if errors.Is(err, fleet.ErrNoDatabase) {
		return nil
	}
	if err != nil {
		return err
	}
	if smm, err := t.ShardMapManager(ctx); err == nil && smm.Equal(c) {
		return &fleet.Error{Op: op, Target: c.String(), Err: fmt.Errorf("%w: it holds the global shard map", fleet.ErrInvalidArgument),
			Hint: "remove the shard maps first; the shard map manager database is never dropped or released by fleetplan"}
	}
	if err := t.keepCopy(ctx, p); err != nil {
		return err
	}
	t.closePools(p)
	if removeFile {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(p + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return classify(&fleet.Error{Op: op, Target: c.String(), Err: err}, fleet.Location{})
			}
		}
	}
	err = t.catalogTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM databases WHERE server = ? AND name = ?`, c.Server, c.Database); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target) VALUES(?, ?, ?)`, nowText(), op, c.String())
		return err
	})
	if err != nil {
		return classify(&fleet.Error{Op: op, Target: c.String(), Err: err}, fleet.Location{})
	}
	return nil
}

// ApplySQL runs a script in one transaction of the database.
func (t *Target) ApplySQL(ctx context.Context, loc fleet.Location, script string) error {
	db, err := t.db(ctx, loc)
	if err != nil {
		return err
	}
	err = scriptTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, script); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return sqlErr("apply sql", loc, err)
	}
	return nil
}

// scriptTx runs f in a transaction of db on a connection that cannot
// ATTACH another file: scripts come from plans, and ATTACH would let one
// create or write any file the process can reach. (VACUUM INTO cannot run
// inside a transaction, and extensions are not loadable.) The connection
// gets its limit back before it returns to the pool.
func scriptTx(ctx context.Context, db *sql.DB, f func(tx *sql.Tx) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	prev, err := sqlite.Limit(conn, sqliteLimitAttached, 0)
	if err != nil {
		return err
	}
	defer sqlite.Limit(conn, sqliteLimitAttached, prev)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return f(tx)
}

// Databases lists the fleet's databases, ordered by server and name.
func (t *Target) Databases(ctx context.Context) ([]fleet.Location, error) {
	rows, err := t.catalog.QueryContext(ctx, `SELECT server, name FROM databases ORDER BY server, name`)
	if err != nil {
		return nil, classify(&fleet.Error{Op: "read catalog", Target: t.dir, Err: err}, fleet.Location{})
	}
	defer rows.Close()
	var out []fleet.Location
	for rows.Next() {
		var l fleet.Location
		if err := rows.Scan(&l.Server, &l.Database); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// sqlErr wraps a database error in a typed *fleet.Error. SQLite errors are
// classified by their result code (modernc.org/sqlite's Error.Code), never by
// the text of the message: busy and locked are transient (fleet.ErrBusy), a
// read-only database is fleet.ErrReadOnly, a constraint violation
// fleet.ErrConstraint, and a damaged or unwritable file fleet.ErrStorage /
// fleet.ErrNotADatabase. Those carry fleetplan's own words and a hint; the
// SQLite error stays reachable with errors.As. Other SQLite errors (a syntax
// error in a user's script, say) keep SQLite's message, which names the fault.
func sqlErr(op string, loc fleet.Location, err error) error {
	if err == nil {
		return nil
	}
	var fe *fleet.Error
	if errors.As(err, &fe) {
		return err
	}
	return classify(&fleet.Error{Op: op, Target: loc.String(), Err: err}, loc)
}

// classify gives e the typed error and hint of the SQLite error it wraps,
// if any (see sqlErr); loc names the database in the hint ("" for the
// catalog or the shard map manager).
func classify(e *fleet.Error, loc fleet.Location) *fleet.Error {
	err := e.Err
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return e
	}
	code := se.Code()
	class := func(kind error, hint string) {
		e.Err = &sqliteError{kind: kind, code: code, cause: err}
		e.Hint = hint
	}
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		class(fleet.ErrBusy, "another writer held the database longer than the busy timeout; retry")
		e.Transient = true
	case sqlite3.SQLITE_READONLY:
		class(fleet.ErrReadOnly, "the database is read-only (its read-only setting, or a geo-secondary); set it read-write or disconnect it before writing")
	case sqlite3.SQLITE_CONSTRAINT:
		class(fleet.ErrConstraint, "a row with the same key is already in "+orFleet(loc)+"; if it is a shard map row, the global and local shard maps differ: `fleetplan layout` lists the differences")
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		class(fleet.ErrNotADatabase, "the database file is damaged; restore it from a backup")
	case sqlite3.SQLITE_FULL:
		class(fleet.ErrStorage, "free disk space, or raise the size the database may grow to")
		e.Err.(*sqliteError).detail = "the database or the disk is full"
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		class(fleet.ErrStorage, "check the disk and the permissions of the fleet directory")
	}
	return e
}

func orFleet(loc fleet.Location) string {
	if loc == (fleet.Location{}) {
		return "the shard map manager database"
	}
	return loc.String()
}

// sqliteError is a classified SQLite error: fleetplan's words for the class,
// and the result code for whoever debugs it.
type sqliteError struct {
	kind   error
	detail string // more precise than kind, when known
	code   int
	cause  error
}

func (e *sqliteError) Error() string {
	if e.detail != "" {
		return fmt.Sprintf("%v: %s (SQLite result code %d)", e.kind, e.detail, e.code)
	}
	return fmt.Sprintf("%v (SQLite result code %d)", e.kind, e.code)
}

func (e *sqliteError) Unwrap() []error { return []error{e.kind, e.cause} }
