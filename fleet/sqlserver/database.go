package sqlserver

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

var (
	_ fleet.DatabaseAdmin = (*Target)(nil)
	_ fleet.ControlPlane  = (*Target)(nil)
)

// exec runs one statement in a database.
func (t *Target) exec(ctx context.Context, loc fleet.Location, what, q string, args ...any) error {
	db, err := t.db(loc)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, q, args...)
	return t.red.wrap(what, loc.String(), err)
}

// CreateDatabase implements fleet.DatabaseAdmin: CREATE DATABASE in the
// server's master. Idempotent.
func (t *Target) CreateDatabase(ctx context.Context, loc fleet.Location) error {
	return t.exec(ctx, master(loc.Server), "create database "+loc.Database, CreateDatabaseSQL, sql.Named("name", loc.Database))
}

// DropDatabase implements fleet.DatabaseAdmin. Idempotent.
func (t *Target) DropDatabase(ctx context.Context, loc fleet.Location) error {
	t.closePool(loc)
	return t.exec(ctx, master(loc.Server), "drop database "+loc.Database, DropDatabaseSQL, sql.Named("name", loc.Database))
}

func (t *Target) closePool(loc fleet.Location) {
	key := poolKey(loc)
	t.forget(loc)
	t.mu.Lock()
	db := t.dbs[key]
	delete(t.dbs, key)
	t.mu.Unlock()
	if db != nil {
		db.Close()
	}
}

// ApplySQL implements fleet.DatabaseAdmin: the script's GO batches in one
// transaction on one session.
func (t *Target) ApplySQL(ctx context.Context, loc fleet.Location, script string) error {
	_, err := t.runBatches(ctx, loc, "apply sql", script, "")
	return err
}

// runBatches runs a script's batches in one transaction. With digest set,
// it first checks (and then records) the script in fleetplan.Scripts, and
// runs nothing when it ran before: applied reports whether it ran now.
func (t *Target) runBatches(ctx context.Context, loc fleet.Location, what, script, digest string) (applied bool, err error) {
	batches, err := SplitBatches(script)
	if err != nil {
		return false, &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: %v", fleet.ErrInvalidArgument, err)}
	}
	db, err := t.db(loc)
	if err != nil {
		return false, err
	}
	if digest != "" {
		if _, err := db.ExecContext(ctx, EnsureScriptsSQL); err != nil {
			return false, t.red.wrap(what, loc.String(), err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, t.red.wrap(what, loc.String(), err)
	}
	defer tx.Rollback()
	if digest != "" {
		var n int
		if err := tx.QueryRowContext(ctx, ScriptDigestSQL, sql.Named("digest", digest)).Scan(&n); err != nil {
			return false, t.red.wrap(what, loc.String(), err)
		}
		if n > 0 {
			return false, nil
		}
	}
	for _, b := range batches {
		if _, err := tx.ExecContext(ctx, b.SQL); err != nil {
			return false, t.red.wrap(fmt.Sprintf("%s (batch at line %d)", what, b.Line), loc.String(), err)
		}
	}
	if digest != "" {
		if _, err := tx.ExecContext(ctx, RecordScriptSQL, sql.Named("digest", digest)); err != nil {
			return false, t.red.wrap(what, loc.String(), err)
		}
	}
	return true, t.red.wrap(what, loc.String(), tx.Commit())
}

// Databases implements fleet.DatabaseAdmin: the user databases of the shard
// map manager's server.
func (t *Target) Databases(ctx context.Context) ([]fleet.Location, error) {
	db, err := t.db(master(t.cfg.Server))
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, DatabasesQuery)
	if err != nil {
		return nil, t.red.wrap("list databases", t.cfg.Server, err)
	}
	defer rows.Close()
	var out []fleet.Location
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, t.red.wrap("list databases", t.cfg.Server, err)
		}
		out = append(out, fleet.Location{Server: t.cfg.Server, Database: name})
	}
	return out, t.red.wrap("list databases", t.cfg.Server, rows.Err())
}

// Database implements fleet.ControlPlane: the read-only setting from
// sys.databases, the role from sys.dm_geo_replication_link_status, the size
// from sys.database_files. Region and origin are the azure driver's.
func (t *Target) Database(ctx context.Context, loc fleet.Location) (fleet.DatabaseInfo, error) {
	info := fleet.DatabaseInfo{Location: loc, Role: fleet.RoleStandalone}
	mdb, err := t.db(master(loc.Server))
	if err != nil {
		return info, err
	}
	err = mdb.QueryRowContext(ctx, DatabaseQuery, sql.Named("db", loc.Database)).Scan(&info.ReadOnly)
	if errors.Is(err, sql.ErrNoRows) {
		return info, &fleet.Error{Op: "describe database", Target: loc.String(), Err: fleet.ErrNoDatabase}
	}
	if err != nil {
		return info, t.red.wrap("describe database", loc.String(), err)
	}
	links, err := t.linkRows(ctx, loc)
	if err != nil {
		return info, err
	}
	for _, l := range links {
		switch {
		case l.role == "SECONDARY":
			info.Role = fleet.RoleSecondary
		case l.role == "PRIMARY" && info.Role == fleet.RoleStandalone:
			info.Role = fleet.RolePrimary
		}
	}
	db, err := t.db(loc)
	if err != nil {
		return info, err
	}
	if err := db.QueryRowContext(ctx, SizeQuery).Scan(&info.SizeBytes); err != nil {
		return info, t.red.wrap("describe database", loc.String(), err)
	}
	return info, nil
}

// SetReadOnly implements fleet.ControlPlane: ALTER DATABASE ... SET
// READ_ONLY / READ_WRITE, rolling back other sessions' open transactions;
// this process's pool of the database is closed so no session of it
// outlives the switch. Idempotent.
func (t *Target) SetReadOnly(ctx context.Context, loc fleet.Location, readOnly bool) error {
	info, err := t.Database(ctx, loc)
	if err != nil {
		return err
	}
	if info.ReadOnly == readOnly {
		return nil
	}
	t.closePool(loc)
	what := "set read-write"
	if readOnly {
		what = "set read-only"
	}
	return t.exec(ctx, master(loc.Server), what, SetReadOnlySQL(loc.Database, readOnly))
}

// linkRow is a row of sys.dm_geo_replication_link_status.
type linkRow struct {
	id, partnerServer, partnerDB, state, role string
	lagSeconds                                int64
	last                                      sql.NullTime
}

func (t *Target) linkRows(ctx context.Context, loc fleet.Location) ([]linkRow, error) {
	db, err := t.db(loc)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, LinkStatusQuery)
	if err != nil {
		return nil, t.red.wrap("read replication links", loc.String(), err)
	}
	defer rows.Close()
	var out []linkRow
	for rows.Next() {
		var r linkRow
		if err := rows.Scan(&r.id, &r.partnerServer, &r.partnerDB, &r.state, &r.role, &r.lagSeconds, &r.last); err != nil {
			return nil, t.red.wrap("read replication links", loc.String(), err)
		}
		out = append(out, r)
	}
	return out, t.red.wrap("read replication links", loc.String(), rows.Err())
}

// partnerHost turns a partner server name of the link views (a short name
// on Azure SQL) into the host name the fleet uses: the same domain as loc's.
func partnerHost(loc fleet.Location, partner string) string {
	if strings.Contains(partner, ".") {
		return partner
	}
	if i := strings.IndexByte(loc.Server, '.'); i > 0 {
		return partner + loc.Server[i:]
	}
	return partner
}

// link converts a row read in db at loc.
func link(loc fleet.Location, r linkRow) fleet.Link {
	other := fleet.Location{Server: partnerHost(loc, r.partnerServer), Database: r.partnerDB}
	l := fleet.Link{ID: r.id, Primary: loc, Secondary: other, LagSeconds: float64(r.lagSeconds)}
	if r.role == "SECONDARY" {
		l.Primary, l.Secondary = other, loc
	}
	switch r.state {
	case "CATCH_UP":
		l.State, l.PercentDone = fleet.LinkHealthy, 100
	default: // PENDING, SEEDING
		l.State = fleet.LinkSeeding
	}
	if r.last.Valid {
		l.HealthyAt = r.last.Time
	}
	return l
}

// CreateSecondary implements fleet.ControlPlane: ALTER DATABASE ... ADD
// SECONDARY ON SERVER in master of the primary's server. A geo-secondary
// keeps the primary's name; region is the partner server's, chosen when
// that server was created. An existing link to secondary is returned as is.
func (t *Target) CreateSecondary(ctx context.Context, primary, secondary fleet.Location, region string) (fleet.Link, error) {
	if !strings.EqualFold(primary.Database, secondary.Database) {
		return fleet.Link{}, &fleet.Error{Op: "create secondary", Target: secondary.String(),
			Err:  fmt.Errorf("%w: a geo-secondary keeps its primary's name (%s)", fleet.ErrInvalidArgument, primary.Database),
			Hint: "name the secondary " + secondary.Server + "/" + primary.Database}
	}
	if l, err := t.LinkTo(ctx, secondary); err == nil {
		if !l.Primary.Equal(primary) {
			return l, &fleet.Error{Op: "create secondary", Target: secondary.String(),
				Err: fmt.Errorf("%w: it is a secondary of %s", fleet.ErrConflict, l.Primary)}
		}
		return l, nil
	}
	if err := t.exec(ctx, master(primary.Server), "create secondary", AddSecondarySQL(primary.Database, serverShortName(secondary.Server))); err != nil {
		return fleet.Link{}, err
	}
	links, err := t.linkRows(ctx, primary)
	if err != nil {
		return fleet.Link{}, err
	}
	for _, r := range links {
		if l := link(primary, r); l.Secondary.Equal(secondary) {
			l.Created = time.Now().UTC()
			return l, nil
		}
	}
	return fleet.Link{Primary: primary, Secondary: secondary, State: fleet.LinkSeeding, Created: time.Now().UTC()}, nil
}

// Links implements fleet.ControlPlane: the links of every database of the
// shard map manager's server, as their primaries or secondaries see them.
func (t *Target) Links(ctx context.Context) ([]fleet.Link, error) {
	dbs, err := t.Databases(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []fleet.Link
	for _, loc := range dbs {
		rows, err := t.linkRows(ctx, loc)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			l := link(loc, r)
			if key := strings.ToLower(l.Primary.String() + ">" + l.Secondary.String()); !seen[key] {
				seen[key] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// LinkTo implements fleet.ControlPlane, read in the secondary itself.
func (t *Target) LinkTo(ctx context.Context, loc fleet.Location) (fleet.Link, error) {
	rows, err := t.linkRows(ctx, loc)
	if err != nil {
		return fleet.Link{}, err
	}
	for _, r := range rows {
		if r.role == "SECONDARY" {
			return link(loc, r), nil
		}
	}
	return fleet.Link{}, &fleet.Error{Op: "find replication link", Target: loc.String(), Err: fmt.Errorf("%w: no link has it as its secondary", fleet.ErrNotFound)}
}

// Disconnect implements fleet.ControlPlane: a planned termination. It
// waits, polling sys.dm_geo_replication_link_status, until the secondary
// has everything (lag 0) while the primary is read-only, then runs ALTER
// DATABASE ... REMOVE SECONDARY ON SERVER in master of the primary's
// server. A primary that takes writes would keep the secondary behind, so
// it is refused (ErrConflict).
func (t *Target) Disconnect(ctx context.Context, secondary fleet.Location) error {
	l, err := t.LinkTo(ctx, secondary)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil // already disconnected
	}
	if err != nil {
		return err
	}
	p, err := t.Database(ctx, l.Primary)
	if err != nil {
		return err
	}
	if !p.ReadOnly {
		return &fleet.Error{Op: "disconnect", Target: secondary.String(), Err: fmt.Errorf("%w: the primary %s takes writes", fleet.ErrConflict, l.Primary),
			Hint: "set the primary read-only first, so the secondary is a complete copy when it is cut loose"}
	}
	for l.State != fleet.LinkHealthy || l.LagSeconds != 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
		if l, err = t.LinkTo(ctx, secondary); err != nil {
			return err
		}
	}
	return t.exec(ctx, master(l.Primary.Server), "disconnect", RemoveSecondarySQL(l.Primary.Database, serverShortName(secondary.Server)))
}

func digestOf(script string) string {
	s := sha256.Sum256([]byte(script))
	return hex.EncodeToString(s[:])
}

// RunScript implements fleet.ControlPlane: the script's GO batches in one
// transaction, recorded by digest in fleetplan.Scripts of the database.
func (t *Target) RunScript(ctx context.Context, loc fleet.Location, script string) (bool, error) {
	return t.runBatches(ctx, loc, "run script", script, digestOf(script))
}

// ScriptApplied implements fleet.ControlPlane: the digest is in the
// database and in every secondary it replicates to.
func (t *Target) ScriptApplied(ctx context.Context, loc fleet.Location, script string) (bool, error) {
	d := digestOf(script)
	check := func(at fleet.Location) (bool, error) {
		db, err := t.db(at)
		if err != nil {
			return false, err
		}
		var n int
		if err := db.QueryRowContext(ctx, ScriptDigestReadSQL, sql.Named("digest", d)).Scan(&n); err != nil {
			return false, t.red.wrap("check script", at.String(), err)
		}
		return n > 0, nil
	}
	ok, err := check(loc)
	if err != nil || !ok {
		return ok, err
	}
	rows, err := t.linkRows(ctx, loc)
	if err != nil {
		return false, err
	}
	for _, r := range rows {
		if l := link(loc, r); r.role == "PRIMARY" {
			if ok, err := check(l.Secondary); err != nil || !ok {
				return ok, err
			}
		}
	}
	return true, nil
}

// RemoveDatabase implements fleet.ControlPlane: it refuses a database that
// still has secondaries, then drops it (a secondary's link goes with it).
func (t *Target) RemoveDatabase(ctx context.Context, loc fleet.Location) error {
	if _, err := t.Database(ctx, loc); errors.Is(err, fleet.ErrNoDatabase) {
		return nil // gone already
	} else if err != nil {
		return err
	}
	rows, err := t.linkRows(ctx, loc)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.role == "PRIMARY" {
			return &fleet.Error{Op: "remove database", Target: loc.String(), Err: fmt.Errorf("%w: it still replicates to %s/%s", fleet.ErrConflict, r.partnerServer, r.partnerDB),
				Hint: "disconnect or remove its secondaries first"}
		}
	}
	return t.DropDatabase(ctx, loc)
}

// Operation is a row of sys.dm_operation_status: an asynchronous operation
// on a database (creating a secondary, a scale change, a copy).
type Operation struct {
	ID, Operation, State string
	PercentComplete      float64
	ErrorCode            int
	ErrorDesc            string
	Started, Modified    time.Time
}

// Operations lists the asynchronous operations of a database, newest
// first (sys.dm_operation_status in master of its server).
func (t *Target) Operations(ctx context.Context, loc fleet.Location) ([]Operation, error) {
	db, err := t.db(master(loc.Server))
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, OperationStatusQuery, sql.Named("db", loc.Database))
	if err != nil {
		return nil, t.red.wrap("read operation status", loc.String(), err)
	}
	defer rows.Close()
	var out []Operation
	for rows.Next() {
		var o Operation
		if err := rows.Scan(&o.ID, &o.Operation, &o.State, &o.PercentComplete, &o.ErrorCode, &o.ErrorDesc, &o.Started, &o.Modified); err != nil {
			return nil, t.red.wrap("read operation status", loc.String(), err)
		}
		out = append(out, o)
	}
	return out, t.red.wrap("read operation status", loc.String(), rows.Err())
}

// errAzureOnly answers the control-plane calls that belong to the azure
// driver (traffic manager, app slots).
func errAzureOnly(op string) error {
	return &fleet.Error{Op: op, Err: fmt.Errorf("%w: a sqlserver target has no %s", fleet.ErrNotFound, strings.TrimPrefix(op, "read ")),
		Hint: "traffic-manager profiles and app slots are served by a driver: azure target"}
}

// Profiles implements fleet.ControlPlane: none on SQL Server.
func (t *Target) Profiles(context.Context) ([]fleet.Profile, error) { return nil, nil }

// Profile implements fleet.ControlPlane.
func (t *Target) Profile(context.Context, string) (fleet.Profile, error) {
	return fleet.Profile{}, errAzureOnly("read traffic-manager profile")
}

// AddEndpoint implements fleet.ControlPlane.
func (t *Target) AddEndpoint(context.Context, fleet.Endpoint) (fleet.Endpoint, error) {
	return fleet.Endpoint{}, errAzureOnly("add traffic-manager endpoint")
}

// SetEndpointStatus implements fleet.ControlPlane.
func (t *Target) SetEndpointStatus(context.Context, string, string, bool) error {
	return errAzureOnly("set traffic-manager endpoint status")
}

// SwitchTraffic implements fleet.ControlPlane.
func (t *Target) SwitchTraffic(context.Context, string, string, string) error {
	return errAzureOnly("switch traffic-manager endpoint")
}

// RemoveEndpoint implements fleet.ControlPlane.
func (t *Target) RemoveEndpoint(context.Context, string, string) error {
	return errAzureOnly("remove traffic-manager endpoint")
}

// Slots implements fleet.ControlPlane: none on SQL Server.
func (t *Target) Slots(context.Context) ([]fleet.Slot, error) { return nil, nil }

// Slot implements fleet.ControlPlane.
func (t *Target) Slot(context.Context, string) (fleet.Slot, error) {
	return fleet.Slot{}, errAzureOnly("read app slot")
}

// DeploySlot implements fleet.ControlPlane.
func (t *Target) DeploySlot(context.Context, fleet.Slot) error {
	return errAzureOnly("deploy app slot")
}

// RemoveSlot implements fleet.ControlPlane.
func (t *Target) RemoveSlot(context.Context, string) error { return errAzureOnly("remove app slot") }
