package local

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

var _ fleet.ShardConnector = (*Target)(nil)

// ShardDB implements fleet.ShardConnector: the target's pool of the
// database (query-only connections when the database is read-only).
func (t *Target) ShardDB(ctx context.Context, loc fleet.Location) (*sql.DB, error) {
	return t.db(ctx, loc)
}

// BeginRoutedTx implements fleet.ShardConnector. A write transaction of
// the driver begins with BEGIN IMMEDIATE, so it holds the database's write
// lock from its start: a mover's change of this LSM waits for it to end. A
// read-only transaction reads one WAL snapshot, in which the LSM and the
// rows agree.
func (t *Target) BeginRoutedTx(ctx context.Context, conn *sql.Conn, opts *sql.TxOptions, m fleet.ShardMap, loc fleet.Location, mp fleet.Mapping) (*sql.Tx, error) {
	const what = "validate mapping"
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, sqlErr("begin transaction", loc, err)
	}
	err = lsmHolds(ctx, tx, what, m, loc, mp, "the mapping moved or changed since it was read; look it up again in the global shard map")
	if err != nil && !errors.Is(err, fleet.ResultMappingDoesNotExist) && !errors.Is(err, fleet.ResultMappingIsOffline) {
		// A database without a local shard map holds no mapping.
		if has, terr := tableExists(ctx, tx, tMappingsLocal); terr == nil && !has {
			err = &fleet.Error{Op: what, Target: loc.String(),
				Err:  fmt.Errorf("%w: %s has no local shard map", fleet.ResultMappingDoesNotExist, loc),
				Hint: "the database is no longer a shard of the map; look the key up again in the global shard map"}
		}
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// lsmHolds checks that the LSM read through q holds mapping mp (same id and
// bounds) online: ResultMappingDoesNotExist (with hint) when it does not
// hold it, ResultMappingIsOffline when it is offline. Routing reads only
// these, as spValidateShardMappingLocal does.
func lsmHolds(ctx context.Context, q querier, what string, m fleet.ShardMap, loc fleet.Location, mp fleet.Mapping, hint string) error {
	bounds := elasticdb.BoundsText(m, mp.Min, mp.Max)
	differ := func(format string, args ...any) error {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: "+format, append([]any{fleet.ResultMappingDoesNotExist}, args...)...), Hint: hint}
	}
	var min, max []byte
	var maxNull bool
	var status int
	err := q.QueryRowContext(ctx, `SELECT MinValue, MaxValue, MaxValue IS NULL, Status FROM `+tMappingsLocal+` WHERE MappingId = ? AND ShardMapId = ?`,
		mp.ID.String(), m.ID.String()).Scan(&min, &max, &maxNull, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return differ("the global shard map sends %s to %s, but that shard's local shard map does not hold the mapping (id %s)", bounds, loc, mp.ID)
	}
	if err != nil {
		return sqlErr(what, loc, err)
	}
	lmin, lmax := scanKeys(min, max, maxNull)
	if !bytes.Equal(lmin, mp.Min) || (lmax == nil) != (mp.Max == nil) || !bytes.Equal(lmax, mp.Max) {
		return differ("the global shard map has %s for mapping %s, the local shard map of %s %s", bounds, mp.ID, loc, elasticdb.BoundsText(m, lmin, lmax))
	}
	if status&1 != 1 {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: %s is offline in the local shard map of %s", fleet.ResultMappingIsOffline, bounds, loc),
			Hint: "a move may be in progress; routing refuses offline shardlets"}
	}
	return nil
}
