package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// openLSM opens a shard's database and reports whether its LSM is deployed
// (checking the store version when it is).
func (t *Target) openLSM(ctx context.Context, loc fleet.Location) (*sql.DB, bool, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, false, err
	}
	has, err := tableExists(ctx, db, tSMMLocal)
	if err != nil {
		return nil, false, sqlErr("open local shard map", loc, err)
	}
	if has {
		if err := checkStoreVersion(ctx, db, tSMMLocal, loc); err != nil {
			return nil, false, err
		}
	}
	return db, has, nil
}

// lsmDo is spBulkOperationShardMappingsLocal: new shard version, removes,
// adds, LastOperationId. Re-entrant: a shard already at the new version by
// this operation is left alone.
func (t *Target) lsmDo(ctx context.Context, op *elasticdb.Operation, c elasticdb.LSMChange) error {
	what := op.FaultPoint()
	loc := c.Shard.Loc
	db, has, err := t.openLSM(ctx, loc)
	if err != nil {
		return err
	}
	if !has {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard has no local shard map", fleet.ResultShardDoesNotExist),
			Hint: differenceHint(op.Map.Name, "the shard's database has no local shard map")}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	var ver, last string
	err = tx.QueryRowContext(ctx, `SELECT Version, LastOperationId FROM `+tShardsLocal+` WHERE ShardId = ?`, c.Shard.ID.String()).Scan(&ver, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard's LSM lacks its own shard row", fleet.ResultShardDoesNotExist),
			Hint: differenceHint(op.Map.Name, "the shard's local shard map lacks its own shard row")}
	}
	if err != nil {
		return sqlErr(what, loc, err)
	}
	if ver == c.Shard.Version.String() && last == op.ID.String() {
		return nil
	}
	// The LSM must be where the GSM says it is: a shard restored to an
	// earlier point (or changed by another tool) is refused, never written
	// over, so the two maps do not drift further apart.
	differ := func(r fleet.StoreResult, format string, args ...any) error {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: "+format, append([]any{r}, args...)...),
			Hint: differenceHint(op.Map.Name, "the global and local shard maps differ")}
	}
	if ver != c.Orig.String() {
		return differ(fleet.ResultShardVersionMismatch, "the shard's local shard map is at version %s, the global shard map expects %s", ver, c.Orig)
	}
	opID := op.ID.String()
	if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, LastOperationId = ? WHERE ShardId = ?`,
		c.Shard.Version.String(), opID, c.Shard.ID.String()); err != nil {
		return sqlErr(what, loc, err)
	}
	for _, m := range c.Removes {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+tMappingsLocal+` WHERE MappingId = ?`, m.ID.String())
		if err != nil {
			return sqlErr(what, loc, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return differ(fleet.ResultMappingDoesNotExist, "the shard's local shard map lacks mapping %s (id %s)", op.RangeText(m), m.ID)
		}
	}
	for _, m := range c.Adds {
		if other, err := lsmOverlap(ctx, tx, op.Map, m); err != nil {
			return sqlErr(what, loc, err)
		} else if other != nil {
			return differ(fleet.ResultMappingRangeMapped, "the shard's local shard map already maps %s (mapping id %s), which overlaps %s",
				op.RangeText(*other), other.ID, op.RangeText(m))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+tMappingsLocal+`(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
			VALUES(?, ?, ?, ?, ?, ?, ?)`, m.ID.String(), c.Shard.ID.String(), m.MapID.String(), keyArg(m.Min), keyArg(m.Max), m.Status, opID); err != nil {
			return sqlErr(what, loc, err)
		}
	}
	return sqlErr(what, loc, tx.Commit())
}

// lsmOverlap returns a mapping of the LSM that overlaps m (range maps) or
// holds its point (list maps), or nil.
func lsmOverlap(ctx context.Context, q querier, m fleet.ShardMap, add elasticdb.MappingRow) (*elasticdb.MappingRow, error) {
	var row *sql.Row
	if m.Type == fleet.ListMap {
		row = q.QueryRowContext(ctx, `SELECT MappingId, MinValue, MaxValue, MaxValue IS NULL FROM `+tMappingsLocal+`
			WHERE ShardMapId = ? AND MinValue = ? LIMIT 1`, m.ID.String(), keyArg(add.Min))
	} else {
		row = q.QueryRowContext(ctx, `SELECT MappingId, MinValue, MaxValue, MaxValue IS NULL FROM `+tMappingsLocal+`
			WHERE ShardMapId = ? AND (MaxValue IS NULL OR MaxValue > ?) AND (? IS NULL OR MinValue < ?) LIMIT 1`,
			m.ID.String(), keyArg(add.Min), keyArg(add.Max), keyArg(add.Max))
	}
	var id string
	var min, max []byte
	var maxNull bool
	err := row.Scan(&id, &min, &max, &maxNull)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := elasticdb.MappingRow{MapID: m.ID}
	if r.ID, err = elasticdb.ParseID(id); err != nil {
		return nil, err
	}
	r.Min, r.Max = scanKeys(min, max, maxNull)
	return &r, nil
}

// differenceHint is the hint for a change refused because the global and a
// local shard map differ: where to see the differences, and what works today.
func differenceHint(mapName, what string) string {
	return what + ": `fleetplan layout --shard-map " + mapName + "` lists the differences between the global and local shard maps; " +
		"automated recovery (ShardMapRecovery plans) is not built yet, so restore the shard database from a backup taken after its last " +
		"shard map change, or rebuild its local shard map from the global one with the Elastic Database library's RecoveryManager, then plan again"
}

// lsmShardDo applies a shard operation to the shard's own database.
func (t *Target) lsmShardDo(ctx context.Context, op *elasticdb.Operation) error {
	what := op.FaultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		switch s.Kind {
		case elasticdb.StepAdd:
			db, has, err := t.openLSM(ctx, sh.Loc)
			if err != nil {
				return err
			}
			if !has {
				if _, err := db.ExecContext(ctx, lsmDDL); err != nil {
					return sqlErr("deploy local shard map", sh.Loc, err)
				}
			}
			if err := lsmInsertShard(ctx, db, op, sh); err != nil {
				return err
			}
		case elasticdb.StepRemove:
			exists, err := t.DatabaseExists(ctx, sh.Loc)
			if err != nil {
				return err
			}
			if !exists {
				continue // nothing left to clean in a dropped database
			}
			db, has, err := t.openLSM(ctx, sh.Loc)
			if err != nil || !has {
				return err
			}
			if err := lsmDeleteShard(ctx, db, sh); err != nil {
				return err
			}
		case elasticdb.StepUpdate:
			db, has, err := t.openLSM(ctx, sh.Loc)
			if err != nil {
				return err
			}
			if !has {
				return &fleet.Error{Op: what, Target: sh.Loc.String(), Err: fmt.Errorf("%w: the shard has no local shard map", fleet.ResultShardDoesNotExist)}
			}
			n := s.NewShard
			if _, err := db.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, Status = ?, ServerName = ?, DatabaseName = ?, LastOperationId = ?
				WHERE ShardId = ?`, n.Version.String(), n.Status, n.Loc.Server, n.Loc.Database, op.ID.String(), sh.ID.String()); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		}
	}
	return nil
}

func lsmInsertShard(ctx context.Context, db *sql.DB, op *elasticdb.Operation, sh *elasticdb.ShardRow) error {
	what := op.FaultPoint()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, sh.Loc, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+tMapsLocal+`(ShardMapId, Name, MapType, KeyType, LastOperationId)
		VALUES(?, ?, ?, ?, ?)`, sh.MapID.String(), op.Map.Name, int(op.Map.Type), int(op.Map.KeyType), opID); err != nil {
		return sqlErr(what, sh.Loc, err)
	}
	// A stale row for this map and location (left by an earlier shard that
	// was removed from the GSM only) is replaced when it maps nothing.
	var stale sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT ShardId FROM `+tShardsLocal+` WHERE ShardMapId = ? AND ShardId <> ?`, sh.MapID.String(), sh.ID.String()).Scan(&stale)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return sqlErr(what, sh.Loc, err)
	}
	if stale.Valid {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsLocal+` WHERE ShardId = ?`, stale.String).Scan(&n); err != nil {
			return sqlErr(what, sh.Loc, err)
		}
		if n > 0 {
			return &fleet.Error{Op: what, Target: sh.Loc.String(),
				Err: fmt.Errorf("%w: the database's LSM already holds shard %s of this map with %d mapping(s)", fleet.ResultShardExists, stale.String, n),
				Hint: "the database was a shard of this map before and its local shard map still maps keys: `fleetplan layout --shard-map " + op.Map.Name +
					"` shows them; automated recovery (ShardMapRecovery plans) is not built yet, so attach it with the Elastic Database library's RecoveryManager.AttachShard, or delete its stale __ShardManagement_*Local rows by hand, then plan again"}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+tShardsLocal+` WHERE ShardId = ?`, stale.String); err != nil {
			return sqlErr(what, sh.Loc, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+tShardsLocal+`(ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status, LastOperationId)
		VALUES(?, ?, ?, 0, ?, 0, ?, ?, ?)`, sh.ID.String(), sh.Version.String(), sh.MapID.String(), sh.Loc.Server, sh.Loc.Database, sh.Status, opID); err != nil {
		return sqlErr(what, sh.Loc, err)
	}
	return sqlErr(what, sh.Loc, tx.Commit())
}

func lsmDeleteShard(ctx context.Context, db *sql.DB, sh *elasticdb.ShardRow) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr("remove shard", sh.Loc, err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM ` + tMappingsLocal + ` WHERE ShardId = ?`,
		`DELETE FROM ` + tShardsLocal + ` WHERE ShardId = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, sh.ID.String()); err != nil {
			return sqlErr("remove shard", sh.Loc, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+tMapsLocal+` WHERE ShardMapId = ?
		AND NOT EXISTS (SELECT 1 FROM `+tShardsLocal+` WHERE ShardMapId = ?)`, sh.MapID.String(), sh.MapID.String()); err != nil {
		return sqlErr("remove shard", sh.Loc, err)
	}
	return sqlErr("remove shard", sh.Loc, tx.Commit())
}
