package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// gsmBegin is spBulkOperationShard(Mapping)sGlobalBegin: validate, write the
// log row, lock rows with OperationId, insert pending rows (Readable = 0).
func (t *Target) gsmBegin(ctx context.Context, g *sql.DB, op *elasticdb.Operation, data string) error {
	what := op.FaultPoint()
	tx, err := g.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	var removes, adds any
	if !op.ShardOp {
		removes, adds = op.OrigSource.String(), op.OrigTarget.String()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+tOpsLogGlobal+`(OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds)
		VALUES(?, ?, ?, ?, ?, ?)`, opID, op.Code, data, elasticdb.UndoBegin, removes, adds); err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	if op.ShardOp {
		if err := gsmBeginShardSteps(ctx, tx, op); err != nil {
			return err
		}
		return sqlErr(what, fleet.Location{}, tx.Commit())
	}
	shards := []struct {
		s    *elasticdb.ShardRow
		orig uuid.UUID
	}{{op.Source, op.OrigSource}}
	if !op.SameShard() {
		shards = append(shards, struct {
			s    *elasticdb.ShardRow
			orig uuid.UUID
		}{op.Target, op.OrigTarget})
	}
	for _, sh := range shards {
		var ver string
		var readable int
		var opCol sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT Version, Readable, OperationId FROM `+tShardsGlobal+` WHERE ShardId = ?`, sh.s.ID.String()).
			Scan(&ver, &readable, &opCol)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && readable != 1):
			return storeErr(what, sh.s.Loc.String(), fleet.ResultShardDoesNotExist, "")
		case err != nil:
			return sqlErr(what, sh.s.Loc, err)
		case opCol.Valid && opCol.String != opID:
			return storeErr(what, sh.s.Loc.String(), fleet.ResultPendingOperation, "retry: the next writer rolls the pending operation back")
		case ver != sh.orig.String():
			return storeErr(what, sh.s.Loc.String(), fleet.ResultShardVersionMismatch, "the shard changed meanwhile; read it again and retry")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsGlobal+` SET OperationId = ? WHERE ShardId = ?`, opID, sh.s.ID.String()); err != nil {
			return sqlErr(what, sh.s.Loc, err)
		}
	}
	for _, s := range op.Steps {
		switch s.Kind {
		case elasticdb.StepRemove, elasticdb.StepUpdate:
			var status int
			var owner string
			var opCol sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT Status, LockOwnerId, OperationId FROM `+tMappingsGlobal+`
				WHERE MappingId = ? AND ShardMapId = ? AND Readable = 1`, s.Mapping.ID.String(), op.Map.ID.String()).Scan(&status, &owner, &opCol)
			target := op.Map.Name + "/" + s.Mapping.ID.String()
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return storeErr(what, target, fleet.ResultMappingDoesNotExist, "mapping ids change on every update; look the mapping up again by key")
			case err != nil:
				return sqlErr(what, fleet.Location{}, err)
			case opCol.Valid:
				return storeErr(what, target, fleet.ResultPendingOperation, "retry: the next writer rolls the pending operation back")
			case owner != s.Lock.String() && s.Lock != fleet.ForceUnlock:
				return lockedErr(what, op.Map, s.Mapping, owner, fleet.ResultMappingLockOwnerIDDiff)
			case s.Kind == elasticdb.StepRemove && elasticdb.IsRemoveCode(op.Code) && status&1 != 0:
				return storeErr(what, target, fleet.ResultMappingNotOffline, "take the mapping offline first")
			case s.Kind == elasticdb.StepUpdate && status&1 != 0 && s.New.Status&1 != 0 && op.Source.ID != op.Target.ID:
				return storeErr(what, target, fleet.ResultMappingNotOffline, "take the mapping offline before moving it to another shard")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET OperationId = ? WHERE MappingId = ?`, opID, s.Mapping.ID.String()); err != nil {
				return sqlErr(what, fleet.Location{}, err)
			}
		case elasticdb.StepAdd:
			if s.Validate {
				if r := overlap(ctx, tx, op, s.Mapping); r != nil {
					return r
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO `+tMappingsGlobal+`(MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status, LockOwnerId)
				VALUES(?, 0, ?, ?, ?, ?, ?, ?, ?)`, s.Mapping.ID.String(), op.Target.ID.String(), op.Map.ID.String(), opID,
				keyArg(s.Mapping.Min), keyArg(s.Mapping.Max), s.Mapping.Status, s.Mapping.LockOwner.String())
			if err != nil {
				return sqlErr(what, fleet.Location{}, err)
			}
		}
	}
	return sqlErr(what, fleet.Location{}, tx.Commit())
}

// overlap checks an added mapping against the readable mappings that this
// operation does not remove: 302 (range) / 303 (point).
func overlap(ctx context.Context, tx *sql.Tx, op *elasticdb.Operation, m elasticdb.MappingRow) error {
	var n int
	var err error
	if op.Map.Type == fleet.ListMap {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardMapId = ? AND Readable = 1
			AND (OperationId IS NULL OR OperationId <> ?) AND MinValue = ?`, op.Map.ID.String(), op.ID.String(), keyArg(m.Min)).Scan(&n)
		if err == nil && n > 0 {
			return storeErr(op.FaultPoint(), op.Map.Name, fleet.ResultMappingPointMapped, "the point is already mapped")
		}
	} else {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardMapId = ? AND Readable = 1
			AND (OperationId IS NULL OR OperationId <> ?)
			AND (MaxValue IS NULL OR MaxValue > ?) AND (? IS NULL OR MinValue < ?)`,
			op.Map.ID.String(), op.ID.String(), keyArg(m.Min), keyArg(m.Max), keyArg(m.Max)).Scan(&n)
		if err == nil && n > 0 {
			return storeErr(op.FaultPoint(), op.Map.Name, fleet.ResultMappingRangeMapped, "the range overlaps an existing mapping")
		}
	}
	if err != nil {
		return sqlErr(op.FaultPoint(), fleet.Location{}, err)
	}
	return nil
}

func gsmBeginShardSteps(ctx context.Context, tx *sql.Tx, op *elasticdb.Operation) error {
	what := op.FaultPoint()
	opID := op.ID.String()
	for _, s := range op.Steps {
		sh := s.Shard
		switch s.Kind {
		case elasticdb.StepAdd:
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tShardsGlobal+` WHERE ShardMapId = ? AND Protocol = 0 AND Port = 0
				AND ServerName = ? AND DatabaseName = ?`, sh.MapID.String(), sh.Loc.Server, sh.Loc.Database).Scan(&n); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
			if n > 0 {
				return storeErr(what, sh.Loc.String(), fleet.ResultShardLocationExists, "")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+tShardsGlobal+`(ShardId, Readable, Version, ShardMapId, OperationId, Protocol, ServerName, Port, DatabaseName, Status)
				VALUES(?, 0, ?, ?, ?, 0, ?, 0, ?, ?)`, sh.ID.String(), sh.Version.String(), sh.MapID.String(), opID,
				sh.Loc.Server, sh.Loc.Database, sh.Status); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		case elasticdb.StepRemove, elasticdb.StepUpdate:
			var ver string
			var opCol sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT Version, OperationId FROM `+tShardsGlobal+` WHERE ShardId = ? AND Readable = 1`, sh.ID.String()).Scan(&ver, &opCol)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return storeErr(what, sh.Loc.String(), fleet.ResultShardDoesNotExist, "")
			case err != nil:
				return sqlErr(what, sh.Loc, err)
			case opCol.Valid:
				return storeErr(what, sh.Loc.String(), fleet.ResultPendingOperation, "retry: the next writer rolls the pending operation back")
			case ver != sh.Version.String():
				return storeErr(what, sh.Loc.String(), fleet.ResultShardVersionMismatch, "the shard changed meanwhile; read it again and retry")
			}
			if s.Kind == elasticdb.StepRemove {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardId = ?`, sh.ID.String()).Scan(&n); err != nil {
					return sqlErr(what, sh.Loc, err)
				}
				if n > 0 {
					return storeErr(what, sh.Loc.String(), fleet.ResultShardHasMappings,
						fmt.Sprintf("%d mapping(s) still point at the shard; move or remove them first", n))
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsGlobal+` SET OperationId = ? WHERE ShardId = ?`, opID, sh.ID.String()); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		}
	}
	return nil
}

// gsmEnd is spBulkOperationShard(Mapping)sGlobalEnd: apply the new versions,
// make added rows readable, delete removed rows, rewrite updated rows (with a
// new MappingId), release the rows and delete the log row.
func (t *Target) gsmEnd(ctx context.Context, g *sql.DB, op *elasticdb.Operation) error {
	what := op.FaultPoint()
	tx, err := g.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return sqlErr(what, fleet.Location{}, err)
	}
	if op.ShardOp {
		for _, s := range op.Steps {
			var err error
			switch s.Kind {
			case elasticdb.StepAdd:
				err = exec(`UPDATE `+tShardsGlobal+` SET Readable = 1, OperationId = NULL WHERE ShardId = ? AND OperationId = ?`, s.Shard.ID.String(), opID)
			case elasticdb.StepRemove:
				err = exec(`DELETE FROM `+tShardsGlobal+` WHERE ShardId = ? AND OperationId = ?`, s.Shard.ID.String(), opID)
			case elasticdb.StepUpdate:
				n := s.NewShard
				err = exec(`UPDATE `+tShardsGlobal+` SET Version = ?, Status = ?, OperationId = NULL WHERE ShardId = ? AND OperationId = ?`,
					n.Version.String(), n.Status, s.Shard.ID.String(), opID)
			}
			if err != nil {
				return err
			}
		}
	} else {
		for _, sh := range []*elasticdb.ShardRow{op.Source, op.Target} {
			if err := exec(`UPDATE `+tShardsGlobal+` SET Version = ?, OperationId = NULL WHERE ShardId = ? AND OperationId = ?`,
				sh.Version.String(), sh.ID.String(), opID); err != nil {
				return err
			}
		}
		for _, kind := range []int{elasticdb.StepRemove, elasticdb.StepUpdate, elasticdb.StepAdd} {
			for _, s := range op.Steps {
				if s.Kind != kind {
					continue
				}
				var err error
				switch kind {
				case elasticdb.StepRemove:
					err = exec(`DELETE FROM `+tMappingsGlobal+` WHERE MappingId = ? AND OperationId = ?`, s.Mapping.ID.String(), opID)
				case elasticdb.StepUpdate:
					err = exec(`UPDATE `+tMappingsGlobal+` SET MappingId = ?, ShardId = ?, Status = ?, OperationId = NULL
						WHERE MappingId = ? AND OperationId = ?`, s.New.ID.String(), op.Target.ID.String(), s.New.Status, s.Mapping.ID.String(), opID)
				case elasticdb.StepAdd:
					err = exec(`UPDATE `+tMappingsGlobal+` SET Readable = 1, OperationId = NULL WHERE MappingId = ? AND OperationId = ?`,
						s.Mapping.ID.String(), opID)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	if err := exec(`DELETE FROM `+tOpsLogGlobal+` WHERE OperationId = ?`, opID); err != nil {
		return err
	}
	return sqlErr(what, fleet.Location{}, tx.Commit())
}
