package elasticdb

import (
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// The store version this package reads and writes (GlobalConstants.GsmVersionClient
// and LsmVersionClient of the library); only the major version is compared.
const (
	StoreVersionMajor = 1
	StoreVersionMinor = 2
)

// Step kinds of the library's bulk operations.
const (
	StepRemove = 1
	StepUpdate = 2
	StepAdd    = 3
)

// UndoBegin is StoreOperationState.UndoBegin, the column default.
const UndoBegin = 100

// ShardRow is a shard as a request carries it (<Shard>): its id, version,
// shard map, location and status.
type ShardRow struct {
	ID, Version, MapID uuid.UUID
	Loc                fleet.Location
	Status             int
}

// MappingRow is a mapping as a request carries it (<Mapping>): bounds as
// encoded keys (Max nil = +infinity), status (1 online) and lock owner.
type MappingRow struct {
	ID, MapID uuid.UUID
	Min, Max  []byte
	Status    int
	LockOwner uuid.UUID
}

// Step is one <Step> of a bulk operation: Kind is StepRemove, StepUpdate or
// StepAdd; Lock is the lock owner the writer presents.
type Step struct {
	Kind     int
	Validate bool
	Lock     uuid.UUID
	Mapping  MappingRow  // mapping steps: the row removed, updated (old) or added
	New      *MappingRow // update steps: the row after the update
	Shard    *ShardRow   // shard steps: the shard added, removed or updated (old)
	NewShard *ShardRow   // shard update steps: the shard after the update
}

// Operation is one multi-database change, as logged in OperationsLogGlobal.
type Operation struct {
	ID      uuid.UUID
	Code    int
	Map     fleet.ShardMap
	ShardOp bool // BulkOperationShardsGlobal (else BulkOperationShardMappingsGlobal)
	// Mapping operations: the source (Removes) and target (Adds) shards with
	// their NEW versions, and their versions before the operation.
	Source, Target         *ShardRow
	OrigSource, OrigTarget uuid.UUID
	Steps                  []Step
}

// SameShard reports whether a mapping operation stays on one shard.
func (op *Operation) SameShard() bool { return op.Source.ID == op.Target.ID }

// FaultPoint is the fault injection point of an operation: shardmap.<op>.
func (op *Operation) FaultPoint() string {
	switch op.Code {
	case fleet.OpAddShard, fleet.OpAttachShard:
		return "shardmap.add-shard"
	case fleet.OpRemoveShard:
		return "shardmap.remove-shard"
	case fleet.OpUpdateShard:
		return "shardmap.update-shard"
	case fleet.OpAddPointMapping, fleet.OpAddRangeMapping:
		return "shardmap.add-mapping"
	case fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping:
		return "shardmap.remove-mapping"
	case fleet.OpSplitMapping:
		return "shardmap.split"
	case fleet.OpMergeMappings:
		return "shardmap.merge"
	}
	return "shardmap.update-mapping"
}

// IsRemoveCode reports whether an operation code removes a mapping (the
// library requires such a mapping to be offline first).
func IsRemoveCode(code int) bool {
	return code == fleet.OpRemovePointMapping || code == fleet.OpRemoveRangeMapping || code == 13
}

// RangeText renders a mapping's bounds for messages.
func (op *Operation) RangeText(m MappingRow) string { return BoundsText(op.Map, m.Min, m.Max) }

// LSMChange is what one shard's LSM gets from a mapping operation.
type LSMChange struct {
	Shard   *ShardRow // with the new version
	Orig    uuid.UUID // the version before
	Removes []MappingRow
	Adds    []MappingRow
}

// LSMChanges splits a mapping operation into the source's and the target's
// LSM changes (an update is a remove of the old id plus an add of the new,
// as the library's spBulkOperationShardMappingsLocal does it).
func (op *Operation) LSMChanges() (src, tgt LSMChange) {
	src = LSMChange{Shard: op.Source, Orig: op.OrigSource}
	tgt = LSMChange{Shard: op.Target, Orig: op.OrigTarget}
	for _, s := range op.Steps {
		switch s.Kind {
		case StepRemove:
			src.Removes = append(src.Removes, s.Mapping)
		case StepUpdate:
			src.Removes = append(src.Removes, s.Mapping)
			tgt.Adds = append(tgt.Adds, *s.New)
		case StepAdd:
			tgt.Adds = append(tgt.Adds, s.Mapping)
		}
	}
	return src, tgt
}

// ParseID reads a uniqueidentifier in its canonical text form.
func ParseID(s string) (uuid.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("bad uuid %q in the shard map store: %w", s, err)
	}
	return u, nil
}
