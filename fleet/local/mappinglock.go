package local

import (
	"context"
	"database/sql"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// setLockOwner runs the library's lock rule (elasticdb.LockOwnerChange)
// on a mapping and writes the new owner.
func (t *Target) setLockOwner(ctx context.Context, what, mapName string, id, owner uuid.UUID, lock bool) error {
	return t.mappingWrite(ctx, mapName, id, func(g *sql.DB, m fleet.ShardMap, mp fleet.Mapping, _ fleet.Shard) error {
		nw, err := elasticdb.LockOwnerChange(what, m, mp, owner, lock)
		if undone, rerr := elasticdb.ResolvePending(ctx, t.executor(g), err); undone {
			if mp, err = t.mappingByID(ctx, g, m, id); err != nil {
				return err
			}
			nw, err = elasticdb.LockOwnerChange(what, m, mp, owner, lock)
		} else {
			err = rerr
		}
		if err != nil {
			return err
		}
		_, err = g.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET LockOwnerId = ? WHERE MappingId = ? AND Readable = 1`, nw.String(), id.String())
		return sqlErr(what, fleet.Location{}, err)
	})
}

// LockMapping implements fleet.ShardMapStore.
func (t *Target) LockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error {
	if owner == fleet.NoLock || owner == fleet.ForceUnlock {
		return invalid("lock mapping", mapName, "the lock owner must be a real id, not the zero or all-F id")
	}
	return t.setLockOwner(ctx, "lock mapping", mapName, id, owner, true)
}

// UnlockMapping implements fleet.ShardMapStore.
func (t *Target) UnlockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error {
	return t.setLockOwner(ctx, "unlock mapping", mapName, id, owner, false)
}
