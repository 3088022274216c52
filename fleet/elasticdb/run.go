package elasticdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// Run performs op as the library's StoreOperation does: holding the
// operation's lock throughout, GSM begin, the source's and the target's LSM,
// GSM end, calling ex.Checkpoint at each phase boundary. When GSM begin
// meets another operation's rows (result 52), that operation is undone and
// begin tried again, but only once its lock is free: an operation whose
// owner still runs it is waited for (WithPendingWait), then refused with an
// *OperationRunningError. A failure after GSM begin is rolled back at once
// (as the library does); ErrSimulatedCrash is not, like a killed process.
func Run(ctx context.Context, ex Executor, op *Operation) error {
	data, err := op.XML()
	if err != nil {
		return err
	}
	release, err := ex.LockOperation(ctx, op.ID, time.Minute)
	if err != nil {
		return &fleet.Error{Op: op.FaultPoint(), Target: op.ID.String(), Err: fmt.Errorf("taking the operation's lock: %w", err)}
	}
	defer release()
	if err := beginResolving(ctx, ex, op, data); err != nil {
		return err
	}
	if err := runLocal(ctx, ex, op); err != nil {
		if errors.Is(err, ErrSimulatedCrash) {
			return err
		}
		// Roll back on a fresh context: the caller's may be the reason we stop.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := Undo(uctx, ex, op); uerr != nil {
			return errors.Join(err, fmt.Errorf("rolling back operation %s: %w (the next writer retries)", op.ID, uerr))
		}
		return err
	}
	return nil
}

// runLocal is every phase after GSM begin.
func runLocal(ctx context.Context, ex Executor, op *Operation) error {
	if err := ex.Checkpoint(op, CrashAfterGSMBegin); err != nil {
		return err
	}
	if op.ShardOp {
		if err := lsmShardDo(ctx, ex, op); err != nil {
			return err
		}
		if err := ex.Checkpoint(op, CrashAfterLSMSource); err != nil {
			return err
		}
	} else {
		src, tgt := op.LSMChanges()
		if op.SameShard() {
			if err := lsmDo(ctx, ex, op, op.sameShardChange(src, tgt)); err != nil {
				return err
			}
			if err := ex.Checkpoint(op, CrashAfterLSMSource); err != nil {
				return err
			}
		} else {
			if err := lsmDo(ctx, ex, op, src); err != nil {
				return err
			}
			if err := ex.Checkpoint(op, CrashAfterLSMSource); err != nil {
				return err
			}
			if err := lsmDo(ctx, ex, op, tgt); err != nil {
				return err
			}
		}
	}
	if err := ex.Checkpoint(op, CrashAfterLSMTarget); err != nil {
		return err
	}
	return gsmEnd(ctx, ex, op)
}

// sameShardChange is the one LSM change of an operation on one shard.
func (op *Operation) sameShardChange(src, tgt LSMChange) LSMChange {
	return LSMChange{Shard: op.Source, Orig: op.OrigSource, Removes: src.Removes, Adds: tgt.Adds}
}

// Undo rolls an operation back from any point, as the library's
// StoreOperation.Undo does: UndoStartState, LSM target, LSM source, then the
// GSM (spBulkOperation...GlobalEnd with Undo = 1). Every part is
// idempotent, so an undo interrupted by another crash is simply run again.
func Undo(ctx context.Context, ex Executor, op *Operation) error {
	if err := ex.GSM(ctx, "undo "+op.FaultPoint(), func(tx GSMTx) error {
		return tx.SetUndoStartState(ctx, op.ID, UndoBegin)
	}); err != nil {
		return err
	}
	if op.ShardOp {
		if err := lsmShardUndo(ctx, ex, op); err != nil {
			return err
		}
	} else {
		src, tgt := op.LSMChanges()
		if op.SameShard() {
			if err := lsmUndo(ctx, ex, op, op.sameShardChange(src, tgt)); err != nil {
				return err
			}
		} else {
			if err := lsmUndo(ctx, ex, op, tgt); err != nil {
				return err
			}
			if err := lsmUndo(ctx, ex, op, src); err != nil {
				return err
			}
		}
	}
	return gsmUndo(ctx, ex, op)
}

// RecoverPending rolls back every operation in OperationsLogGlobal, ours or
// the library's, whose owner is gone (its lock is free), oldest first, and
// returns their ids. An operation whose owner still runs it is left alone.
// A row whose Data does not parse stops it: it is never guessed at.
func RecoverPending(ctx context.Context, ex Executor) ([]uuid.UUID, error) {
	pending, err := logRows(ctx, ex)
	if err != nil {
		return nil, err
	}
	var done []uuid.UUID
	for _, r := range pending {
		undone, err := undoUnowned(ctx, ex, r.ID, 0)
		var running *OperationRunningError
		if errors.As(err, &running) {
			continue
		}
		if err != nil {
			return done, err
		}
		if undone {
			done = append(done, r.ID)
		}
	}
	return done, nil
}

// Pending is a pending operation as a layout shows it, with the shard map
// its document names (uuid.Nil when the document does not parse).
type Pending struct {
	Op    fleet.PendingOperation
	MapID uuid.UUID
}

// PendingOperations describes log rows for a layout.
func PendingOperations(rows []LogRow) []Pending {
	out := make([]Pending, 0, len(rows))
	for _, r := range rows {
		p := Pending{Op: fleet.PendingOperation{ID: r.ID, Code: r.Code, Name: fleet.OperationName(r.Code), UndoStartState: r.UndoStartState,
			ShardVersionRemoves: r.ShardVersionRemoves, ShardVersionAdds: r.ShardVersionAdds}}
		if op, err := ParseLogRow(r); err == nil {
			p.MapID = op.Map.ID
		}
		out = append(out, p)
	}
	return out
}
