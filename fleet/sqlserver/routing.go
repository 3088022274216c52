package sqlserver

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// errInvalidObject is "Invalid object name": the database has no
// __ShardManagement.ShardMappingsLocal.
const errInvalidObject = 208

// hasNumber reports whether any of the errors SQL Server sent is n.
func hasNumber(err error, n int) bool {
	return slices.Contains(sqlNumbers(err), n)
}

var _ fleet.ShardConnector = (*Target)(nil)

// RoutedMappingQuery is the check a routed transaction runs first: the
// row of the mapping in the shard's local shard map, the columns
// spValidateShardMappingLocal reads (it answers 301 when the row is
// missing and 309 when Status <> 1) plus the bounds, which the router
// compares with the cached mapping.
//
// HOLDLOCK (SERIALIZABLE for this read) keeps a shared key-range lock on
// the row, or on the gap where it would be, until the transaction ends,
// also under READ_COMMITTED_SNAPSHOT, where a plain SELECT would read a
// row version without locking. Shared locks do not block each other, so
// application transactions on the same shardlet run side by side; the
// mover's UPDATE of the row (taking the mapping offline, repointing it)
// needs an exclusive lock and waits for every transaction that validated
// it. A transaction that validated therefore never commits a write after
// its mapping went offline, whether the move is fleetplan's or the
// library's (whose session kill ends such a transaction sooner).
const RoutedMappingQuery = `SELECT MinValue, MaxValue, Status FROM __ShardManagement.ShardMappingsLocal WITH (HOLDLOCK)
WHERE MappingId = @id AND ShardMapId = @map`

// errCannotOpenDatabase is "Cannot open database requested by the
// login": the database is gone (or, on Azure SQL, away for a moment).
const errCannotOpenDatabase = 4060

// databaseMissing reports an error saying the database is not there.
func databaseMissing(err error) bool {
	return hasNumber(err, errCannotOpenDatabase) || hasNumber(err, errNoDatabase)
}

// ShardDB implements fleet.ShardConnector: the target's pool of the
// database. Its sessions carry fleetplan's application name, which the
// library's session kill does not match (see RoutedMappingQuery for why
// the check holds without it).
//
// It asks the server's master whether the database exists the first time
// only: routing opens a connection per key, and the answer stays true
// until a connection of the pool fails saying the database is not there
// (4060, 911) or the target drops the database, which make the next call
// ask again.
func (t *Target) ShardDB(ctx context.Context, loc fleet.Location) (*sql.DB, error) {
	key := poolKey(loc)
	t.mu.Lock()
	seen, gen := t.exists[key], t.existsGen
	t.mu.Unlock()
	if !seen {
		ok, err := t.databaseExists(ctx, loc)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &fleet.Error{Op: "open shard", Target: loc.String(), Err: fleet.ErrNoDatabase,
				Hint: "the global shard map names a database the server does not have; `fleetplan doctor` checks the shard map"}
		}
		t.mu.Lock()
		if t.existsGen == gen {
			t.exists[key] = true
		}
		t.mu.Unlock()
	}
	return t.db(loc)
}

// forget drops what ShardDB knows of a database.
func (t *Target) forget(loc fleet.Location) {
	t.mu.Lock()
	delete(t.exists, poolKey(loc))
	t.existsGen++
	t.mu.Unlock()
}

// BeginRoutedTx implements fleet.ShardConnector: it begins the
// transaction and reads the mapping's LSM row under RoutedMappingQuery's
// lock, inside the transaction.
func (t *Target) BeginRoutedTx(ctx context.Context, conn *sql.Conn, opts *sql.TxOptions, m fleet.ShardMap, loc fleet.Location, mp fleet.Mapping) (*sql.Tx, error) {
	tx, err := conn.BeginTx(ctx, opts)
	if err == nil {
		err = t.validateRouted(ctx, tx, m, loc, mp)
		if err != nil {
			_ = tx.Rollback()
		}
	} else {
		err = t.red.wrap("begin transaction", loc.String(), err)
	}
	if err != nil {
		if databaseMissing(err) {
			t.forget(loc)
		}
		return nil, err
	}
	return tx, nil
}

func (t *Target) validateRouted(ctx context.Context, tx *sql.Tx, m fleet.ShardMap, loc fleet.Location, mp fleet.Mapping) error {
	var row routedRow
	err := tx.QueryRowContext(ctx, RoutedMappingQuery, sql.Named("id", uid(mp.ID)), sql.Named("map", uid(m.ID))).Scan(&row.min, &row.max, &row.status)
	return t.checkRouted(m, loc, mp, row, err)
}

// routedRow is the LSM row RoutedMappingQuery read.
type routedRow struct {
	min, max []byte
	status   int
}

// checkRouted judges what RoutedMappingQuery answered (row, or the error
// of its Scan) for mapping mp: nil when the shard holds it online.
func (t *Target) checkRouted(m fleet.ShardMap, loc fleet.Location, mp fleet.Mapping, row routedRow, err error) error {
	const what = "validate mapping"
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return routedMismatch(what, loc, "the global shard map sends %s to %s, but that shard's local shard map does not hold the mapping (id %s)",
			elasticdb.BoundsText(m, mp.Min, mp.Max), loc, mp.ID)
	case hasNumber(err, errInvalidObject):
		// No __ShardManagement.ShardMappingsLocal: not a shard (any more).
		return routedMismatch(what, loc, "%s has no local shard map", loc)
	case err != nil:
		return t.red.wrap(what, loc.String(), err)
	}
	min, max := row.min, row.max
	if min == nil {
		min = []byte{}
	}
	if !bytes.Equal(min, mp.Min) || (max == nil) != (mp.Max == nil) || !bytes.Equal(max, mp.Max) {
		return routedMismatch(what, loc, "the global shard map has %s for mapping %s, the local shard map of %s %s",
			elasticdb.BoundsText(m, mp.Min, mp.Max), mp.ID, loc, elasticdb.BoundsText(m, min, max))
	}
	if row.status&1 != 1 {
		return &fleet.Error{Op: what, Target: loc.String(),
			Err:  fmt.Errorf("%w: %s is offline in the local shard map of %s", fleet.ResultMappingIsOffline, elasticdb.BoundsText(m, mp.Min, mp.Max), loc),
			Hint: "a move may be in progress; routing refuses offline shardlets"}
	}
	return nil
}

// routedMismatch is ResultMappingDoesNotExist: the caller looks the key up
// again in the global shard map.
func routedMismatch(what string, loc fleet.Location, format string, args ...any) error {
	return &fleet.Error{Op: what, Target: loc.String(),
		Err:  fmt.Errorf("%w: "+format, append([]any{fleet.ResultMappingDoesNotExist}, args...)...),
		Hint: "the mapping moved or changed since it was read; look it up again in the global shard map"}
}
