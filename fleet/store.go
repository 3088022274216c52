package fleet

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// ErrInvalidArgument marks a request that can never succeed as given (a split
// point outside the mapping, mappings that are not adjacent, a key of the
// wrong type). Drivers wrap it in *Error.
var ErrInvalidArgument = errors.New("invalid argument")

// ShardMapStore reads and changes Elastic Database shard maps: the global
// shard map (GSM) in the shard map manager database and the local shard map
// (LSM) in every shard. Implementations keep the library's invariants: the
// same MappingId, bounds and status in GSM and LSM, a new shard Version on
// every mapping change written to both, half-open ranges with Max nil = +inf,
// and every multi-database change logged in OperationsLogGlobal before it
// touches a shard.
//
// Errors are *Error wrapping a StoreResult (test with errors.Is, e.g.
// errors.Is(err, ResultMappingNotOffline) or errors.Is(err, ErrNotFound)) or
// ErrInvalidArgument. A writer whose change meets an operation left pending
// by another writer rolls it back first, once that operation's owner is gone
// (the library's rule: result 52, then the operation's application lock), so
// a crashed writer never blocks the next one and a running one is never
// undone: that is ResultPendingOperation, after a wait.
//
// Locks: mutations of a locked mapping must present its owner, which callers
// put in the context with WithLockOwner (default NoLock); a mismatch is
// ResultMappingLockOwnerIDDiff. ForceUnlock only unlocks (UnlockMapping):
// as in the library, a change never bypasses a lock.
//
// Mapping ids change on every update (library semantics): find mappings again
// by bounds (MappingForKey, Mappings) after changing them.
type ShardMapStore interface {
	// CreateShardMap creates an empty shard map. Idempotent: an existing map
	// with the same name, type and key type is returned as is; one with the
	// same name (case-insensitive) and another type is ResultShardMapExists.
	CreateShardMap(ctx context.Context, name string, t MapType, k KeyType) (ShardMap, error)
	// ShardMap returns the named map; errors.Is(err, ErrNotFound) when absent.
	ShardMap(ctx context.Context, name string) (ShardMap, error)
	// ShardMaps lists all maps, ordered by name.
	ShardMaps(ctx context.Context) ([]ShardMap, error)

	// AddShard registers a database as a shard of the map in the GSM and
	// deploys the LSM tables (and the map's rows) in that database. The
	// database must exist. Idempotent: a location that is already a shard of
	// the map returns the existing shard.
	AddShard(ctx context.Context, mapName string, loc Location) (Shard, error)
	// RemoveShard removes a shard from GSM and its LSM rows. It refuses with
	// ResultShardHasMappings while mappings point at it; ErrNotFound when the
	// location is not a shard of the map.
	RemoveShard(ctx context.Context, mapName string, loc Location) error
	// Shards lists the map's shards, ordered by server and database.
	Shards(ctx context.Context, mapName string) ([]Shard, error)

	// Mappings lists the map's mappings ordered by Min.
	Mappings(ctx context.Context, mapName string) ([]Mapping, error)
	// MappingForKey returns the mapping that holds an encoded key (range:
	// Min <= key < Max; list: Min = key), whatever its status. ErrNotFound
	// (ResultMappingNotFoundForKey) when the key is unmapped.
	MappingForKey(ctx context.Context, mapName string, key []byte) (Mapping, error)
	// AddMapping maps [min, max) (range maps) or the point min (list maps,
	// max ignored) to the shard at loc, online. ResultMappingRangeMapped /
	// ResultMappingPointMapped on overlap, ErrNotFound for an unknown shard.
	// Idempotent: an identical mapping (same bounds and shard) is returned.
	AddMapping(ctx context.Context, mapName string, loc Location, min, max []byte) (Mapping, error)
	// SplitMapping splits a range mapping at an encoded key strictly inside
	// it (op 14): two new mappings on the same shard with the parent's status
	// and lock owner, and a new shard Version. Not idempotent (the parent id
	// is gone afterwards: ErrNotFound); callers check the bounds first.
	SplitMapping(ctx context.Context, mapName string, id uuid.UUID, at []byte) (lower, upper Mapping, err error)
	// MergeMappings merges two adjacent range mappings (left.Max = right.Min)
	// on the same shard with the same status (op 15); the result carries the
	// left mapping's lock owner. ErrInvalidArgument otherwise.
	MergeMappings(ctx context.Context, mapName string, left, right uuid.UUID) (Mapping, error)
	// RemoveMapping deletes an offline mapping (ResultMappingNotOffline when
	// online), from GSM and LSM.
	RemoveMapping(ctx context.Context, mapName string, id uuid.UUID) error
	// SetMappingOnline marks a mapping online or offline (op 10). The mapping
	// gets a NEW id and the shard a new Version, as in the library.
	// Idempotent: a mapping already in that state is returned unchanged.
	SetMappingOnline(ctx context.Context, mapName string, id uuid.UUID, online bool) (Mapping, error)
	// UpdateMappingShard points an offline mapping at another shard of the
	// map (op 10 with a shard change): new mapping id, new Versions of both
	// shards, GSM + source LSM + target LSM. ResultMappingNotOffline when
	// online. Idempotent: a mapping already on loc is returned unchanged.
	UpdateMappingShard(ctx context.Context, mapName string, id uuid.UUID, to Location) (Mapping, error)
	// LockMapping sets the mapping's lock owner (GSM only, like the library).
	// ResultMappingAlreadyLocked when any owner holds it, the same owner
	// included, as the library's spLockOrUnlockShardMappingsGlobal says.
	// owner must not be NoLock.
	LockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error
	// UnlockMapping clears the lock when owner matches (or is ForceUnlock);
	// ResultMappingLockOwnerIDDiff otherwise, an unlocked mapping included
	// (library semantics).
	UnlockMapping(ctx context.Context, mapName string, id, owner uuid.UUID) error

	// SetSchemaInfo stores the map's table kinds (ShardedDatabaseSchemaInfosGlobal,
	// keyed by the map name). Idempotent: replaces what was there.
	SetSchemaInfo(ctx context.Context, mapName string, s SchemaInfo) error
	// SchemaInfo returns the stored table kinds; ErrNotFound when none.
	SchemaInfo(ctx context.Context, mapName string) (SchemaInfo, error)

	// RecoverPending rolls back every operation left pending by a crashed
	// writer (a row in OperationsLogGlobal whose owner no longer holds its
	// lock): LSM changes are undone, pending GSM rows removed, locked shard
	// rows released, the log row deleted. An operation still running is left
	// alone. It returns the ids of the operations it rolled back. Like the
	// library, there is no roll-forward. It is idempotent.
	RecoverPending(ctx context.Context) ([]uuid.UUID, error)
}

type lockOwnerKey struct{}

// WithLockOwner returns a context whose shard map mutations present owner as
// the mapping lock token.
func WithLockOwner(ctx context.Context, owner uuid.UUID) context.Context {
	return context.WithValue(ctx, lockOwnerKey{}, owner)
}

// LockOwnerFrom returns the lock token put in ctx by WithLockOwner, or NoLock.
func LockOwnerFrom(ctx context.Context) uuid.UUID {
	if o, ok := ctx.Value(lockOwnerKey{}).(uuid.UUID); ok {
		return o
	}
	return NoLock
}

// MappingMover is implemented by stores that point an offline mapping at
// another shard and bring it online in one logged operation (the library's
// UpdateRangeMapping with both a shard and a status change), which saves a
// round of GSM and LSM writes per moved batch. Otherwise the contract is
// UpdateMappingShard's; a mapping already on `to` is only brought online.
type MappingMover interface {
	MoveMappingOnline(ctx context.Context, mapName string, id uuid.UUID, to Location) (Mapping, error)
}

// MappingCutter is implemented by stores that cut the range [min, max) out
// of an online range mapping and take it offline in one logged operation:
// the library's split (operation code 14), whose steps remove the mapping
// and add the parts below and above the cut online and the cut offline. A
// move's batch is then one operation instead of a split and an offline. min
// must not be below the mapping's minimum nor max above its maximum (nil:
// +inf, only for a mapping that reaches +inf); the cut may be the whole
// mapping, which is then only taken offline. Every part carries the lock
// owner the context presents, as with SplitMapping. It returns the offline
// mapping and the online parts left below and above it, in key order.
type MappingCutter interface {
	CutMappingOffline(ctx context.Context, mapName string, id uuid.UUID, min, max []byte) (cut Mapping, rest []Mapping, err error)
}

// MappingsMerger is implemented by stores that merge adjacent range mappings
// of one shard, all online or all offline, into one in one logged operation
// (the library's merge, operation code 15, with a remove step for each), so
// that a range a move cut into n batches is whole again with one operation
// instead of n-1. ids are given in key order; the result keeps the first
// mapping's status and lock owner, as MergeMappings does.
type MappingsMerger interface {
	MergeAllMappings(ctx context.Context, mapName string, ids []uuid.UUID) (Mapping, error)
}

// DatabaseAdmin creates and drops databases and runs SQL in them.
type DatabaseAdmin interface {
	// CreateDatabase creates an empty database (and its server when new).
	// Idempotent: an existing database is left as is.
	CreateDatabase(ctx context.Context, loc Location) error
	// DropDatabase deletes a database. Idempotent: a missing one is fine.
	DropDatabase(ctx context.Context, loc Location) error
	// ApplySQL runs a script (several statements) in one transaction.
	ApplySQL(ctx context.Context, loc Location, sql string) error
	// Databases lists every database of the fleet, ordered by server and name.
	Databases(ctx context.Context) ([]Location, error)
}

// DatabaseContents is what a database holds before a plan takes it over.
type DatabaseContents struct {
	// Exists reports a database that is there, listed or not.
	Exists bool
	// Listed reports that the fleet's catalog knows the database; a database
	// can exist without being listed (a file copied into a local fleet).
	Listed bool
	// Tables holds the user tables and their row counts, ordered by name.
	Tables []TableRows
}

// Rows is the number of rows over every user table.
func (c DatabaseContents) Rows() int64 {
	var n int64
	for _, t := range c.Tables {
		n += t.Rows
	}
	return n
}

// TableRows is one table's row count.
type TableRows struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// ShardOf returns the name of a shard map (other than except) that has the
// database as a shard, or "": such a database is already in the shard map
// manager's care, so a new map taking it as a shard adopts nothing.
func ShardOf(ctx context.Context, s ShardMapStore, loc Location, except string) (string, error) {
	maps, err := s.ShardMaps(ctx)
	if err != nil {
		return "", err
	}
	for _, m := range maps {
		if equalFold(m.Name, except) {
			continue
		}
		shards, err := s.Shards(ctx, m.Name)
		if err != nil {
			return "", err
		}
		for _, sh := range shards {
			if sh.Location.Equal(loc) {
				return m.Name, nil
			}
		}
	}
	return "", nil
}

// DatabaseAdopter is implemented by drivers that can look into a database
// before a plan takes it over, also one their catalog does not list, and
// adopt it as it is. CreateDatabase never adopts: it refuses a database that
// exists but is not listed.
type DatabaseAdopter interface {
	// InspectDatabase reports whether a database exists, whether the catalog
	// lists it, and its tables' row counts. It changes nothing.
	InspectDatabase(ctx context.Context, loc Location) (DatabaseContents, error)
	// AdoptDatabase lists an existing database in the catalog, leaving its
	// contents as they are. Idempotent; ErrNoDatabase when it does not exist.
	AdoptDatabase(ctx context.Context, loc Location) error
	// ReleaseDatabase undoes AdoptDatabase: the catalog forgets the
	// database, whose contents stay where they are. Idempotent.
	ReleaseDatabase(ctx context.Context, loc Location) error
}

// MappingValidator checks a mapping read from the global shard map against
// the local shard map of the shard it names, as the library's data-dependent
// routing does before it hands out a connection (spValidateShardMappingLocal,
// spValidateShardLocal). A nil error means the shard's database exists and
// its LSM holds the same mapping (id, bounds, status) at the GSM's shard
// Version. Otherwise the error is *Error wrapping ErrNoDatabase (the
// database is gone), ResultMappingDoesNotExist or ResultShardVersionMismatch
// (the two maps differ), or ResultMappingIsOffline, with a hint.
type MappingValidator interface {
	ValidateMapping(ctx context.Context, mapName string, mp Mapping) error
}
