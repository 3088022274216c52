package shardmap

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
)

// Mapping locks. A move holds the Elastic Database library's own mapping
// locks (LockOwnerId in the GSM) on every mapping of its range for the whole
// move, with an owner derived from the run id (fleet.RunLockOwner). The store
// refuses a change of a locked mapping that does not present the owner, so a
// second mover — another fleetplan run that got past the fleet lock, or a
// .NET client of the library — is refused by the shard map itself. A resumed
// run presents the same owner and carries on; the locks are released when
// the move (or its reverse, the rollback) is done.

// lockOwner is the mapping lock owner of the run the step belongs to.
func lockOwner(env *steps.Env) uuid.UUID { return fleet.RunLockOwner(env.RunID) }

// lockRange cuts the mappings at low and high (presenting the lock of the
// mapping it cuts when that is free or ours) and locks every mapping of
// [low, high) for owner. It refuses, changing nothing more, when another
// owner holds any of them. The returned context presents owner to the store.
func lockRange(ctx context.Context, c caps, mapName string, low, high []byte, owner uuid.UUID) (context.Context, error) {
	for _, at := range [][]byte{low, high} {
		if at == nil {
			continue
		}
		mp, err := mappingFor(ctx, c, mapName, at)
		if errors.Is(err, fleet.ErrNotFound) {
			continue
		}
		if err != nil {
			return ctx, err
		}
		present := owner
		if mp.LockOwner == fleet.NoLock {
			present = fleet.NoLock // the halves stay unlocked; the ones inside are locked below
		}
		if err := splitAt(fleet.WithLockOwner(ctx, present), c, mapName, at); err != nil {
			return ctx, err
		}
	}
	ms, err := within(ctx, c, mapName, low, high)
	if err != nil {
		return ctx, err
	}
	for _, mp := range ms {
		if mp.LockOwner == owner {
			continue
		}
		if err := c.store.LockMapping(ctx, mapName, mp.ID, owner); err != nil {
			return ctx, err
		}
	}
	return fleet.WithLockOwner(ctx, owner), nil
}

// unlockRange releases owner's locks on the mappings of [low, high).
func unlockRange(ctx context.Context, c caps, mapName string, low, high []byte, owner uuid.UUID) error {
	ms, err := within(ctx, c, mapName, low, high)
	if err != nil {
		return err
	}
	for _, mp := range ms {
		if mp.LockOwner != owner {
			continue
		}
		if err := c.store.UnlockMapping(ctx, mapName, mp.ID, owner); err != nil {
			return err
		}
	}
	return nil
}

// lockedBy reports whether owner holds a lock on any of ms.
func lockedBy(ms []fleet.Mapping, owner uuid.UUID) bool {
	for _, mp := range ms {
		if mp.LockOwner == owner {
			return true
		}
	}
	return false
}
