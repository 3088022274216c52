package elasticdb

import (
	"context"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// lsmDo is spBulkOperationShardMappingsLocal: new shard version, removes,
// adds, LastOperationId. Re-entrant: a shard already at the new version by
// this operation is left alone. The LSM must be where the GSM says it is: a
// shard restored to an earlier point (or changed by another tool) is
// refused, never written over, so the two maps do not drift further apart.
func lsmDo(ctx context.Context, ex Executor, op *Operation, c LSMChange) error {
	what := op.FaultPoint()
	loc := c.Shard.Loc
	state, err := ex.LSM(ctx, what, loc, LSMOpen{}, func(tx LSMTx) error {
		row, err := tx.Shard(ctx, c.Shard.ID)
		if err != nil {
			return err
		}
		if row == nil {
			return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard's LSM lacks its own shard row", fleet.ResultShardDoesNotExist),
				Hint: DifferenceHint(op.Map.Name, "the shard's local shard map lacks its own shard row")}
		}
		if row.Version == c.Shard.Version && row.LastOperationID == op.ID {
			return nil
		}
		if row.Version != c.Orig {
			return differ(what, loc, op.Map.Name, fleet.ResultShardVersionMismatch,
				"the shard's local shard map is at version %s, the global shard map expects %s", row.Version, c.Orig)
		}
		row.Version, row.LastOperationID = c.Shard.Version, op.ID
		if err := tx.UpdateShard(ctx, *row); err != nil {
			return err
		}
		for _, m := range c.Removes {
			have, err := tx.Mapping(ctx, m.ID)
			if err != nil {
				return err
			}
			if have == nil {
				return differ(what, loc, op.Map.Name, fleet.ResultMappingDoesNotExist,
					"the shard's local shard map lacks mapping %s (id %s)", op.RangeText(m), m.ID)
			}
			if err := tx.DeleteMapping(ctx, m.ID); err != nil {
				return err
			}
		}
		for _, m := range c.Adds {
			other, err := tx.MappingOverlapping(ctx, op.Map, m.Min, m.Max)
			if err != nil {
				return err
			}
			if other != nil {
				return differ(what, loc, op.Map.Name, fleet.ResultMappingRangeMapped,
					"the shard's local shard map already maps %s (mapping id %s), which overlaps %s",
					op.RangeText(other.MappingRow), other.ID, op.RangeText(m))
			}
			if err := tx.InsertMapping(ctx, LSMMapping{MappingRow: m, ShardID: c.Shard.ID, LastOperationID: op.ID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && state != LSMReady {
		err = &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard has no local shard map", fleet.ResultShardDoesNotExist),
			Hint: DifferenceHint(op.Map.Name, "the shard's database has no local shard map")}
	}
	return err
}

// lsmUndo undoes lsmDo: the operation's adds go, its removes come back, the
// shard gets its version before the operation. A shard the operation never
// reached (LastOperationId another's) is left alone.
func lsmUndo(ctx context.Context, ex Executor, op *Operation, c LSMChange) error {
	_, err := ex.LSM(ctx, "undo "+op.FaultPoint(), c.Shard.Loc, LSMOpen{IfExists: true}, func(tx LSMTx) error {
		row, err := tx.Shard(ctx, c.Shard.ID)
		if err != nil || row == nil || row.LastOperationID != op.ID {
			return err
		}
		for _, m := range c.Adds {
			if err := tx.DeleteMapping(ctx, m.ID); err != nil {
				return err
			}
		}
		for _, m := range c.Removes {
			have, err := tx.Mapping(ctx, m.ID)
			if err != nil {
				return err
			}
			if have != nil {
				continue
			}
			if err := tx.InsertMapping(ctx, LSMMapping{MappingRow: m, ShardID: c.Shard.ID, LastOperationID: op.ID}); err != nil {
				return err
			}
		}
		row.Version = c.Orig
		return tx.UpdateShard(ctx, *row)
	})
	return err
}

// lsmShardDo applies a shard operation to the shard's own database:
// spAddShardLocal (deploying the LSM), spRemoveShardLocal, spUpdateShardLocal.
func lsmShardDo(ctx context.Context, ex Executor, op *Operation) error {
	what := op.FaultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		var err error
		switch {
		case s.Kind == StepAdd && op.Code == fleet.OpAttachShard:
			// AttachShardOperation's LSM step is spUpdateShardLocal: the
			// shard row the database holds gets its new location.
			_, err = ex.LSM(ctx, what, sh.Loc, LSMOpen{}, func(tx LSMTx) error {
				row, err := tx.Shard(ctx, sh.ID)
				if err != nil || row == nil {
					return err
				}
				row.Loc, row.LastOperationID = sh.Loc, op.ID
				return tx.UpdateShard(ctx, *row)
			})
		case s.Kind == StepAdd:
			_, err = ex.LSM(ctx, what, sh.Loc, LSMOpen{Deploy: true}, func(tx LSMTx) error { return lsmInsertShard(ctx, tx, op, sh) })
		case s.Kind == StepRemove:
			// Nothing is left to clean in a dropped database.
			_, err = ex.LSM(ctx, "remove shard", sh.Loc, LSMOpen{IfExists: true}, func(tx LSMTx) error { return lsmDeleteShard(ctx, tx, sh) })
		case s.Kind == StepUpdate:
			var state LSMState
			n := s.NewShard
			state, err = ex.LSM(ctx, what, sh.Loc, LSMOpen{}, func(tx LSMTx) error {
				row, err := tx.Shard(ctx, sh.ID)
				if err != nil || row == nil {
					return err
				}
				row.Version, row.Status, row.Loc, row.LastOperationID = n.Version, n.Status, n.Loc, op.ID
				return tx.UpdateShard(ctx, *row)
			})
			if err == nil && state != LSMReady {
				err = &fleet.Error{Op: what, Target: sh.Loc.String(), Err: fmt.Errorf("%w: the shard has no local shard map", fleet.ResultShardDoesNotExist)}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lsmShardUndo undoes lsmShardDo, touching only rows this operation wrote.
// An AttachShard's LSM undo is a no-op, as the library's is: the shard row
// was the database's before the operation.
func lsmShardUndo(ctx context.Context, ex Executor, op *Operation) error {
	if op.Code == fleet.OpAttachShard {
		return nil
	}
	what := "undo " + op.FaultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		var err error
		switch s.Kind {
		case StepAdd:
			_, err = ex.LSM(ctx, what, sh.Loc, LSMOpen{IfExists: true}, func(tx LSMTx) error {
				row, err := tx.Shard(ctx, sh.ID)
				if err != nil {
					return err
				}
				if row != nil && row.LastOperationID == op.ID {
					if err := tx.DeleteShard(ctx, sh.ID); err != nil {
						return err
					}
				}
				return deleteMapIfUnused(ctx, tx, sh, &op.ID)
			})
		case StepRemove:
			_, err = ex.LSM(ctx, what, sh.Loc, LSMOpen{IfExists: true, Deploy: true}, func(tx LSMTx) error { return lsmInsertShard(ctx, tx, op, sh) })
		case StepUpdate:
			_, err = ex.LSM(ctx, what, sh.Loc, LSMOpen{IfExists: true}, func(tx LSMTx) error {
				row, err := tx.Shard(ctx, sh.ID)
				if err != nil || row == nil || row.LastOperationID != op.ID {
					return err
				}
				row.Version, row.Status, row.Loc = sh.Version, sh.Status, sh.Loc
				return tx.UpdateShard(ctx, *row)
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteMapIfUnused deletes the LSM's row of the shard's map when no shard
// of the map is left (and, with by set, only when that operation wrote it).
func deleteMapIfUnused(ctx context.Context, tx LSMTx, sh *ShardRow, by *uuid.UUID) error {
	m, err := tx.Map(ctx, sh.MapID)
	if err != nil || m == nil || (by != nil && m.LastOperationID != *by) {
		return err
	}
	left, err := tx.ShardsOfMap(ctx, sh.MapID)
	if err != nil || len(left) > 0 {
		return err
	}
	return tx.DeleteMap(ctx, sh.MapID)
}

func lsmInsertShard(ctx context.Context, tx LSMTx, op *Operation, sh *ShardRow) error {
	what := op.FaultPoint()
	m, err := tx.Map(ctx, sh.MapID)
	if err != nil {
		return err
	}
	if m == nil {
		if err := tx.InsertMap(ctx, LSMMap{Map: fleet.ShardMap{ID: sh.MapID, Name: op.Map.Name, Type: op.Map.Type, KeyType: op.Map.KeyType},
			LastOperationID: op.ID}); err != nil {
			return err
		}
	}
	// A stale row for this map and location (left by an earlier shard that
	// was removed from the GSM only) is replaced when it maps nothing.
	others, err := tx.ShardsOfMap(ctx, sh.MapID)
	if err != nil {
		return err
	}
	var have bool
	for _, o := range others {
		if o.ID == sh.ID {
			have = true
			continue
		}
		mps, err := tx.MappingsOfShard(ctx, o.ID)
		if err != nil {
			return err
		}
		if n := len(mps); n > 0 {
			return &fleet.Error{Op: what, Target: sh.Loc.String(),
				Err: fmt.Errorf("%w: the database's LSM already holds shard %s of this map with %d mapping(s)", fleet.ResultShardExists, o.ID, n),
				Hint: "the database was a shard of this map before and its local shard map still maps keys: `fleetplan layout --shard-map " + op.Map.Name +
					"` shows them; attach it with a ShardMapRecovery plan (`fleetplan doctor --write-plan FILE` writes one), or delete its stale __ShardManagement_*Local rows by hand, then plan again"}
		}
		if err := tx.DeleteShard(ctx, o.ID); err != nil {
			return err
		}
	}
	if have {
		return nil
	}
	return tx.InsertShard(ctx, LSMShard{ShardRow: *sh, LastOperationID: op.ID})
}

func lsmDeleteShard(ctx context.Context, tx LSMTx, sh *ShardRow) error {
	mps, err := tx.MappingsOfShard(ctx, sh.ID)
	if err != nil {
		return err
	}
	for _, m := range mps {
		if err := tx.DeleteMapping(ctx, m.ID); err != nil {
			return err
		}
	}
	if err := tx.DeleteShard(ctx, sh.ID); err != nil {
		return err
	}
	return deleteMapIfUnused(ctx, tx, sh, nil)
}
