package local

import (
	"context"
	"database/sql"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// lockOp reads a mapping's lock state for the lock operations (GSM only).
func (t *Target) lockOp(ctx context.Context, mapName string, id uuid.UUID, fn func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, target string, owner uuid.UUID) error) error {
	return t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, _ fleet.Shard) error {
		target := mapName + "/" + id.String()
		if mp.OperationID != nil {
			return elasticdb.StoreErr("lock mapping", target, fleet.ResultPendingOperation, "retry")
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
			return elasticdb.LockedErr("lock mapping", m, elasticdb.MappingRowOf(mp), cur, fleet.ResultMappingAlreadyLocked)
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
			return elasticdb.LockedErr("unlock mapping", m, elasticdb.MappingRowOf(mp), cur, fleet.ResultMappingLockOwnerIDDiff)
		}
		_, err := g.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET LockOwnerId = ? WHERE MappingId = ? AND Readable = 1`, zeroGUID, id.String())
		return sqlErr("unlock mapping", fleet.Location{}, err)
	})
}
