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
// place, a database is deleted. Copies for restores are taken at the start
// of every run (LockFleet with a run id) into DIR.restore-points, beside
// the fleet's directory: copies of the shard map manager database and of
// every shard, which the fleet itself never reads.

const (
	restorePointsSuffix = ".restore-points"
	restorePointFile    = "point.json"
	// keepRestorePoints bounds the disk the copies take.
	keepRestorePoints = 10
)

// RestorePoint is a copy of the fleet's databases taken at a run's start.
type RestorePoint struct {
	Run       string           `json:"run"`
	Taken     time.Time        `json:"taken"`
	Databases []fleet.Location `json:"databases"`
	dir       string
}

// takeRestorePoint copies every database of the fleet for run (once per
// run: a resumed run keeps the copies of its start). Copies are made with
// VACUUM INTO, so each is a consistent database even in WAL mode.
func (t *Target) takeRestorePoint(ctx context.Context, run string) error {
	if run == "" || checkName("run", run) != nil {
		return nil
	}
	dir := filepath.Join(t.restorePoints(), run)
	if _, err := os.Stat(filepath.Join(dir, restorePointFile)); err == nil {
		return nil
	}
	dbs, err := t.restorable(ctx)
	if err != nil {
		return err
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	rp := RestorePoint{Run: run, Taken: time.Now().UTC()}
	seen := map[string]bool{}
	for _, loc := range dbs {
		if seen[strings.ToLower(loc.String())] {
			continue
		}
		seen[strings.ToLower(loc.String())] = true
		p := t.pathOf(loc)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		db, err := t.dbAt(loc, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, loc.Server, loc.Database+".db")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
			return sqlErr("copy database for restores", loc, err)
		}
		rp.Databases = append(rp.Databases, loc)
	}
	b, _ := json.MarshalIndent(rp, "", "  ")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, restorePointFile), b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
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

// restorePoints is the folder of the fleet's restore points.
func (t *Target) restorePoints() string { return t.dir + restorePointsSuffix }

// restorable lists the databases a restore point copies: the shard map
// manager's and every shard's.
func (t *Target) restorable(ctx context.Context) ([]fleet.Location, error) {
	g, err := t.gsm(ctx, false)
	if err != nil || g == nil {
		return nil, err
	}
	smm, err := t.ShardMapManager(ctx)
	if err != nil {
		return nil, err
	}
	out := []fleet.Location{smm}
	maps, err := t.ShardMaps(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		shards, err := t.shardsOf(ctx, g, m.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range shards {
			out = append(out, s.Location)
		}
	}
	return out, nil
}

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
// back). point is a run id, or a time (RFC 3339): the newest copy taken at
// or before it. It returns the restore point used.
func (t *Target) SimulateRestore(ctx context.Context, loc fleet.Location, point string) (RestorePoint, error) {
	const op = "simulate restore"
	points, err := t.RestorePoints()
	if err != nil {
		return RestorePoint{}, err
	}
	var rp *RestorePoint
	if at, terr := time.Parse(time.RFC3339, point); terr == nil {
		for i := range points {
			if !points[i].Taken.After(at) {
				rp = &points[i]
			}
		}
	} else {
		for i := range points {
			if points[i].Run == point {
				rp = &points[i]
			}
		}
	}
	var runs []string
	for _, p := range points {
		runs = append(runs, p.Run+" ("+p.Taken.Format(time.RFC3339)+")")
	}
	if rp == nil {
		return RestorePoint{}, simErr(op, point, fmt.Errorf("%w: no restore point %s", fleet.ErrNotFound, point),
			"restore points are taken at the start of every run; kept: "+orNothing(strings.Join(runs, ", ")))
	}
	src := ""
	for _, l := range rp.Databases {
		if l.Equal(loc) {
			src = filepath.Join(rp.dir, l.Server, l.Database+".db")
			loc = l
		}
	}
	if src == "" {
		return *rp, simErr(op, loc.String(), fmt.Errorf("%w: run %s's restore point has no copy of %s", fleet.ErrNotFound, rp.Run, loc),
			"the copy is of the databases that existed when the run started")
	}
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
