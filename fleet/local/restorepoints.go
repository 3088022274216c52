package local

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"modernc.org/sqlite"
)

// A run's restore point costs what the run touches. At the run's start
// (LockFleet with a run id) the point lists the databases of the catalog
// and copies the shard map manager's; every other database is copied the
// first time the run uses it in a way that can change it (opens its pool for
// writes, drops it, or replaces its file), before anything of the run can
// change it. Reads that only observe (Observe, ValidateMapping: the run's
// guards) take no copy (observeDB). A database the run never changes gets
// no copy: it stays listed as unchanged, and a restore to that run's
// point says so (see SimulateRestore). Each copy is an online backup in one
// read transaction, so it is consistent while applications write.

// runPoint is the restore point of the run holding this process's fleet
// lock.
type runPoint struct {
	active atomic.Bool // read on every open of a database, without mu
	mu     sync.Mutex
	rp     RestorePoint
	// pending are the databases listed at the run's start and not copied
	// yet, by their file path in lower case.
	pending map[string]fleet.Location
}

// takeRestorePoint starts (or, for a resumed run, reloads) run's restore
// point and copies the shard map manager database into it. It returns the
// function that ends the run's copying.
func (t *Target) takeRestorePoint(ctx context.Context, run string) (func(), error) {
	if run == "" || checkName("run", run) != nil {
		return func() {}, nil
	}
	dir := filepath.Join(t.restorePoints(), run)
	var rp RestorePoint
	fresh := false
	if b, err := os.ReadFile(filepath.Join(dir, restorePointFile)); err == nil && json.Unmarshal(b, &rp) == nil {
		rp.dir = dir // a resumed run keeps the copies of its start
	} else {
		dbs, err := t.Databases(ctx)
		if err != nil {
			return nil, err
		}
		rp = RestorePoint{Run: run, Taken: time.Now().UTC(), dir: dir}
		for _, l := range dbs {
			if _, err := os.Stat(t.pathOf(l)); err == nil {
				rp.Unchanged = append(rp.Unchanged, l)
			}
		}
		fresh = true
	}
	p := &t.points
	p.mu.Lock()
	p.rp = rp
	p.pending = map[string]fleet.Location{}
	for _, l := range rp.Unchanged {
		p.pending[strings.ToLower(t.pathOf(l))] = l
	}
	err := writePoint(rp)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	p.active.Store(true)
	end := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.active.Store(false)
		p.pending = nil
	}
	if fresh {
		if err := t.pruneRestorePoints(); err != nil {
			end()
			return nil, err
		}
	}
	if smm, err := t.ShardMapManager(ctx); err == nil {
		if err := t.keepCopy(ctx, t.pathOf(smm)); err != nil {
			end()
			return nil, err
		}
	}
	return end, nil
}

// keepCopy copies the database in file p into the running run's restore
// point, unless the point has it or the database did not exist at the
// run's start. Every path that can change a database's file calls it first.
func (t *Target) keepCopy(ctx context.Context, p string) error {
	pt := &t.points
	if !pt.active.Load() {
		return nil
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	key := strings.ToLower(p)
	loc, ok := pt.pending[key]
	if !ok {
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		return nil // gone: nothing of it to keep, and nothing to open either
	}
	if err := t.copyInto(ctx, pt.rp, loc, p); err != nil {
		return &fleet.Error{Op: "keep restore point", Target: loc.String(), Err: err,
			Hint: "a run keeps a copy of each database before it first changes it; check the free disk space beside the fleet directory"}
	}
	rp := pt.rp
	rp.Databases = append(append([]fleet.Location(nil), rp.Databases...), loc)
	rp.Unchanged = nil
	for _, l := range pt.rp.Unchanged {
		if !l.Equal(loc) {
			rp.Unchanged = append(rp.Unchanged, l)
		}
	}
	if err := writePoint(rp); err != nil {
		return &fleet.Error{Op: "keep restore point", Target: loc.String(), Err: err}
	}
	pt.rp = rp
	delete(pt.pending, key)
	return nil
}

// copyInto writes a consistent copy of the database loc (file p) into rp's
// folder: an online backup into a temporary file, renamed once complete.
func (t *Target) copyInto(ctx context.Context, rp RestorePoint, loc fleet.Location, p string) error {
	db, err := t.dbAt(loc, p)
	if err != nil {
		return err
	}
	dst := filepath.Join(rp.dir, loc.Server, loc.Database+".db")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".copy"
	for _, f := range []string{tmp, tmp + "-journal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := backupInto(ctx, db, tmp); err != nil {
		return sqlErr("copy database for restores", loc, err)
	}
	return os.Rename(tmp, dst)
}

// backupInto copies the database of pool db into the new file dst with
// SQLite's online backup: the pages as of one read transaction of the
// source, so the copy is consistent while other connections write (in WAL
// mode they go on writing meanwhile). A page copy costs a fraction of
// VACUUM INTO, which rebuilds every table and index. The file is written
// without a journal or syncs: it is renamed into place only once complete.
func backupInto(ctx context.Context, db *sql.DB, dst string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(dst)
	return conn.Raw(func(dc any) error {
		src, ok := dc.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		})
		if !ok {
			return fmt.Errorf("the SQLite driver's connection %T has no online backup", dc)
		}
		b, err := src.NewBackup("file:" + esc + "?mode=rwc&_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
		if err != nil {
			return err
		}
		// One step of every page: the source's read transaction spans the
		// whole copy (between steps it would end, and a write by another
		// connection would restart the copy).
		_, stepErr := b.Step(-1)
		if err := b.Finish(); stepErr == nil {
			stepErr = err
		}
		return stepErr
	})
}

// writePoint writes rp's description into its folder (atomically).
func writePoint(rp RestorePoint) error {
	if err := os.MkdirAll(rp.dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rp, "", "  ")
	tmp := filepath.Join(rp.dir, restorePointFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(rp.dir, restorePointFile))
}

// pruneRestorePoints removes the oldest points beyond keepRestorePoints.
func (t *Target) pruneRestorePoints() error {
	points, err := t.RestorePoints()
	if err != nil {
		return err
	}
	for len(points) > keepRestorePoints {
		if err := os.RemoveAll(points[0].dir); err != nil {
			return err
		}
		points = points[1:]
	}
	return nil
}
