package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// Failover groups of the local fleet: a group names a primary server, its
// partner and databases whose geo-secondaries on the partner
// (CreateSecondary) fail over together. A failover turns each link around:
// the partner's copies become the primaries, the old primaries their
// secondaries. A planned failover first gives each copy everything its
// primary has; a forced one does not, and the old primaries are then
// overwritten with the new primaries' content, losing what had not
// replicated — as a forced failover of the service does.

var _ fleet.FailoverGroupManager = (*Target)(nil)

const failoverGroupDDL = `
CREATE TABLE IF NOT EXISTS failover_groups(
  name           TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  primary_server TEXT NOT NULL COLLATE NOCASE,
  partner_server TEXT NOT NULL COLLATE NOCASE,
  policy         TEXT NOT NULL,
  grace_minutes  INTEGER NOT NULL DEFAULT 0,
  created_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failover_group_databases(
  group_name TEXT NOT NULL COLLATE NOCASE,
  name       TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY(group_name, name)
);
`

// fogInit creates the tables of failover groups; only a change does, so
// that reading a fleet that has none leaves its catalog as it is.
func (t *Target) fogInit(ctx context.Context) error {
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	if _, err := t.catalog.ExecContext(ctx, failoverGroupDDL); err != nil {
		return &fleet.Error{Op: "prepare failover groups", Target: t.dir, Err: err}
	}
	return nil
}

// hasGroups reports whether the fleet ever had a failover group.
func (t *Target) hasGroups(ctx context.Context) (bool, error) {
	ok, err := tableExists(ctx, t.catalog, "failover_groups")
	if err != nil {
		return false, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	return ok, nil
}

// CreateFailoverGroup groups databases of primary whose geo-secondaries
// are on partner (same names) into failover group name, with a read-write
// policy (fleet.FailoverManual or fleet.FailoverAutomatic with a grace
// period). A group of that name with the same servers and databases is
// left as is.
func (t *Target) CreateFailoverGroup(ctx context.Context, name, primary, partner string, databases []string, policy string, graceMinutes int) error {
	const op = "create failover group"
	if err := t.fogInit(ctx); err != nil {
		return err
	}
	if err := checkName("failover group", name); err != nil {
		return &fleet.Error{Op: op, Target: name, Err: err}
	}
	if policy != fleet.FailoverManual && policy != fleet.FailoverAutomatic {
		return &fleet.Error{Op: op, Target: name, Err: fmt.Errorf("%w: read-write policy %q", fleet.ErrInvalidArgument, policy),
			Hint: "use " + fleet.FailoverManual + " or " + fleet.FailoverAutomatic}
	}
	if have, err := t.FailoverGroup(ctx, primary, name); err == nil {
		dbs := slices.Clone(databases)
		slices.SortFunc(dbs, strings.Compare)
		if strings.EqualFold(have.Primary, primary) && strings.EqualFold(have.Secondary, partner) && slices.EqualFunc(have.Databases, dbs, strings.EqualFold) {
			return nil
		}
		return &fleet.Error{Op: op, Target: name, Err: fmt.Errorf("%w: failover group %s exists with other servers or databases", fleet.ErrConflict, name)}
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return err
	}
	for _, db := range databases {
		l, err := t.LinkTo(ctx, fleet.Location{Server: partner, Database: db})
		if err != nil || !strings.EqualFold(l.Primary.Server, primary) || !strings.EqualFold(l.Primary.Database, db) {
			return &fleet.Error{Op: op, Target: name, Err: fmt.Errorf("%w: %s/%s is not a geo-secondary of %s/%s", fleet.ErrInvalidArgument, partner, db, primary, db),
				Hint: "create the secondaries first (database.create-secondary with the same database name)"}
		}
	}
	return t.cpTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO failover_groups(name, primary_server, partner_server, policy, grace_minutes, created_at) VALUES(?, ?, ?, ?, ?, ?)`,
			name, primary, partner, policy, graceMinutes, nowText()); err != nil {
			return err
		}
		for _, db := range databases {
			if _, err := tx.ExecContext(ctx, `INSERT INTO failover_group_databases(group_name, name) VALUES(?, ?)`, name, db); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target, detail) VALUES(?, 'create failover group', ?, ?)`,
			nowText(), name, fmt.Sprintf("%s -> %s: %s", primary, partner, strings.Join(databases, ", ")))
		return err
	})
}

// FailoverGroups implements fleet.FailoverGroupManager.
func (t *Target) FailoverGroups(ctx context.Context, server string) ([]fleet.FailoverGroup, error) {
	if err := t.cpInit(ctx); err != nil {
		return nil, err
	}
	if ok, err := t.hasGroups(ctx); !ok {
		return nil, err
	}
	return t.queryGroups(ctx, `WHERE ?1 = '' OR primary_server = ?1 OR partner_server = ?1`, server)
}

// FailoverGroup implements fleet.FailoverGroupManager.
func (t *Target) FailoverGroup(ctx context.Context, server, name string) (fleet.FailoverGroup, error) {
	if err := t.cpInit(ctx); err != nil {
		return fleet.FailoverGroup{}, err
	}
	var gs []fleet.FailoverGroup
	ok, err := t.hasGroups(ctx)
	if ok {
		gs, err = t.queryGroups(ctx, `WHERE name = ?2 AND (primary_server = ?1 OR partner_server = ?1)`, server, name)
	}
	if err != nil {
		return fleet.FailoverGroup{}, err
	}
	if len(gs) == 0 {
		return fleet.FailoverGroup{}, &fleet.Error{Op: "read failover group", Target: server + "/" + name,
			Err: fmt.Errorf("%w: server %s has no failover group %s", fleet.ErrNotFound, server, name), Hint: "check the group's and the server's names"}
	}
	return gs[0], nil
}

func (t *Target) queryGroups(ctx context.Context, where string, args ...any) ([]fleet.FailoverGroup, error) {
	rows, err := t.catalog.QueryContext(ctx, `SELECT name, primary_server, partner_server, policy, grace_minutes,
		COALESCE((SELECT region FROM servers WHERE servers.name = primary_server), ''),
		COALESCE((SELECT region FROM servers WHERE servers.name = partner_server), '')
		FROM failover_groups `+where+` ORDER BY name`, args...)
	if err != nil {
		return nil, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	var out []fleet.FailoverGroup
	for rows.Next() {
		var g fleet.FailoverGroup
		if err := rows.Scan(&g.Name, &g.Primary, &g.Secondary, &g.ReadWritePolicy, &g.GraceMinutes, &g.PrimaryRegion, &g.SecondaryRegion); err != nil {
			rows.Close()
			return nil, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	for i := range out {
		if err := t.groupState(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// groupState reads a group's databases and the state of their links: the
// least advanced of them (a database whose link is gone is not healthy).
func (t *Target) groupState(ctx context.Context, g *fleet.FailoverGroup) error {
	rows, err := t.catalog.QueryContext(ctx, `SELECT name FROM failover_group_databases WHERE group_name = ? ORDER BY name`, g.Name)
	if err != nil {
		return &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	for rows.Next() {
		var db string
		if err := rows.Scan(&db); err != nil {
			rows.Close()
			return &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
		}
		g.Databases = append(g.Databases, db)
	}
	rows.Close()
	rank := map[fleet.LinkState]int{fleet.LinkSeeding: 0, fleet.LinkCatchingUp: 1, fleet.LinkHealthy: 2}
	g.State = fleet.LinkHealthy
	for _, db := range g.Databases {
		l, err := t.groupLink(ctx, *g, db)
		state := l.State
		if errors.Is(err, fleet.ErrNotFound) {
			state = fleet.LinkCatchingUp
		} else if err != nil {
			return err
		}
		if rank[state] < rank[g.State] {
			g.State = state
		}
	}
	return nil
}

// groupLink is the link of one of the group's databases, from its primary.
func (t *Target) groupLink(ctx context.Context, g fleet.FailoverGroup, db string) (linkRow, error) {
	ls, err := t.queryLinks(ctx, t.catalog, `WHERE l.primary_server = ? AND l.primary_db = ? AND l.partner_server = ? AND l.partner_db = ?`,
		g.Primary, db, g.Secondary, db)
	if err != nil {
		return linkRow{}, err
	}
	if len(ls) == 0 {
		return linkRow{}, &fleet.Error{Op: "read failover group", Target: g.Name,
			Err: fmt.Errorf("%w: %s/%s is not a geo-secondary of %s/%s", fleet.ErrNotFound, g.Secondary, db, g.Primary, db)}
	}
	return ls[0], nil
}

// Failover implements fleet.FailoverGroupManager. The local fleet finishes
// a failover within the call, so nothing needs re-attaching after a
// restart: running it again finds the group failed over.
func (t *Target) Failover(ctx context.Context, req fleet.FailoverRequest) (fleet.FailoverGroup, error) {
	op := "planned failover"
	if req.Forced {
		op = "forced failover"
	}
	g, err := t.FailoverGroup(ctx, req.Server, req.Group)
	if err != nil {
		return g, err
	}
	if err := fleet.CheckFailover(op, g, req); err != nil || strings.EqualFold(g.Primary, req.Server) {
		return g, err
	}
	links := make([]linkRow, 0, len(g.Databases))
	for _, db := range g.Databases {
		l, err := t.groupLink(ctx, g, db)
		if err != nil {
			return g, err
		}
		links = append(links, l)
	}
	if !req.Forced {
		// The new primaries receive everything first.
		for _, l := range links {
			_, pPath, err := t.resolve(ctx, l.Primary)
			if err != nil {
				return g, err
			}
			if err := t.snapshotInto(ctx, l.Primary, pPath, t.pathOf(l.Secondary)); err != nil {
				return g, cpError(op, l.Secondary.String(), err)
			}
		}
	}
	err = t.cpTx(ctx, func(tx *sql.Tx) error {
		for _, l := range links {
			if !req.Forced {
				if err := bumpGeneration(ctx, tx, l.Secondary); err != nil {
					return err
				}
			}
			gen, err := generation(ctx, tx, l.Secondary)
			if err != nil {
				return err
			}
			synced := gen // planned: the old primary holds what the new one holds
			if req.Forced {
				synced = -1 // the old primary is overwritten from the new one below
			}
			// Origins follow the roles: the old primary is now a copy of
			// the new one, which takes the old primary's own origin (none,
			// unless it was a copy itself), so failing back restores both.
			var origin fleet.Location
			err = tx.QueryRowContext(ctx, `SELECT origin_server, origin_db FROM database_control WHERE server = ? AND name = ?`,
				l.Primary.Server, l.Primary.Database).Scan(&origin.Server, &origin.Database)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if origin.Equal(l.Secondary) {
				origin = fleet.Location{}
			}
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`UPDATE replication_links SET primary_server = ?, primary_db = ?, partner_server = ?, partner_db = ? WHERE id = ?`,
					[]any{l.Secondary.Server, l.Secondary.Database, l.Primary.Server, l.Primary.Database, l.ID}},
				{`UPDATE replication_timing SET synced_gen = ? WHERE link_id = ?`, []any{synced, l.ID}},
				{`INSERT INTO database_control(server, name, origin_server, origin_db) VALUES(?, ?, ?, ?)
					ON CONFLICT(server, name) DO UPDATE SET origin_server = excluded.origin_server, origin_db = excluded.origin_db`,
					[]any{l.Primary.Server, l.Primary.Database, l.Secondary.Server, l.Secondary.Database}},
				{`UPDATE database_control SET origin_server = ?, origin_db = ? WHERE server = ? AND name = ?`,
					[]any{origin.Server, origin.Database, l.Secondary.Server, l.Secondary.Database}},
			} {
				if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE failover_groups SET primary_server = ?, partner_server = ? WHERE name = ?`, g.Secondary, g.Primary, g.Name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target, detail) VALUES(?, ?, ?, ?)`,
			nowText(), op, g.Name, fmt.Sprintf("%s is the primary (was %s): %s", g.Secondary, g.Primary, strings.Join(g.Databases, ", ")))
		return err
	})
	if err != nil {
		return g, cpError(op, g.Name, err)
	}
	for _, l := range links {
		// Pools opened for the old roles must not outlive them.
		t.closePools(t.pathOf(l.Primary))
		t.closePools(t.pathOf(l.Secondary))
		if req.Forced {
			if err := t.replicate(ctx, l.Secondary); err != nil {
				return g, err
			}
		}
	}
	return t.FailoverGroup(ctx, req.Server, req.Group)
}
