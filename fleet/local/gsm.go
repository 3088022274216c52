package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func tableExists(ctx context.Context, q querier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

func columnExists(ctx context.Context, q querier, table, col string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col).Scan(&n)
	return n > 0, err
}

// checkStoreVersion reads a ShardMapManager{Global,Local} table like the
// library's Check scripts and accepts major version 1 only.
func checkStoreVersion(ctx context.Context, q querier, table string, where fleet.Location) error {
	old, err := columnExists(ctx, q, table, "StoreVersion")
	if err != nil {
		return sqlErr("read store version", where, err)
	}
	if old {
		return &fleet.Error{Op: "read store version", Target: where.String(),
			Err:  fmt.Errorf("%w: store version 1.0 (single StoreVersion column)", fleet.ErrStoreVersion),
			Hint: "upgrade the store to 1.2 with the Elastic Database client library (ShardMapManager.UpgradeGlobalStore / UpgradeLocalStore)"}
	}
	var major, minor int
	err = q.QueryRowContext(ctx, `SELECT StoreVersionMajor, StoreVersionMinor FROM `+table+` ORDER BY StoreVersionMajor DESC LIMIT 1`).Scan(&major, &minor)
	if errors.Is(err, sql.ErrNoRows) {
		return &fleet.Error{Op: "read store version", Target: where.String(),
			Err: fmt.Errorf("%w: %s has no version row", fleet.ErrStoreVersion, table), Hint: "the shard map store is damaged; restore it from a backup"}
	}
	if err != nil {
		return sqlErr("read store version", where, err)
	}
	if major != storeVersionMajor {
		return &fleet.Error{Op: "read store version", Target: where.String(),
			Err:  fmt.Errorf("%w: %s is at store version %d.%d, this fleetplan reads %d.x", fleet.ErrStoreVersion, table, major, minor, storeVersionMajor),
			Hint: "use a fleetplan release that supports this store version"}
	}
	return nil
}

// gsm returns the shard map manager database with its GSM tables checked.
// Without create it returns nil (and no error) when there is no GSM yet; with
// create it creates the database and deploys the tables.
func (t *Target) gsm(ctx context.Context, create bool) (*sql.DB, error) {
	loc, err := t.ShardMapManager(ctx)
	if err != nil {
		return nil, err
	}
	exists, err := t.DatabaseExists(ctx, loc)
	if err != nil {
		return nil, err
	}
	if !exists {
		if !create {
			return nil, nil
		}
		if err := t.CreateDatabase(ctx, loc); err != nil {
			return nil, err
		}
	}
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, err
	}
	has, err := tableExists(ctx, t.pq(db), tSMMGlobal)
	if err != nil {
		return nil, sqlErr("open shard map manager", loc, err)
	}
	if !has {
		if !create {
			return nil, nil
		}
		if _, err := db.ExecContext(ctx, gsmDDL); err != nil {
			return nil, sqlErr("deploy global shard map", loc, err)
		}
		return db, nil
	}
	if err := checkStoreVersion(ctx, t.pq(db), tSMMGlobal, loc); err != nil {
		return nil, err
	}
	return db, nil
}

func optIDPtr(ns sql.NullString) (*uuid.UUID, error) {
	if !ns.Valid {
		return nil, nil
	}
	u, err := elasticdb.ParseID(ns.String)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// keyArg passes a stored key to SQLite: nil stays NULL (+inf), the empty
// minimum becomes a zero-length BLOB.
func keyArg(b []byte) any {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return []byte{}
	}
	return b
}

// scanKeys undoes the driver's habit of returning a zero-length BLOB as nil.
func scanKeys(min []byte, max []byte, maxNull bool) ([]byte, []byte) {
	if min == nil {
		min = []byte{}
	}
	if maxNull {
		max = nil
	} else if max == nil {
		max = []byte{}
	}
	return min, max
}

func (t *Target) mapByName(ctx context.Context, q querier, name string) (fleet.ShardMap, error) {
	q = t.pq(q)
	var m fleet.ShardMap
	var id string
	err := q.QueryRowContext(ctx, `SELECT ShardMapId, Name, ShardMapType, KeyType FROM `+tMapsGlobal+` WHERE Name = ?`, name).
		Scan(&id, &m.Name, &m.Type, &m.KeyType)
	if errors.Is(err, sql.ErrNoRows) {
		return m, &fleet.Error{Op: "find shard map", Target: name, Err: fleet.ResultShardMapDoesNotExist,
			Hint: "list shard maps with: fleetplan layout"}
	}
	if err != nil {
		return m, sqlErr("find shard map", fleet.Location{}, err)
	}
	m.ID, err = elasticdb.ParseID(id)
	return m, err
}

// ShardMap implements fleet.ShardMapStore.
func (t *Target) ShardMap(ctx context.Context, name string) (fleet.ShardMap, error) {
	g, err := t.gsm(ctx, false)
	if err != nil {
		return fleet.ShardMap{}, err
	}
	if g == nil {
		return fleet.ShardMap{}, &fleet.Error{Op: "find shard map", Target: name, Err: fleet.ResultShardMapDoesNotExist,
			Hint: "the fleet has no shard maps yet"}
	}
	return t.mapByName(ctx, g, name)
}

// ShardMaps implements fleet.ShardMapStore.
func (t *Target) ShardMaps(ctx context.Context) ([]fleet.ShardMap, error) {
	g, err := t.gsm(ctx, false)
	if err != nil || g == nil {
		return nil, err
	}
	rows, err := g.QueryContext(ctx, `SELECT ShardMapId, Name, ShardMapType, KeyType FROM `+tMapsGlobal+` ORDER BY Name`)
	if err != nil {
		return nil, sqlErr("list shard maps", fleet.Location{}, err)
	}
	defer rows.Close()
	var out []fleet.ShardMap
	for rows.Next() {
		var m fleet.ShardMap
		var id string
		if err := rows.Scan(&id, &m.Name, &m.Type, &m.KeyType); err != nil {
			return nil, err
		}
		if m.ID, err = elasticdb.ParseID(id); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

const shardCols = `ShardId, Version, ShardMapId, ServerName, DatabaseName, Status, OperationId`

func scanShard(sc interface{ Scan(...any) error }) (fleet.Shard, error) {
	var s fleet.Shard
	var id, ver, mapID string
	var op sql.NullString
	if err := sc.Scan(&id, &ver, &mapID, &s.Location.Server, &s.Location.Database, &s.Status, &op); err != nil {
		return s, err
	}
	var err error
	if s.ID, err = elasticdb.ParseID(id); err != nil {
		return s, err
	}
	if s.Version, err = elasticdb.ParseID(ver); err != nil {
		return s, err
	}
	if s.MapID, err = elasticdb.ParseID(mapID); err != nil {
		return s, err
	}
	s.OperationID, err = optIDPtr(op)
	return s, err
}

func (t *Target) shardsOf(ctx context.Context, q querier, mapID uuid.UUID) ([]fleet.Shard, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+shardCols+` FROM `+tShardsGlobal+`
		WHERE ShardMapId = ? AND Readable = 1 ORDER BY ServerName, DatabaseName`, mapID.String())
	if err != nil {
		return nil, sqlErr("list shards", fleet.Location{}, err)
	}
	defer rows.Close()
	var out []fleet.Shard
	for rows.Next() {
		s, err := scanShard(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// shardAt finds a readable shard of a map by location; ResultShardDoesNotExist when absent.
func (t *Target) shardAt(ctx context.Context, q querier, m fleet.ShardMap, loc fleet.Location) (fleet.Shard, error) {
	q = t.pq(q)
	s, err := scanShard(q.QueryRowContext(ctx, `SELECT `+shardCols+` FROM `+tShardsGlobal+`
		WHERE ShardMapId = ? AND Protocol = 0 AND Port = 0 AND ServerName = ? AND DatabaseName = ? AND Readable = 1`,
		m.ID.String(), loc.Server, loc.Database))
	if errors.Is(err, sql.ErrNoRows) {
		return s, &fleet.Error{Op: "find shard", Target: loc.String(), Err: fleet.ResultShardDoesNotExist,
			Hint: fmt.Sprintf("%s is not a shard of %s; add it first", loc, m.Name)}
	}
	return s, err
}

func (t *Target) shardByID(ctx context.Context, q querier, id uuid.UUID) (fleet.Shard, error) {
	q = t.pq(q)
	s, err := scanShard(q.QueryRowContext(ctx, `SELECT `+shardCols+` FROM `+tShardsGlobal+` WHERE ShardId = ? AND Readable = 1`, id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return s, &fleet.Error{Op: "find shard", Target: id.String(), Err: fleet.ResultShardDoesNotExist}
	}
	return s, err
}

const mappingSelect = `SELECT m.MappingId, m.ShardMapId, m.ShardId, m.MinValue, m.MaxValue, m.MaxValue IS NULL,
	m.Status, m.LockOwnerId, m.OperationId, s.ServerName, s.DatabaseName
	FROM ` + tMappingsGlobal + ` m JOIN ` + tShardsGlobal + ` s ON s.ShardId = m.ShardId `

func scanMapping(sc interface{ Scan(...any) error }) (fleet.Mapping, error) {
	var mp fleet.Mapping
	var id, mapID, shardID, owner string
	var op sql.NullString
	var min, max []byte
	var maxNull bool
	var status int
	if err := sc.Scan(&id, &mapID, &shardID, &min, &max, &maxNull, &status, &owner, &op,
		&mp.Location.Server, &mp.Location.Database); err != nil {
		return mp, err
	}
	var err error
	if mp.ID, err = elasticdb.ParseID(id); err != nil {
		return mp, err
	}
	if mp.MapID, err = elasticdb.ParseID(mapID); err != nil {
		return mp, err
	}
	if mp.ShardID, err = elasticdb.ParseID(shardID); err != nil {
		return mp, err
	}
	if mp.LockOwner, err = elasticdb.ParseID(owner); err != nil {
		return mp, err
	}
	mp.Min, mp.Max = scanKeys(min, max, maxNull)
	mp.Online = status&1 == 1
	mp.OperationID, err = optIDPtr(op)
	return mp, err
}

func collectMappings(rows *sql.Rows, err error) ([]fleet.Mapping, error) {
	if err != nil {
		return nil, sqlErr("list mappings", fleet.Location{}, err)
	}
	defer rows.Close()
	var out []fleet.Mapping
	for rows.Next() {
		mp, err := scanMapping(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, mp)
	}
	return out, rows.Err()
}

func (t *Target) mappingsOf(ctx context.Context, q querier, mapID uuid.UUID) ([]fleet.Mapping, error) {
	return collectMappings(q.QueryContext(ctx, mappingSelect+`WHERE m.ShardMapId = ? AND m.Readable = 1 ORDER BY m.MinValue`, mapID.String()))
}

func (t *Target) mappingByID(ctx context.Context, q querier, m fleet.ShardMap, id uuid.UUID) (fleet.Mapping, error) {
	q = t.pq(q)
	mp, err := scanMapping(q.QueryRowContext(ctx, mappingSelect+`WHERE m.ShardMapId = ? AND m.MappingId = ? AND m.Readable = 1`,
		m.ID.String(), id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return mp, &fleet.Error{Op: "find mapping", Target: m.Name + "/" + id.String(), Err: fleet.ResultMappingDoesNotExist,
			Hint: "mapping ids change on every update; look the mapping up again by key"}
	}
	return mp, err
}

// Shards implements fleet.ShardMapStore.
func (t *Target) Shards(ctx context.Context, mapName string) ([]fleet.Shard, error) {
	g, m, err := t.readMap(ctx, mapName)
	if err != nil {
		return nil, err
	}
	return t.shardsOf(ctx, g, m.ID)
}

// Mappings implements fleet.ShardMapStore.
func (t *Target) Mappings(ctx context.Context, mapName string) ([]fleet.Mapping, error) {
	g, m, err := t.readMap(ctx, mapName)
	if err != nil {
		return nil, err
	}
	return t.mappingsOf(ctx, g, m.ID)
}

// MappingForKey implements fleet.ShardMapStore.
func (t *Target) MappingForKey(ctx context.Context, mapName string, key []byte) (fleet.Mapping, error) {
	g, m, err := t.readMap(ctx, mapName)
	if err != nil {
		return fleet.Mapping{}, err
	}
	if key == nil {
		return fleet.Mapping{}, &fleet.Error{Op: "find mapping for key", Target: mapName, Err: fmt.Errorf("%w: +inf is not a key", fleet.ErrInvalidArgument)}
	}
	if err := shardkey.Validate(m.KeyType, key); err != nil {
		return fleet.Mapping{}, &fleet.Error{Op: "find mapping for key", Target: mapName, Err: err}
	}
	var mp fleet.Mapping
	if m.Type == fleet.ListMap {
		mp, err = scanMapping(g.QueryRowContext(ctx, mappingSelect+`WHERE m.ShardMapId = ? AND m.Readable = 1 AND m.MinValue = ?`,
			m.ID.String(), keyArg(key)))
	} else {
		mp, err = scanMapping(g.QueryRowContext(ctx, mappingSelect+`WHERE m.ShardMapId = ? AND m.Readable = 1
			AND m.MinValue <= ? AND (m.MaxValue IS NULL OR m.MaxValue > ?)`, m.ID.String(), keyArg(key), keyArg(key)))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return mp, &fleet.Error{Op: "find mapping for key", Target: mapName + " " + shardkey.FormatBound(m.KeyType, key),
			Err: fleet.ResultMappingNotFoundForKey, Hint: "no mapping holds this key; map its range to a shard first"}
	}
	return mp, err
}

// readMap opens the GSM for reading and finds a map.
func (t *Target) readMap(ctx context.Context, name string) (*sql.DB, fleet.ShardMap, error) {
	g, err := t.gsm(ctx, false)
	if err != nil {
		return nil, fleet.ShardMap{}, err
	}
	if g == nil {
		return nil, fleet.ShardMap{}, &fleet.Error{Op: "find shard map", Target: name, Err: fleet.ResultShardMapDoesNotExist,
			Hint: "the fleet has no shard maps yet"}
	}
	m, err := t.mapByName(ctx, g, name)
	return g, m, err
}

// checkMappings refuses a corrupt mapping set: overlapping ranges, duplicate
// points, or bounds that do not decode for the map's key type. With
// overlaps, overlapping ranges pass: recovery reads and repairs them (the
// detection reports them as GSMMappingsOverlap).
func (t *Target) checkMappings(ctx context.Context, q querier, m fleet.ShardMap, overlaps bool) error {
	mps, err := t.mappingsOf(ctx, q, m.ID)
	if err != nil {
		return err
	}
	corrupt := func(format string, args ...any) error {
		return &fleet.Error{Op: "check shard map", Target: m.Name,
			Err:  fmt.Errorf("%w: "+format, append([]any{fleet.ErrCorruptMappings}, args...)...),
			Hint: "repair __ShardManagement_ShardMappingsGlobal by hand or restore the shard map manager database from a backup; fleetplan will not act on it"}
	}
	overlapErr := func(format string, args ...any) error {
		return &fleet.Error{Op: "check shard map", Target: m.Name,
			Err: fmt.Errorf("%w: "+format+"; a key must have one mapping", append([]any{fleet.ErrCorruptMappings}, args...)...),
			Hint: "no plan but a shard map recovery runs on it: `fleetplan doctor --write-plan fix.yaml` finds which mapping the shards' " +
				"local shard maps hold and writes the ShardMapRecovery plan that removes the other; apply it, then run this again"}
	}
	for i, mp := range mps {
		if err := shardkey.Validate(m.KeyType, mp.Min); err != nil {
			return corrupt("mapping %s: MinValue: %v", mp.ID, err)
		}
		if err := shardkey.Validate(m.KeyType, mp.Max); err != nil {
			return corrupt("mapping %s: MaxValue: %v", mp.ID, err)
		}
		if m.Type == fleet.RangeMap && mp.Max != nil && shardkey.Compare(mp.Min, mp.Max) >= 0 {
			return corrupt("mapping %s is empty or inverted [%s, %s)", mp.ID,
				shardkey.FormatBound(m.KeyType, mp.Min), shardkey.FormatBound(m.KeyType, mp.Max))
		}
		if i == 0 {
			continue
		}
		prev := mps[i-1]
		if m.Type == fleet.ListMap {
			if string(prev.Min) == string(mp.Min) {
				return overlapErr("point %s is mapped twice", shardkey.FormatBound(m.KeyType, mp.Min))
			}
			continue
		}
		if shardkey.Compare(prev.Max, mp.Min) > 0 && !overlaps {
			return overlapErr("mappings [%s, %s) and [%s, %s) overlap",
				shardkey.FormatBound(m.KeyType, prev.Min), shardkey.FormatBound(m.KeyType, prev.Max),
				shardkey.FormatBound(m.KeyType, mp.Min), shardkey.FormatBound(m.KeyType, mp.Max))
		}
	}
	return nil
}
