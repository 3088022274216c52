package local

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
				return elasticdb.StoreErr(what, name, fleet.ResultShardMapExists,
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
		op := elasticdb.AddShardOp(m, canon)
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.shardByID(ctx, g, op.Steps[0].Shard.ID)
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
		return t.run(ctx, g, elasticdb.RemoveShardOp(m, s))
	})
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
		op := elasticdb.AddMappingOp(m, s, min, max)
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.mappingByID(ctx, g, m, op.Steps[0].Mapping.ID)
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
		return t.run(ctx, g, elasticdb.RemoveMappingOp(m, s, mp, fleet.LockOwnerFrom(ctx)))
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
		op := elasticdb.SetOnlineOp(m, s, mp, online, fleet.LockOwnerFrom(ctx))
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		var err error
		out, err = t.mappingByID(ctx, g, m, op.Steps[0].New.ID)
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
			return elasticdb.StoreErr("update mapping shard", mapName+"/"+id.String(), fleet.ResultMappingNotOffline,
				"take the mapping offline before pointing it at another shard")
		}
		op := elasticdb.RepointOp(m, s, ts, mp, online, fleet.LockOwnerFrom(ctx))
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.mappingByID(ctx, g, m, op.Steps[0].New.ID)
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
		op := elasticdb.SplitOp(m, s, mp, at, fleet.LockOwnerFrom(ctx))
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		var err error
		if lower, err = t.mappingByID(ctx, g, m, op.Steps[1].Mapping.ID); err != nil {
			return err
		}
		upper, err = t.mappingByID(ctx, g, m, op.Steps[2].Mapping.ID)
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
		if err := mergeable(what, m, l, r); err != nil {
			return err
		}
		op := elasticdb.MergeOp(m, s, l, r, fleet.LockOwnerFrom(ctx))
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		out, err = t.mappingByID(ctx, g, m, op.Steps[2].Mapping.ID)
		return err
	})
	return out, err
}

// mergeable refuses to merge mapping r into l unless both are on one shard,
// adjacent (l first) and both online or both offline.
func mergeable(what string, m fleet.ShardMap, l, r fleet.Mapping) error {
	switch {
	case r.ShardID != l.ShardID:
		return invalid(what, m.Name, "the mappings are on different shards (%s, %s); move one first", l.Location, r.Location)
	case l.Max == nil || !bytes.Equal(l.Max, r.Min):
		return invalid(what, m.Name, "[%s, %s) and [%s, %s) are not adjacent (left first)",
			shardkey.FormatBound(m.KeyType, l.Min), shardkey.FormatBound(m.KeyType, l.Max),
			shardkey.FormatBound(m.KeyType, r.Min), shardkey.FormatBound(m.KeyType, r.Max))
	case l.Online != r.Online:
		return invalid(what, m.Name, "one mapping is online and the other offline")
	}
	return nil
}

// run performs op through the driver-neutral protocol on this fleet's files.
func (t *Target) run(ctx context.Context, g *sql.DB, op *elasticdb.Operation) error {
	return elasticdb.Run(ctx, t.executor(g), op)
}
