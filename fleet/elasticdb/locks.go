package elasticdb

import (
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// LockOwnerChange is spLockOrUnlockShardMappingsGlobal for one mapping
// (lock operation 0 when lock, else 1): the mapping's new LockOwnerId, or
// the library's refusal. A pending operation on the mapping is 52;
// locking a mapping that any owner holds, the caller included, is 308;
// unlocking needs the current owner or ForceUnlock, else 307 (an unlocked
// mapping included).
func LockOwnerChange(what string, m fleet.ShardMap, mp fleet.Mapping, owner uuid.UUID, lock bool) (uuid.UUID, error) {
	target := m.Name + "/" + mp.ID.String()
	switch {
	case mp.OperationID != nil:
		return mp.LockOwner, conflictErr(what, target, *mp.OperationID)
	case lock && mp.LockOwner != fleet.NoLock:
		return mp.LockOwner, LockedErr(what, m, MappingRowOf(mp), mp.LockOwner, fleet.ResultMappingAlreadyLocked)
	case lock:
		return owner, nil
	case owner != mp.LockOwner && owner != fleet.ForceUnlock:
		return mp.LockOwner, LockedErr(what, m, MappingRowOf(mp), mp.LockOwner, fleet.ResultMappingLockOwnerIDDiff)
	}
	return fleet.NoLock, nil
}
