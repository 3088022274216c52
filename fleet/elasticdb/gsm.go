package elasticdb

import (
	"context"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// gsmBegin is spBulkOperationShard(Mapping)sGlobalBegin: validate, write the
// log row, lock rows with OperationId, insert pending rows (Readable = 0).
func gsmBegin(ctx context.Context, ex Executor, op *Operation, data string) error {
	what := op.FaultPoint()
	return ex.GSM(ctx, what, func(tx GSMTx) error {
		row := LogRow{ID: op.ID, Code: op.Code, Data: data, UndoStartState: UndoBegin}
		if !op.ShardOp {
			rem, add := op.OrigSource, op.OrigTarget
			row.ShardVersionRemoves, row.ShardVersionAdds = &rem, &add
		}
		if err := tx.InsertLog(ctx, row); err != nil {
			return err
		}
		if op.ShardOp {
			return gsmBeginShardSteps(ctx, tx, op)
		}
		return gsmBeginMappingSteps(ctx, tx, op)
	})
}

// heldByOther reports whether a row is held by an operation other than op.
func heldByOther(rowOp *uuid.UUID, op uuid.UUID) bool { return rowOp != nil && *rowOp != op }

func gsmBeginMappingSteps(ctx context.Context, tx GSMTx, op *Operation) error {
	what := op.FaultPoint()
	type shardVer struct {
		s    *ShardRow
		orig uuid.UUID
	}
	shards := []shardVer{{op.Source, op.OrigSource}}
	if !op.SameShard() {
		shards = append(shards, shardVer{op.Target, op.OrigTarget})
	}
	for _, sh := range shards {
		row, err := tx.Shard(ctx, sh.s.ID)
		switch {
		case err != nil:
			return err
		case row == nil || !row.Readable:
			return StoreErr(what, sh.s.Loc.String(), fleet.ResultShardDoesNotExist, "")
		case heldByOther(row.OperationID, op.ID):
			return conflictErr(what, sh.s.Loc.String(), *row.OperationID)
		case row.Version != sh.orig:
			return StoreErr(what, sh.s.Loc.String(), fleet.ResultShardVersionMismatch, "the shard changed meanwhile; read it again and retry")
		}
		row.OperationID = &op.ID
		if err := tx.UpdateShard(ctx, *row); err != nil {
			return err
		}
	}
	for _, s := range op.Steps {
		switch s.Kind {
		case StepRemove, StepUpdate:
			row, err := tx.Mapping(ctx, op.Map.ID, s.Mapping.ID)
			target := op.Map.Name + "/" + s.Mapping.ID.String()
			switch {
			case err != nil:
				return err
			case row == nil || !row.Readable:
				return StoreErr(what, target, fleet.ResultMappingDoesNotExist, "mapping ids change on every update; look the mapping up again by key")
			case row.OperationID != nil:
				return conflictErr(what, target, *row.OperationID)
			case row.LockOwner != s.Lock: // no ForceUnlock here: the library's Begin compares the ids
				return LockedErr(what, op.Map, s.Mapping, row.LockOwner, fleet.ResultMappingLockOwnerIDDiff)
			case s.Kind == StepRemove && IsRemoveCode(op.Code) && row.Status&1 != 0:
				return StoreErr(what, target, fleet.ResultMappingNotOffline, "take the mapping offline first")
			case s.Kind == StepUpdate && row.Status&1 != 0 && s.New.Status&1 != 0 && op.Source.ID != op.Target.ID:
				return StoreErr(what, target, fleet.ResultMappingNotOffline, "take the mapping offline before moving it to another shard")
			}
			row.OperationID = &op.ID
			if err := tx.UpdateMapping(ctx, row.ID, *row); err != nil {
				return err
			}
		case StepAdd:
			if s.Validate {
				if err := overlap(ctx, tx, op, s.Mapping); err != nil {
					return err
				}
			}
			if err := tx.InsertMapping(ctx, GSMMapping{MappingRow: s.Mapping, ShardID: op.Target.ID, OperationID: &op.ID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlap checks an added mapping as the library's Begin does with
// Validate = 1: a row (readable or not) that shares a key is 302 (range) /
// 303 (point), unless another operation holds it, which is 52: that
// operation may still add or remove it. Rows this operation holds do not
// count.
func overlap(ctx context.Context, tx GSMTx, op *Operation, m MappingRow) error {
	rows, err := tx.MappingsOverlapping(ctx, op.Map, m.Min, m.Max)
	if err != nil {
		return err
	}
	var pending *uuid.UUID
	for _, r := range rows {
		switch {
		case r.OperationID != nil && *r.OperationID == op.ID:
			continue
		case r.OperationID != nil:
			pending = r.OperationID
		case op.Map.Type == fleet.ListMap:
			return StoreErr(op.FaultPoint(), op.Map.Name, fleet.ResultMappingPointMapped, "the point is already mapped")
		default:
			return StoreErr(op.FaultPoint(), op.Map.Name, fleet.ResultMappingRangeMapped, "the range overlaps an existing mapping")
		}
	}
	if pending != nil {
		return conflictErr(op.FaultPoint(), op.Map.Name, *pending)
	}
	return nil
}

func gsmBeginShardSteps(ctx context.Context, tx GSMTx, op *Operation) error {
	what := op.FaultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		switch s.Kind {
		case StepAdd:
			at, err := tx.ShardAt(ctx, sh.MapID, sh.Loc)
			if err != nil {
				return err
			}
			switch {
			case at != nil && heldByOther(at.OperationID, op.ID):
				// The library's Begin: a pending operation at the same
				// location is reconciled first (52), not a location clash.
				return conflictErr(what, sh.Loc.String(), *at.OperationID)
			case at != nil:
				return StoreErr(what, sh.Loc.String(), fleet.ResultShardLocationExists, "")
			}
			if err := tx.InsertShard(ctx, GSMShard{ShardRow: *sh, OperationID: &op.ID}); err != nil {
				return err
			}
		case StepRemove, StepUpdate:
			row, err := tx.Shard(ctx, sh.ID)
			switch {
			case err != nil:
				return err
			case row == nil || !row.Readable:
				return StoreErr(what, sh.Loc.String(), fleet.ResultShardDoesNotExist, "")
			case row.OperationID != nil:
				return conflictErr(what, sh.Loc.String(), *row.OperationID)
			case row.Version != sh.Version:
				return StoreErr(what, sh.Loc.String(), fleet.ResultShardVersionMismatch, "the shard changed meanwhile; read it again and retry")
			}
			if s.Kind == StepRemove {
				n, err := tx.MappingCount(ctx, sh.ID)
				if err != nil {
					return err
				}
				if n > 0 {
					return StoreErr(what, sh.Loc.String(), fleet.ResultShardHasMappings,
						fmt.Sprintf("%d mapping(s) still point at the shard; move or remove them first", n))
				}
			}
			row.OperationID = &op.ID
			if err := tx.UpdateShard(ctx, *row); err != nil {
				return err
			}
		}
	}
	return nil
}

// gsmEnd is spBulkOperationShard(Mapping)sGlobalEnd: apply the new versions,
// make added rows readable, delete removed rows, rewrite updated rows (with a
// new MappingId), release the rows and delete the log row. Only rows that
// the operation holds are touched.
func gsmEnd(ctx context.Context, ex Executor, op *Operation) error {
	return ex.GSM(ctx, op.FaultPoint(), func(tx GSMTx) error {
		shards, err := tx.ShardsOfOperation(ctx, op.ID)
		if err != nil {
			return err
		}
		held := map[uuid.UUID]GSMShard{}
		for _, s := range shards {
			held[s.ID] = s
		}
		if op.ShardOp {
			for _, s := range op.Steps {
				row, ok := held[s.Shard.ID]
				if !ok {
					continue
				}
				row.OperationID = nil
				switch s.Kind {
				case StepAdd:
					row.Readable = true
					err = tx.UpdateShard(ctx, row)
				case StepRemove:
					err = tx.DeleteShard(ctx, row.ID)
				case StepUpdate:
					row.Version, row.Status = s.NewShard.Version, s.NewShard.Status
					err = tx.UpdateShard(ctx, row)
				}
				if err != nil {
					return err
				}
			}
			return tx.DeleteLog(ctx, op.ID)
		}
		for _, sh := range []*ShardRow{op.Source, op.Target} {
			row, ok := held[sh.ID]
			if !ok {
				continue
			}
			delete(held, sh.ID)
			row.Version, row.OperationID = sh.Version, nil
			if err := tx.UpdateShard(ctx, row); err != nil {
				return err
			}
		}
		mappings, err := tx.MappingsOfOperation(ctx, op.ID)
		if err != nil {
			return err
		}
		heldM := map[uuid.UUID]GSMMapping{}
		for _, m := range mappings {
			heldM[m.ID] = m
		}
		for _, kind := range []int{StepRemove, StepUpdate, StepAdd} {
			for _, s := range op.Steps {
				row, ok := heldM[s.Mapping.ID]
				if s.Kind != kind || !ok {
					continue
				}
				row.OperationID = nil
				switch kind {
				case StepRemove:
					err = tx.DeleteMapping(ctx, row.ID)
				case StepUpdate:
					old := row.ID
					row.ID, row.ShardID, row.Status = s.New.ID, op.Target.ID, s.New.Status
					err = tx.UpdateMapping(ctx, old, row)
				case StepAdd:
					row.Readable = true
					err = tx.UpdateMapping(ctx, row.ID, row)
				}
				if err != nil {
					return err
				}
			}
		}
		return tx.DeleteLog(ctx, op.ID)
	})
}

// gsmUndo is spBulkOperationShard(Mapping)sGlobalEnd with Undo = 1: delete
// the operation's pending rows, release the rows it holds, delete its log
// row.
func gsmUndo(ctx context.Context, ex Executor, op *Operation) error {
	return ex.GSM(ctx, "undo "+op.FaultPoint(), func(tx GSMTx) error {
		mappings, err := tx.MappingsOfOperation(ctx, op.ID)
		if err != nil {
			return err
		}
		for _, m := range mappings {
			if !m.Readable {
				err = tx.DeleteMapping(ctx, m.ID)
			} else {
				m.OperationID = nil
				err = tx.UpdateMapping(ctx, m.ID, m)
			}
			if err != nil {
				return err
			}
		}
		shards, err := tx.ShardsOfOperation(ctx, op.ID)
		if err != nil {
			return err
		}
		for _, s := range shards {
			if !s.Readable {
				err = tx.DeleteShard(ctx, s.ID)
			} else {
				s.OperationID = nil
				err = tx.UpdateShard(ctx, s)
			}
			if err != nil {
				return err
			}
		}
		return tx.DeleteLog(ctx, op.ID)
	})
}
