package elasticdb

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// LocalShard is what a driver read from one shard's database for a shard of
// a map: whether the database exists, whether it holds an LSM, the shard's
// row there and its mappings (ordered by MinValue).
type LocalShard struct {
	Exists      bool
	HasLSM      bool
	HasShardRow bool      // ShardsLocal has a row for the shard
	Version     uuid.UUID // ShardsLocal.Version, when HasShardRow
	// Location is where the shard's LSM row says the shard is (zero when
	// the driver did not read it).
	Location fleet.Location
	Mappings []fleet.Mapping
}

// ShardDifferences compares a shard's LSM with the GSM: the shard row, its
// Version, and every mapping by MappingId, bounds and status, as the
// library's DetectMappingDifferences does. gsm holds the GSM's mappings of
// shard s. Mappings only the LSM holds come last, in key order.
func ShardDifferences(m fleet.ShardMap, s fleet.Shard, l LocalShard, gsm []fleet.Mapping) []fleet.Difference {
	var diffs []fleet.Difference
	diff := func(kind, detail string, mp *fleet.Mapping) {
		d := fleet.Difference{Shard: s.Location, Kind: kind, Detail: detail}
		if mp != nil {
			d.MappingID, d.Min, d.Max = mp.ID, mp.Min, mp.Max
		}
		diffs = append(diffs, d)
	}
	if !l.Exists {
		diff(fleet.DiffDatabaseMissing, "the shard's database does not exist", nil)
		return diffs
	}
	if !l.HasLSM {
		diff(fleet.DiffShardMissingInShard, "the database has no local shard map", nil)
		for i := range gsm {
			diff(fleet.DiffMappingInShardMapOnly, "mapping in the GSM only", &gsm[i])
		}
		return diffs
	}
	switch {
	case !l.HasShardRow:
		diff(fleet.DiffShardMissingInShard, "the LSM has no row for this shard", nil)
	case l.Version != s.Version:
		diff(fleet.DiffShardVersionMismatch, fmt.Sprintf("GSM version %s, LSM version %s", s.Version, l.Version), nil)
	}
	if l.HasShardRow && l.Location != (fleet.Location{}) && !l.Location.Equal(s.Location) {
		diff(fleet.DiffShardLocationMismatch, fmt.Sprintf("the shard's local shard map says it is at %s, the global shard map at %s", l.Location, s.Location), nil)
	}
	byID := map[uuid.UUID]fleet.Mapping{}
	for _, mp := range l.Mappings {
		byID[mp.ID] = mp
	}
	for i := range gsm {
		g := gsm[i]
		l, ok := byID[g.ID]
		if !ok {
			diff(fleet.DiffMappingInShardMapOnly, "mapping in the GSM only", &g)
			continue
		}
		delete(byID, g.ID)
		if !bytes.Equal(l.Min, g.Min) || (l.Max == nil) != (g.Max == nil) || !bytes.Equal(l.Max, g.Max) || l.Online != g.Online {
			diff(fleet.DiffMappingMismatch, fmt.Sprintf("GSM [%s, %s) online=%t, LSM [%s, %s) online=%t",
				shardkey.FormatBound(m.KeyType, g.Min), shardkey.FormatBound(m.KeyType, g.Max), g.Online,
				shardkey.FormatBound(m.KeyType, l.Min), shardkey.FormatBound(m.KeyType, l.Max), l.Online), &g)
		}
	}
	rest := make([]fleet.Mapping, 0, len(byID))
	for _, mp := range byID {
		rest = append(rest, mp)
	}
	sort.Slice(rest, func(i, j int) bool { return shardkey.Compare(rest[i].Min, rest[j].Min) < 0 })
	for i := range rest {
		diff(fleet.DiffMappingInShardOnly, "mapping in the shard's LSM only", &rest[i])
	}
	return diffs
}

// StrayShardDifferences reports a database at loc whose LSM holds shard id of
// m with mappings lsm (non-empty) while the GSM does not list it, as after the
// shard map manager was restored to a point before the shard was added.
func StrayShardDifferences(m fleet.ShardMap, loc fleet.Location, id uuid.UUID, lsm []fleet.Mapping) []fleet.Difference {
	mappings := "1 mapping"
	if len(lsm) != 1 {
		mappings = fmt.Sprintf("%d mappings", len(lsm))
	}
	out := []fleet.Difference{{Shard: loc, Kind: fleet.DiffShardInShardOnly,
		Detail: fmt.Sprintf("the database's local shard map holds shard %s of %s with %s, but the global shard map does not list it", id, m.Name, mappings)}}
	for _, mp := range lsm {
		out = append(out, fleet.Difference{Shard: loc, Kind: fleet.DiffMappingInShardOnly, Detail: "mapping in the shard's LSM only",
			MappingID: mp.ID, Min: mp.Min, Max: mp.Max})
	}
	return out
}

// ExplainShardOnly adds to every mapping only an LSM holds where the GSM
// (mappings gsm) sends its keys instead.
func ExplainShardOnly(m fleet.ShardMap, gsm []fleet.Mapping, diffs []fleet.Difference) {
	for i := range diffs {
		d := &diffs[i]
		if d.Kind != fleet.DiffMappingInShardOnly {
			continue
		}
		for _, g := range gsm {
			if !g.Location.Equal(d.Shard) && Overlaps(m, g.Min, g.Max, d.Min, d.Max) {
				d.Detail += fmt.Sprintf("; the global shard map gives %s to %s", BoundsText(m, g.Min, g.Max), g.Location)
			}
		}
	}
}

// Overlaps reports whether two mappings of m share a key (points of a list
// map are [key, next key)).
func Overlaps(m fleet.ShardMap, amin, amax, bmin, bmax []byte) bool {
	if m.Type == fleet.ListMap {
		if amax == nil {
			amax = shardkey.Next(m.KeyType, amin)
		}
		if bmax == nil {
			bmax = shardkey.Next(m.KeyType, bmin)
		}
	}
	return shardkey.Compare(amin, bmax) < 0 && shardkey.Compare(bmin, amax) < 0
}

// BoundsText renders a mapping's bounds for messages: "point K" on a list
// map, "[min, max)" on a range map.
func BoundsText(m fleet.ShardMap, min, max []byte) string {
	if m.Type == fleet.ListMap {
		return "point " + shardkey.FormatBound(m.KeyType, min)
	}
	return "[" + shardkey.FormatBound(m.KeyType, min) + ", " + shardkey.FormatBound(m.KeyType, max) + ")"
}
