package local

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
)

// Fault points inside multi-part control-plane operations.
const (
	FaultSecondaryCopied = "local.create-secondary.copied" // the copy is in place, the catalog not yet written
	FaultDisconnectSync  = "local.disconnect.synced"       // the secondary is resynchronized, the link not yet ended
	FaultScriptCommitted = "local.run-script.committed"    // the script committed, replication not yet done
)

// seedTimeline models a link's seeding from the database size: seeding at
// the DOMAIN.md rate, then a catch-up of a twentieth of that (at least 30 s),
// both compressed by the time scale (with floors so states stay observable).
func seedTimeline(size int64, scale float64, start time.Time) (seeded, healthy time.Time) {
	model := time.Duration(float64(size) / seedRateBps * float64(time.Second))
	catch := max(model/20, 30*time.Second)
	if scale == 0 {
		return start, start
	}
	s := max(time.Duration(float64(model)*scale), minSeeding)
	c := max(time.Duration(float64(catch)*scale), minCatchUp)
	return start.Add(s), start.Add(s + c)
}

// linkRow is a link as stored.
type linkRow struct {
	fleet.Link
	scale     float64
	syncedGen int64
	timed     bool
}

// state derives a link's state, progress and lag at a moment.
func (r *linkRow) derive(now time.Time) {
	l := &r.Link
	switch {
	case !r.timed || !now.Before(l.HealthyAt):
		l.State, l.PercentDone, l.LagSeconds = fleet.LinkHealthy, 100, 0
	case now.Before(l.SeededAt):
		l.State = fleet.LinkSeeding
		total := l.SeededAt.Sub(l.Created)
		if total > 0 {
			l.PercentDone = int(100 * now.Sub(l.Created) / total)
		}
		l.LagSeconds = unscale(l.HealthyAt.Sub(now), r.scale)
	default:
		l.State, l.PercentDone = fleet.LinkCatchingUp, 100
		l.LagSeconds = unscale(l.HealthyAt.Sub(now), r.scale)
	}
}

func unscale(d time.Duration, scale float64) float64 {
	if scale <= 0 {
		return 0
	}
	return float64(d) / float64(time.Second) / scale
}

const linkColumns = `l.id, l.primary_server, l.primary_db, l.partner_server, l.partner_db, l.created_at,
	COALESCE(m.size_bytes, 0), COALESCE(m.scale, 0), COALESCE(m.seeded_at, ''), COALESCE(m.healthy_at, ''),
	COALESCE(m.synced_gen, 0), m.link_id IS NOT NULL`

func scanLink(sc interface{ Scan(...any) error }) (linkRow, error) {
	var r linkRow
	var created, seeded, healthy string
	err := sc.Scan(&r.ID, &r.Primary.Server, &r.Primary.Database, &r.Secondary.Server, &r.Secondary.Database, &created,
		&r.SizeBytes, &r.scale, &seeded, &healthy, &r.syncedGen, &r.timed)
	if err != nil {
		return r, err
	}
	r.Created, _ = time.Parse(time.RFC3339Nano, created)
	r.SeededAt, _ = time.Parse(time.RFC3339Nano, seeded)
	r.HealthyAt, _ = time.Parse(time.RFC3339Nano, healthy)
	r.derive(time.Now())
	return r, nil
}

func (t *Target) queryLinks(ctx context.Context, q querier, where string, args ...any) ([]linkRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+linkColumns+` FROM replication_links l
		LEFT JOIN replication_timing m ON m.link_id = l.id `+where+` ORDER BY l.primary_server, l.primary_db, l.partner_server, l.partner_db`, args...)
	if err != nil {
		return nil, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	defer rows.Close()
	var out []linkRow
	for rows.Next() {
		r, err := scanLink(rows)
		if err != nil {
			return nil, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Links implements fleet.ControlPlane.
func (t *Target) Links(ctx context.Context) ([]fleet.Link, error) {
	if err := t.cpInit(ctx); err != nil {
		return nil, err
	}
	rows, err := t.queryLinks(ctx, t.catalog, "")
	if err != nil {
		return nil, err
	}
	out := make([]fleet.Link, len(rows))
	for i, r := range rows {
		out[i] = r.Link
	}
	return out, nil
}

// LinkTo implements fleet.ControlPlane.
func (t *Target) LinkTo(ctx context.Context, loc fleet.Location) (fleet.Link, error) {
	if err := t.cpInit(ctx); err != nil {
		return fleet.Link{}, err
	}
	rows, err := t.queryLinks(ctx, t.catalog, `WHERE l.partner_server = ? AND l.partner_db = ?`, loc.Server, loc.Database)
	if err != nil {
		return fleet.Link{}, err
	}
	if len(rows) == 0 {
		return fleet.Link{}, &fleet.Error{Op: "find replication link", Target: loc.String(), Err: fmt.Errorf("%w: %s is not a geo-secondary", fleet.ErrNotFound, loc)}
	}
	return rows[0].Link, nil
}

// CreateSecondary implements fleet.ControlPlane.
func (t *Target) CreateSecondary(ctx context.Context, primary, secondary fleet.Location, region string) (fleet.Link, error) {
	const op = "create geo-secondary"
	if err := t.cpInit(ctx); err != nil {
		return fleet.Link{}, err
	}
	if err := checkLocation(secondary); err != nil {
		return fleet.Link{}, &fleet.Error{Op: op, Target: secondary.String(), Err: err}
	}
	pc, pPath, err := t.resolve(ctx, primary)
	if err != nil {
		return fleet.Link{}, err
	}
	if strings.EqualFold(pc.Server, secondary.Server) {
		return fleet.Link{}, &fleet.Error{Op: op, Target: secondary.String(),
			Err:  fmt.Errorf("%w: a geo-secondary must be on another server than its primary %s", fleet.ErrInvalidArgument, pc),
			Hint: "pick a partner server (it is created when new)"}
	}
	// Already there?
	if sc, _, err := t.resolve(ctx, secondary); err == nil {
		if l, err := t.LinkTo(ctx, sc); err == nil {
			if l.Primary.Equal(pc) {
				return l, nil
			}
			return fleet.Link{}, &fleet.Error{Op: op, Target: sc.String(), Err: fmt.Errorf("%w: %s is already a geo-secondary of %s", fleet.ErrConflict, sc, l.Primary)}
		}
		info, err := t.Database(ctx, sc)
		if err != nil {
			return fleet.Link{}, err
		}
		if info.Origin.Equal(pc) && info.Stale {
			return fleet.Link{}, &fleet.Error{Op: op, Target: sc.String(),
				Err: fmt.Errorf("%w: %s is a copy of %s that was disconnected, and %s took writes since; it may miss them",
					fleet.ErrConflict, sc, pc, pc),
				Hint: "remove the old copy first: `fleetplan rollback RUN` of the run that made it (fleetplan runs lists it), or drop it by hand after saving what it holds"}
		}
		if info.Origin.Equal(pc) {
			return fleet.Link{Primary: pc, Secondary: sc}, nil // copied and since disconnected
		}
		return fleet.Link{}, &fleet.Error{Op: op, Target: sc.String(),
			Err:  fmt.Errorf("%w: database %s exists and is not a copy of %s", fleet.ErrConflict, sc, pc),
			Hint: "pick another name for the secondary, or drop the existing database first"}
	} else if !errors.Is(err, fleet.ErrNoDatabase) {
		return fleet.Link{}, err
	}
	// The secondary's server, in its region.
	var primaryRegion, serverRegion string
	_ = t.catalog.QueryRowContext(ctx, `SELECT region FROM servers WHERE name = ?`, pc.Server).Scan(&primaryRegion)
	serverErr := t.catalog.QueryRowContext(ctx, `SELECT region FROM servers WHERE name = ?`, secondary.Server).Scan(&serverRegion)
	switch {
	case region == "" && serverErr == nil:
		region = serverRegion
	case region == "":
		region = primaryRegion
	}
	if serverErr == nil && serverRegion != "" && !strings.EqualFold(serverRegion, region) {
		return fleet.Link{}, &fleet.Error{Op: op, Target: secondary.String(),
			Err: fmt.Errorf("%w: server %s is in region %s, not %s", fleet.ErrConflict, secondary.Server, serverRegion, region)}
	}
	// Seed: a consistent copy of the primary as of now. A file at the
	// secondary's place that the catalog does not list is someone's data,
	// unless an interrupted copy of ours left it (its marker says so).
	dst := t.pathOf(secondary)
	if _, err := os.Stat(dst); err == nil && !exists(dst+copyMarker) {
		return fleet.Link{}, &fleet.Error{Op: op, Target: secondary.String(),
			Err:  fmt.Errorf("%w: file %s exists but the fleet does not list database %s", fleet.ErrConflict, dst, secondary),
			Hint: "move the file away, or pick another name for the secondary; fleetplan never overwrites a database it did not make"}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fleet.Link{}, cpError(op, secondary.String(), err)
	}
	if err := writeMarker(dst + copyMarker); err != nil {
		return fleet.Link{}, cpError(op, secondary.String(), err)
	}
	if err := t.snapshotInto(ctx, pc, pPath, dst); err != nil {
		return fleet.Link{}, cpError(op, secondary.String(), err)
	}
	if err := faults.Hit(FaultSecondaryCopied); err != nil {
		return fleet.Link{}, err
	}
	size := fileSize(dst)
	now := time.Now().UTC()
	scale := t.TimeScale()
	seeded, healthy := seedTimeline(size, scale, now)
	id := uuid.New().String()
	err = t.cpTx(ctx, func(tx *sql.Tx) error {
		gen, err := generation(ctx, tx, pc)
		if err != nil {
			return err
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT OR IGNORE INTO servers(name, region, created_at) VALUES(?, ?, ?)`, []any{secondary.Server, region, nowText()}},
			{`UPDATE servers SET region = ? WHERE name = ? AND region = ''`, []any{region, secondary.Server}},
			{`INSERT INTO databases(server, name, read_only, created_at) VALUES(?, ?, 0, ?)`, []any{secondary.Server, secondary.Database, nowText()}},
			{`INSERT OR REPLACE INTO database_control(server, name, origin_server, origin_db, gen) VALUES(?, ?, ?, ?, 0)`,
				[]any{secondary.Server, secondary.Database, pc.Server, pc.Database}},
			{`DELETE FROM stale_copies WHERE server = ? AND name = ?`, []any{secondary.Server, secondary.Database}},
			{`DELETE FROM switch_baselines WHERE server = ? AND name = ?`, []any{secondary.Server, secondary.Database}},
			{`INSERT INTO replication_links(id, primary_server, primary_db, partner_server, partner_db, role, state, percent_done, created_at)
				VALUES(?, ?, ?, ?, ?, 'secondary', ?, 0, ?)`,
				[]any{id, pc.Server, pc.Database, secondary.Server, secondary.Database, string(fleet.LinkSeeding), now.Format(time.RFC3339Nano)}},
			{`INSERT INTO replication_timing(link_id, size_bytes, scale, seeded_at, healthy_at, synced_gen) VALUES(?, ?, ?, ?, ?, ?)`,
				[]any{id, size, scale, seeded.Format(time.RFC3339Nano), healthy.Format(time.RFC3339Nano), gen}},
			{`INSERT INTO operation_log(at, operation, target, detail) VALUES(?, 'create geo-secondary', ?, ?)`,
				[]any{nowText(), secondary.String(), fmt.Sprintf("primary %s, %d bytes", pc, size)}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fleet.Link{}, cpError(op, secondary.String(), err)
	}
	_ = os.Remove(dst + copyMarker)
	return t.LinkTo(ctx, secondary)
}

// copyMarker marks a database file that CreateSecondary is writing and the
// catalog does not list yet: only such a file is removed as a leftover.
const copyMarker = ".fleetplan-copying"

func writeMarker(p string) error {
	if err := os.WriteFile(p, []byte(nowText()+"\n"), 0o644); err != nil {
		return err
	}
	return syncFile(p)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// RecordLinkState writes a link's derived state into the catalog, so a
// reader of fleet.db sees where seeding stands as of the last observer.
func (t *Target) RecordLinkState(ctx context.Context, l fleet.Link) error {
	_, err := t.catalog.ExecContext(ctx, `UPDATE replication_links SET state = ?, percent_done = ? WHERE id = ?`, string(l.State), l.PercentDone, l.ID)
	return cpError("record link state", l.Secondary.String(), err)
}

// replicate brings every secondary of loc (and theirs, for chains) up to
// date with loc's generation by copying it again. Called after writes.
func (t *Target) replicate(ctx context.Context, loc fleet.Location) error {
	const op = "replicate"
	links, err := t.queryLinks(ctx, t.catalog, `WHERE l.primary_server = ? AND l.primary_db = ?`, loc.Server, loc.Database)
	if err != nil {
		return err
	}
	gen, err := generation(ctx, t.catalog, loc)
	if err != nil {
		return cpError(op, loc.String(), err)
	}
	_, srcPath, err := t.resolve(ctx, loc)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.syncedGen != gen {
			if err := t.snapshotInto(ctx, loc, srcPath, t.pathOf(l.Secondary)); err != nil {
				return cpError(op, l.Secondary.String(), err)
			}
			err := t.cpTx(ctx, func(tx *sql.Tx) error {
				if err := bumpGeneration(ctx, tx, l.Secondary); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE replication_timing SET synced_gen = ? WHERE link_id = ?`, gen, l.ID)
				return err
			})
			if err != nil {
				return cpError(op, l.Secondary.String(), err)
			}
		}
		if err := t.replicate(ctx, l.Secondary); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect implements fleet.ControlPlane.
func (t *Target) Disconnect(ctx context.Context, secondary fleet.Location) error {
	const op = "disconnect geo-secondary"
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	sc, sPath, err := t.resolve(ctx, secondary)
	if err != nil {
		return err
	}
	l, err := t.LinkTo(ctx, sc)
	if errors.Is(err, fleet.ErrNotFound) {
		info, ierr := t.Database(ctx, sc)
		if ierr != nil {
			return ierr
		}
		if info.Origin == (fleet.Location{}) {
			return &fleet.Error{Op: op, Target: sc.String(), Err: fmt.Errorf("%w: %s is not a geo-secondary and never was one", fleet.ErrNotFound, sc),
				Hint: "create it with database.create-secondary first"}
		}
		// Already independent; make sure its own secondaries caught up.
		return t.replicate(ctx, sc)
	}
	if err != nil {
		return err
	}
	if l.State != fleet.LinkHealthy {
		return &fleet.Error{Op: op, Target: sc.String(),
			Err:  fmt.Errorf("%w: the link from %s is %s (%d%%); planned termination needs a healthy link", fleet.ErrConflict, l.Primary, l.State, l.PercentDone),
			Hint: "wait for seeding first (database.wait-seeded)"}
	}
	// Planned termination: the secondary receives everything first.
	_, pPath, err := t.resolve(ctx, l.Primary)
	if err != nil {
		return err
	}
	if err := t.snapshotInto(ctx, l.Primary, pPath, sPath); err != nil {
		return cpError(op, sc.String(), err)
	}
	if err := faults.Hit(FaultDisconnectSync); err != nil {
		return err
	}
	err = t.cpTx(ctx, func(tx *sql.Tx) error {
		var ro bool
		if err := tx.QueryRowContext(ctx, `SELECT read_only FROM databases WHERE server = ? AND name = ?`, l.Primary.Server, l.Primary.Database).Scan(&ro); err != nil {
			return err
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM replication_links WHERE id = ?`, []any{l.ID}},
			{`DELETE FROM replication_timing WHERE link_id = ?`, []any{l.ID}},
			// The copy carries the primary's read-only setting, as a copy of
			// its data would.
			{`UPDATE databases SET read_only = ? WHERE server = ? AND name = ?`, []any{ro, sc.Server, sc.Database}},
			{`INSERT INTO operation_log(at, operation, target, detail) VALUES(?, 'disconnect geo-secondary', ?, ?)`,
				[]any{nowText(), sc.String(), "planned termination from " + l.Primary.String()}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		if !ro {
			// The primary goes on taking writes the copy will not see.
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO stale_copies(server, name, since) VALUES(?, ?, ?)`,
				sc.Server, sc.Database, nowText()); err != nil {
				return err
			}
		}
		return bumpGeneration(ctx, tx, sc)
	})
	if err != nil {
		return cpError(op, sc.String(), err)
	}
	t.closePools(sPath)
	return t.replicate(ctx, sc)
}

// scriptsTable records the scripts RunScript applied inside a database.
const scriptsTable = "fleetplan_scripts"

func scriptDigest(script string) string {
	h := sha256.Sum256([]byte(script))
	return hex.EncodeToString(h[:])
}

// ScriptApplied implements fleet.ControlPlane.
func (t *Target) ScriptApplied(ctx context.Context, loc fleet.Location, script string) (bool, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return false, err
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?`, scriptsTable).Scan(&exists); err != nil {
		return false, sqlErr("read scripts", loc, err)
	}
	if !exists {
		return false, nil
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+scriptsTable+` WHERE digest = ?`, scriptDigest(script)).Scan(&n); err != nil {
		return false, sqlErr("read scripts", loc, err)
	}
	if n == 0 {
		return false, nil
	}
	return t.inSync(ctx, loc)
}

// inSync reports whether every secondary of loc (and theirs) has loc's
// latest generation.
func (t *Target) inSync(ctx context.Context, loc fleet.Location) (bool, error) {
	links, err := t.queryLinks(ctx, t.catalog, `WHERE l.primary_server = ? AND l.primary_db = ?`, loc.Server, loc.Database)
	if err != nil {
		return false, err
	}
	gen, err := generation(ctx, t.catalog, loc)
	if err != nil {
		return false, cpError("read catalog", loc.String(), err)
	}
	for _, l := range links {
		if l.syncedGen != gen {
			return false, nil
		}
		if ok, err := t.inSync(ctx, l.Secondary); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// RunScript implements fleet.ControlPlane.
func (t *Target) RunScript(ctx context.Context, loc fleet.Location, script string) (bool, error) {
	const op = "run script"
	if err := t.cpInit(ctx); err != nil {
		return false, err
	}
	info, err := t.Database(ctx, loc)
	if err != nil {
		return false, err
	}
	if !info.Writable() {
		var primary fleet.Location
		if l, err := t.LinkTo(ctx, info.Location); err == nil {
			primary = l.Primary
		}
		return false, readOnlyErr(op, info, primary)
	}
	loc = info.Location
	db, err := t.db(ctx, loc)
	if err != nil {
		return false, err
	}
	if info.Role == fleet.RolePrimary {
		// Announce the write before it happens: a crash after the commit
		// then still leaves the secondaries marked out of date.
		if err := t.cpTx(ctx, func(tx *sql.Tx) error { return bumpGeneration(ctx, tx, loc) }); err != nil {
			return false, cpError(op, loc.String(), err)
		}
	}
	applied := false
	err = scriptTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+scriptsTable+`(
			digest TEXT PRIMARY KEY, applied_at TEXT NOT NULL, bytes INTEGER NOT NULL)`); err != nil {
			return err
		}
		var n int
		digest := scriptDigest(script)
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+scriptsTable+` WHERE digest = ?`, digest).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if strings.TrimSpace(script) != "" {
			if _, err := tx.ExecContext(ctx, script); err != nil {
				return fmt.Errorf("the script failed and was rolled back (nothing of it was kept): %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+scriptsTable+`(digest, applied_at, bytes) VALUES(?, ?, ?)`, digest, nowText(), len(script)); err != nil {
			return err
		}
		applied = true
		return tx.Commit()
	})
	if err != nil {
		e := sqlErr(op, loc, err)
		if fe, ok := e.(*fleet.Error); ok && fe.Hint == "" && !errors.Is(e, fleet.ErrReadOnly) {
			fe.Hint = "fix the script; a script runs in one transaction, so it may not BEGIN or COMMIT itself"
		}
		return false, e
	}
	if err := faults.Hit(FaultScriptCommitted); err != nil {
		return applied, err
	}
	if applied {
		err = t.cpTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target, detail) VALUES(?, 'run script', ?, ?)`,
				nowText(), loc.String(), fmt.Sprintf("%d bytes, sha256 %s", len(script), scriptDigest(script)[:12]))
			return err
		})
		if err != nil {
			return applied, cpError(op, loc.String(), err)
		}
	}
	return applied, t.replicate(ctx, loc)
}

// RemoveDatabase implements fleet.ControlPlane.
func (t *Target) RemoveDatabase(ctx context.Context, loc fleet.Location) error {
	const op = "remove database"
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	c, p, err := t.resolve(ctx, loc)
	if errors.Is(err, fleet.ErrNoDatabase) {
		// Not a database of the fleet; remove what an interrupted
		// CreateSecondary may have left at its place.
		if checkLocation(loc) != nil {
			return nil
		}
		t.closePools(p)
		files := []string{p + ".copy"}
		if exists(p + copyMarker) {
			// What an interrupted copy of ours left; a file without the
			// marker is not ours and stays.
			files = append(files, p, p+"-wal", p+"-shm", p+copyMarker)
		}
		for _, f := range files {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return &fleet.Error{Op: op, Target: loc.String(), Err: err}
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	out, err := t.queryLinks(ctx, t.catalog, `WHERE l.primary_server = ? AND l.primary_db = ?`, c.Server, c.Database)
	if err != nil {
		return err
	}
	if len(out) > 0 {
		var names []string
		for _, l := range out {
			names = append(names, l.Secondary.String())
		}
		return &fleet.Error{Op: op, Target: c.String(), Err: fmt.Errorf("%w: it is the primary of %s", fleet.ErrConflict, strings.Join(names, ", ")),
			Hint: "remove or disconnect its secondaries first"}
	}
	var slots []string
	rows, err := t.catalog.QueryContext(ctx, `SELECT name FROM app_slots WHERE server = ? AND database = ? ORDER BY name`, c.Server, c.Database)
	if err != nil {
		return cpError(op, c.String(), err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return cpError(op, c.String(), err)
		}
		slots = append(slots, s)
	}
	rows.Close()
	if len(slots) > 0 {
		return &fleet.Error{Op: op, Target: c.String(), Err: fmt.Errorf("%w: app slot %s points at it", fleet.ErrConflict, strings.Join(slots, ", ")),
			Hint: "remove the app first (app.remove-app)"}
	}
	err = t.cpTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM replication_timing WHERE link_id IN (SELECT id FROM replication_links WHERE partner_server = ?1 AND partner_db = ?2)`,
			`DELETE FROM replication_links WHERE partner_server = ?1 AND partner_db = ?2`,
			`DELETE FROM database_control WHERE server = ?1 AND name = ?2`,
			`DELETE FROM stale_copies WHERE server = ?1 AND name = ?2`,
			`DELETE FROM switch_baselines WHERE server = ?1 AND name = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, c.Server, c.Database); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return cpError(op, c.String(), err)
	}
	t.closePools(p)
	if err := t.DropDatabase(ctx, c); err != nil {
		return err
	}
	_ = os.Remove(p + ".copy")
	_ = os.Remove(p + copyMarker)
	return nil
}

// Leftovers reports whether files of a database the catalog does not list
// lie at loc's place (what an interrupted CreateSecondary leaves behind);
// RemoveDatabase removes them.
func (t *Target) Leftovers(ctx context.Context, loc fleet.Location) (bool, error) {
	if checkLocation(loc) != nil {
		return false, nil
	}
	_, p, err := t.resolve(ctx, loc)
	if err == nil || !errors.Is(err, fleet.ErrNoDatabase) {
		return false, nil
	}
	return exists(p+".copy") || exists(p+copyMarker), nil
}
