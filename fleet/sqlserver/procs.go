package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// The shard map is written as the library's StoreOperation writes it: a
// session per database, each holding sp_getapplock on the operation's id
// (the library's own lock, so a .NET client does not undo an operation
// fleetplan is still running, and the other way round); the global Begin
// procedure, the local procedures of the source and the target, the global
// End procedure, each in its own repeatable-read transaction; and, on any
// failure after Begin, the library's undo.

// execer is a transaction, a session or a pool.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// call runs one of the library's procedures with its request document and
// turns its store result into an error (StoreErr) when it is not success.
func (t *Target) call(ctx context.Context, q execer, what, target, proc, doc string) error {
	var r int64
	if _, err := q.ExecContext(ctx, callProcSQL(proc), sql.Named("input", doc), sql.Named("result", sql.Out{Dest: &r})); err != nil {
		return t.red.wrap(what, target, err)
	}
	if fleet.StoreResult(r) != fleet.ResultSuccess {
		return elasticdb.StoreErr(what, target, fleet.StoreResult(r), resultHint(fleet.StoreResult(r)))
	}
	return nil
}

func resultHint(r fleet.StoreResult) string {
	switch r {
	case fleet.ResultStoreVersionMismatch:
		return "the shard map manager's store version changed; fleetplan writes version 1.x"
	case fleet.ResultPendingOperation:
		return "another operation is pending on the shard; it is rolled back first, or finishes, then retry"
	case fleet.ResultShardVersionMismatch:
		return "the shard changed meanwhile; read it again and retry"
	}
	return ""
}

// opSession is a pinned session of one database holding the operation's
// application lock.
type opSession struct {
	lock *appLock
}

// session pins a session of loc and takes the operation's lock on it,
// waiting up to LockTimeout for a live operation that holds it.
func (t *Target) session(ctx context.Context, loc fleet.Location, op uuid.UUID, wait time.Duration) (*opSession, bool, error) {
	db, err := t.db(loc)
	if err != nil {
		return nil, false, err
	}
	l, ok, err := getAppLock(ctx, db, op.String(), wait)
	if err != nil {
		return nil, false, t.red.wrap("lock operation "+op.String(), loc.String(), err)
	}
	if !ok {
		return nil, false, nil
	}
	return &opSession{lock: l}, true, nil
}

func (s *opSession) close() { s.lock.release() }

// inTx runs a procedure call in one repeatable-read transaction of the
// session, as the library's SqlStoreTransactionScope does for writes.
func (t *Target) inTx(ctx context.Context, s *opSession, what, target, proc, doc string) error {
	tx, err := s.lock.conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return t.red.wrap(what, target, err)
	}
	if err := t.call(ctx, tx, what, target, proc, doc); err != nil {
		tx.Rollback()
		return err
	}
	return t.red.wrap(what, target, tx.Commit())
}

// onSession runs fn on a session of loc holding the operation's lock.
func (t *Target) onSession(ctx context.Context, loc fleet.Location, op uuid.UUID, fn func(*opSession) error) error {
	s, ok, err := t.session(ctx, loc, op, t.cfg.LockTimeout)
	if err != nil {
		return err
	}
	if !ok {
		return elasticdb.StoreErr("lock operation", loc.String(), fleet.ResultPendingOperation,
			fmt.Sprintf("another client holds operation %s for longer than %s; retry later", op, t.cfg.LockTimeout))
	}
	defer s.close()
	return fn(s)
}

// requireLibrary refuses a write to a shard map manager that lacks the
// store's procedures (the library's, or fleetplan's own of the same
// contract; a store created by another tool may have neither): fleetplan
// writes only through them.
func (t *Target) requireLibrary(ctx context.Context) error {
	info, err := t.storeState(ctx)
	if err != nil {
		return err
	}
	if !info.deployed {
		return t.errNoStore("write shard map")
	}
	if err := checkStoreVersion(t.cfg.SMM(), info); err != nil {
		return err
	}
	if !info.library {
		return &fleet.Error{Op: "write shard map", Target: t.cfg.SMM().String(),
			Err:  fmt.Errorf("%w: the shard map manager has the library's tables but not its stored procedures", fleet.ErrStoreVersion),
			Hint: "fleetplan writes only through the Elastic Database library's procedures; upgrade the store with the library (ShardMapManager.UpgradeGlobalStore), which deploys them"}
	}
	return nil
}

func bulkProcs(op *elasticdb.Operation) (begin, end string) {
	if op.ShardOp {
		return spBulkShardsGlobalBegin, spBulkShardsGlobalEnd
	}
	return spBulkMappingsGlobalBegin, spBulkMappingsGlobalEnd
}

// run performs op. An operation of another client pending on the same rows
// (result 52) is rolled back first, as the library does, and op retried once.
func (t *Target) run(ctx context.Context, op *elasticdb.Operation) error {
	if err := t.requireLibrary(ctx); err != nil {
		return err
	}
	err := t.runOnce(ctx, op)
	if fleet.ResultOf(err) == fleet.ResultPendingOperation {
		if _, rerr := t.RecoverPending(ctx); rerr != nil {
			return errors.Join(err, rerr)
		}
		err = t.runOnce(ctx, op)
	}
	var fe *fleet.Error
	if fleet.ResultOf(err) == fleet.ResultPendingOperation && errors.As(err, &fe) {
		// Another client's live operation holds the rows: retrying later is
		// right, as the library's clients do.
		fe.Transient = true
	}
	return err
}

func (t *Target) runOnce(ctx context.Context, op *elasticdb.Operation) error {
	doc, err := gsmDoc(op, false)
	if err != nil {
		return err
	}
	what, target := op.FaultPoint(), op.Map.Name
	begin, end := bulkProcs(op)
	return t.onSession(ctx, t.cfg.SMM(), op.ID, func(g *opSession) error {
		if err := t.inTx(ctx, g, what, target, begin, doc); err != nil {
			return err // Begin rolled back: nothing is pending
		}
		err := t.local(ctx, op, false)
		if err == nil {
			err = t.inTx(ctx, g, what, target, end, doc)
		}
		if err != nil {
			// Roll back at once, on a fresh context: the caller's may be why we stop.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if uerr := t.undo(uctx, g, op); uerr != nil {
				return errors.Join(err, fmt.Errorf("rolling back operation %s: %w (the next writer, fleetplan's or the library's, rolls it back)", op.ID, uerr))
			}
		}
		return err
	})
}

// lsm runs a local procedure in the shard's database, on a session that
// holds the operation's lock.
func (t *Target) lsm(ctx context.Context, op *elasticdb.Operation, loc fleet.Location, proc, doc string) error {
	return t.onSession(ctx, loc, op.ID, func(s *opSession) error {
		return t.inTx(ctx, s, op.FaultPoint(), loc.String(), proc, doc)
	})
}

// goesOffline reports an update that takes an online mapping offline: the
// library then kills the routing sessions of the map on the source shard.
func goesOffline(op *elasticdb.Operation) bool {
	for _, s := range op.Steps {
		if s.Kind == elasticdb.StepUpdate && s.Mapping.Status&1 == 1 && s.New != nil && s.New.Status&1 == 0 {
			return true
		}
	}
	return false
}

// killSessions is spKillSessionsForShardMappingLocal, outside a
// transaction (KILL cannot run in one), as the library calls it.
func (t *Target) killSessions(ctx context.Context, op *elasticdb.Operation, loc fleet.Location) error {
	db, err := t.db(loc)
	if err != nil {
		return err
	}
	return t.call(ctx, db, "kill routing sessions", loc.String(), spKillSessions, killSessionsDoc(elasticdb.KillPattern(op.Map.ID)))
}

func withVersion(s elasticdb.ShardRow, v uuid.UUID) elasticdb.ShardRow {
	s.Version = v
	return s
}

// procCall is one call of a local procedure in a shard's database; kill
// is the session kill that follows it (outside any transaction).
type procCall struct {
	loc       fleet.Location
	proc, doc string
	kill      bool
}

// localCalls is the operation's local part as the library performs it
// (undo: its rollback, the target first), one call per shard database.
func localCalls(op *elasticdb.Operation, undo bool) []procCall {
	if op.ShardOp {
		return localShardCalls(op, undo)
	}
	src, tgt := op.LSMChanges()
	m := op.Map
	bulk := func(loc fleet.Location, undo bool, s elasticdb.ShardRow, removes, adds []elasticdb.MappingRow) procCall {
		return procCall{loc: loc, proc: spBulkMappingsLocal, doc: lsmMappingsDoc(op.ID, undo, m, s, removes, adds)}
	}
	switch {
	case op.SameShard() && undo:
		return []procCall{bulk(op.Source.Loc, true, withVersion(*op.Source, op.OrigSource), tgt.Adds, src.Removes)}
	case op.SameShard():
		c := bulk(op.Source.Loc, false, *op.Source, src.Removes, tgt.Adds)
		c.kill = goesOffline(op)
		return []procCall{c}
	case undo:
		return []procCall{
			bulk(op.Target.Loc, true, withVersion(*op.Target, op.OrigTarget), tgt.Adds, nil),
			bulk(op.Source.Loc, true, withVersion(*op.Source, op.OrigSource), nil, src.Removes),
		}
	}
	c := bulk(op.Source.Loc, false, *op.Source, src.Removes, nil)
	c.kill = goesOffline(op)
	return []procCall{c, bulk(op.Target.Loc, false, *op.Target, nil, tgt.Adds)}
}

// localShardCalls is the local part of a shard operation: spAddShardLocal,
// spRemoveShardLocal, spUpdateShardLocal, and their undos as the library's
// AddShardOperation, RemoveShardOperation, UpdateShardOperation and
// AttachShardOperation write them.
func localShardCalls(op *elasticdb.Operation, undo bool) []procCall {
	var out []procCall
	for _, s := range op.Steps {
		sh := *s.Shard
		c := procCall{loc: sh.Loc}
		switch {
		case op.Code == fleet.OpAttachShard && undo:
			continue // the shard row was the database's before: nothing to undo
		case op.Code == fleet.OpAttachShard:
			c.proc, c.doc = spUpdateShardLocal, updateShardLocalDoc(op.ID, op.Map, sh)
		case s.Kind == elasticdb.StepAdd && !undo:
			c.proc, c.doc = spAddShardLocal, addShardLocalDoc(op.ID, false, op.Map, sh)
		case s.Kind == elasticdb.StepAdd:
			c.proc, c.doc = spRemoveShardLocal, removeShardLocalDoc(op.ID, op.Map, sh)
		case s.Kind == elasticdb.StepRemove && !undo:
			c.proc, c.doc = spRemoveShardLocal, removeShardLocalDoc(op.ID, op.Map, sh)
		case s.Kind == elasticdb.StepRemove:
			c.proc, c.doc = spAddShardLocal, addShardLocalDoc(op.ID, true, op.Map, sh)
		case s.Kind == elasticdb.StepUpdate && !undo:
			c.proc, c.doc = spUpdateShardLocal, updateShardLocalDoc(op.ID, op.Map, *s.NewShard)
		default:
			c.proc, c.doc = spUpdateShardLocal, updateShardLocalDoc(op.ID, op.Map, sh)
		}
		out = append(out, c)
	}
	return out
}

// local performs localCalls. In an undo, a shard database that is gone has
// nothing left to undo.
func (t *Target) local(ctx context.Context, op *elasticdb.Operation, undo bool) error {
	for _, c := range localCalls(op, undo) {
		err := t.lsm(ctx, op, c.loc, c.proc, c.doc)
		if undo && errors.Is(err, fleet.ErrNoDatabase) {
			continue
		}
		if err != nil {
			return err
		}
		if c.kill {
			if err := t.killSessions(ctx, op, c.loc); err != nil {
				return err
			}
		}
	}
	return nil
}

// undo is the library's StoreOperation.Undo: record the undo's start in
// the log (spFindAndUpdateOperationLogEntryByIdGlobal), undo the target's
// and the source's local shard maps, then the global End with Undo = 1.
// Every part is idempotent, so an interrupted undo is simply run again.
func (t *Target) undo(ctx context.Context, g *opSession, op *elasticdb.Operation) error {
	what, target := "undo "+op.FaultPoint(), op.Map.Name
	if err := t.inTx(ctx, g, what, target, spFindAndUpdateLog, findAndUpdateLogDoc(op.ID, elasticdb.UndoBegin)); err != nil {
		return err
	}
	if err := t.local(ctx, op, true); err != nil {
		return err
	}
	doc, err := gsmDoc(op, true)
	if err != nil {
		return err
	}
	_, end := bulkProcs(op)
	return t.inTx(ctx, g, what, target, end, doc)
}

// logRows reads OperationsLogGlobal.
func (t *Target) logRows(ctx context.Context) ([]elasticdb.LogRow, error) {
	g, err := t.gsm()
	if err != nil {
		return nil, err
	}
	rows, err := g.QueryContext(ctx, LogRowsQuery)
	out, err := fleet.ScanAll(rows, err, scanLogRow)
	return out, t.red.wrap("read operations log", t.cfg.SMM().String(), err)
}

// RecoverPending implements fleet.ShardMapStore: every operation in
// OperationsLogGlobal whose owner is gone (its application lock is free) is
// rolled back with the library's undo, ours or the library's alike. An
// operation whose owner still holds its lock is left to it.
func (t *Target) RecoverPending(ctx context.Context) ([]uuid.UUID, error) {
	info, err := t.storeState(ctx)
	if err != nil || !info.deployed {
		return nil, err
	}
	if err := t.requireLibrary(ctx); err != nil {
		return nil, err
	}
	rows, err := t.logRows(ctx)
	if err != nil {
		return nil, err
	}
	var done []uuid.UUID
	for _, r := range rows {
		op, err := elasticdb.ParseLogRow(r)
		if err != nil {
			return done, &fleet.Error{Op: "recover pending operation", Target: r.ID.String(),
				Err:  fmt.Errorf("%w: cannot read OperationsLogGlobal.Data of operation code %d: %v", fleet.ResultUnexpectedStoreError, r.Code, err),
				Hint: "inspect the row in __ShardManagement.OperationsLogGlobal; fleetplan will not guess how to undo it"}
		}
		s, ok, err := t.session(ctx, t.cfg.SMM(), op.ID, 0)
		if err != nil {
			return done, err
		}
		if !ok {
			continue // its owner is alive and finishes or undoes it
		}
		err = t.undo(ctx, s, op)
		s.close()
		if err != nil {
			return done, err
		}
		done = append(done, op.ID)
	}
	return done, nil
}

// The library's scripts, in the order CreateShardMapManagerGlobalOperation
// and the local deployment run them: the version 1 create script, then
// every upgrade step (0.0 and 1000.0 always).
var (
	globalScripts = []string{"CreateShardMapManagerGlobal.sql", "UpgradeShardMapManagerGlobalFrom0.0To1.0.sql",
		"UpgradeShardMapManagerGlobalFrom1.0To1.1.sql", "UpgradeShardMapManagerGlobalFrom1.1To1.2.sql", "UpgradeShardMapManagerGlobalFrom1000.0To1000.1.sql"}
	localScripts = []string{"CreateShardMapManagerLocal.sql", "UpgradeShardMapManagerLocalFrom0.0To1.0.sql",
		"UpgradeShardMapManagerLocalFrom1.0To1.1.sql", "UpgradeShardMapManagerLocalFrom1.1To1.2.sql", "UpgradeShardMapManagerLocalFrom1000.0To1000.1.sql"}
)

// deployScript is what creates a shard map store in loc: the library's own
// scripts (files) from options.elasticdbScripts when it is set, fleetplan's
// own (own, ownstore.go) otherwise.
func (t *Target) deployScript(loc fleet.Location, what string, files []string, own string) (string, error) {
	dir := t.cfg.ElasticDBScripts
	if dir == "" {
		return own, nil
	}
	var script string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: %v", fleet.ErrNotFound, err),
				Hint: "options.elasticdbScripts must name the folder holding the library's " + files[0] + " and its upgrade scripts; " +
					"leave it out and fleetplan deploys its own procedures"}
		}
		script += string(b) + "\nGO\n"
	}
	return script, nil
}

// deploy creates the store in loc, in one transaction.
func (t *Target) deploy(ctx context.Context, loc fleet.Location, what string, files []string, own string) error {
	script, err := t.deployScript(loc, what, files, own)
	if err != nil {
		return err
	}
	_, err = t.runBatches(ctx, loc, what, script, "")
	return err
}

// ensureGlobal deploys the global shard map in a database that has none
// (deployScript), then checks the store.
func (t *Target) ensureGlobal(ctx context.Context) error {
	info, err := t.readStore(ctx)
	if err != nil {
		return err
	}
	if !info.deployed {
		if err := t.deploy(ctx, t.cfg.SMM(), "deploy shard map manager", globalScripts, ownGlobalScript()); err != nil {
			return err
		}
	}
	return t.requireLibrary(ctx)
}

// ensureLocal deploys the local shard map in a shard database that has none
// (the library's AddShardOperation does the same).
func (t *Target) ensureLocal(ctx context.Context, loc fleet.Location) error {
	db, err := t.db(loc)
	if err != nil {
		return err
	}
	var ok int
	if err := db.QueryRowContext(ctx, LocalDeployedQuery).Scan(&ok); err != nil {
		return t.red.wrap("add shard", loc.String(), err)
	}
	if ok == 1 {
		return nil
	}
	return t.deploy(ctx, loc, "deploy local shard map", localScripts, ownLocalScript())
}
