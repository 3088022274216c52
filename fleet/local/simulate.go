package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// The local fleet breaks itself the way real fleets break, so recovery can
// be rehearsed on real inconsistencies: a geo-failover renames a server's
// databases, a point-in-time restore puts an older copy of a database in
// place, a database is deleted. Copies for restores are kept by every run
// (LockFleet with a run id) in DIR.restore-points, beside the fleet's
// directory: of the shard map manager database and of each database the
// run uses, before its first change (restorepoints.go). The fleet itself
// never reads them.

const (
	restorePointsSuffix = ".restore-points"
	restorePointFile    = "point.json"
	// keepRestorePoints bounds the disk the copies take.
	keepRestorePoints = 10
)

// RestorePoint is the copies of the fleet's databases kept for a run: of
// each database the run changes, taken before the run's first use of it.
type RestorePoint struct {
	Run   string    `json:"run"`
	Taken time.Time `json:"taken"` // the run's start
	// Databases are the copies kept.
	Databases []fleet.Location `json:"databases"`
	// Unchanged are the databases that existed at the run's start and that
	// the run has not used (so far): no copy is needed, the database is as
	// it was then.
	Unchanged []fleet.Location `json:"unchanged,omitempty"`
	dir       string
}

// restorePoints is the folder of the fleet's restore points.
func (t *Target) restorePoints() string { return t.dir + restorePointsSuffix }

// RestorePoints lists the copies kept, oldest first.
func (t *Target) RestorePoints() ([]RestorePoint, error) {
	base := t.restorePoints()
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RestorePoint
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(base, e.Name(), restorePointFile))
		if err != nil {
			continue // an unfinished copy
		}
		var rp RestorePoint
		if json.Unmarshal(b, &rp) != nil {
			continue
		}
		rp.dir = filepath.Join(base, e.Name())
		out = append(out, rp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Taken.Before(out[j].Taken) })
	return out, nil
}

func simErr(op, target string, err error, hint string) error {
	return &fleet.Error{Op: op, Target: target, Err: err, Hint: hint}
}

// FindDatabase resolves "SERVER/DATABASE" or a database name that only one
// server has.
func (t *Target) FindDatabase(ctx context.Context, name string) (fleet.Location, error) {
	if server, db, ok := strings.Cut(name, "/"); ok {
		c, _, err := t.resolve(ctx, fleet.Location{Server: server, Database: db})
		return c, err
	}
	dbs, err := t.Databases(ctx)
	if err != nil {
		return fleet.Location{}, err
	}
	var found []fleet.Location
	for _, l := range dbs {
		if strings.EqualFold(l.Database, name) {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return fleet.Location{}, simErr("find database", name, fleet.ErrNoDatabase, "list the databases with: fleetplan layout")
	}
	return fleet.Location{}, simErr("find database", name, fmt.Errorf("%w: %d servers have a database %q", fleet.ErrInvalidArgument, len(found), name),
		"name it as SERVER/DATABASE")
}

// SimulateGeoFailover moves every database of server from to server to, as
// a failover group does when the secondary becomes the primary under its
// own server name: the files move, the catalog lists them on to, and the
// shard map manager's location follows when it was on from. Nothing in the
// shard maps changes: the global shard map still names from. It returns
// the databases moved.
func (t *Target) SimulateGeoFailover(ctx context.Context, from, to string) ([]fleet.Location, error) {
	const op = "simulate geo-failover"
	if err := checkName("server", to); err != nil {
		return nil, simErr(op, to, err, "")
	}
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dbs, err := t.Databases(ctx)
	if err != nil {
		return nil, err
	}
	var moving []fleet.Location
	for _, l := range dbs {
		if strings.EqualFold(l.Server, from) {
			moving = append(moving, l)
		}
	}
	if len(moving) == 0 {
		return nil, simErr(op, from, fmt.Errorf("%w: server %s has no databases", fleet.ErrNotFound, from), "list the servers with: fleetplan layout")
	}
	for _, l := range moving {
		dst := fleet.Location{Server: to, Database: l.Database}
		if _, _, err := t.resolve(ctx, dst); err == nil {
			return nil, simErr(op, dst.String(), fleet.ErrDatabaseExists, "the failover target must not have a database of the same name")
		}
		if _, err := os.Stat(t.pathOf(dst)); err == nil {
			return nil, unlistedErr(op, dst, t.pathOf(dst))
		}
	}
	smm, err := t.ShardMapManager(ctx)
	if err != nil {
		return nil, err
	}
	var moved []fleet.Location
	for _, l := range moving {
		dst := fleet.Location{Server: to, Database: l.Database}
		if err := t.moveFile(ctx, op, l, dst); err != nil {
			return moved, err
		}
		moved = append(moved, dst)
		if l.Equal(smm) {
			if _, err := t.catalog.ExecContext(ctx, `UPDATE fleet_meta SET value = ? WHERE key = 'shard_map_manager'`, dst.Server+"/"+dst.Database); err != nil {
				return moved, classify(&fleet.Error{Op: op, Target: t.dir, Err: err}, fleet.Location{})
			}
		}
	}
	return moved, nil
}

// moveFile renames a database's file (and its WAL) and its catalog entry.
func (t *Target) moveFile(ctx context.Context, op string, from, to fleet.Location) error {
	p, q := t.pathOf(from), t.pathOf(to)
	t.closePools(p) // closing the last connection checkpoints the WAL into the file
	if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
		return classify(&fleet.Error{Op: op, Target: to.String(), Err: err}, fleet.Location{})
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(p+suffix, q+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return classify(&fleet.Error{Op: op, Target: from.String(), Err: err}, fleet.Location{})
		}
	}
	if err := t.list(ctx, to, op); err != nil {
		return err
	}
	_, err := t.catalog.ExecContext(ctx, `DELETE FROM databases WHERE server = ? AND name = ?`, from.Server, from.Database)
	if err != nil {
		return classify(&fleet.Error{Op: op, Target: from.String(), Err: err}, fleet.Location{})
	}
	return nil
}

// SimulateRestore puts the copy of database loc from a restore point in
// place of the database (whose file is replaced; a deleted database comes
// back). point is a run id, or a time (RFC 3339): the newest copy of the
// database among the points of runs started at or before it. A run that
// never used the database kept no copy of it, and a restore to its point is
// refused with a hint. It returns the restore point used.
func (t *Target) SimulateRestore(ctx context.Context, loc fleet.Location, point string) (RestorePoint, error) {
	const op = "simulate restore"
	points, err := t.RestorePoints()
	if err != nil {
		return RestorePoint{}, err
	}
	has := func(list []fleet.Location) (fleet.Location, bool) {
		for _, l := range list {
			if l.Equal(loc) {
				return l, true
			}
		}
		return fleet.Location{}, false
	}
	var rp *RestorePoint
	at, terr := time.Parse(time.RFC3339, point)
	for i := range points {
		if terr == nil {
			// The newest copy of the database taken at or before the time.
			if _, ok := has(points[i].Databases); ok && !points[i].Taken.After(at) {
				rp = &points[i]
			}
		} else if points[i].Run == point {
			rp = &points[i]
		}
	}
	var runs []string
	for _, p := range points {
		runs = append(runs, p.Run+" ("+p.Taken.Format(time.RFC3339)+")")
	}
	if rp == nil {
		return RestorePoint{}, simErr(op, point, fmt.Errorf("%w: no restore point %s of %s", fleet.ErrNotFound, point, loc),
			"a run keeps a copy of each database before it first changes it; kept: "+orNothing(strings.Join(runs, ", ")))
	}
	l, ok := has(rp.Databases)
	if !ok {
		if _, unchanged := has(rp.Unchanged); unchanged {
			hint := loc.String() + " is as it was at the run's start, save for what applications wrote since"
			var earlier []string
			for _, p := range points {
				if _, ok := has(p.Databases); ok && p.Taken.Before(rp.Taken) {
					earlier = append(earlier, p.Run+" ("+p.Taken.Format(time.RFC3339)+")")
				}
			}
			if len(earlier) > 0 {
				hint += "; to go back further, restore to an earlier run's point: " + strings.Join(earlier, ", ")
			}
			return *rp, simErr(op, loc.String(), fmt.Errorf("%w: run %s never changed %s, so its restore point has no copy of it", fleet.ErrNotFound, rp.Run, loc), hint)
		}
		return *rp, simErr(op, loc.String(), fmt.Errorf("%w: run %s's restore point has no copy of %s", fleet.ErrNotFound, rp.Run, loc),
			"the copy is of the databases that existed when the run started")
	}
	loc = l
	src := filepath.Join(rp.dir, l.Server, l.Database+".db")
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return *rp, err
	}
	defer unlock()
	p := t.pathOf(loc)
	t.closePools(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return *rp, err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(p + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return *rp, classify(&fleet.Error{Op: op, Target: loc.String(), Err: err}, fleet.Location{})
		}
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return *rp, err
	}
	tmp := p + ".restoring"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return *rp, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return *rp, err
	}
	return *rp, t.list(ctx, loc, op)
}

func orNothing(s string) string {
	if s == "" {
		return "none (run an apply first)"
	}
	return s
}

// SimulateDelete deletes a database as a dropped one is gone: file and
// catalog entry. The shard map manager database is refused.
func (t *Target) SimulateDelete(ctx context.Context, loc fleet.Location) error {
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return t.forget(ctx, loc, "simulate delete", true)
}
