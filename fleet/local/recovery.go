package local

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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

// DifferingRows counts the rows of table in r on dst for which src holds a
// row with the same primary key but other values, with their lowest and
// highest key: the rows a move of misplaced rows keeps where they are (it
// copies only what is missing and deletes only equal copies), so doctor
// does not plan one over them. A table without a primary key has none.
func (t *Target) DifferingRows(ctx context.Context, src, dst fleet.Location, table, keyCol string, r fleet.KeyRange) (n int64, min, max any, err error) {
	const what = "compare rows"
	conn, release, err := t.attach(ctx, src, dst)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { release(err == nil) }()
	ti, err := tableInfo(ctx, conn, dst, table)
	if err != nil || len(ti.PrimaryKey) == 0 {
		return 0, nil, nil, err
	}
	where, args, err := keyFilter("d."+quoteIdent(keyCol), r)
	if err != nil {
		return 0, nil, nil, &fleet.Error{Op: what, Target: dst.String(), Err: err}
	}
	eq := make([]string, len(ti.PrimaryKey))
	for i, c := range ti.PrimaryKey {
		eq[i] = "s." + quoteIdent(c) + " IS d." + quoteIdent(c)
	}
	k := "d." + quoteIdent(keyCol)
	q := fmt.Sprintf(`SELECT count(*), min(%s), max(%s) FROM main.%s AS d WHERE %s AND EXISTS (SELECT 1 FROM src.%s AS s WHERE %s) AND NOT %s`,
		k, k, quoteIdent(table), where, quoteIdent(table), strings.Join(eq, " AND "), sameRow(table, ti.Columns))
	err = conn.QueryRowContext(ctx, q, args...).Scan(&n, &min, &max)
	return n, min, max, sqlErr(what+" "+table, dst, err)
}
