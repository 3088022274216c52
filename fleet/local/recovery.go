package local

import (
	"context"
	"database/sql"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

var (
	_ elasticdb.Recoverer     = (*Target)(nil)
	_ elasticdb.RecoveryGSMTx = gsmTx{}
)

// Recover implements elasticdb.Recoverer: fn runs with the writers' lock
// held, after pending operations whose owner is gone were rolled back (one
// still running refuses it: elasticdb.UndoPending).
func (t *Target) Recover(ctx context.Context, fn func(ex elasticdb.Executor) error) error {
	return t.write(ctx, false, func(g *sql.DB) error {
		ex := t.executor(g)
		if err := elasticdb.UndoPending(ctx, ex); err != nil {
			return err
		}
		return fn(ex)
	})
}

// ShardsOfMap implements elasticdb.RecoveryGSMTx.
func (g gsmTx) ShardsOfMap(ctx context.Context, mapID uuid.UUID) ([]elasticdb.GSMShard, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmShardCols+` WHERE ShardMapId = ? ORDER BY ServerName, DatabaseName`, mapID.String())
	return fleet.ScanAll(rows, err, scanGSMShard)
}

// MappingsOfMap implements elasticdb.RecoveryGSMTx.
func (g gsmTx) MappingsOfMap(ctx context.Context, mapID uuid.UUID) ([]elasticdb.GSMMapping, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmMappingCols+` WHERE ShardMapId = ? ORDER BY MinValue, Readable`, mapID.String())
	return fleet.ScanAll(rows, err, scanGSMMapping)
}

// KeyBounds returns the lowest and the highest key of table's rows in r
// (nil, nil when it holds none): doctor names misplaced rows by their own
// keys rather than by the batch it read them in.
func (t *Target) KeyBounds(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (min, max any, err error) {
	db, err := t.readDB(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	where, args, err := keyFilter(quoteIdent(keyCol), r)
	if err != nil {
		return nil, nil, &fleet.Error{Op: "read key bounds", Target: loc.String(), Err: err}
	}
	k := quoteIdent(keyCol)
	err = db.QueryRowContext(ctx, `SELECT min(`+k+`), max(`+k+`) FROM `+quoteIdent(table)+` WHERE `+where, args...).Scan(&min, &max)
	return min, max, sqlErr("read key bounds of "+table, loc, err)
}
