package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// run performs op: GSM begin, LSM(s), GSM end. A failure after GSM begin is
// rolled back at once (as the library does); a simulated crash is not.
func (t *Target) run(ctx context.Context, g *sql.DB, op *elasticdb.Operation) error {
	data, err := op.XML()
	if err != nil {
		return err
	}
	if err := t.gsmBegin(ctx, g, op, data); err != nil {
		return err
	}
	fail := func(cause error) error {
		if errors.Is(cause, errSimulatedCrash) {
			return cause
		}
		// Roll back on a fresh context: the caller's may be the reason we stop.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := t.undo(uctx, g, op); uerr != nil {
			return errors.Join(cause, fmt.Errorf("rolling back operation %s: %w (the next writer retries)", op.ID, uerr))
		}
		return cause
	}
	if err := t.reach(op, CrashAfterGSMBegin); err != nil {
		return fail(err)
	}
	if op.ShardOp {
		if err := t.lsmShardDo(ctx, op); err != nil {
			return fail(err)
		}
		if err := t.reach(op, CrashAfterLSMSource); err != nil {
			return fail(err)
		}
	} else {
		src, tgt := op.LSMChanges()
		if op.SameShard() {
			both := elasticdb.LSMChange{Shard: op.Source, Orig: op.OrigSource, Removes: src.Removes, Adds: tgt.Adds}
			if err := t.lsmDo(ctx, op, both); err != nil {
				return fail(err)
			}
			if err := t.reach(op, CrashAfterLSMSource); err != nil {
				return fail(err)
			}
		} else {
			if err := t.lsmDo(ctx, op, src); err != nil {
				return fail(err)
			}
			if err := t.reach(op, CrashAfterLSMSource); err != nil {
				return fail(err)
			}
			if err := t.lsmDo(ctx, op, tgt); err != nil {
				return fail(err)
			}
		}
	}
	if err := t.reach(op, CrashAfterLSMTarget); err != nil {
		return fail(err)
	}
	if err := t.gsmEnd(ctx, g, op); err != nil {
		return fail(err)
	}
	return nil
}

// lockedErr refuses a change of a mapping that another owner has locked,
// naming the owner.
func lockedErr(what string, m fleet.ShardMap, mp elasticdb.MappingRow, owner string, r fleet.StoreResult) error {
	o, _ := uuid.Parse(owner)
	op := &elasticdb.Operation{Map: m}
	return &fleet.Error{Op: what, Target: m.Name,
		Err: &fleet.MappingLockedError{Mapping: op.RangeText(mp), Owner: o, Result: r},
		Hint: "another run or tool holds this mapping (fleetplan runs lock the ranges they move with an owner derived from the run id); " +
			"wait for it to finish, or, if its owner is gone for good, clear LockOwnerId of the mapping in __ShardManagement_ShardMappingsGlobal " +
			"(the library's UnlockMapping) and plan again"}
}

func storeErr(op string, target string, r fleet.StoreResult, hint string) error {
	return &fleet.Error{Op: op, Target: target, Err: r, Hint: hint}
}
