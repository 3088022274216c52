package elasticdb

import (
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// The operations of the library's ShardMap and shard mapper APIs, built as
// the library builds them: fresh operation and mapping ids, a new shard
// version for every shard a mapping change touches. The callers check
// their arguments first.

// ShardRowOf is a shard as a request carries it, with version v.
func ShardRowOf(s fleet.Shard, v uuid.UUID) *ShardRow {
	return &ShardRow{ID: s.ID, Version: v, MapID: s.MapID, Loc: s.Location, Status: s.Status}
}

// MappingRowOf is a mapping as a request carries it.
func MappingRowOf(mp fleet.Mapping) MappingRow {
	st := 0
	if mp.Online {
		st = 1
	}
	return MappingRow{ID: mp.ID, MapID: mp.MapID, Min: mp.Min, Max: mp.Max, Status: st, LockOwner: mp.LockOwner}
}

// sameShardOp builds a mapping operation on one shard with a new version.
func sameShardOp(code int, m fleet.ShardMap, s fleet.Shard, steps ...Step) *Operation {
	rec := ShardRowOf(s, uuid.New())
	return &Operation{ID: uuid.New(), Code: code, Map: m, Source: rec, Target: rec,
		OrigSource: s.Version, OrigTarget: s.Version, Steps: steps}
}

func pick(m fleet.ShardMap, list, rng int) int {
	if m.Type == fleet.ListMap {
		return list
	}
	return rng
}

// AddShardOp adds a shard of m at loc (op 1); the new shard is
// op.Steps[0].Shard.
func AddShardOp(m fleet.ShardMap, loc fleet.Location) *Operation {
	sh := &ShardRow{ID: uuid.New(), Version: uuid.New(), MapID: m.ID, Loc: loc, Status: fleet.ShardOnline}
	return &Operation{ID: uuid.New(), Code: fleet.OpAddShard, Map: m, ShardOp: true, Steps: []Step{{Kind: StepAdd, Shard: sh}}}
}

// RemoveShardOp removes shard s of m (op 2).
func RemoveShardOp(m fleet.ShardMap, s fleet.Shard) *Operation {
	return &Operation{ID: uuid.New(), Code: fleet.OpRemoveShard, Map: m, ShardOp: true,
		Steps: []Step{{Kind: StepRemove, Shard: ShardRowOf(s, s.Version)}}}
}

// AddMappingOp maps [min, max) (a point on a list map) to shard s (op 4 or
// 8), online, with the overlap check; the new mapping is op.Steps[0].Mapping.
func AddMappingOp(m fleet.ShardMap, s fleet.Shard, min, max []byte) *Operation {
	add := MappingRow{ID: uuid.New(), MapID: m.ID, Min: min, Max: max, Status: 1}
	return sameShardOp(pick(m, fleet.OpAddPointMapping, fleet.OpAddRangeMapping), m, s,
		Step{Kind: StepAdd, Validate: true, Mapping: add})
}

// RemoveMappingOp removes mapping mp of shard s (op 5 or 9), presenting lock.
func RemoveMappingOp(m fleet.ShardMap, s fleet.Shard, mp fleet.Mapping, lock uuid.UUID) *Operation {
	return sameShardOp(pick(m, fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping), m, s,
		Step{Kind: StepRemove, Lock: lock, Mapping: MappingRowOf(mp)})
}

// SetOnlineOp takes mapping mp of shard s online (op 6 or 10) or offline
// (op 7 or 11); the rewritten mapping is op.Steps[0].New.
func SetOnlineOp(m fleet.ShardMap, s fleet.Shard, mp fleet.Mapping, online bool, lock uuid.UUID) *Operation {
	old := MappingRowOf(mp)
	nw := old
	nw.ID = uuid.New()
	nw.Status = 0
	code := pick(m, fleet.OpUpdatePointMappingWithOffline, fleet.OpUpdateRangeMappingWithOffline)
	if online {
		nw.Status = 1
		code = pick(m, fleet.OpUpdatePointMapping, fleet.OpUpdateRangeMapping)
	}
	return sameShardOp(code, m, s, Step{Kind: StepUpdate, Lock: lock, Mapping: old, New: &nw})
}

// RepointOp points offline mapping mp from shard s at shard to (op 6 or 10
// with a shard change), online afterwards when asked; the rewritten mapping
// is op.Steps[0].New.
func RepointOp(m fleet.ShardMap, s, to fleet.Shard, mp fleet.Mapping, online bool, lock uuid.UUID) *Operation {
	old := MappingRowOf(mp)
	nw := old
	nw.ID = uuid.New()
	if online {
		nw.Status = 1
	}
	return &Operation{ID: uuid.New(), Code: pick(m, fleet.OpUpdatePointMapping, fleet.OpUpdateRangeMapping), Map: m,
		Source: ShardRowOf(s, uuid.New()), Target: ShardRowOf(to, uuid.New()), OrigSource: s.Version, OrigTarget: to.Version,
		Steps: []Step{{Kind: StepUpdate, Lock: lock, Mapping: old, New: &nw}}}
}

// SplitOp splits mapping mp of shard s at key at (op 14): both halves keep
// its status and get the caller's lock as their owner, and every step
// carries the caller's lock, as RangeShardMapper.Split writes them. The
// halves are op.Steps[1] and [2].
func SplitOp(m fleet.ShardMap, s fleet.Shard, mp fleet.Mapping, at []byte, lock uuid.UUID) *Operation {
	owner := lock
	old := MappingRowOf(mp)
	lo := MappingRow{ID: uuid.New(), MapID: m.ID, Min: mp.Min, Max: at, Status: old.Status, LockOwner: owner}
	hi := MappingRow{ID: uuid.New(), MapID: m.ID, Min: at, Max: mp.Max, Status: old.Status, LockOwner: owner}
	return sameShardOp(fleet.OpSplitMapping, m, s,
		Step{Kind: StepRemove, Lock: lock, Mapping: old},
		Step{Kind: StepAdd, Lock: lock, Mapping: lo},
		Step{Kind: StepAdd, Lock: lock, Mapping: hi})
}

// MergeOp merges adjacent mappings l and r of shard s (op 15); the result
// keeps l's status and lock owner and is op.Steps[2]; every step carries
// the caller's lock (RangeShardMapper.Merge).
func MergeOp(m fleet.ShardMap, s fleet.Shard, l, r fleet.Mapping, lock uuid.UUID) *Operation {
	lr, rr := MappingRowOf(l), MappingRowOf(r)
	merged := MappingRow{ID: uuid.New(), MapID: m.ID, Min: l.Min, Max: r.Max, Status: lr.Status, LockOwner: l.LockOwner}
	return sameShardOp(fleet.OpMergeMappings, m, s,
		Step{Kind: StepRemove, Lock: lock, Mapping: lr},
		Step{Kind: StepRemove, Lock: lock, Mapping: rr},
		Step{Kind: StepAdd, Lock: lock, Mapping: merged})
}
