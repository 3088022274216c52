package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// ---- crash simulation and fault points ----

// errSimulatedCrash stops an operation dead, as a killed process would.
var errSimulatedCrash = errors.New("simulated crash")

// Crash points of a multi-database operation, for SimulateCrash.
const (
	CrashAfterGSMBegin  = "gsm-begin"  // log row and pending GSM rows committed
	CrashAfterLSMSource = "lsm-source" // source shard's LSM committed
	CrashAfterLSMTarget = "lsm-target" // target shard's LSM committed, GSM end not run
)

// SimulateCrash makes the next shard map operation that reaches point stop
// there without cleaning up, returning an error, exactly as if the process
// had been killed. The next writer's RecoverPending rolls it back. For tests.
func (t *Target) SimulateCrash(point string) {
	t.crashMu.Lock()
	t.crashAt = point
	t.crashMu.Unlock()
}

// reach marks that an operation passed a point: a simulated crash, then the
// fault injection point shardmap.<op> (hit once per point, so the Nth hit
// of an operation is its Nth phase boundary).
func (t *Target) reach(op *elasticdb.Operation, point string) error {
	t.crashMu.Lock()
	crash := t.crashAt == point
	if crash {
		t.crashAt = ""
	}
	t.crashMu.Unlock()
	if crash {
		return fmt.Errorf("%s after %s: %w", op.FaultPoint(), point, errSimulatedCrash)
	}
	return faults.Hit(op.FaultPoint())
}

// ---- writer lock ----

// lockWriters serialises shard map writers: a mutex inside the process and a
// file lock across processes (released by the kernel if the holder dies).
func (t *Target) lockWriters(ctx context.Context) (func(), error) {
	t.writeMu.Lock()
	ok, err := t.flock.TryLockContext(ctx, 10*time.Millisecond)
	if err != nil || !ok {
		t.writeMu.Unlock()
		if err == nil {
			err = errors.New("lock not acquired")
		}
		return nil, &fleet.Error{Op: "lock shard map store", Target: t.dir, Err: err, Transient: ctx.Err() == nil}
	}
	return func() {
		_ = t.flock.Unlock()
		t.writeMu.Unlock()
	}, nil
}

// write runs fn with the writer lock held, after rolling back operations
// left pending by crashed writers. create deploys the GSM when missing.
func (t *Target) write(ctx context.Context, create bool, fn func(g *sql.DB) error) error {
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	g, err := t.gsm(ctx, create)
	if err != nil {
		return err
	}
	if g == nil {
		return &fleet.Error{Op: "change shard map", Target: t.dir, Err: fleet.ResultShardMapDoesNotExist,
			Hint: "the fleet has no shard maps yet; create one first"}
	}
	if _, err := t.recoverLocked(ctx, g); err != nil {
		return err
	}
	return fn(g)
}

// RecoverPending implements fleet.ShardMapStore.
func (t *Target) RecoverPending(ctx context.Context) ([]uuid.UUID, error) {
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	g, err := t.gsm(ctx, false)
	if err != nil || g == nil {
		return nil, err
	}
	return t.recoverLocked(ctx, g)
}

func (t *Target) recoverLocked(ctx context.Context, g *sql.DB) ([]uuid.UUID, error) {
	rows, err := g.QueryContext(ctx, `SELECT OperationId, OperationCode, Data, ShardVersionRemoves, ShardVersionAdds
		FROM `+tOpsLogGlobal+` ORDER BY rowid`)
	if err != nil {
		return nil, sqlErr("read operations log", fleet.Location{}, err)
	}
	type logRow struct {
		id, data      string
		code          int
		removes, adds sql.NullString
	}
	var pending []logRow
	for rows.Next() {
		var r logRow
		if err := rows.Scan(&r.id, &r.code, &r.data, &r.removes, &r.adds); err != nil {
			rows.Close()
			return nil, err
		}
		pending = append(pending, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var done []uuid.UUID
	for _, r := range pending {
		op, err := elasticdb.ParseOperation(r.code, r.data, r.removes, r.adds)
		if err != nil {
			return done, &fleet.Error{Op: "recover pending operation", Target: r.id,
				Err:  fmt.Errorf("%w: cannot read OperationsLogGlobal.Data of operation code %d: %v", fleet.ResultUnexpectedStoreError, r.code, err),
				Hint: "inspect the row in __ShardManagement_OperationsLogGlobal; fleetplan will not guess how to undo it"}
		}
		if err := t.undo(ctx, g, op); err != nil {
			return done, err
		}
		done = append(done, op.ID)
	}
	return done, nil
}

// ---- doing an operation ----

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

// ---- undo ----

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
