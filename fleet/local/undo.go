package local

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// undo rolls an operation back from any point: LSM target, LSM source, then
// the GSM (spBulkOperation...GlobalEnd with Undo = 1). Every part is
// idempotent, so an undo interrupted by another crash is simply run again.
func (t *Target) undo(ctx context.Context, g *sql.DB, op *elasticdb.Operation) error {
	if _, err := g.ExecContext(ctx, `UPDATE `+tOpsLogGlobal+` SET UndoStartState = ? WHERE OperationId = ?`, elasticdb.UndoBegin, op.ID.String()); err != nil {
		return sqlErr("undo "+op.FaultPoint(), fleet.Location{}, err)
	}
	if op.ShardOp {
		if err := t.lsmShardUndo(ctx, op); err != nil {
			return err
		}
	} else {
		src, tgt := op.LSMChanges()
		if op.SameShard() {
			both := elasticdb.LSMChange{Shard: op.Source, Orig: op.OrigSource, Removes: src.Removes, Adds: tgt.Adds}
			if err := t.lsmUndo(ctx, op, both); err != nil {
				return err
			}
		} else {
			if err := t.lsmUndo(ctx, op, tgt); err != nil {
				return err
			}
			if err := t.lsmUndo(ctx, op, src); err != nil {
				return err
			}
		}
	}
	return t.gsmUndo(ctx, g, op)
}

func (t *Target) lsmUndo(ctx context.Context, op *elasticdb.Operation, c elasticdb.LSMChange) error {
	what := "undo " + op.FaultPoint()
	loc := c.Shard.Loc
	exists, err := t.DatabaseExists(ctx, loc)
	if err != nil || !exists {
		return err
	}
	db, has, err := t.openLSM(ctx, loc)
	if err != nil || !has {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	var last string
	err = tx.QueryRowContext(ctx, `SELECT LastOperationId FROM `+tShardsLocal+` WHERE ShardId = ?`, c.Shard.ID.String()).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && last != op.ID.String()) {
		return nil // this operation never reached the shard
	}
	if err != nil {
		return sqlErr(what, loc, err)
	}
	for _, m := range c.Adds {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+tMappingsLocal+` WHERE MappingId = ?`, m.ID.String()); err != nil {
			return sqlErr(what, loc, err)
		}
	}
	for _, m := range c.Removes {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+tMappingsLocal+`(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
			VALUES(?, ?, ?, ?, ?, ?, ?)`, m.ID.String(), c.Shard.ID.String(), m.MapID.String(), keyArg(m.Min), keyArg(m.Max), m.Status, op.ID.String()); err != nil {
			return sqlErr(what, loc, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ? WHERE ShardId = ?`, c.Orig.String(), c.Shard.ID.String()); err != nil {
		return sqlErr(what, loc, err)
	}
	return sqlErr(what, loc, tx.Commit())
}

func (t *Target) lsmShardUndo(ctx context.Context, op *elasticdb.Operation) error {
	what := "undo " + op.FaultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		exists, err := t.DatabaseExists(ctx, sh.Loc)
		if err != nil {
			return err
		}
		if !exists {
			continue
		}
		db, has, err := t.openLSM(ctx, sh.Loc)
		if err != nil {
			return err
		}
		switch s.Kind {
		case elasticdb.StepAdd:
			if !has {
				continue
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return sqlErr(what, sh.Loc, err)
			}
			_, err1 := tx.ExecContext(ctx, `DELETE FROM `+tShardsLocal+` WHERE ShardId = ? AND LastOperationId = ?`, sh.ID.String(), op.ID.String())
			_, err2 := tx.ExecContext(ctx, `DELETE FROM `+tMapsLocal+` WHERE ShardMapId = ? AND LastOperationId = ?
				AND NOT EXISTS (SELECT 1 FROM `+tShardsLocal+` WHERE ShardMapId = ?)`, sh.MapID.String(), op.ID.String(), sh.MapID.String())
			if err := errors.Join(err1, err2); err != nil {
				tx.Rollback()
				return sqlErr(what, sh.Loc, err)
			}
			if err := tx.Commit(); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		case elasticdb.StepRemove:
			if !has {
				if _, err := db.ExecContext(ctx, lsmDDL); err != nil {
					return sqlErr(what, sh.Loc, err)
				}
			}
			if err := lsmInsertShard(ctx, db, op, sh); err != nil {
				return err
			}
		case elasticdb.StepUpdate:
			if !has {
				continue
			}
			if _, err := db.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, Status = ?, ServerName = ?, DatabaseName = ?
				WHERE ShardId = ? AND LastOperationId = ?`, sh.Version.String(), sh.Status, sh.Loc.Server, sh.Loc.Database,
				sh.ID.String(), op.ID.String()); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		}
	}
	return nil
}

func (t *Target) gsmUndo(ctx context.Context, g *sql.DB, op *elasticdb.Operation) error {
	what := "undo " + op.FaultPoint()
	tx, err := g.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	for _, q := range []string{
		`DELETE FROM ` + tMappingsGlobal + ` WHERE OperationId = ? AND Readable = 0`,
		`UPDATE ` + tMappingsGlobal + ` SET OperationId = NULL WHERE OperationId = ?`,
		`DELETE FROM ` + tShardsGlobal + ` WHERE OperationId = ? AND Readable = 0`,
		`UPDATE ` + tShardsGlobal + ` SET OperationId = NULL WHERE OperationId = ?`,
		`DELETE FROM ` + tOpsLogGlobal + ` WHERE OperationId = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, opID); err != nil {
			return sqlErr(what, fleet.Location{}, err)
		}
	}
	return sqlErr(what, fleet.Location{}, tx.Commit())
}
