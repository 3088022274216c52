package fleet

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// MapType is a shard map's kind. The values are the Elastic Database client
// library's (ShardMapsGlobal.ShardMapType, ShardMapsLocal.MapType).
type MapType int

// Shard map kinds.
const (
	ListMap  MapType = 1 // single keys (point mappings)
	RangeMap MapType = 2 // half-open ranges [min, max)
)

func (t MapType) String() string {
	switch t {
	case ListMap:
		return "list"
	case RangeMap:
		return "range"
	}
	return fmt.Sprintf("MapType(%d)", int(t))
}

// ParseMapType accepts "list" or "range" (case-insensitive).
func ParseMapType(s string) (MapType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "list":
		return ListMap, nil
	case "range":
		return RangeMap, nil
	}
	return 0, fmt.Errorf("unknown shard map type %q (want list or range)", s)
}

// KeyType is the type of a shard map's sharding key. The values are the
// library's ShardKeyType enum; 0 (None) is invalid for a map.
type KeyType int

// Sharding key types.
const (
	KeyInt32          KeyType = 1
	KeyInt64          KeyType = 2
	KeyGuid           KeyType = 3
	KeyBinary         KeyType = 4
	KeyDateTime       KeyType = 5
	KeyTimeSpan       KeyType = 6
	KeyDateTimeOffset KeyType = 7
)

var keyTypeNames = map[KeyType]string{
	KeyInt32:          "int32",
	KeyInt64:          "int64",
	KeyGuid:           "guid",
	KeyBinary:         "binary",
	KeyDateTime:       "datetime",
	KeyTimeSpan:       "timespan",
	KeyDateTimeOffset: "datetimeoffset",
}

// String returns the name used in plans ("int64", "guid", ...).
func (k KeyType) String() string {
	if n, ok := keyTypeNames[k]; ok {
		return n
	}
	return fmt.Sprintf("KeyType(%d)", int(k))
}

// Valid reports whether k is one of the seven key types.
func (k KeyType) Valid() bool { _, ok := keyTypeNames[k]; return ok }

// ParseKeyType accepts the names used in plans: int32 int64 guid binary
// datetime timespan datetimeoffset (case-insensitive).
func ParseKeyType(s string) (KeyType, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for k, n := range keyTypeNames {
		if n == l {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown key type %q (want one of int32, int64, guid, binary, datetime, timespan, datetimeoffset)", s)
}

// Location is where a shard lives. The library's Protocol and Port are always
// 0 (default, unspecified) on the local driver. Server and database names are
// compared case-insensitively, as SQL Server does.
type Location struct {
	Server   string `json:"server"`
	Database string `json:"database"`
}

func (l Location) String() string { return l.Server + "/" + l.Database }

// Equal compares two locations case-insensitively.
func (l Location) Equal(o Location) bool {
	return strings.EqualFold(l.Server, o.Server) && strings.EqualFold(l.Database, o.Database)
}

// ShardMap is one row of ShardMapsGlobal.
type ShardMap struct {
	ID      uuid.UUID `json:"id"`
	Name    string    `json:"name"`
	Type    MapType   `json:"type"`
	KeyType KeyType   `json:"keyType"`
}

// Shard status values (ShardsGlobal.Status). New shards are online.
const (
	ShardOffline = 0
	ShardOnline  = 1
)

// Shard is one readable row of ShardsGlobal.
type Shard struct {
	ID       uuid.UUID `json:"id"`
	Version  uuid.UUID `json:"version"` // bumped on every mapping change that touches the shard
	MapID    uuid.UUID `json:"mapId"`
	Location Location  `json:"location"`
	Status   int       `json:"status"`
	// OperationID is set while a multi-database operation holds the shard.
	OperationID *uuid.UUID `json:"operationId,omitempty"`
}

// Mapping is one readable row of ShardMappingsGlobal. Mapping ids change on
// every update (library semantics), so callers should find mappings by their
// bounds (MappingForKey) rather than keep ids around.
type Mapping struct {
	ID      uuid.UUID `json:"id"`
	MapID   uuid.UUID `json:"mapId"`
	ShardID uuid.UUID `json:"shardId"`
	// Min and Max are encoded keys (package shardkey). Min empty = the minimum;
	// Max nil = +infinity. Point mappings of list maps have Max nil.
	Min    []byte `json:"min"`
	Max    []byte `json:"max"`
	Online bool   `json:"online"`
	// LockOwner is the application lock (all zero = unlocked).
	LockOwner   uuid.UUID  `json:"lockOwner"`
	OperationID *uuid.UUID `json:"operationId,omitempty"`
	Location    Location   `json:"location"` // the shard's, for convenience
}

// NoLock is the zero lock owner; ForceUnlock unlocks whatever the owner.
var (
	NoLock      = uuid.Nil
	ForceUnlock = uuid.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// ShardedTable is a table whose rows belong to the shardlet of KeyColumn.
type ShardedTable struct {
	Table     string `json:"table"`
	KeyColumn string `json:"key"`
}

// SchemaInfo lists a shard map's table kinds, as the library stores them in
// ShardedDatabaseSchemaInfosGlobal. Tables not listed are ignored by moves.
type SchemaInfo struct {
	Sharded   []ShardedTable `json:"sharded"`
	Reference []string       `json:"reference"`
}

// Tables returns the sharded and reference table names.
func (s SchemaInfo) Tables() []string {
	out := make([]string, 0, len(s.Sharded)+len(s.Reference))
	for _, t := range s.Sharded {
		out = append(out, t.Table)
	}
	return append(out, s.Reference...)
}
