package local

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// executor runs the Elastic Database protocol's statements against the
// SQLite files of a fleet: g is the shard map manager database.
type executor struct {
	t *Target
	g *sql.DB
}

var _ elasticdb.Executor = executor{}

func (t *Target) executor(g *sql.DB) executor { return executor{t: t, g: g} }

// inTx runs fn in a transaction of db; errors that fleetplan did not make
// are classified by their SQLite code (sqlErr).
func inTx(ctx context.Context, db *sql.DB, what string, loc fleet.Location, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return sqlErr(what, loc, err)
	}
	return sqlErr(what, loc, tx.Commit())
}

func (e executor) GSM(ctx context.Context, what string, fn func(elasticdb.GSMTx) error) error {
	stmts := e.t.stmts(e.g)
	return inTx(ctx, e.g, what, fleet.Location{}, func(tx *sql.Tx) error { return fn(gsmTx{ptx{tx, stmts}}) })
}

func (e executor) LSM(ctx context.Context, what string, loc fleet.Location, open elasticdb.LSMOpen, fn func(elasticdb.LSMTx) error) (elasticdb.LSMState, error) {
	if open.IfExists {
		exists, err := e.t.DatabaseExists(ctx, loc)
		if err != nil {
			return elasticdb.LSMNoDatabase, err
		}
		if !exists {
			return elasticdb.LSMNoDatabase, nil
		}
	}
	db, has, err := e.t.openLSM(ctx, loc)
	if err != nil {
		return elasticdb.LSMNotDeployed, err
	}
	if !has {
		if !open.Deploy {
			return elasticdb.LSMNotDeployed, nil
		}
		if _, err := db.ExecContext(ctx, lsmDDL); err != nil {
			return elasticdb.LSMNotDeployed, sqlErr("deploy local shard map", loc, err)
		}
	}
	stmts := e.t.stmts(db)
	return elasticdb.LSMReady, inTx(ctx, db, what, loc, func(tx *sql.Tx) error { return fn(lsmTx{ptx{tx, stmts}}) })
}

func (e executor) Checkpoint(op *elasticdb.Operation, point string) error {
	return e.t.reach(op, point)
}

// openLSM opens a shard's database and reports whether its LSM is deployed
// (checking the store version when it is).
func (t *Target) openLSM(ctx context.Context, loc fleet.Location) (*sql.DB, bool, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, false, err
	}
	return t.checkLSM(ctx, loc, db)
}

// observeLSM is openLSM for reads only (see observeDB).
func (t *Target) observeLSM(ctx context.Context, loc fleet.Location) (*sql.DB, bool, error) {
	db, err := t.observeDB(ctx, loc)
	if err != nil {
		return nil, false, err
	}
	return t.checkLSM(ctx, loc, db)
}

func (t *Target) checkLSM(ctx context.Context, loc fleet.Location, db *sql.DB) (*sql.DB, bool, error) {
	has, err := tableExists(ctx, t.pq(db), tSMMLocal)
	if err != nil {
		return nil, false, sqlErr("open local shard map", loc, err)
	}
	if has {
		if err := checkStoreVersion(ctx, t.pq(db), tSMMLocal, loc); err != nil {
			return nil, false, err
		}
	}
	return db, has, nil
}

func optID(u *uuid.UUID) any {
	if u == nil {
		return nil
	}
	return u.String()
}

func scanID(s string, dst *uuid.UUID) error {
	u, err := elasticdb.ParseID(s)
	*dst = u
	return err
}

// one turns a single-row query's "no rows" into nil.
func one[T any](v *T, err error) (*T, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gsmTx is elasticdb.GSMTx on the shard map manager database.
type gsmTx struct{ tx ptx }

func (g gsmTx) LogRows(ctx context.Context) ([]elasticdb.LogRow, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds
		FROM `+tOpsLogGlobal+` ORDER BY rowid`)
	return fleet.ScanAll(rows, err, func(sc interface{ Scan(...any) error }) (*elasticdb.LogRow, error) {
		var r elasticdb.LogRow
		var id string
		var rem, add sql.NullString
		if err := sc.Scan(&id, &r.Code, &r.Data, &r.UndoStartState, &rem, &add); err != nil {
			return nil, err
		}
		var err error
		if err = scanID(id, &r.ID); err != nil {
			return nil, err
		}
		if r.ShardVersionRemoves, err = optIDPtr(rem); err != nil {
			return nil, err
		}
		r.ShardVersionAdds, err = optIDPtr(add)
		return &r, err
	})
}

func (g gsmTx) InsertLog(ctx context.Context, r elasticdb.LogRow) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO `+tOpsLogGlobal+`(OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds)
		VALUES(?, ?, ?, ?, ?, ?)`, r.ID.String(), r.Code, r.Data, r.UndoStartState, optID(r.ShardVersionRemoves), optID(r.ShardVersionAdds))
	return err
}

func (g gsmTx) SetUndoStartState(ctx context.Context, id uuid.UUID, state int) error {
	_, err := g.tx.ExecContext(ctx, `UPDATE `+tOpsLogGlobal+` SET UndoStartState = ? WHERE OperationId = ?`, state, id.String())
	return err
}

func (g gsmTx) DeleteLog(ctx context.Context, id uuid.UUID) error {
	_, err := g.tx.ExecContext(ctx, `DELETE FROM `+tOpsLogGlobal+` WHERE OperationId = ?`, id.String())
	return err
}

const gsmShardCols = `ShardId, Readable, Version, ShardMapId, OperationId, ServerName, DatabaseName, Status FROM ` + tShardsGlobal

func scanGSMShard(sc interface{ Scan(...any) error }) (*elasticdb.GSMShard, error) {
	var s elasticdb.GSMShard
	var id, ver, mapID string
	var readable int
	var op sql.NullString
	if err := sc.Scan(&id, &readable, &ver, &mapID, &op, &s.Loc.Server, &s.Loc.Database, &s.Status); err != nil {
		return nil, err
	}
	s.Readable = readable == 1
	if err := errors.Join(scanID(id, &s.ID), scanID(ver, &s.Version), scanID(mapID, &s.MapID)); err != nil {
		return nil, err
	}
	var err error
	s.OperationID, err = optIDPtr(op)
	return &s, err
}

func (g gsmTx) Shard(ctx context.Context, id uuid.UUID) (*elasticdb.GSMShard, error) {
	return one(scanGSMShard(g.tx.QueryRowContext(ctx, `SELECT `+gsmShardCols+` WHERE ShardId = ?`, id.String())))
}

func (g gsmTx) ShardAt(ctx context.Context, mapID uuid.UUID, loc fleet.Location) (*elasticdb.GSMShard, error) {
	return one(scanGSMShard(g.tx.QueryRowContext(ctx, `SELECT `+gsmShardCols+` WHERE ShardMapId = ? AND Protocol = 0 AND Port = 0
		AND ServerName = ? AND DatabaseName = ? LIMIT 1`, mapID.String(), loc.Server, loc.Database)))
}

func (g gsmTx) ShardsOfOperation(ctx context.Context, op uuid.UUID) ([]elasticdb.GSMShard, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmShardCols+` WHERE OperationId = ?`, op.String())
	return fleet.ScanAll(rows, err, scanGSMShard)
}

func (g gsmTx) InsertShard(ctx context.Context, s elasticdb.GSMShard) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO `+tShardsGlobal+`(ShardId, Readable, Version, ShardMapId, OperationId, Protocol, ServerName, Port, DatabaseName, Status)
		VALUES(?, ?, ?, ?, ?, 0, ?, 0, ?, ?)`, s.ID.String(), boolInt(s.Readable), s.Version.String(), s.MapID.String(), optID(s.OperationID),
		s.Loc.Server, s.Loc.Database, s.Status)
	return err
}

func (g gsmTx) UpdateShard(ctx context.Context, s elasticdb.GSMShard) error {
	_, err := g.tx.ExecContext(ctx, `UPDATE `+tShardsGlobal+` SET Version = ?, Status = ?, Readable = ?, OperationId = ? WHERE ShardId = ?`,
		s.Version.String(), s.Status, boolInt(s.Readable), optID(s.OperationID), s.ID.String())
	return err
}

func (g gsmTx) DeleteShard(ctx context.Context, id uuid.UUID) error {
	_, err := g.tx.ExecContext(ctx, `DELETE FROM `+tShardsGlobal+` WHERE ShardId = ?`, id.String())
	return err
}

func (g gsmTx) MappingCount(ctx context.Context, shardID uuid.UUID) (int, error) {
	var n int
	err := g.tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardId = ?`, shardID.String()).Scan(&n)
	return n, err
}

const gsmMappingCols = `MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, MaxValue IS NULL, Status, LockOwnerId FROM ` + tMappingsGlobal

func scanGSMMapping(sc interface{ Scan(...any) error }) (*elasticdb.GSMMapping, error) {
	var m elasticdb.GSMMapping
	var id, shardID, mapID, owner string
	var readable int
	var op sql.NullString
	var min, max []byte
	var maxNull bool
	if err := sc.Scan(&id, &readable, &shardID, &mapID, &op, &min, &max, &maxNull, &m.Status, &owner); err != nil {
		return nil, err
	}
	m.Readable = readable == 1
	if err := errors.Join(scanID(id, &m.ID), scanID(shardID, &m.ShardID), scanID(mapID, &m.MapID), scanID(owner, &m.LockOwner)); err != nil {
		return nil, err
	}
	m.Min, m.Max = scanKeys(min, max, maxNull)
	var err error
	m.OperationID, err = optIDPtr(op)
	return &m, err
}

func (g gsmTx) Mapping(ctx context.Context, mapID, id uuid.UUID) (*elasticdb.GSMMapping, error) {
	return one(scanGSMMapping(g.tx.QueryRowContext(ctx, `SELECT `+gsmMappingCols+` WHERE MappingId = ? AND ShardMapId = ?`, id.String(), mapID.String())))
}

func (g gsmTx) MappingsOfOperation(ctx context.Context, op uuid.UUID) ([]elasticdb.GSMMapping, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmMappingCols+` WHERE OperationId = ?`, op.String())
	return fleet.ScanAll(rows, err, scanGSMMapping)
}

func (g gsmTx) MappingsOverlapping(ctx context.Context, m fleet.ShardMap, min, max []byte) ([]elasticdb.GSMMapping, error) {
	var rows *sql.Rows
	var err error
	if m.Type == fleet.ListMap {
		rows, err = g.tx.QueryContext(ctx, `SELECT `+gsmMappingCols+` WHERE ShardMapId = ? AND MinValue = ?`, m.ID.String(), keyArg(min))
	} else {
		rows, err = g.tx.QueryContext(ctx, `SELECT `+gsmMappingCols+` WHERE ShardMapId = ?
			AND (MaxValue IS NULL OR MaxValue > ?) AND (? IS NULL OR MinValue < ?)`, m.ID.String(), keyArg(min), keyArg(max), keyArg(max))
	}
	return fleet.ScanAll(rows, err, scanGSMMapping)
}

func (g gsmTx) InsertMapping(ctx context.Context, m elasticdb.GSMMapping) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO `+tMappingsGlobal+`(MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status, LockOwnerId)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID.String(), boolInt(m.Readable), m.ShardID.String(), m.MapID.String(), optID(m.OperationID),
		keyArg(m.Min), keyArg(m.Max), m.Status, m.LockOwner.String())
	return err
}

func (g gsmTx) UpdateMapping(ctx context.Context, old uuid.UUID, m elasticdb.GSMMapping) error {
	_, err := g.tx.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET MappingId = ?, ShardId = ?, Status = ?, Readable = ?, LockOwnerId = ?, OperationId = ?
		WHERE MappingId = ?`, m.ID.String(), m.ShardID.String(), m.Status, boolInt(m.Readable), m.LockOwner.String(), optID(m.OperationID), old.String())
	return err
}

func (g gsmTx) DeleteMapping(ctx context.Context, id uuid.UUID) error {
	_, err := g.tx.ExecContext(ctx, `DELETE FROM `+tMappingsGlobal+` WHERE MappingId = ?`, id.String())
	return err
}

// lsmTx is elasticdb.LSMTx on a shard's database.
type lsmTx struct{ tx ptx }

func (l lsmTx) Map(ctx context.Context, mapID uuid.UUID) (*elasticdb.LSMMap, error) {
	var m elasticdb.LSMMap
	var last string
	err := l.tx.QueryRowContext(ctx, `SELECT Name, MapType, KeyType, LastOperationId FROM `+tMapsLocal+` WHERE ShardMapId = ?`, mapID.String()).
		Scan(&m.Map.Name, &m.Map.Type, &m.Map.KeyType, &last)
	if err == nil {
		m.Map.ID = mapID
		err = scanID(last, &m.LastOperationID)
	}
	return one(&m, err)
}

func (l lsmTx) InsertMap(ctx context.Context, m elasticdb.LSMMap) error {
	_, err := l.tx.ExecContext(ctx, `INSERT INTO `+tMapsLocal+`(ShardMapId, Name, MapType, KeyType, LastOperationId) VALUES(?, ?, ?, ?, ?)`,
		m.Map.ID.String(), m.Map.Name, int(m.Map.Type), int(m.Map.KeyType), m.LastOperationID.String())
	return err
}

func (l lsmTx) DeleteMap(ctx context.Context, mapID uuid.UUID) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM `+tMapsLocal+` WHERE ShardMapId = ?`, mapID.String())
	return err
}

const lsmShardCols = `ShardId, Version, ShardMapId, ServerName, DatabaseName, Status, LastOperationId FROM ` + tShardsLocal

func scanLSMShard(sc interface{ Scan(...any) error }) (*elasticdb.LSMShard, error) {
	var s elasticdb.LSMShard
	var id, ver, mapID, last string
	if err := sc.Scan(&id, &ver, &mapID, &s.Loc.Server, &s.Loc.Database, &s.Status, &last); err != nil {
		return nil, err
	}
	if err := errors.Join(scanID(id, &s.ID), scanID(ver, &s.Version), scanID(mapID, &s.MapID), scanID(last, &s.LastOperationID)); err != nil {
		return nil, err
	}
	return &s, nil
}

func (l lsmTx) Shard(ctx context.Context, id uuid.UUID) (*elasticdb.LSMShard, error) {
	return one(scanLSMShard(l.tx.QueryRowContext(ctx, `SELECT `+lsmShardCols+` WHERE ShardId = ?`, id.String())))
}

func (l lsmTx) ShardsOfMap(ctx context.Context, mapID uuid.UUID) ([]elasticdb.LSMShard, error) {
	rows, err := l.tx.QueryContext(ctx, `SELECT `+lsmShardCols+` WHERE ShardMapId = ? ORDER BY rowid`, mapID.String())
	return fleet.ScanAll(rows, err, scanLSMShard)
}

func (l lsmTx) InsertShard(ctx context.Context, s elasticdb.LSMShard) error {
	_, err := l.tx.ExecContext(ctx, `INSERT INTO `+tShardsLocal+`(ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status, LastOperationId)
		VALUES(?, ?, ?, 0, ?, 0, ?, ?, ?)`, s.ID.String(), s.Version.String(), s.MapID.String(), s.Loc.Server, s.Loc.Database, s.Status, s.LastOperationID.String())
	return err
}

func (l lsmTx) UpdateShard(ctx context.Context, s elasticdb.LSMShard) error {
	_, err := l.tx.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, Status = ?, ServerName = ?, DatabaseName = ?, LastOperationId = ?
		WHERE ShardId = ?`, s.Version.String(), s.Status, s.Loc.Server, s.Loc.Database, s.LastOperationID.String(), s.ID.String())
	return err
}

func (l lsmTx) DeleteShard(ctx context.Context, id uuid.UUID) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM `+tShardsLocal+` WHERE ShardId = ?`, id.String())
	return err
}

const lsmMappingCols = `MappingId, ShardId, ShardMapId, MinValue, MaxValue, MaxValue IS NULL, Status, LastOperationId FROM ` + tMappingsLocal

func scanLSMMapping(sc interface{ Scan(...any) error }) (*elasticdb.LSMMapping, error) {
	var m elasticdb.LSMMapping
	var id, shardID, mapID, last string
	var min, max []byte
	var maxNull bool
	if err := sc.Scan(&id, &shardID, &mapID, &min, &max, &maxNull, &m.Status, &last); err != nil {
		return nil, err
	}
	if err := errors.Join(scanID(id, &m.ID), scanID(shardID, &m.ShardID), scanID(mapID, &m.MapID), scanID(last, &m.LastOperationID)); err != nil {
		return nil, err
	}
	m.Min, m.Max = scanKeys(min, max, maxNull)
	return &m, nil
}

func (l lsmTx) Mapping(ctx context.Context, id uuid.UUID) (*elasticdb.LSMMapping, error) {
	return one(scanLSMMapping(l.tx.QueryRowContext(ctx, `SELECT `+lsmMappingCols+` WHERE MappingId = ?`, id.String())))
}

func (l lsmTx) MappingsOfShard(ctx context.Context, shardID uuid.UUID) ([]elasticdb.LSMMapping, error) {
	rows, err := l.tx.QueryContext(ctx, `SELECT `+lsmMappingCols+` WHERE ShardId = ? ORDER BY MinValue`, shardID.String())
	return fleet.ScanAll(rows, err, scanLSMMapping)
}

func (l lsmTx) MappingOverlapping(ctx context.Context, m fleet.ShardMap, min, max []byte) (*elasticdb.LSMMapping, error) {
	if m.Type == fleet.ListMap {
		return one(scanLSMMapping(l.tx.QueryRowContext(ctx, `SELECT `+lsmMappingCols+` WHERE ShardMapId = ? AND MinValue = ? LIMIT 1`,
			m.ID.String(), keyArg(min))))
	}
	return one(scanLSMMapping(l.tx.QueryRowContext(ctx, `SELECT `+lsmMappingCols+`
		WHERE ShardMapId = ? AND (MaxValue IS NULL OR MaxValue > ?) AND (? IS NULL OR MinValue < ?) LIMIT 1`,
		m.ID.String(), keyArg(min), keyArg(max), keyArg(max))))
}

func (l lsmTx) InsertMapping(ctx context.Context, m elasticdb.LSMMapping) error {
	_, err := l.tx.ExecContext(ctx, `INSERT INTO `+tMappingsLocal+`(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
		VALUES(?, ?, ?, ?, ?, ?, ?)`, m.ID.String(), m.ShardID.String(), m.MapID.String(), keyArg(m.Min), keyArg(m.Max), m.Status, m.LastOperationID.String())
	return err
}

func (l lsmTx) DeleteMapping(ctx context.Context, id uuid.UUID) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM `+tMappingsLocal+` WHERE MappingId = ?`, id.String())
	return err
}
