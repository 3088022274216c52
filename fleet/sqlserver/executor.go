package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

// The driver-neutral protocol's row statements on the library's tables
// (elasticdb.Executor). Shard map writes go through the library's stored
// procedures (procs.go); this executor serves the recovery operations
// (elasticdb's RecoveryManager, over rows as the library's own recovery
// procedures write them without logging) and the contract suites that
// break a shard map on purpose.

var (
	_ elasticdb.Executor      = executor{}
	_ elasticdb.Recoverer     = (*Target)(nil)
	_ elasticdb.RecoveryGSMTx = gsmTx{}
)

type executor struct{ t *Target }

// Recover implements elasticdb.Recoverer: pending operations are rolled
// back first (through the library's procedures), then fn runs.
func (t *Target) Recover(ctx context.Context, fn func(ex elasticdb.Executor) error) error {
	if err := t.requireLibrary(ctx); err != nil {
		return err
	}
	if _, err := t.RecoverPending(ctx); err != nil {
		return err
	}
	return fn(executor{t})
}

func (e executor) inTx(ctx context.Context, loc fleet.Location, what string, fn func(tx *sql.Tx) error) error {
	tx, err := e.t.beginTx(ctx, loc, what)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return e.t.red.wrap(what, loc.String(), err)
	}
	return e.t.red.wrap(what, loc.String(), tx.Commit())
}

func (e executor) GSM(ctx context.Context, what string, fn func(elasticdb.GSMTx) error) error {
	return e.inTx(ctx, e.t.cfg.SMM(), what, func(tx *sql.Tx) error { return fn(gsmTx{tx}) })
}

func (e executor) LSM(ctx context.Context, what string, loc fleet.Location, open elasticdb.LSMOpen, fn func(elasticdb.LSMTx) error) (elasticdb.LSMState, error) {
	ok, err := e.t.databaseExists(ctx, loc)
	if err != nil {
		return elasticdb.LSMNoDatabase, err
	}
	if !ok {
		if open.IfExists {
			return elasticdb.LSMNoDatabase, nil
		}
		return elasticdb.LSMNoDatabase, &fleet.Error{Op: what, Target: loc.String(), Err: fleet.ErrNoDatabase}
	}
	db, err := e.t.db(loc)
	if err != nil {
		return elasticdb.LSMNoDatabase, err
	}
	var deployed int
	if err := db.QueryRowContext(ctx, LocalDeployedQuery).Scan(&deployed); err != nil {
		return elasticdb.LSMNotDeployed, e.t.red.wrap(what, loc.String(), err)
	}
	if deployed == 0 {
		if !open.Deploy {
			return elasticdb.LSMNotDeployed, nil
		}
		if err := e.t.ensureLocal(ctx, loc); err != nil {
			return elasticdb.LSMNotDeployed, err
		}
	}
	return elasticdb.LSMReady, e.inTx(ctx, loc, what, func(tx *sql.Tx) error { return fn(lsmTx{tx}) })
}

// Checkpoint implements elasticdb.Executor: this driver simulates no crash.
func (executor) Checkpoint(*elasticdb.Operation, string) error { return nil }

// LockOperation takes the library's application lock of operation id
// (sp_getapplock @Resource = id, Exclusive, Session) on a pinned session of
// the shard map manager database, waiting at most wait.
func (e executor) LockOperation(ctx context.Context, id uuid.UUID, wait time.Duration) (func(), error) {
	s, ok, err := e.t.session(ctx, e.t.cfg.SMM(), id, wait)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, elasticdb.ErrOperationLocked
	}
	return s.close, nil
}

// optUID is a nullable uniqueidentifier parameter (a typed NULL).
func optUID(u *uuid.UUID) mssql.NullUniqueIdentifier {
	if u == nil {
		return mssql.NullUniqueIdentifier{}
	}
	return mssql.NullUniqueIdentifier{UUID: uid(*u), Valid: true}
}

func one[T any](v *T, err error) (*T, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

type scanner = fleet.RowScanner

// overlapWhere is the overlap condition of a range: a NULL max (+inf) drops
// the condition, so no NULL of an unknown type is compared with varbinary.
func overlapWhere(max []byte) string {
	if max == nil {
		return `(MaxValue IS NULL OR MaxValue > @min)`
	}
	return `(MaxValue IS NULL OR MaxValue > @min) AND MinValue < @max`
}

type gsmTx struct{ tx *sql.Tx }

func (g gsmTx) LogRows(ctx context.Context) ([]elasticdb.LogRow, error) {
	rows, err := g.tx.QueryContext(ctx, LogRowsQuery)
	return fleet.ScanAll(rows, err, scanLogRow)
}

func scanLogRow(sc scanner) (*elasticdb.LogRow, error) {
	var r elasticdb.LogRow
	var id mssql.UniqueIdentifier
	var rem, add mssql.NullUniqueIdentifier
	err := sc.Scan(&id, &r.Code, &r.Data, &r.UndoStartState, &rem, &add)
	r.ID, r.ShardVersionRemoves, r.ShardVersionAdds = uuid.UUID(id), ptr(rem), ptr(add)
	return &r, err
}

func (g gsmTx) InsertLog(ctx context.Context, r elasticdb.LogRow) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO __ShardManagement.OperationsLogGlobal (OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds)
VALUES (@id, @code, @data, @undo, @rem, @add)`, sql.Named("id", uid(r.ID)), sql.Named("code", r.Code), sql.Named("data", r.Data),
		sql.Named("undo", r.UndoStartState), sql.Named("rem", optUID(r.ShardVersionRemoves)), sql.Named("add", optUID(r.ShardVersionAdds)))
	return err
}

func (g gsmTx) SetUndoStartState(ctx context.Context, id uuid.UUID, state int) error {
	_, err := g.tx.ExecContext(ctx, `UPDATE __ShardManagement.OperationsLogGlobal SET UndoStartState = @s WHERE OperationId = @id`,
		sql.Named("s", state), sql.Named("id", uid(id)))
	return err
}

func (g gsmTx) DeleteLog(ctx context.Context, id uuid.UUID) error {
	_, err := g.tx.ExecContext(ctx, `DELETE FROM __ShardManagement.OperationsLogGlobal WHERE OperationId = @id`, sql.Named("id", uid(id)))
	return err
}

const gsmShardCols = `ShardId, Readable, Version, ShardMapId, OperationId, ServerName, DatabaseName, Status FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK)`

func scanGSMShard(sc scanner) (*elasticdb.GSMShard, error) {
	var s elasticdb.GSMShard
	var id, ver, mid mssql.UniqueIdentifier
	var op mssql.NullUniqueIdentifier
	err := sc.Scan(&id, &s.Readable, &ver, &mid, &op, &s.Loc.Server, &s.Loc.Database, &s.Status)
	s.ID, s.Version, s.MapID, s.OperationID = uuid.UUID(id), uuid.UUID(ver), uuid.UUID(mid), ptr(op)
	return &s, err
}

func (g gsmTx) Shard(ctx context.Context, id uuid.UUID) (*elasticdb.GSMShard, error) {
	return one(scanGSMShard(g.tx.QueryRowContext(ctx, `SELECT `+gsmShardCols+` WHERE ShardId = @id`, sql.Named("id", uid(id)))))
}

func (g gsmTx) ShardAt(ctx context.Context, mapID uuid.UUID, loc fleet.Location) (*elasticdb.GSMShard, error) {
	return one(scanGSMShard(g.tx.QueryRowContext(ctx, `SELECT TOP (1) `+gsmShardCols+` WHERE ShardMapId = @map AND Protocol = 0 AND Port = 0
AND ServerName = @server AND DatabaseName = @db`, sql.Named("map", uid(mapID)), sql.Named("server", loc.Server), sql.Named("db", loc.Database))))
}

func (g gsmTx) ShardsOfOperation(ctx context.Context, op uuid.UUID) ([]elasticdb.GSMShard, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmShardCols+` WHERE OperationId = @op`, sql.Named("op", uid(op)))
	return fleet.ScanAll(rows, err, scanGSMShard)
}

func (g gsmTx) ShardsOfMap(ctx context.Context, mapID uuid.UUID) ([]elasticdb.GSMShard, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmShardCols+` WHERE ShardMapId = @map ORDER BY ServerName, DatabaseName`, sql.Named("map", uid(mapID)))
	return fleet.ScanAll(rows, err, scanGSMShard)
}

func (g gsmTx) InsertShard(ctx context.Context, s elasticdb.GSMShard) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO __ShardManagement.ShardsGlobal (ShardId, Readable, Version, ShardMapId, OperationId, Protocol, ServerName, Port, DatabaseName, Status)
VALUES (@id, @readable, @ver, @map, @op, 0, @server, 0, @db, @status)`, sql.Named("id", uid(s.ID)), sql.Named("readable", s.Readable),
		sql.Named("ver", uid(s.Version)), sql.Named("map", uid(s.MapID)), sql.Named("op", optUID(s.OperationID)),
		sql.Named("server", s.Loc.Server), sql.Named("db", s.Loc.Database), sql.Named("status", s.Status))
	return err
}

func (g gsmTx) UpdateShard(ctx context.Context, s elasticdb.GSMShard) error {
	_, err := g.tx.ExecContext(ctx, `UPDATE __ShardManagement.ShardsGlobal SET Version = @ver, Status = @status, Readable = @readable, OperationId = @op,
ServerName = @server, DatabaseName = @db WHERE ShardId = @id`, sql.Named("ver", uid(s.Version)), sql.Named("status", s.Status),
		sql.Named("readable", s.Readable), sql.Named("op", optUID(s.OperationID)), sql.Named("server", s.Loc.Server),
		sql.Named("db", s.Loc.Database), sql.Named("id", uid(s.ID)))
	return err
}

func (g gsmTx) DeleteShard(ctx context.Context, id uuid.UUID) error {
	_, err := g.tx.ExecContext(ctx, `DELETE FROM __ShardManagement.ShardsGlobal WHERE ShardId = @id`, sql.Named("id", uid(id)))
	return err
}

func (g gsmTx) MappingCount(ctx context.Context, shardID uuid.UUID) (int, error) {
	var n int
	err := g.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM __ShardManagement.ShardMappingsGlobal WHERE ShardId = @id`, sql.Named("id", uid(shardID))).Scan(&n)
	return n, err
}

const gsmMappingCols = `MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status, LockOwnerId FROM __ShardManagement.ShardMappingsGlobal WITH (UPDLOCK)`

func scanGSMMapping(sc scanner) (*elasticdb.GSMMapping, error) {
	var m elasticdb.GSMMapping
	var id, sid, mid, owner mssql.UniqueIdentifier
	var op mssql.NullUniqueIdentifier
	err := sc.Scan(&id, &m.Readable, &sid, &mid, &op, &m.Min, &m.Max, &m.Status, &owner)
	m.ID, m.ShardID, m.MapID, m.LockOwner, m.OperationID = uuid.UUID(id), uuid.UUID(sid), uuid.UUID(mid), uuid.UUID(owner), ptr(op)
	if m.Min == nil {
		m.Min = []byte{}
	}
	return &m, err
}

func (g gsmTx) Mapping(ctx context.Context, mapID, id uuid.UUID) (*elasticdb.GSMMapping, error) {
	return one(scanGSMMapping(g.tx.QueryRowContext(ctx, `SELECT `+gsmMappingCols+` WHERE MappingId = @id AND ShardMapId = @map`,
		sql.Named("id", uid(id)), sql.Named("map", uid(mapID)))))
}

func (g gsmTx) MappingsOfOperation(ctx context.Context, op uuid.UUID) ([]elasticdb.GSMMapping, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmMappingCols+` WHERE OperationId = @op`, sql.Named("op", uid(op)))
	return fleet.ScanAll(rows, err, scanGSMMapping)
}

func (g gsmTx) MappingsOfMap(ctx context.Context, mapID uuid.UUID) ([]elasticdb.GSMMapping, error) {
	rows, err := g.tx.QueryContext(ctx, `SELECT `+gsmMappingCols+` WHERE ShardMapId = @map ORDER BY MinValue, Readable`, sql.Named("map", uid(mapID)))
	return fleet.ScanAll(rows, err, scanGSMMapping)
}

func (g gsmTx) MappingsOverlapping(ctx context.Context, m fleet.ShardMap, min, max []byte) ([]elasticdb.GSMMapping, error) {
	q := `SELECT ` + gsmMappingCols + ` WHERE ShardMapId = @map AND ` + overlapWhere(max)
	if m.Type == fleet.ListMap {
		q = `SELECT ` + gsmMappingCols + ` WHERE ShardMapId = @map AND MinValue = @min`
	}
	rows, err := g.tx.QueryContext(ctx, q, sql.Named("map", uid(m.ID)), sql.Named("min", key(min)), sql.Named("max", key(max)))
	return fleet.ScanAll(rows, err, scanGSMMapping)
}

func (g gsmTx) InsertMapping(ctx context.Context, m elasticdb.GSMMapping) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO __ShardManagement.ShardMappingsGlobal (MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status, LockOwnerId)
VALUES (@id, @readable, @shard, @map, @op, @min, `+maxExpr(m.Max)+`, @status, @owner)`, sql.Named("id", uid(m.ID)), sql.Named("readable", m.Readable),
		sql.Named("shard", uid(m.ShardID)), sql.Named("map", uid(m.MapID)), sql.Named("op", optUID(m.OperationID)), sql.Named("min", key(m.Min)),
		sql.Named("max", key(m.Max)), sql.Named("status", m.Status), sql.Named("owner", uid(m.LockOwner)))
	return err
}

// maxExpr is the MaxValue to insert: the parameter, or NULL for +inf.
func maxExpr(max []byte) string {
	if max == nil {
		return "NULL"
	}
	return "@max"
}

func (g gsmTx) UpdateMapping(ctx context.Context, old uuid.UUID, m elasticdb.GSMMapping) error {
	_, err := g.tx.ExecContext(ctx, `UPDATE __ShardManagement.ShardMappingsGlobal SET MappingId = @id, ShardId = @shard, Status = @status, Readable = @readable,
LockOwnerId = @owner, OperationId = @op WHERE MappingId = @old`, sql.Named("id", uid(m.ID)), sql.Named("shard", uid(m.ShardID)),
		sql.Named("status", m.Status), sql.Named("readable", m.Readable), sql.Named("owner", uid(m.LockOwner)), sql.Named("op", optUID(m.OperationID)),
		sql.Named("old", uid(old)))
	return err
}

func (g gsmTx) DeleteMapping(ctx context.Context, id uuid.UUID) error {
	_, err := g.tx.ExecContext(ctx, `DELETE FROM __ShardManagement.ShardMappingsGlobal WHERE MappingId = @id`, sql.Named("id", uid(id)))
	return err
}

type lsmTx struct{ tx *sql.Tx }

func (l lsmTx) Map(ctx context.Context, mapID uuid.UUID) (*elasticdb.LSMMap, error) {
	var m elasticdb.LSMMap
	var last mssql.UniqueIdentifier
	var mt, kt int
	err := l.tx.QueryRowContext(ctx, `SELECT Name, MapType, KeyType, LastOperationId FROM __ShardManagement.ShardMapsLocal WITH (UPDLOCK) WHERE ShardMapId = @map`,
		sql.Named("map", uid(mapID))).Scan(&m.Map.Name, &mt, &kt, &last)
	m.Map.ID, m.Map.Type, m.Map.KeyType, m.LastOperationID = mapID, fleet.MapType(mt), fleet.KeyType(kt), uuid.UUID(last)
	return one(&m, err)
}

func (l lsmTx) InsertMap(ctx context.Context, m elasticdb.LSMMap) error {
	_, err := l.tx.ExecContext(ctx, `INSERT INTO __ShardManagement.ShardMapsLocal (ShardMapId, Name, MapType, KeyType, LastOperationId) VALUES (@map, @name, @type, @key, @last)`,
		sql.Named("map", uid(m.Map.ID)), sql.Named("name", m.Map.Name), sql.Named("type", int(m.Map.Type)), sql.Named("key", int(m.Map.KeyType)),
		sql.Named("last", uid(m.LastOperationID)))
	return err
}

func (l lsmTx) DeleteMap(ctx context.Context, mapID uuid.UUID) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM __ShardManagement.ShardMapsLocal WHERE ShardMapId = @map`, sql.Named("map", uid(mapID)))
	return err
}

const lsmShardCols = `ShardId, Version, ShardMapId, ServerName, DatabaseName, Status, LastOperationId FROM __ShardManagement.ShardsLocal WITH (UPDLOCK)`

func scanLSMShard(sc scanner) (*elasticdb.LSMShard, error) {
	var s elasticdb.LSMShard
	var id, ver, mid, last mssql.UniqueIdentifier
	err := sc.Scan(&id, &ver, &mid, &s.Loc.Server, &s.Loc.Database, &s.Status, &last)
	s.ID, s.Version, s.MapID, s.LastOperationID = uuid.UUID(id), uuid.UUID(ver), uuid.UUID(mid), uuid.UUID(last)
	return &s, err
}

func (l lsmTx) Shard(ctx context.Context, id uuid.UUID) (*elasticdb.LSMShard, error) {
	return one(scanLSMShard(l.tx.QueryRowContext(ctx, `SELECT `+lsmShardCols+` WHERE ShardId = @id`, sql.Named("id", uid(id)))))
}

func (l lsmTx) ShardsOfMap(ctx context.Context, mapID uuid.UUID) ([]elasticdb.LSMShard, error) {
	rows, err := l.tx.QueryContext(ctx, `SELECT `+lsmShardCols+` WHERE ShardMapId = @map ORDER BY ServerName, DatabaseName`, sql.Named("map", uid(mapID)))
	return fleet.ScanAll(rows, err, scanLSMShard)
}

func (l lsmTx) InsertShard(ctx context.Context, s elasticdb.LSMShard) error {
	_, err := l.tx.ExecContext(ctx, `INSERT INTO __ShardManagement.ShardsLocal (ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status, LastOperationId)
VALUES (@id, @ver, @map, 0, @server, 0, @db, @status, @last)`, sql.Named("id", uid(s.ID)), sql.Named("ver", uid(s.Version)), sql.Named("map", uid(s.MapID)),
		sql.Named("server", s.Loc.Server), sql.Named("db", s.Loc.Database), sql.Named("status", s.Status), sql.Named("last", uid(s.LastOperationID)))
	return err
}

func (l lsmTx) UpdateShard(ctx context.Context, s elasticdb.LSMShard) error {
	_, err := l.tx.ExecContext(ctx, `UPDATE __ShardManagement.ShardsLocal SET Version = @ver, Status = @status, ServerName = @server, DatabaseName = @db,
LastOperationId = @last WHERE ShardId = @id`, sql.Named("ver", uid(s.Version)), sql.Named("status", s.Status), sql.Named("server", s.Loc.Server),
		sql.Named("db", s.Loc.Database), sql.Named("last", uid(s.LastOperationID)), sql.Named("id", uid(s.ID)))
	return err
}

func (l lsmTx) DeleteShard(ctx context.Context, id uuid.UUID) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM __ShardManagement.ShardsLocal WHERE ShardId = @id`, sql.Named("id", uid(id)))
	return err
}

const lsmMappingCols = `MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId FROM __ShardManagement.ShardMappingsLocal WITH (UPDLOCK)`

func scanLSMMapping(sc scanner) (*elasticdb.LSMMapping, error) {
	var m elasticdb.LSMMapping
	var id, sid, mid, last mssql.UniqueIdentifier
	err := sc.Scan(&id, &sid, &mid, &m.Min, &m.Max, &m.Status, &last)
	m.ID, m.ShardID, m.MapID, m.LastOperationID = uuid.UUID(id), uuid.UUID(sid), uuid.UUID(mid), uuid.UUID(last)
	if m.Min == nil {
		m.Min = []byte{}
	}
	return &m, err
}

func (l lsmTx) Mapping(ctx context.Context, id uuid.UUID) (*elasticdb.LSMMapping, error) {
	return one(scanLSMMapping(l.tx.QueryRowContext(ctx, `SELECT `+lsmMappingCols+` WHERE MappingId = @id`, sql.Named("id", uid(id)))))
}

func (l lsmTx) MappingsOfShard(ctx context.Context, shardID uuid.UUID) ([]elasticdb.LSMMapping, error) {
	rows, err := l.tx.QueryContext(ctx, `SELECT `+lsmMappingCols+` WHERE ShardId = @id ORDER BY MinValue`, sql.Named("id", uid(shardID)))
	return fleet.ScanAll(rows, err, scanLSMMapping)
}

func (l lsmTx) MappingOverlapping(ctx context.Context, m fleet.ShardMap, min, max []byte) (*elasticdb.LSMMapping, error) {
	q := `SELECT TOP (1) ` + lsmMappingCols + ` WHERE ShardMapId = @map AND ` + overlapWhere(max)
	if m.Type == fleet.ListMap {
		q = `SELECT TOP (1) ` + lsmMappingCols + ` WHERE ShardMapId = @map AND MinValue = @min`
	}
	return one(scanLSMMapping(l.tx.QueryRowContext(ctx, q, sql.Named("map", uid(m.ID)), sql.Named("min", key(min)), sql.Named("max", key(max)))))
}

func (l lsmTx) InsertMapping(ctx context.Context, m elasticdb.LSMMapping) error {
	_, err := l.tx.ExecContext(ctx, `INSERT INTO __ShardManagement.ShardMappingsLocal (MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
VALUES (@id, @shard, @map, @min, `+maxExpr(m.Max)+`, @status, @last)`, sql.Named("id", uid(m.ID)), sql.Named("shard", uid(m.ShardID)),
		sql.Named("map", uid(m.MapID)), sql.Named("min", key(m.Min)), sql.Named("max", key(m.Max)), sql.Named("status", m.Status), sql.Named("last", uid(m.LastOperationID)))
	return err
}

func (l lsmTx) DeleteMapping(ctx context.Context, id uuid.UUID) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM __ShardManagement.ShardMappingsLocal WHERE MappingId = @id`, sql.Named("id", uid(id)))
	return err
}
