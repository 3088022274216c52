package local

import (
	"bytes"
	"context"
	"database/sql"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// The shard map operations a batched move needs, each as one logged
// operation of a kind the library writes and undoes itself: a split that
// takes its middle part offline, and a merge of any number of mappings.

var (
	_ fleet.MappingCutter  = (*Target)(nil)
	_ fleet.MappingsMerger = (*Target)(nil)
)

// CutMappingOffline implements fleet.MappingCutter.
func (t *Target) CutMappingOffline(ctx context.Context, mapName string, id uuid.UUID, min, max []byte) (fleet.Mapping, []fleet.Mapping, error) {
	const what = "take range offline"
	var out fleet.Mapping
	var rest []fleet.Mapping
	whole := false
	err := t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, s fleet.Shard) error {
		switch {
		case m.Type != fleet.RangeMap:
			return invalid(what, mapName, "only range mappings are cut")
		case !mp.Online:
			return elasticdb.StoreErr(what, mapName+"/"+id.String(), fleet.ResultMappingIsOffline, "the mapping is offline already")
		case min == nil || shardkey.Compare(min, mp.Min) < 0 || shardkey.Compare(max, mp.Max) > 0 ||
			max != nil && shardkey.Compare(min, max) >= 0:
			return invalid(what, mapName, "[%s, %s) is not a part of [%s, %s)", shardkey.FormatBound(m.KeyType, min), shardkey.FormatBound(m.KeyType, max),
				shardkey.FormatBound(m.KeyType, mp.Min), shardkey.FormatBound(m.KeyType, mp.Max))
		}
		for _, b := range [][]byte{min, max} {
			if err := t.checkKey(what, m, "bound", b); err != nil {
				return err
			}
		}
		if bytes.Equal(min, mp.Min) && (max == nil) == (mp.Max == nil) && bytes.Equal(max, mp.Max) {
			whole = true
			return nil
		}
		op := cutOfflineOp(m, s, mp, min, max, fleet.LockOwnerFrom(ctx))
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		for _, st := range op.Steps[1:] {
			part, err := t.mappingByID(ctx, g, m, st.Mapping.ID)
			if err != nil {
				return err
			}
			if bytes.Equal(part.Min, min) {
				out = part
			} else {
				rest = append(rest, part)
			}
		}
		return nil
	})
	if whole {
		out, err = t.SetMappingOnline(ctx, mapName, id, false)
	}
	return out, rest, err
}

// cutOfflineOp is elasticdb.SplitOp with one or two cuts, the part
// [min, max) added offline: remove the mapping, add the parts in key order.
// As RangeShardMapper.Split writes them, every part gets the caller's lock
// as its owner and every step carries the lock.
func cutOfflineOp(m fleet.ShardMap, s fleet.Shard, mp fleet.Mapping, min, max []byte, lock uuid.UUID) *elasticdb.Operation {
	old := elasticdb.MappingRowOf(mp)
	steps := []elasticdb.Step{{Kind: elasticdb.StepRemove, Lock: lock, Mapping: old}}
	part := func(lo, hi []byte, status int) {
		steps = append(steps, elasticdb.Step{Kind: elasticdb.StepAdd, Lock: lock,
			Mapping: elasticdb.MappingRow{ID: uuid.New(), MapID: m.ID, Min: lo, Max: hi, Status: status, LockOwner: lock}})
	}
	if !bytes.Equal(min, mp.Min) {
		part(mp.Min, min, old.Status)
	}
	part(min, max, 0)
	if max != nil && (mp.Max == nil || shardkey.Compare(max, mp.Max) < 0) {
		part(max, mp.Max, old.Status)
	}
	rec := elasticdb.ShardRowOf(s, uuid.New())
	return &elasticdb.Operation{ID: uuid.New(), Code: fleet.OpSplitMapping, Map: m, Source: rec, Target: rec,
		OrigSource: s.Version, OrigTarget: s.Version, Steps: steps}
}

// MergeAllMappings implements fleet.MappingsMerger.
func (t *Target) MergeAllMappings(ctx context.Context, mapName string, ids []uuid.UUID) (fleet.Mapping, error) {
	const what = "merge mappings"
	if len(ids) == 0 {
		return fleet.Mapping{}, invalid(what, mapName, "no mappings to merge")
	}
	var out fleet.Mapping
	err := t.mappingWrite(ctx, mapName, ids[0], func(g *sql.DB, m fleet.ShardMap, first fleet.Mapping, s fleet.Shard) error {
		if m.Type != fleet.RangeMap {
			return invalid(what, mapName, "only range maps merge")
		}
		if len(ids) == 1 {
			out = first
			return nil
		}
		ms := []fleet.Mapping{first}
		for _, id := range ids[1:] {
			r, err := t.mappingByID(ctx, g, m, id)
			if err != nil {
				return err
			}
			if err := mergeable(what, m, ms[len(ms)-1], r); err != nil {
				return err
			}
			ms = append(ms, r)
		}
		op := mergeAllOp(m, s, ms, fleet.LockOwnerFrom(ctx))
		if err := t.run(ctx, g, op); err != nil {
			return err
		}
		var err error
		out, err = t.mappingByID(ctx, g, m, op.Steps[len(op.Steps)-1].Mapping.ID)
		return err
	})
	return out, err
}

// mergeAllOp is elasticdb.MergeOp for n mappings: a remove step for each,
// then the add of the whole, with the first mapping's status and lock
// owner; every step carries the caller's lock (RangeShardMapper.Merge).
func mergeAllOp(m fleet.ShardMap, s fleet.Shard, ms []fleet.Mapping, lock uuid.UUID) *elasticdb.Operation {
	var steps []elasticdb.Step
	for _, mp := range ms {
		steps = append(steps, elasticdb.Step{Kind: elasticdb.StepRemove, Lock: lock, Mapping: elasticdb.MappingRowOf(mp)})
	}
	first := elasticdb.MappingRowOf(ms[0])
	merged := elasticdb.MappingRow{ID: uuid.New(), MapID: m.ID, Min: ms[0].Min, Max: ms[len(ms)-1].Max, Status: first.Status, LockOwner: first.LockOwner}
	steps = append(steps, elasticdb.Step{Kind: elasticdb.StepAdd, Lock: lock, Mapping: merged})
	rec := elasticdb.ShardRowOf(s, uuid.New())
	return &elasticdb.Operation{ID: uuid.New(), Code: fleet.OpMergeMappings, Map: m, Source: rec, Target: rec,
		OrigSource: s.Version, OrigTarget: s.Version, Steps: steps}
}
