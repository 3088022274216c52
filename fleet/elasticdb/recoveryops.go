package elasticdb

import (
	"context"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// Recoverer is implemented by drivers whose shard maps can be repaired with
// the RecoveryManager operations below: Recover runs fn with the driver's
// Executor while no other shard map writer runs, after rolling back what
// crashed writers left pending (as every writer does first).
type Recoverer interface {
	Recover(ctx context.Context, fn func(ex Executor) error) error
}

// RecoveryGSMTx is what recovery needs of a GSM transaction besides GSMTx:
// every shard row and every mapping row of a map. A driver's GSMTx
// implements it.
type RecoveryGSMTx interface {
	ShardsOfMap(ctx context.Context, mapID uuid.UUID) ([]GSMShard, error)
	MappingsOfMap(ctx context.Context, mapID uuid.UUID) ([]GSMMapping, error)
}

// Resolutions of ResolveMappingDifferences (the library's
// MappingDifferenceResolution).
const (
	KeepShardMapping    = "keepShardMapping"    // GSM := LSM (RestoreShardMapFromShard)
	KeepShardMapMapping = "keepShardMapMapping" // LSM := GSM (RestoreShardFromShardmap)
)

// recoveryGSM runs fn in a GSM transaction that is also a RecoveryGSMTx.
func recoveryGSM(ctx context.Context, ex Executor, what string, fn func(tx GSMTx, r RecoveryGSMTx) error) error {
	return ex.GSM(ctx, what, func(tx GSMTx) error {
		r, ok := tx.(RecoveryGSMTx)
		if !ok {
			return fmt.Errorf("%w: this driver cannot list a shard map's rows for recovery", fleet.ErrInvalidArgument)
		}
		return fn(tx, r)
	})
}

// Snapshot is every GSM row of a shard map and the LSM rows of the map at
// some locations, as they were before a recovery step: RestoreSnapshot puts
// exactly these rows back. Runs keep it in their journal.
type Snapshot struct {
	MapID    uuid.UUID       `json:"mapId"`
	Shards   []GSMShard      `json:"shards"`
	Mappings []GSMMapping    `json:"mappings"`
	Locals   []LocalSnapshot `json:"locals"`
}

// LocalSnapshot is the LSM rows of one map in one database.
type LocalSnapshot struct {
	Location fleet.Location `json:"location"`
	State    LSMState       `json:"state"`
	Map      *LSMMap        `json:"map,omitempty"`
	Shards   []LSMShard     `json:"shards"`
	Mappings []LSMMapping   `json:"mappings"`
}

// TakeSnapshot reads the map's GSM rows and its LSM rows at locs.
func TakeSnapshot(ctx context.Context, ex Executor, m fleet.ShardMap, locs []fleet.Location) (*Snapshot, error) {
	snap := &Snapshot{MapID: m.ID}
	err := recoveryGSM(ctx, ex, "snapshot shard map", func(tx GSMTx, r RecoveryGSMTx) error {
		var err error
		if snap.Shards, err = r.ShardsOfMap(ctx, m.ID); err != nil {
			return err
		}
		snap.Mappings, err = r.MappingsOfMap(ctx, m.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, loc := range locs {
		if seen[locKey(loc)] {
			continue
		}
		seen[locKey(loc)] = true
		ls, err := readLocal(ctx, ex, m, loc)
		if err != nil {
			return nil, err
		}
		snap.Locals = append(snap.Locals, ls)
	}
	return snap, nil
}

func locKey(l fleet.Location) string { return fmt.Sprintf("%q/%q", lower(l.Server), lower(l.Database)) }

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func readLocal(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location) (LocalSnapshot, error) {
	ls := LocalSnapshot{Location: loc}
	state, err := ex.LSM(ctx, "read local shard map", loc, LSMOpen{IfExists: true}, func(tx LSMTx) error {
		var err error
		if ls.Map, err = tx.Map(ctx, m.ID); err != nil {
			return err
		}
		if ls.Shards, err = tx.ShardsOfMap(ctx, m.ID); err != nil {
			return err
		}
		for _, s := range ls.Shards {
			mps, err := tx.MappingsOfShard(ctx, s.ID)
			if err != nil {
				return err
			}
			ls.Mappings = append(ls.Mappings, mps...)
		}
		return nil
	})
	ls.State = state
	return ls, err
}

// RestoreSnapshot puts back exactly the rows of snap: the map's GSM shard
// and mapping rows (rows added since are removed), and the map's LSM rows in
// every database snap read. A database that existed then and is gone now
// cannot be restored (ErrNoDatabase); one that had no LSM keeps its tables
// but loses the map's rows.
func RestoreSnapshot(ctx context.Context, ex Executor, m fleet.ShardMap, snap *Snapshot) error {
	if snap.MapID != m.ID {
		return fmt.Errorf("%w: the snapshot is of shard map %s, not %s (%s)", fleet.ErrInvalidArgument, snap.MapID, m.Name, m.ID)
	}
	err := recoveryGSM(ctx, ex, "restore global shard map rows", func(tx GSMTx, r RecoveryGSMTx) error {
		if err := clearGSM(ctx, tx, r, m, nil); err != nil {
			return err
		}
		for _, s := range snap.Shards {
			if err := tx.InsertShard(ctx, s); err != nil {
				return err
			}
		}
		for _, mp := range snap.Mappings {
			if err := tx.InsertMapping(ctx, mp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ls := range snap.Locals {
		if ls.State == LSMNoDatabase {
			continue // nothing was there; whatever is there now was made since and is left alone
		}
		state, err := ex.LSM(ctx, "restore local shard map rows", ls.Location, LSMOpen{IfExists: true, Deploy: ls.State == LSMReady},
			func(tx LSMTx) error { return replaceLocal(ctx, tx, m, ls) })
		if err != nil {
			return err
		}
		if state == LSMNoDatabase {
			return &fleet.Error{Op: "restore local shard map rows", Target: ls.Location.String(), Err: fleet.ErrNoDatabase,
				Hint: "the database was there when the step began; restore it from a backup, then roll back again"}
		}
	}
	return nil
}

// clearGSM deletes the map's GSM mapping rows (of the shards in only, or
// all when only is nil), then those shard rows.
func clearGSM(ctx context.Context, tx GSMTx, r RecoveryGSMTx, m fleet.ShardMap, only map[uuid.UUID]bool) error {
	mps, err := r.MappingsOfMap(ctx, m.ID)
	if err != nil {
		return err
	}
	for _, mp := range mps {
		if only == nil || only[mp.ShardID] {
			if err := tx.DeleteMapping(ctx, mp.ID); err != nil {
				return err
			}
		}
	}
	shards, err := r.ShardsOfMap(ctx, m.ID)
	if err != nil {
		return err
	}
	for _, s := range shards {
		if only == nil || only[s.ID] {
			if err := tx.DeleteShard(ctx, s.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceLocal makes the map's LSM rows in one database those of ls.
func replaceLocal(ctx context.Context, tx LSMTx, m fleet.ShardMap, ls LocalSnapshot) error {
	shards, err := tx.ShardsOfMap(ctx, m.ID)
	if err != nil {
		return err
	}
	for _, s := range shards {
		mps, err := tx.MappingsOfShard(ctx, s.ID)
		if err != nil {
			return err
		}
		for _, mp := range mps {
			if err := tx.DeleteMapping(ctx, mp.ID); err != nil {
				return err
			}
		}
		if err := tx.DeleteShard(ctx, s.ID); err != nil {
			return err
		}
	}
	cur, err := tx.Map(ctx, m.ID)
	if err != nil {
		return err
	}
	if cur != nil && (ls.Map == nil || *cur != *ls.Map) {
		if err := tx.DeleteMap(ctx, m.ID); err != nil {
			return err
		}
		cur = nil
	}
	if ls.Map != nil && cur == nil {
		if err := tx.InsertMap(ctx, *ls.Map); err != nil {
			return err
		}
	}
	for _, s := range ls.Shards {
		if err := tx.InsertShard(ctx, s); err != nil {
			return err
		}
	}
	for _, mp := range ls.Mappings {
		if err := tx.InsertMapping(ctx, mp); err != nil {
			return err
		}
	}
	return nil
}

func recErr(what string, loc fleet.Location, err error, hint string) error {
	return &fleet.Error{Op: what, Target: loc.String(), Err: err, Hint: hint}
}

// DetachShard is the library's RecoveryManager.DetachShard with an explicit
// shard map (so the name bug of elastic-db-tools #95 cannot remove the shard
// from other maps): the GSM rows of the shard at loc and of its mappings
// are deleted; the LSM and the data are not touched. Detaching a location
// that is no shard of the map does nothing (a resumed step).
func DetachShard(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location) error {
	return recoveryGSM(ctx, ex, "detach shard", func(tx GSMTx, r RecoveryGSMTx) error {
		s, err := tx.ShardAt(ctx, m.ID, loc)
		if err != nil || s == nil {
			return err
		}
		return clearGSM(ctx, tx, r, m, map[uuid.UUID]bool{s.ID: true})
	})
}

// localShard reads the one shard of m that the LSM at loc holds.
func localShard(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location, what string) (LocalSnapshot, error) {
	ls, err := readLocal(ctx, ex, m, loc)
	if err != nil {
		return ls, err
	}
	switch {
	case ls.State == LSMNoDatabase:
		return ls, recErr(what, loc, fleet.ErrNoDatabase, "restore or create the database first")
	case ls.State == LSMNotDeployed || ls.Map == nil || len(ls.Shards) == 0:
		return ls, recErr(what, loc, fmt.Errorf("%w: the database's local shard map holds no shard of %s", fleet.ResultShardDoesNotExist, m.Name),
			"attach needs a database that was a shard of the map (restored or renamed); add a new database with a ShardLayout plan instead")
	case len(ls.Shards) > 1:
		return ls, recErr(what, loc, fmt.Errorf("%w: the database's local shard map holds %d shards of %s", fleet.ErrInvalidArgument, len(ls.Shards), m.Name),
			"a database is one shard of a map; resolve with keepShardMapMapping to rewrite its local shard map from the global one")
	}
	return ls, nil
}

// AttachShard is the library's RecoveryManager.AttachShard: the shard that
// the LSM at loc holds (its ShardId, Version and Status) is added to the
// GSM at loc, and the LSM's shard row is rewritten to say loc. Mappings are
// not copied: DetectMappingDifferences then ResolveMappingDifferences do
// that. A shard already in the GSM at loc is left as it is (a resumed step);
// at another location it is refused (detach it or update its location).
func AttachShard(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location) error {
	const what = "attach shard"
	ls, err := localShard(ctx, ex, m, loc, what)
	if err != nil {
		return err
	}
	ls.Shards[0].Loc = loc
	local := ls.Shards[0]
	err = ex.GSM(ctx, what, func(tx GSMTx) error {
		if at, err := tx.ShardAt(ctx, m.ID, loc); err != nil {
			return err
		} else if at != nil {
			if at.ID == local.ID {
				return nil
			}
			return recErr(what, loc, fleet.ResultShardLocationExists, "another shard of the map is registered at this location; detach it first")
		}
		if s, err := tx.Shard(ctx, local.ID); err != nil {
			return err
		} else if s != nil {
			return recErr(what, loc, fmt.Errorf("%w: shard %s is registered at %s", fleet.ResultShardExists, s.ID, s.Loc),
				"detach the shard at its old location first, or update its location")
		}
		return tx.InsertShard(ctx, GSMShard{ShardRow: ShardRow{ID: local.ID, Version: local.Version, MapID: m.ID, Loc: loc, Status: local.Status}, Readable: true})
	})
	if err != nil {
		return err
	}
	_, err = ex.LSM(ctx, what, loc, LSMOpen{}, func(tx LSMTx) error { return tx.UpdateShard(ctx, local) })
	return err
}

// ResolveMappingDifferences is the library's ResolveMappingDifferences for
// the shard at loc. KeepShardMapping (RestoreShardMapFromShard): the GSM
// mappings of the shard, and every GSM mapping of any shard that shares
// keys with the LSM's mappings, are replaced by the LSM's mappings (same
// MappingId, bounds and status, unlocked), and the GSM shard Version becomes
// the LSM's. KeepShardMapMapping (RestoreShardFromShardmap): the shard's LSM
// is rewritten from the GSM (map row, shard row with the GSM's Version and
// location, the GSM's mappings of the shard); rows of other shards of the
// map in that LSM are removed. Running it again changes nothing.
func ResolveMappingDifferences(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location, resolution string) error {
	switch resolution {
	case KeepShardMapping:
		return restoreShardMapFromShard(ctx, ex, m, loc)
	case KeepShardMapMapping:
		return restoreShardFromShardMap(ctx, ex, m, loc)
	}
	return fmt.Errorf("%w: resolution %q is neither %s nor %s", fleet.ErrInvalidArgument, resolution, KeepShardMapping, KeepShardMapMapping)
}

func restoreShardMapFromShard(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location) error {
	const what = "resolve keeping the shard's mappings"
	ls, err := localShard(ctx, ex, m, loc, what)
	if err != nil {
		return err
	}
	local := ls.Shards[0]
	return recoveryGSM(ctx, ex, what, func(tx GSMTx, r RecoveryGSMTx) error {
		s, err := tx.ShardAt(ctx, m.ID, loc)
		if err != nil {
			return err
		}
		if s == nil {
			return recErr(what, loc, fleet.ResultShardDoesNotExist, "attach the shard first (attach: or failover:)")
		}
		if s.ID != local.ID {
			return recErr(what, loc, fmt.Errorf("%w: the global shard map has shard %s here, the database's local shard map shard %s", fleet.ResultShardDoesNotExist, s.ID, local.ID),
				"detach the shard and attach it again, so the global shard map takes the shard the database holds")
		}
		all, err := r.MappingsOfMap(ctx, m.ID)
		if err != nil {
			return err
		}
		for _, g := range all {
			drop := g.ShardID == s.ID
			for _, l := range ls.Mappings {
				if g.ID == l.ID || Overlaps(m, g.Min, g.Max, l.Min, l.Max) {
					drop = true
				}
			}
			if drop {
				if err := tx.DeleteMapping(ctx, g.ID); err != nil {
					return err
				}
			}
		}
		for _, l := range ls.Mappings {
			mp := GSMMapping{MappingRow: l.MappingRow, ShardID: s.ID, Readable: true}
			mp.MapID, mp.LockOwner = m.ID, fleet.NoLock
			if err := tx.InsertMapping(ctx, mp); err != nil {
				return err
			}
		}
		s.Version = local.Version
		return tx.UpdateShard(ctx, *s)
	})
}

func restoreShardFromShardMap(ctx context.Context, ex Executor, m fleet.ShardMap, loc fleet.Location) error {
	const what = "resolve keeping the global shard map's mappings"
	var shard *GSMShard
	var mappings []GSMMapping
	err := recoveryGSM(ctx, ex, what, func(tx GSMTx, r RecoveryGSMTx) error {
		var err error
		if shard, err = tx.ShardAt(ctx, m.ID, loc); err != nil || shard == nil {
			return err
		}
		all, err := r.MappingsOfMap(ctx, m.ID)
		for _, g := range all {
			if g.ShardID == shard.ID {
				mappings = append(mappings, g)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	ls := LocalSnapshot{Location: loc, State: LSMReady}
	if shard != nil {
		ls.Map = &LSMMap{Map: m}
		ls.Shards = []LSMShard{{ShardRow: shard.ShardRow}}
		ls.Shards[0].Loc = loc
		for _, g := range mappings {
			ls.Mappings = append(ls.Mappings, LSMMapping{MappingRow: g.MappingRow, ShardID: shard.ID})
		}
	}
	state, err := ex.LSM(ctx, what, loc, LSMOpen{IfExists: true, Deploy: shard != nil}, func(tx LSMTx) error {
		if cur, err := tx.Map(ctx, m.ID); err != nil {
			return err
		} else if cur != nil && ls.Map != nil {
			ls.Map.LastOperationID = cur.LastOperationID // the map row stays as it is
		}
		return replaceLocal(ctx, tx, m, ls)
	})
	if err == nil && state == LSMNoDatabase {
		err = recErr(what, loc, fleet.ErrNoDatabase, "restore the database first, or detach the shard")
	}
	return err
}

// UpdateShardLocation repoints the shard at from to the database at to
// (renamed or moved), which must hold the same shard in its LSM: the GSM
// shard row and its mappings are rewritten with the new location (same
// ShardId, Version and MappingIds), and the LSM's shard row says to. A
// shard already at to is left as it is (a resumed step).
func UpdateShardLocation(ctx context.Context, ex Executor, m fleet.ShardMap, from, to fleet.Location) error {
	const what = "update shard location"
	ls, err := localShard(ctx, ex, m, to, what)
	if err != nil {
		return err
	}
	local := ls.Shards[0]
	err = recoveryGSM(ctx, ex, what, func(tx GSMTx, r RecoveryGSMTx) error {
		if at, err := tx.ShardAt(ctx, m.ID, to); err != nil {
			return err
		} else if at != nil {
			if at.ID == local.ID {
				return nil
			}
			return recErr(what, to, fleet.ResultShardLocationExists, "another shard of the map is registered at the new location")
		}
		s, err := tx.ShardAt(ctx, m.ID, from)
		if err != nil {
			return err
		}
		if s == nil {
			return recErr(what, from, fleet.ResultShardDoesNotExist, "the global shard map has no shard at the old location")
		}
		if s.ID != local.ID {
			return recErr(what, to, fmt.Errorf("%w: %s holds shard %s, the shard at %s is %s", fleet.ErrInvalidArgument, to, local.ID, from, s.ID),
				"name the database that holds this shard")
		}
		all, err := r.MappingsOfMap(ctx, m.ID)
		if err != nil {
			return err
		}
		var mine []GSMMapping
		for _, g := range all {
			if g.ShardID == s.ID {
				mine = append(mine, g)
			}
		}
		if err := clearGSM(ctx, tx, r, m, map[uuid.UUID]bool{s.ID: true}); err != nil {
			return err
		}
		moved := *s
		moved.Loc = to
		if err := tx.InsertShard(ctx, moved); err != nil {
			return err
		}
		for _, g := range mine {
			if err := tx.InsertMapping(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	local.Loc = to
	_, err = ex.LSM(ctx, what, to, LSMOpen{}, func(tx LSMTx) error { return tx.UpdateShard(ctx, local) })
	return err
}
