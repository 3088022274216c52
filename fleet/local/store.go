package local

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// maxMapNameLen is ShardMapsGlobal.Name's nvarchar(50).
const maxMapNameLen = 50

func invalid(op, target, format string, args ...any) error {
	return &fleet.Error{Op: op, Target: target, Err: fmt.Errorf("%w: "+format, append([]any{fleet.ErrInvalidArgument}, args...)...)}
}

// CreateShardMap implements fleet.ShardMapStore. The first map deploys the
// GSM (and creates the shard map manager database when needed).
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
	var out fleet.ShardMap
	err := t.write(ctx, true, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, name)
		if err == nil {
			if m.Type != mt || m.KeyType != k {
				return storeErr(what, name, fleet.ResultShardMapExists,
					fmt.Sprintf("a %s map keyed by %s with this name exists already", m.Type, m.KeyType))
			}
			out = m
			return nil
		}
		if !errors.Is(err, fleet.ResultShardMapDoesNotExist) {
			return err
		}
		out = fleet.ShardMap{ID: uuid.New(), Name: name, Type: mt, KeyType: k}
		_, err = g.ExecContext(ctx, `INSERT INTO `+tMapsGlobal+`(ShardMapId, Name, ShardMapType, KeyType) VALUES(?, ?, ?, ?)`,
			out.ID.String(), out.Name, int(mt), int(k))
		return sqlErr(what, fleet.Location{}, err)
	})
	return out, err
}

// AddShard implements fleet.ShardMapStore.
func (t *Target) AddShard(ctx context.Context, mapName string, loc fleet.Location) (fleet.Shard, error) {
	const what = "add shard"
	var out fleet.Shard
	err := t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		if s, err := t.shardAt(ctx, g, m, loc); err == nil {
			out = s
			return nil
		} else if !errors.Is(err, fleet.ResultShardDoesNotExist) {
			return err
		}
		canon, _, err := t.resolve(ctx, loc)
		if err != nil {
			return err
		}
		if smm, err := t.ShardMapManager(ctx); err == nil && smm.Equal(canon) {
			return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard map manager database cannot be a shard", fleet.ErrInvalidArgument),
				Hint: "use another database; the Elastic Database library does not support the GSM database as a shard either"}
		}
		sh := &elasticdb.ShardRow{ID: uuid.New(), Version: uuid.New(), MapID: m.ID, Loc: canon, Status: fleet.ShardOnline}
		op := &elasticdb.Operation{ID: uuid.New(), Code: fleet.OpAddShard, Map: m, ShardOp: true, Steps: []elasticdb.Step{{Kind: elasticdb.StepAdd, Shard: sh}}}
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.shardByID(ctx, g, sh.ID)
		return err
	})
	return out, err
}

// RemoveShard implements fleet.ShardMapStore.
func (t *Target) RemoveShard(ctx context.Context, mapName string, loc fleet.Location) error {
	return t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		s, err := t.shardAt(ctx, g, m, loc)
		if err != nil {
			return err
		}
		sh := &elasticdb.ShardRow{ID: s.ID, Version: s.Version, MapID: m.ID, Loc: s.Location, Status: s.Status}
		op := &elasticdb.Operation{ID: uuid.New(), Code: fleet.OpRemoveShard, Map: m, ShardOp: true, Steps: []elasticdb.Step{{Kind: elasticdb.StepRemove, Shard: sh}}}
		return t.run(ctx, g, op)
	})
}

func recOf(s fleet.Shard, newVersion uuid.UUID) *elasticdb.ShardRow {
	return &elasticdb.ShardRow{ID: s.ID, Version: newVersion, MapID: s.MapID, Loc: s.Location, Status: s.Status}
}

func mapRecOf(mp fleet.Mapping) elasticdb.MappingRow {
	st := 0
	if mp.Online {
		st = 1
	}
	return elasticdb.MappingRow{ID: mp.ID, MapID: mp.MapID, Min: mp.Min, Max: mp.Max, Status: st, LockOwner: mp.LockOwner}
}

// sameShardOp builds a mapping operation on one shard with a new version.
func sameShardOp(code int, m fleet.ShardMap, s fleet.Shard, steps ...elasticdb.Step) *elasticdb.Operation {
	rec := recOf(s, uuid.New())
	return &elasticdb.Operation{ID: uuid.New(), Code: code, Map: m, Source: rec, Target: rec,
		OrigSource: s.Version, OrigTarget: s.Version, Steps: steps}
}

func pick(m fleet.ShardMap, list, rng int) int {
	if m.Type == fleet.ListMap {
		return list
	}
	return rng
}

func (t *Target) checkKey(what string, m fleet.ShardMap, name string, b []byte) error {
	if err := shardkey.Validate(m.KeyType, b); err != nil {
		return &fleet.Error{Op: what, Target: m.Name, Err: fmt.Errorf("%s: %w", name, err)}
	}
	return nil
}

// AddMapping implements fleet.ShardMapStore.
func (t *Target) AddMapping(ctx context.Context, mapName string, loc fleet.Location, min, max []byte) (fleet.Mapping, error) {
	const what = "add mapping"
	var out fleet.Mapping
	err := t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		if min == nil {
			return invalid(what, mapName, "a mapping needs a lower bound (the empty key is the minimum)")
		}
		if err := t.checkKey(what, m, "min", min); err != nil {
			return err
		}
		if m.Type == fleet.ListMap {
			max = nil
		} else if max != nil {
			if err := t.checkKey(what, m, "max", max); err != nil {
				return err
			}
			if shardkey.Compare(min, max) >= 0 {
				return invalid(what, mapName, "empty range [%s, %s)", shardkey.FormatBound(m.KeyType, min), shardkey.FormatBound(m.KeyType, max))
			}
		}
		s, err := t.shardAt(ctx, g, m, loc)
		if err != nil {
			return err
		}
		// Idempotent: the same mapping on the same shard is already there.
		if mp, err := t.MappingForKey(ctx, mapName, min); err == nil && bytes.Equal(mp.Min, min) &&
			(mp.Max == nil) == (max == nil) && bytes.Equal(mp.Max, max) && mp.ShardID == s.ID {
			out = mp
			return nil
		}
		add := elasticdb.MappingRow{ID: uuid.New(), MapID: m.ID, Min: min, Max: max, Status: 1}
		op := sameShardOp(pick(m, fleet.OpAddPointMapping, fleet.OpAddRangeMapping), m, s,
			elasticdb.Step{Kind: elasticdb.StepAdd, Validate: true, Mapping: add})
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.mappingByID(ctx, g, m, add.ID)
		return err
	})
	return out, err
}

// mappingWrite finds a map, one of its mappings and the mapping's shard for a writer.
func (t *Target) mappingWrite(ctx context.Context, mapName string, id uuid.UUID,
	fn func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, s fleet.Shard) error) error {
	return t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		mp, err := t.mappingByID(ctx, g, m, id)
		if err != nil {
			return err
		}
		s, err := t.shardByID(ctx, g, mp.ShardID)
		if err != nil {
			return err
		}
		return fn(g, m, mp, s)
	})
}

// RemoveMapping implements fleet.ShardMapStore.
func (t *Target) RemoveMapping(ctx context.Context, mapName string, id uuid.UUID) error {
	return t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, s fleet.Shard) error {
		op := sameShardOp(pick(m, fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping), m, s,
			elasticdb.Step{Kind: elasticdb.StepRemove, Lock: fleet.LockOwnerFrom(ctx), Mapping: mapRecOf(mp)})
		return t.run(ctx, g, op)
	})
}

// SetMappingOnline implements fleet.ShardMapStore.
func (t *Target) SetMappingOnline(ctx context.Context, mapName string, id uuid.UUID, online bool) (fleet.Mapping, error) {
	var out fleet.Mapping
	err := t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, s fleet.Shard) error {
		if mp.Online == online {
			out = mp
			return nil
		}
		old := mapRecOf(mp)
		nw := old
		nw.ID = uuid.New()
		nw.Status = 0
		code := pick(m, fleet.OpUpdatePointMappingWithOffline, fleet.OpUpdateRangeMappingWithOffline)
		if online {
			nw.Status = 1
			code = pick(m, fleet.OpUpdatePointMapping, fleet.OpUpdateRangeMapping)
		}
		op := sameShardOp(code, m, s, elasticdb.Step{Kind: elasticdb.StepUpdate, Lock: fleet.LockOwnerFrom(ctx), Mapping: old, New: &nw})
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		var err error
		out, err = t.mappingByID(ctx, g, m, nw.ID)
		return err
	})
	return out, err
}

// UpdateMappingShard implements fleet.ShardMapStore.
func (t *Target) UpdateMappingShard(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location) (fleet.Mapping, error) {
	return t.repoint(ctx, mapName, id, to, false)
}

// MoveMappingOnline implements fleet.MappingMover.
func (t *Target) MoveMappingOnline(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location) (fleet.Mapping, error) {
	m, err := t.repoint(ctx, mapName, id, to, true)
	if err == nil && !m.Online { // it was on `to` already, still offline
		return t.SetMappingOnline(ctx, mapName, m.ID, true)
	}
	return m, err
}

// repoint points an offline mapping at another shard in one logged operation
// (op 10 with a shard change), online afterwards when asked.
func (t *Target) repoint(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location, online bool) (fleet.Mapping, error) {
	var out fleet.Mapping
	err := t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, s fleet.Shard) error {
		ts, err := t.shardAt(ctx, g, m, to)
		if err != nil {
			return err
		}
		if ts.ID == s.ID {
			out = mp
			return nil
		}
		if mp.Online {
			return storeErr("update mapping shard", mapName+"/"+id.String(), fleet.ResultMappingNotOffline,
				"take the mapping offline before pointing it at another shard")
		}
		old := mapRecOf(mp)
		nw := old
		nw.ID = uuid.New()
		if online {
			nw.Status = 1
		}
		op := &elasticdb.Operation{ID: uuid.New(), Code: pick(m, fleet.OpUpdatePointMapping, fleet.OpUpdateRangeMapping), Map: m,
			Source: recOf(s, uuid.New()), Target: recOf(ts, uuid.New()), OrigSource: s.Version, OrigTarget: ts.Version,
			Steps: []elasticdb.Step{{Kind: elasticdb.StepUpdate, Lock: fleet.LockOwnerFrom(ctx), Mapping: old, New: &nw}}}
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.mappingByID(ctx, g, m, nw.ID)
		return err
	})
	return out, err
}

// SplitMapping implements fleet.ShardMapStore.
func (t *Target) SplitMapping(ctx context.Context, mapName string, id uuid.UUID, at []byte) (lower, upper fleet.Mapping, err error) {
	const what = "split mapping"
	err = t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, s fleet.Shard) error {
		if m.Type != fleet.RangeMap {
			return invalid(what, mapName, "only range maps split")
		}
		if at == nil {
			return invalid(what, mapName, "+inf is not a split point")
		}
		if err := t.checkKey(what, m, "split point", at); err != nil {
			return err
		}
		if shardkey.Compare(mp.Min, at) >= 0 || shardkey.Compare(at, mp.Max) >= 0 {
			return invalid(what, mapName, "split point %s is not inside [%s, %s)", shardkey.FormatBound(m.KeyType, at),
				shardkey.FormatBound(m.KeyType, mp.Min), shardkey.FormatBound(m.KeyType, mp.Max))
		}
		lock := fleet.LockOwnerFrom(ctx)
		owner := lock
		if lock == fleet.ForceUnlock {
			owner = mp.LockOwner
		}
		old := mapRecOf(mp)
		lo := elasticdb.MappingRow{ID: uuid.New(), MapID: m.ID, Min: mp.Min, Max: at, Status: old.Status, LockOwner: owner}
		hi := elasticdb.MappingRow{ID: uuid.New(), MapID: m.ID, Min: at, Max: mp.Max, Status: old.Status, LockOwner: owner}
		op := sameShardOp(fleet.OpSplitMapping, m, s,
			elasticdb.Step{Kind: elasticdb.StepRemove, Lock: lock, Mapping: old},
			elasticdb.Step{Kind: elasticdb.StepAdd, Mapping: lo},
			elasticdb.Step{Kind: elasticdb.StepAdd, Mapping: hi})
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		var err error
		if lower, err = t.mappingByID(ctx, g, m, lo.ID); err != nil {
			return err
		}
		upper, err = t.mappingByID(ctx, g, m, hi.ID)
		return err
	})
	return lower, upper, err
}

// MergeMappings implements fleet.ShardMapStore.
func (t *Target) MergeMappings(ctx context.Context, mapName string, left, right uuid.UUID) (fleet.Mapping, error) {
	const what = "merge mappings"
	var out fleet.Mapping
	err := t.mappingWrite(ctx, mapName, left, func(g *sql.DB, m fleet.ShardMap, l fleet.Mapping, s fleet.Shard) error {
		if m.Type != fleet.RangeMap {
			return invalid(what, mapName, "only range maps merge")
		}
		r, err := t.mappingByID(ctx, g, m, right)
		if err != nil {
			return err
		}
		switch {
		case r.ShardID != l.ShardID:
			return invalid(what, mapName, "the mappings are on different shards (%s, %s); move one first", l.Location, r.Location)
		case l.Max == nil || !bytes.Equal(l.Max, r.Min):
			return invalid(what, mapName, "[%s, %s) and [%s, %s) are not adjacent (left first)",
				shardkey.FormatBound(m.KeyType, l.Min), shardkey.FormatBound(m.KeyType, l.Max),
				shardkey.FormatBound(m.KeyType, r.Min), shardkey.FormatBound(m.KeyType, r.Max))
		case l.Online != r.Online:
			return invalid(what, mapName, "one mapping is online and the other offline")
		}
		lock := fleet.LockOwnerFrom(ctx)
		lr, rr := mapRecOf(l), mapRecOf(r)
		merged := elasticdb.MappingRow{ID: uuid.New(), MapID: m.ID, Min: l.Min, Max: r.Max, Status: lr.Status, LockOwner: l.LockOwner}
		op := sameShardOp(fleet.OpMergeMappings, m, s,
			elasticdb.Step{Kind: elasticdb.StepRemove, Lock: lock, Mapping: lr},
			elasticdb.Step{Kind: elasticdb.StepRemove, Lock: lock, Mapping: rr},
			elasticdb.Step{Kind: elasticdb.StepAdd, Mapping: merged})
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.mappingByID(ctx, g, m, merged.ID)
		return err
	})
	return out, err
}

// lockRow reads a mapping's lock state for the lock operations (GSM only).
func (t *Target) lockOp(ctx context.Context, mapName string, id uuid.UUID, fn func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, target string, owner uuid.UUID) error) error {
	return t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		mp, err := t.mappingByID(ctx, g, m, id)
		if err != nil {
			return err
		}
		target := mapName + "/" + id.String()
		if mp.OperationID != nil {
			return storeErr("lock mapping", target, fleet.ResultPendingOperation, "retry")
		}
		return fn(g, m, mp, target, mp.LockOwner)
	})
}

// LockMapping implements fleet.ShardMapStore.
func (t *Target) LockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error {
	if owner == fleet.NoLock || owner == fleet.ForceUnlock {
		return invalid("lock mapping", mapName, "the lock owner must be a real id, not the zero or all-F id")
	}
	return t.lockOp(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, target string, cur uuid.UUID) error {
		switch {
		case cur == owner:
			return nil
		case cur != fleet.NoLock:
			return lockedErr("lock mapping", m, mapRecOf(mp), cur.String(), fleet.ResultMappingAlreadyLocked)
		}
		_, err := g.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET LockOwnerId = ? WHERE MappingId = ? AND Readable = 1`, owner.String(), id.String())
		return sqlErr("lock mapping", fleet.Location{}, err)
	})
}

// UnlockMapping implements fleet.ShardMapStore.
func (t *Target) UnlockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error {
	return t.lockOp(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, target string, cur uuid.UUID) error {
		switch {
		case cur == fleet.NoLock:
			return nil
		case cur != owner && owner != fleet.ForceUnlock:
			return lockedErr("unlock mapping", m, mapRecOf(mp), cur.String(), fleet.ResultMappingLockOwnerIDDiff)
		}
		_, err := g.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET LockOwnerId = ? WHERE MappingId = ? AND Readable = 1`, zeroGUID, id.String())
		return sqlErr("unlock mapping", fleet.Location{}, err)
	})
}

// SchemaName is written as the SchemaName of every table in the library's
// SchemaInfo XML (SQLite has one unnamed schema; dbo is SQL Server's default).
const SchemaName = "dbo"

type xTableInfo struct {
	SchemaName    string
	TableName     string
	KeyColumnName string
}

type xSchema struct {
	XMLName           xml.Name `xml:"Schema"`
	ReferenceTableSet struct {
		Items []xTableInfo `xml:"ReferenceTableInfo"`
	}
	ShardedTableSet struct {
		Items []xTableInfo `xml:"ShardedTableInfo"`
	}
	// Names written by library version 1.1.0, still accepted on read.
	OldReference struct {
		Items []xTableInfo `xml:"ReferenceTableInfo"`
	} `xml:"_referenceTableSet"`
	OldSharded struct {
		Items []xTableInfo `xml:"ShardedTableInfo"`
	} `xml:"_shardedTableSet"`
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// schemaXML renders the library's DataContract form of SchemaInfo.
func schemaXML(s fleet.SchemaInfo) string {
	var b strings.Builder
	b.WriteString(`<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString(`<ReferenceTableSet i:type="ArrayOfReferenceTableInfo">`)
	for _, r := range s.Reference {
		fmt.Fprintf(&b, `<ReferenceTableInfo><SchemaName>%s</SchemaName><TableName>%s</TableName></ReferenceTableInfo>`, SchemaName, esc(r))
	}
	b.WriteString(`</ReferenceTableSet><ShardedTableSet i:type="ArrayOfShardedTableInfo">`)
	for _, st := range s.Sharded {
		fmt.Fprintf(&b, `<ShardedTableInfo><SchemaName>%s</SchemaName><TableName>%s</TableName><KeyColumnName>%s</KeyColumnName></ShardedTableInfo>`,
			SchemaName, esc(st.Table), esc(st.KeyColumn))
	}
	b.WriteString(`</ShardedTableSet></Schema>`)
	return b.String()
}

func parseSchemaXML(data string) (fleet.SchemaInfo, error) {
	var x xSchema
	if err := xml.Unmarshal([]byte(data), &x); err != nil {
		return fleet.SchemaInfo{}, err
	}
	var s fleet.SchemaInfo
	for _, it := range append(x.ShardedTableSet.Items, x.OldSharded.Items...) {
		s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: it.TableName, KeyColumn: it.KeyColumnName})
	}
	for _, it := range append(x.ReferenceTableSet.Items, x.OldReference.Items...) {
		s.Reference = append(s.Reference, it.TableName)
	}
	return s, nil
}

// SetSchemaInfo implements fleet.ShardMapStore.
func (t *Target) SetSchemaInfo(ctx context.Context, mapName string, s fleet.SchemaInfo) error {
	const what = "set schema info"
	seen := map[string]bool{}
	for _, name := range s.Tables() {
		l := strings.ToLower(name)
		if name == "" || seen[l] {
			return invalid(what, mapName, "table %q is empty or listed twice", name)
		}
		seen[l] = true
	}
	for _, st := range s.Sharded {
		if st.KeyColumn == "" {
			return invalid(what, mapName, "sharded table %q has no key column", st.Table)
		}
	}
	return t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		_, err = g.ExecContext(ctx, `INSERT INTO `+tSchemaInfos+`(Name, SchemaInfo) VALUES(?, ?)
			ON CONFLICT(Name) DO UPDATE SET SchemaInfo = excluded.SchemaInfo`, m.Name, schemaXML(s))
		return sqlErr(what, fleet.Location{}, err)
	})
}

// SchemaInfo implements fleet.ShardMapStore.
func (t *Target) SchemaInfo(ctx context.Context, mapName string) (fleet.SchemaInfo, error) {
	g, m, err := t.readMap(ctx, mapName)
	if err != nil {
		return fleet.SchemaInfo{}, err
	}
	return t.schemaInfo(ctx, g, m.Name)
}

func (t *Target) schemaInfo(ctx context.Context, q querier, name string) (fleet.SchemaInfo, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT SchemaInfo FROM `+tSchemaInfos+` WHERE Name = ?`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.SchemaInfo{}, storeErr("read schema info", name, fleet.ResultSchemaInfoNameMissing, "set the table kinds with a ShardLayout plan")
	}
	if err != nil {
		return fleet.SchemaInfo{}, sqlErr("read schema info", fleet.Location{}, err)
	}
	s, err := parseSchemaXML(data)
	if err != nil {
		return s, &fleet.Error{Op: "read schema info", Target: name, Err: fmt.Errorf("%w: bad SchemaInfo XML: %v", fleet.ResultUnexpectedStoreError, err)}
	}
	return s, nil
}
