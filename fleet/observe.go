package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"github.com/google/uuid"
)

// Observer reads the live shard layout of a fleet.
type Observer interface {
	// Observe returns the layout of one shard map (mapName) or of all maps
	// (mapName ""). It changes nothing. An unknown map is ErrNotFound.
	Observe(ctx context.Context, mapName string) (*Layout, error)
}

// Layout is the observed state of a fleet's shard maps.
type Layout struct {
	Target string      `json:"target"`
	Maps   []MapLayout `json:"maps"`
	// Fingerprint is a stable hash of everything in Maps (see Fingerprint),
	// so a saved plan can be refused when the fleet changed since.
	Fingerprint string `json:"fingerprint"`
}

// Map returns the layout of the named map (case-insensitive), or nil.
func (l *Layout) Map(name string) *MapLayout {
	for i := range l.Maps {
		if equalFold(l.Maps[i].Map.Name, name) {
			return &l.Maps[i]
		}
	}
	return nil
}

// MapLayout is the observed state of one shard map.
type MapLayout struct {
	Map         ShardMap           `json:"map"`
	Shards      []ShardState       `json:"shards"`
	Mappings    []Mapping          `json:"mappings"` // ordered by Min
	Tables      SchemaInfo         `json:"tables"`
	Pending     []PendingOperation `json:"pending"`
	Differences []Difference       `json:"differences"`
}

// ShardState is a shard with what was found in its database.
type ShardState struct {
	Shard  Shard `json:"shard"`
	Exists bool  `json:"exists"` // the database exists
	// RowCounts maps each sharded and reference table present in the
	// database to its row count.
	RowCounts map[string]int64 `json:"rowCounts"`
	// LSMVersion is the shard's Version in its own LSM (uuid.Nil when the
	// LSM row is missing).
	LSMVersion uuid.UUID `json:"lsmVersion"`
}

// PendingOperation is a row of OperationsLogGlobal: a multi-database
// operation that has not finished (or crashed).
type PendingOperation struct {
	ID                  uuid.UUID  `json:"id"`
	Code                int        `json:"code"` // library OperationCode (OpAddShard, ...)
	Name                string     `json:"name"`
	UndoStartState      int        `json:"undoStartState"`
	ShardVersionRemoves *uuid.UUID `json:"shardVersionRemoves,omitempty"`
	ShardVersionAdds    *uuid.UUID `json:"shardVersionAdds,omitempty"`
}

// Library operation codes (OperationsLogGlobal.OperationCode).
const (
	OpAddShard                      = 1
	OpRemoveShard                   = 2
	OpUpdateShard                   = 3
	OpAddPointMapping               = 4
	OpRemovePointMapping            = 5
	OpUpdatePointMapping            = 6
	OpUpdatePointMappingWithOffline = 7
	OpAddRangeMapping               = 8
	OpRemoveRangeMapping            = 9
	OpUpdateRangeMapping            = 10
	OpUpdateRangeMappingWithOffline = 11
	OpSplitMapping                  = 14
	OpMergeMappings                 = 15
	OpAttachShard                   = 16
)

var opNames = map[int]string{
	OpAddShard: "AddShard", OpRemoveShard: "RemoveShard", OpUpdateShard: "UpdateShard",
	OpAddPointMapping: "AddPointMapping", OpRemovePointMapping: "RemovePointMapping",
	OpUpdatePointMapping: "UpdatePointMapping", OpUpdatePointMappingWithOffline: "UpdatePointMappingWithOffline",
	OpAddRangeMapping: "AddRangeMapping", OpRemoveRangeMapping: "RemoveRangeMapping",
	OpUpdateRangeMapping: "UpdateRangeMapping", OpUpdateRangeMappingWithOffline: "UpdateRangeMappingWithOffline",
	OpSplitMapping: "SplitMapping", OpMergeMappings: "MergeMappings", OpAttachShard: "AttachShard",
}

// OperationName returns the library's name of an operation code.
func OperationName(code int) string {
	if n, ok := opNames[code]; ok {
		return n
	}
	return fmt.Sprintf("Operation%d", code)
}

// Difference kinds between the GSM and a shard's LSM (after the library's
// DetectMappingDifferences). Pending operations and lock owners are reported
// in MapLayout.Pending and Mapping.LockOwner, not as differences.
const (
	DiffMappingInShardMapOnly = "MappingInShardMapOnly" // GSM row, no LSM row
	DiffMappingInShardOnly    = "MappingInShardOnly"    // LSM row, no GSM row
	DiffMappingMismatch       = "MappingMismatch"       // both, but id/bounds/status differ
	DiffShardVersionMismatch  = "ShardVersionMismatch"  // GSM and LSM shard Version differ
	DiffShardMissingInShard   = "ShardMissingInShard"   // no ShardsLocal row for the shard
	DiffDatabaseMissing       = "DatabaseMissing"       // the shard's database does not exist
	// DiffShardInShardOnly: a database that the GSM does not list as a shard
	// of the map holds the map's shard in its LSM, with mappings (a shard map
	// manager restored to an earlier point, a half-removed shard).
	DiffShardInShardOnly = "ShardInShardOnly"
	// DiffShardMoved: the GSM's shard has no database at its location, but
	// another database holds the shard (same ShardId) in its LSM: a
	// geo-failover or a rename moved it (MovedTo says where).
	DiffShardMoved = "ShardMoved"
	// DiffShardLocationMismatch: the shard's LSM row records another
	// location than the one the GSM lists and the database is at.
	DiffShardLocationMismatch = "ShardLocationMismatch"
	// DiffMappingOverlapsOtherShard: a mapping of the shard's LSM shares keys
	// with a GSM mapping of another shard (Min/Max are the shared keys).
	DiffMappingOverlapsOtherShard = "MappingOverlapsOtherShard"
	// DiffGSMMappingsOverlap: two GSM mappings share keys (a duplicated
	// mapping); Min/Max are the shared keys, Shard and MappingID the
	// duplicate's: the mapping its shard's LSM does not hold, else the later one.
	DiffGSMMappingsOverlap = "GSMMappingsOverlap"
)

// Difference is one disagreement found while observing a shard.
type Difference struct {
	Shard     Location  `json:"shard"`
	Kind      string    `json:"kind"`
	Detail    string    `json:"detail"`
	MappingID uuid.UUID `json:"mappingId,omitempty"`
	Min       []byte    `json:"min,omitempty"`
	Max       []byte    `json:"max,omitempty"`
	// Token is the difference's recovery token: a stable id (the same
	// difference gets the same token in every observation and process),
	// which ShardMapRecovery plans name to resolve just this difference.
	Token string `json:"token"`
	// MovedTo is where a ShardMoved shard's database is now.
	MovedTo *Location `json:"movedTo,omitempty"`
}

// Fingerprint hashes everything that decides a plan: maps, shards (ids,
// versions, locations, status, pending op), mappings (ids, bounds, status,
// lock owners, pending op), schema info, pending operations, differences,
// database existence and per-table row counts. The order of Maps, Shards and
// Mappings does not matter. Drivers set Layout.Fingerprint with it.
func Fingerprint(maps []MapLayout) string {
	h := sha256.New()
	ms := append([]MapLayout(nil), maps...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Map.ID.String() < ms[j].Map.ID.String() })
	for _, m := range ms {
		fmt.Fprintf(h, "map %s %s %d %d\n", m.Map.ID, m.Map.Name, m.Map.Type, m.Map.KeyType)
		shards := append([]ShardState(nil), m.Shards...)
		sort.Slice(shards, func(i, j int) bool { return shards[i].Shard.ID.String() < shards[j].Shard.ID.String() })
		for _, s := range shards {
			fmt.Fprintf(h, "shard %s %s %s %d %s %t %s\n", s.Shard.ID, s.Shard.Version, s.Shard.Location,
				s.Shard.Status, optID(s.Shard.OperationID), s.Exists, s.LSMVersion)
			tables := make([]string, 0, len(s.RowCounts))
			for t := range s.RowCounts {
				tables = append(tables, t)
			}
			sort.Strings(tables)
			for _, t := range tables {
				fmt.Fprintf(h, "rows %s %d\n", t, s.RowCounts[t])
			}
		}
		mappings := append([]Mapping(nil), m.Mappings...)
		sort.Slice(mappings, func(i, j int) bool { return mappings[i].ID.String() < mappings[j].ID.String() })
		for _, mp := range mappings {
			fmt.Fprintf(h, "mapping %s %s %x %s %t %s %s\n", mp.ID, mp.ShardID, mp.Min, maxText(mp.Max),
				mp.Online, mp.LockOwner, optID(mp.OperationID))
		}
		for _, t := range m.Tables.Sharded {
			fmt.Fprintf(h, "sharded %s %s\n", t.Table, t.KeyColumn)
		}
		for _, t := range m.Tables.Reference {
			fmt.Fprintf(h, "reference %s\n", t)
		}
		pend := append([]PendingOperation(nil), m.Pending...)
		sort.Slice(pend, func(i, j int) bool { return pend[i].ID.String() < pend[j].ID.String() })
		for _, p := range pend {
			fmt.Fprintf(h, "pending %s %d %d\n", p.ID, p.Code, p.UndoStartState)
		}
		diffs := make([]string, 0, len(m.Differences))
		for _, d := range m.Differences {
			diffs = append(diffs, fmt.Sprintf("diff %s %s %s %x %s %s", d.Shard, d.Kind, d.MappingID, d.Min, maxText(d.Max), d.Detail))
		}
		sort.Strings(diffs)
		for _, d := range diffs {
			io.WriteString(h, d+"\n")
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func optID(id *uuid.UUID) string {
	if id == nil {
		return "-"
	}
	return id.String()
}

func maxText(b []byte) string {
	if b == nil {
		return "+inf"
	}
	return hex.EncodeToString(b)
}
