package sqlserver

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

var (
	_ fleet.ShardMapStore = (*Target)(nil)
	_ fleet.MappingMover  = (*Target)(nil)
)

// maxMapNameLen is ShardMapsGlobal.Name's nvarchar(50).
const maxMapNameLen = 50

func invalid(op, target, format string, args ...any) error {
	return &fleet.Error{Op: op, Target: target, Err: fmt.Errorf("%w: "+format, append([]any{fleet.ErrInvalidArgument}, args...)...)}
}

// uid is a uuid as a uniqueidentifier parameter (SQL Server's byte order).
func uid(u uuid.UUID) mssql.UniqueIdentifier { return mssql.UniqueIdentifier(u) }

// ptr is a scanned nullable uniqueidentifier as a *uuid.UUID.
func ptr(n mssql.NullUniqueIdentifier) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	u := uuid.UUID(n.UUID)
	return &u
}

// key is an encoded key as a varbinary parameter: never NULL, the empty
// key (the minimum) is an empty varbinary.
func key(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (t *Target) gsm() (*sql.DB, error) { return t.db(t.cfg.SMM()) }

// storeState returns what the shard map manager database holds, read once.
func (t *Target) storeState(ctx context.Context) (*storeInfo, error) {
	t.storeMu.Lock()
	info := t.store
	t.storeMu.Unlock()
	if info != nil && info.deployed {
		return info, nil
	}
	return t.readStore(ctx)
}

// errNoStore is a read of a fleet without a shard map manager.
func (t *Target) errNoStore(what string) error {
	return elasticdb.StoreErr(what, t.cfg.SMM().String(), fleet.ResultShardMapDoesNotExist,
		"the database has no shard map manager yet; a ShardLayout plan creates one, or create it with the Elastic Database library")
}

func scanMap(sc interface{ Scan(...any) error }) (fleet.ShardMap, error) {
	var m fleet.ShardMap
	var id mssql.UniqueIdentifier
	var mt, kt int
	err := sc.Scan(&id, &m.Name, &mt, &kt)
	m.ID, m.Type, m.KeyType = uuid.UUID(id), fleet.MapType(mt), fleet.KeyType(kt)
	return m, err
}

// ShardMaps implements fleet.ShardMapStore.
func (t *Target) ShardMaps(ctx context.Context) ([]fleet.ShardMap, error) {
	const what = "read shard maps"
	info, err := t.storeState(ctx)
	if err != nil || !info.deployed {
		return nil, err
	}
	g, err := t.gsm()
	if err != nil {
		return nil, err
	}
	rows, err := g.QueryContext(ctx, MapsQuery)
	if err != nil {
		return nil, t.red.wrap(what, t.cfg.SMM().String(), err)
	}
	defer rows.Close()
	var out []fleet.ShardMap
	for rows.Next() {
		m, err := scanMap(rows)
		if err != nil {
			return nil, t.red.wrap(what, t.cfg.SMM().String(), err)
		}
		out = append(out, m)
	}
	return out, t.red.wrap(what, t.cfg.SMM().String(), rows.Err())
}

// ShardMap implements fleet.ShardMapStore.
func (t *Target) ShardMap(ctx context.Context, name string) (fleet.ShardMap, error) {
	const what = "read shard map"
	info, err := t.storeState(ctx)
	if err != nil {
		return fleet.ShardMap{}, err
	}
	if !info.deployed {
		return fleet.ShardMap{}, elasticdb.StoreErr(what, name, fleet.ResultShardMapDoesNotExist, "")
	}
	g, err := t.gsm()
	if err != nil {
		return fleet.ShardMap{}, err
	}
	m, err := scanMap(g.QueryRowContext(ctx, MapByNameQuery, sql.Named("name", name)))
	if errors.Is(err, sql.ErrNoRows) {
		return m, elasticdb.StoreErr(what, name, fleet.ResultShardMapDoesNotExist, "")
	}
	return m, t.red.wrap(what, name, err)
}

// Shards implements fleet.ShardMapStore.
func (t *Target) Shards(ctx context.Context, mapName string) ([]fleet.Shard, error) {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return nil, err
	}
	return t.shards(ctx, m)
}

func (t *Target) shards(ctx context.Context, m fleet.ShardMap) ([]fleet.Shard, error) {
	const what = "read shards"
	g, err := t.gsm()
	if err != nil {
		return nil, err
	}
	rows, err := g.QueryContext(ctx, ShardsQuery, sql.Named("map", uid(m.ID)))
	if err != nil {
		return nil, t.red.wrap(what, m.Name, err)
	}
	defer rows.Close()
	var out []fleet.Shard
	for rows.Next() {
		var s fleet.Shard
		var id, ver, mid mssql.UniqueIdentifier
		var proto, port int
		var op mssql.NullUniqueIdentifier
		if err := rows.Scan(&id, &ver, &mid, &proto, &s.Location.Server, &port, &s.Location.Database, &s.Status, &op); err != nil {
			return nil, t.red.wrap(what, m.Name, err)
		}
		s.ID, s.Version, s.MapID, s.OperationID = uuid.UUID(id), uuid.UUID(ver), uuid.UUID(mid), ptr(op)
		if proto != 0 || port != 0 {
			return nil, &fleet.Error{Op: what, Target: s.Location.String(),
				Err:  fmt.Errorf("%w: shard %s has protocol %d and port %d; fleetplan reaches shards with the default protocol and port only", fleet.ErrInvalidArgument, s.ID, proto, port),
				Hint: "register the shard with ShardLocation(server, database), or reach it through the server's default port"}
		}
		out = append(out, s)
	}
	return out, t.red.wrap(what, m.Name, rows.Err())
}

func (t *Target) shardAt(ctx context.Context, m fleet.ShardMap, loc fleet.Location) (fleet.Shard, error) {
	shards, err := t.shards(ctx, m)
	if err != nil {
		return fleet.Shard{}, err
	}
	for _, s := range shards {
		if s.Location.Equal(loc) {
			return s, nil
		}
	}
	return fleet.Shard{}, elasticdb.StoreErr("find shard", loc.String(), fleet.ResultShardDoesNotExist, "add the database as a shard of "+m.Name+" first")
}

func (t *Target) shardByID(ctx context.Context, m fleet.ShardMap, id uuid.UUID) (fleet.Shard, error) {
	shards, err := t.shards(ctx, m)
	if err != nil {
		return fleet.Shard{}, err
	}
	for _, s := range shards {
		if s.ID == id {
			return s, nil
		}
	}
	return fleet.Shard{}, elasticdb.StoreErr("find shard", id.String(), fleet.ResultShardDoesNotExist, "")
}

func scanMapping(sc interface{ Scan(...any) error }) (fleet.Mapping, error) {
	var mp fleet.Mapping
	var id, mid, sid, owner mssql.UniqueIdentifier
	var op mssql.NullUniqueIdentifier
	var status int
	err := sc.Scan(&id, &mid, &sid, &mp.Min, &mp.Max, &status, &owner, &op, &mp.Location.Server, &mp.Location.Database)
	mp.ID, mp.MapID, mp.ShardID, mp.LockOwner, mp.OperationID = uuid.UUID(id), uuid.UUID(mid), uuid.UUID(sid), uuid.UUID(owner), ptr(op)
	mp.Online = status&1 == 1
	if mp.Min == nil {
		mp.Min = []byte{}
	}
	return mp, err
}

// Mappings implements fleet.ShardMapStore.
func (t *Target) Mappings(ctx context.Context, mapName string) ([]fleet.Mapping, error) {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return nil, err
	}
	return t.mappings(ctx, m)
}

func (t *Target) mappings(ctx context.Context, m fleet.ShardMap) ([]fleet.Mapping, error) {
	const what = "read mappings"
	g, err := t.gsm()
	if err != nil {
		return nil, err
	}
	rows, err := g.QueryContext(ctx, MappingsQuery, sql.Named("map", uid(m.ID)))
	if err != nil {
		return nil, t.red.wrap(what, m.Name, err)
	}
	defer rows.Close()
	var out []fleet.Mapping
	for rows.Next() {
		mp, err := scanMapping(rows)
		if err != nil {
			return nil, t.red.wrap(what, m.Name, err)
		}
		out = append(out, mp)
	}
	return out, t.red.wrap(what, m.Name, rows.Err())
}

func (t *Target) mappingByID(ctx context.Context, m fleet.ShardMap, id uuid.UUID) (fleet.Mapping, error) {
	g, err := t.gsm()
	if err != nil {
		return fleet.Mapping{}, err
	}
	mp, err := scanMapping(g.QueryRowContext(ctx, MappingByIDQuery, sql.Named("map", uid(m.ID)), sql.Named("id", uid(id))))
	if errors.Is(err, sql.ErrNoRows) {
		return mp, elasticdb.StoreErr("find mapping", m.Name+"/"+id.String(), fleet.ResultMappingDoesNotExist,
			"mapping ids change on every update; look the mapping up again by key")
	}
	return mp, t.red.wrap("find mapping", m.Name, err)
}

// MappingForKey implements fleet.ShardMapStore.
func (t *Target) MappingForKey(ctx context.Context, mapName string, k []byte) (fleet.Mapping, error) {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return fleet.Mapping{}, err
	}
	g, err := t.gsm()
	if err != nil {
		return fleet.Mapping{}, err
	}
	q := RangeMappingQuery
	if m.Type == fleet.ListMap {
		q = PointMappingQuery
	}
	mp, err := scanMapping(g.QueryRowContext(ctx, q, sql.Named("map", uid(m.ID)), sql.Named("key", key(k))))
	if errors.Is(err, sql.ErrNoRows) {
		return mp, elasticdb.StoreErr("find mapping for key", mapName, fleet.ResultMappingNotFoundForKey, "")
	}
	return mp, t.red.wrap("find mapping for key", mapName, err)
}

func (t *Target) checkKey(what string, m fleet.ShardMap, name string, b []byte) error {
	if err := shardkey.Validate(m.KeyType, b); err != nil {
		return &fleet.Error{Op: what, Target: m.Name, Err: fmt.Errorf("%w: %s: %v", fleet.ErrInvalidArgument, name, err)}
	}
	return nil
}

// CreateShardMap implements fleet.ShardMapStore through
// spAddShardMapGlobal. A database without a shard map manager gets one:
// fleetplan's own tables and procedures, or the library's own scripts when
// options.elasticdbScripts names them (deployScript).
func (t *Target) CreateShardMap(ctx context.Context, name string, mt fleet.MapType, k fleet.KeyType) (fleet.ShardMap, error) {
	const what = "create shard map"
	switch {
	case strings.TrimSpace(name) == "" || len(name) > maxMapNameLen:
		return fleet.ShardMap{}, invalid(what, name, "a shard map name has 1 to %d characters", maxMapNameLen)
	case mt != fleet.ListMap && mt != fleet.RangeMap:
		return fleet.ShardMap{}, invalid(what, name, "map type %d is neither list nor range", int(mt))
	case !k.Valid():
		return fleet.ShardMap{}, invalid(what, name, "key type %d is not one of the seven key types", int(k))
	}
	if err := t.ensureGlobal(ctx); err != nil {
		return fleet.ShardMap{}, err
	}
	if m, err := t.ShardMap(ctx, name); err == nil {
		if m.Type != mt || m.KeyType != k {
			return m, elasticdb.StoreErr(what, name, fleet.ResultShardMapExists,
				fmt.Sprintf("a %s map keyed by %s with this name exists already", m.Type, m.KeyType))
		}
		return m, nil
	} else if !errors.Is(err, fleet.ResultShardMapDoesNotExist) {
		return fleet.ShardMap{}, err
	}
	m := fleet.ShardMap{ID: uuid.New(), Name: name, Type: mt, KeyType: k}
	g, err := t.gsm()
	if err != nil {
		return m, err
	}
	if err := t.call(ctx, g, what, name, spAddShardMapGlobal, addShardMapDoc(m)); err != nil {
		if errors.Is(err, fleet.ResultShardMapExists) { // created meanwhile
			return t.CreateShardMap(ctx, name, mt, k)
		}
		return m, err
	}
	return m, nil
}

// AddShard implements fleet.ShardMapStore (op 1). A database without a
// local shard map gets one first (ensureLocal).
func (t *Target) AddShard(ctx context.Context, mapName string, loc fleet.Location) (fleet.Shard, error) {
	const what = "add shard"
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return fleet.Shard{}, err
	}
	if s, err := t.shardAt(ctx, m, loc); err == nil {
		return s, nil
	} else if !errors.Is(err, fleet.ResultShardDoesNotExist) {
		return fleet.Shard{}, err
	}
	if loc.Equal(t.cfg.SMM()) {
		return fleet.Shard{}, &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard map manager database cannot be a shard", fleet.ErrInvalidArgument),
			Hint: "use another database; the Elastic Database library does not support the GSM database as a shard either"}
	}
	if err := t.ensureLocal(ctx, loc); err != nil {
		return fleet.Shard{}, err
	}
	op := elasticdb.AddShardOp(m, loc)
	if err := t.run(ctx, op); err != nil {
		return fleet.Shard{}, err
	}
	return t.shardByID(ctx, m, op.Steps[0].Shard.ID)
}

// RemoveShard implements fleet.ShardMapStore (op 2).
func (t *Target) RemoveShard(ctx context.Context, mapName string, loc fleet.Location) error {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return err
	}
	s, err := t.shardAt(ctx, m, loc)
	if err != nil {
		return err
	}
	return t.run(ctx, elasticdb.RemoveShardOp(m, s))
}

// AddMapping implements fleet.ShardMapStore (op 4 or 8).
func (t *Target) AddMapping(ctx context.Context, mapName string, loc fleet.Location, min, max []byte) (fleet.Mapping, error) {
	const what = "add mapping"
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return fleet.Mapping{}, err
	}
	if min == nil {
		return fleet.Mapping{}, invalid(what, mapName, "a mapping needs a lower bound (the empty key is the minimum)")
	}
	if err := t.checkKey(what, m, "min", min); err != nil {
		return fleet.Mapping{}, err
	}
	if m.Type == fleet.ListMap {
		max = nil
	} else if max != nil {
		if err := t.checkKey(what, m, "max", max); err != nil {
			return fleet.Mapping{}, err
		}
		if shardkey.Compare(min, max) >= 0 {
			return fleet.Mapping{}, invalid(what, mapName, "empty range [%s, %s)", shardkey.FormatBound(m.KeyType, min), shardkey.FormatBound(m.KeyType, max))
		}
	}
	s, err := t.shardAt(ctx, m, loc)
	if err != nil {
		return fleet.Mapping{}, err
	}
	if mp, err := t.MappingForKey(ctx, mapName, min); err == nil && bytes.Equal(mp.Min, min) &&
		(mp.Max == nil) == (max == nil) && bytes.Equal(mp.Max, max) && mp.ShardID == s.ID {
		return mp, nil
	}
	op := elasticdb.AddMappingOp(m, s, min, max)
	if err := t.run(ctx, op); err != nil {
		return fleet.Mapping{}, err
	}
	return t.mappingByID(ctx, m, op.Steps[0].Mapping.ID)
}

// mappingWrite finds a map, one of its mappings and the mapping's shard.
func (t *Target) mappingWrite(ctx context.Context, mapName string, id uuid.UUID) (fleet.ShardMap, fleet.Mapping, fleet.Shard, error) {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return m, fleet.Mapping{}, fleet.Shard{}, err
	}
	mp, err := t.mappingByID(ctx, m, id)
	if err != nil {
		return m, mp, fleet.Shard{}, err
	}
	s, err := t.shardByID(ctx, m, mp.ShardID)
	return m, mp, s, err
}

// RemoveMapping implements fleet.ShardMapStore (op 5 or 9).
func (t *Target) RemoveMapping(ctx context.Context, mapName string, id uuid.UUID) error {
	m, mp, s, err := t.mappingWrite(ctx, mapName, id)
	if err != nil {
		return err
	}
	return t.run(ctx, elasticdb.RemoveMappingOp(m, s, mp, fleet.LockOwnerFrom(ctx)))
}

// SetMappingOnline implements fleet.ShardMapStore (op 6/7 or 10/11).
func (t *Target) SetMappingOnline(ctx context.Context, mapName string, id uuid.UUID, online bool) (fleet.Mapping, error) {
	m, mp, s, err := t.mappingWrite(ctx, mapName, id)
	if err != nil || mp.Online == online {
		return mp, err
	}
	op := elasticdb.SetOnlineOp(m, s, mp, online, fleet.LockOwnerFrom(ctx))
	if err := t.run(ctx, op); err != nil {
		return fleet.Mapping{}, err
	}
	return t.mappingByID(ctx, m, op.Steps[0].New.ID)
}

// UpdateMappingShard implements fleet.ShardMapStore.
func (t *Target) UpdateMappingShard(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location) (fleet.Mapping, error) {
	return t.repoint(ctx, mapName, id, to, false)
}

// MoveMappingOnline implements fleet.MappingMover.
func (t *Target) MoveMappingOnline(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location) (fleet.Mapping, error) {
	mp, err := t.repoint(ctx, mapName, id, to, true)
	if err == nil && !mp.Online {
		return t.SetMappingOnline(ctx, mapName, mp.ID, true)
	}
	return mp, err
}

func (t *Target) repoint(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location, online bool) (fleet.Mapping, error) {
	m, mp, s, err := t.mappingWrite(ctx, mapName, id)
	if err != nil {
		return mp, err
	}
	ts, err := t.shardAt(ctx, m, to)
	if err != nil {
		return mp, err
	}
	if ts.ID == s.ID {
		return mp, nil
	}
	if mp.Online {
		return mp, elasticdb.StoreErr("update mapping shard", mapName+"/"+id.String(), fleet.ResultMappingNotOffline,
			"take the mapping offline before pointing it at another shard")
	}
	op := elasticdb.RepointOp(m, s, ts, mp, online, fleet.LockOwnerFrom(ctx))
	if err := t.run(ctx, op); err != nil {
		return fleet.Mapping{}, err
	}
	return t.mappingByID(ctx, m, op.Steps[0].New.ID)
}

// SplitMapping implements fleet.ShardMapStore (op 14).
func (t *Target) SplitMapping(ctx context.Context, mapName string, id uuid.UUID, at []byte) (lower, upper fleet.Mapping, err error) {
	const what = "split mapping"
	m, mp, s, err := t.mappingWrite(ctx, mapName, id)
	if err != nil {
		return lower, upper, err
	}
	switch {
	case m.Type != fleet.RangeMap:
		return lower, upper, invalid(what, mapName, "only range maps split")
	case at == nil:
		return lower, upper, invalid(what, mapName, "+inf is not a split point")
	}
	if err := t.checkKey(what, m, "split point", at); err != nil {
		return lower, upper, err
	}
	if shardkey.Compare(mp.Min, at) >= 0 || shardkey.Compare(at, mp.Max) >= 0 {
		return lower, upper, invalid(what, mapName, "split point %s is not inside [%s, %s)", shardkey.FormatBound(m.KeyType, at),
			shardkey.FormatBound(m.KeyType, mp.Min), shardkey.FormatBound(m.KeyType, mp.Max))
	}
	op := elasticdb.SplitOp(m, s, mp, at, fleet.LockOwnerFrom(ctx))
	if err := t.run(ctx, op); err != nil {
		return lower, upper, err
	}
	if lower, err = t.mappingByID(ctx, m, op.Steps[1].Mapping.ID); err != nil {
		return lower, upper, err
	}
	upper, err = t.mappingByID(ctx, m, op.Steps[2].Mapping.ID)
	return lower, upper, err
}

// MergeMappings implements fleet.ShardMapStore (op 15).
func (t *Target) MergeMappings(ctx context.Context, mapName string, left, right uuid.UUID) (fleet.Mapping, error) {
	const what = "merge mappings"
	m, l, s, err := t.mappingWrite(ctx, mapName, left)
	if err != nil {
		return l, err
	}
	if m.Type != fleet.RangeMap {
		return l, invalid(what, mapName, "only range maps merge")
	}
	r, err := t.mappingByID(ctx, m, right)
	if err != nil {
		return l, err
	}
	switch {
	case r.ShardID != l.ShardID:
		return l, invalid(what, mapName, "the mappings are on different shards (%s, %s); move one first", l.Location, r.Location)
	case l.Max == nil || !bytes.Equal(l.Max, r.Min):
		return l, invalid(what, mapName, "[%s, %s) and [%s, %s) are not adjacent (left first)",
			shardkey.FormatBound(m.KeyType, l.Min), shardkey.FormatBound(m.KeyType, l.Max),
			shardkey.FormatBound(m.KeyType, r.Min), shardkey.FormatBound(m.KeyType, r.Max))
	case l.Online != r.Online:
		return l, invalid(what, mapName, "one mapping is online and the other offline")
	}
	op := elasticdb.MergeOp(m, s, l, r, fleet.LockOwnerFrom(ctx))
	if err := t.run(ctx, op); err != nil {
		return fleet.Mapping{}, err
	}
	return t.mappingByID(ctx, m, op.Steps[2].Mapping.ID)
}

// LockMapping implements fleet.ShardMapStore: spLockOrUnlockShardMappingsGlobal, op 0.
func (t *Target) LockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error {
	if owner == fleet.NoLock {
		return invalid("lock mapping", mapName, "the lock owner must not be the zero id")
	}
	return t.lockOp(ctx, mapName, id, owner, lockOpLock)
}

// UnlockMapping implements fleet.ShardMapStore: op 1.
func (t *Target) UnlockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error {
	return t.lockOp(ctx, mapName, id, owner, lockOpUnlockMappingForID)
}

func (t *Target) lockOp(ctx context.Context, mapName string, id, owner uuid.UUID, op int) error {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return err
	}
	mp, err := t.mappingByID(ctx, m, id)
	if err != nil {
		return err
	}
	g, err := t.gsm()
	if err != nil {
		return err
	}
	what := "lock mapping"
	if op != lockOpLock {
		what = "unlock mapping"
	}
	err = t.call(ctx, g, what, mapName+"/"+id.String(), spLockOrUnlockMappings, lockOrUnlockDoc(m, elasticdb.MappingRowOf(mp), owner, op))
	switch r := fleet.ResultOf(err); r {
	case fleet.ResultMappingAlreadyLocked, fleet.ResultMappingLockOwnerIDDiff:
		return elasticdb.LockedErr(what, m, elasticdb.MappingRowOf(mp), mp.LockOwner, r)
	}
	return err
}
