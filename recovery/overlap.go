package recovery

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// overlapFix is how doctor repairs the duplicated global mappings of one
// shard: a duplicate is a GSM mapping that shares keys with another GSM
// mapping and that its shard's local shard map does not hold. Resolving
// the shard with keepShardMapping (RestoreShardMapFromShard) removes it and
// keeps what the shard's LSM holds.
type overlapFix struct {
	m     fleet.ShardMap
	shard fleet.Location
	dups  []fleet.Mapping
	// related is every mapping of the shard an overlap names, duplicate or
	// not: other shards' differences over their keys wait for this fix.
	related []fleet.Mapping
	// refused says why doctor will not plan it ("" when it does).
	refused string
	// notes say what the fix leaves: keys no mapping holds any more (no
	// rows), rows that then route to another shard.
	notes []string
	// moveRows: the shard holds rows in a duplicate's keys that its own
	// mappings do not cover; they are moved where their keys route after.
	moveRows bool
}

// overlaps groups the map's duplicated GSM mappings by shard and checks,
// from where the rows are, that removing them is safe: every key a
// duplicate held either stays mapped by a mapping its shard's LSM holds,
// or holds no row on any shard. handled lists, by shard, the differences
// of other shards that only a duplicate causes (a shard's LSM mapping that
// a duplicate overlaps), with the fix that removes them.
func overlaps(ctx context.Context, dm fleet.DataMover, ml *fleet.MapLayout, tables []fleet.ShardedTable,
	byShard map[string][]fleet.Difference) (map[string]*overlapFix, map[string]map[string]*overlapFix, error) {
	m := ml.Map
	gsmOnly := map[uuid.UUID]bool{}
	held := map[uuid.UUID]bool{} // mappings an LSM holds with other bounds or status, or ids a shard lacks entirely
	for _, d := range ml.Differences {
		switch d.Kind {
		case fleet.DiffMappingInShardMapOnly:
			gsmOnly[d.MappingID] = true
		case fleet.DiffMappingMismatch:
			held[d.MappingID] = true
		}
	}
	byID := map[uuid.UUID]fleet.Mapping{}
	for _, mp := range ml.Mappings {
		byID[mp.ID] = mp
	}
	fixes := map[string]*overlapFix{}
	dupIDs := map[uuid.UUID]bool{}
	for _, d := range ml.Differences {
		if d.Kind != fleet.DiffGSMMappingsOverlap {
			continue
		}
		k := locKey(d.Shard)
		f := fixes[k]
		if f == nil {
			f = &overlapFix{m: m, shard: d.Shard}
			fixes[k] = f
		}
		dup, ok := byID[d.MappingID]
		if ok {
			f.related = append(f.related, dup)
		}
		switch {
		case !ok:
			f.refuse("the global shard map's mapping %s is gone since it was read; run doctor again", d.MappingID)
		case held[dup.ID]:
			f.refuse("%s's local shard map holds mapping %s with other bounds or status, so doctor cannot tell which bounds are right; "+
				"fix the mapping row in __ShardManagement.ShardMappingsGlobal or ShardMappingsLocal by hand, then run doctor again", d.Shard, dup.ID)
		case !gsmOnly[dup.ID]:
			f.refuse("the local shard maps of both shards hold their mapping of %s, so doctor cannot tell which shard the keys belong to; "+
				"remove the wrong mapping from the global and the local shard map by hand (the shard without the rows), then run doctor again",
				boundsText(m, d.Min, d.Max))
		default:
			if !dupIDs[dup.ID] {
				dupIDs[dup.ID] = true
				f.dups = append(f.dups, dup)
			}
		}
	}
	if len(fixes) == 0 {
		return nil, nil, nil
	}
	var kept []keyRange // what stays mapped: every GSM mapping but the duplicates
	for _, mp := range ml.Mappings {
		if !dupIDs[mp.ID] {
			kept = append(kept, keyRange{mp.Min, pointMax(m, mp.Min, mp.Max)})
		}
	}
	handled := map[string]map[string]*overlapFix{}
	for k, f := range fixes {
		// Other shards' LSM mappings that a duplicate overlaps: removing
		// the duplicate removes the difference.
		for ok, ds := range byShard {
			if ok == k {
				continue
			}
			for _, d := range ds {
				if d.Kind != fleet.DiffMappingOverlapsOtherShard || d.Min == nil {
					continue
				}
				for _, rel := range f.related {
					if elasticdb.Overlaps(m, rel.Min, rel.Max, d.Min, d.Max) && (f.refused != "" || !overlapsKept(m, ml, dupIDs, d)) {
						if handled[ok] == nil {
							handled[ok] = map[string]*overlapFix{}
						}
						handled[ok][d.Token] = f
					}
				}
			}
		}
	}
	for k, f := range fixes {
		for _, d := range byShard[k] {
			if _, ok := handled[k][d.Token]; !ok && !dupIDs[d.MappingID] {
				f.refuse("the shard has other differences too (%s %s), which need their own resolution; "+
					"doctor removes a duplicated mapping only from a shard that agrees with the global shard map otherwise", d.Kind, rangeOf(m, d))
			}
		}
		if f.refused != "" {
			continue
		}
		var own []keyRange // what the shard keeps: its mappings but the duplicates
		for _, mp := range ml.Mappings {
			if mp.Location.Equal(f.shard) && !dupIDs[mp.ID] {
				own = append(own, keyRange{mp.Min, pointMax(m, mp.Min, mp.Max)})
			}
		}
		for _, dup := range f.dups {
			r := keyRange{dup.Min, pointMax(m, dup.Min, dup.Max)}
			for _, part := range minus(r, append([]keyRange(nil), kept...)) {
				for _, s := range ml.Shards {
					if !s.Exists || dm == nil || len(tables) == 0 {
						continue
					}
					n, err := rowsIn(ctx, dm, m, tables, s.Shard.Location, part.min, part.max)
					if err != nil {
						return nil, nil, err
					}
					if n > 0 {
						f.refuse("only the duplicated mapping %s holds %s, and %s %s there: removing it would leave them without a route; "+
							"map those keys to %s with a ShardLayout plan once the duplicate is gone, or fix the mapping rows by hand",
							boundsText(m, dup.Min, dup.Max), spanText(m, part), fmtRows(n), isAre(n, "is on "+s.Shard.Location.String(), "are on "+s.Shard.Location.String()), s.Shard.Location)
					}
				}
				if f.refused == "" {
					f.notes = append(f.notes, fmt.Sprintf("%s then routes to no shard (no shard holds rows of it)", spanText(m, part)))
				}
			}
			if dm == nil || len(tables) == 0 {
				continue
			}
			for _, part := range minus(r, append([]keyRange(nil), own...)) {
				n, err := rowsIn(ctx, dm, m, tables, f.shard, part.min, part.max)
				if err != nil {
					return nil, nil, err
				}
				if n > 0 {
					f.moveRows = true
					f.notes = append(f.notes, fmt.Sprintf("%s of %s here then %s to another shard: moveMisplacedRows moves %s",
						fmtRows(n), spanText(m, part), isAre(n, "routes", "route"), itThem(n)))
				}
			}
		}
	}
	for _, f := range fixes {
		if f.refused != "" {
			continue
		}
		sort.Strings(f.notes)
		f.notes = dedupeStrings(f.notes)
	}
	return fixes, handled, nil
}

// overlapsKept reports whether a MappingOverlapsOtherShard difference d
// also shares keys with a GSM mapping of another shard that is no
// duplicate (then removing the duplicates does not resolve it).
func overlapsKept(m fleet.ShardMap, ml *fleet.MapLayout, dupIDs map[uuid.UUID]bool, d fleet.Difference) bool {
	for _, g := range ml.Mappings {
		if !dupIDs[g.ID] && !g.Location.Equal(d.Shard) && elasticdb.Overlaps(m, g.Min, g.Max, d.Min, d.Max) {
			return true
		}
	}
	return false
}

func (f *overlapFix) refuse(format string, args ...any) {
	if f.refused == "" {
		f.refused = fmt.Sprintf(format, args...)
	}
}

// fix is the finding's fix text.
func (f *overlapFix) fix() string {
	if f.refused != "" {
		return "not planned: " + f.refused
	}
	var ds []string
	for _, d := range f.dups {
		ds = append(ds, boundsText(f.m, d.Min, d.Max))
	}
	s := fmt.Sprintf("resolve keepShardMapping on %s (no local shard map holds the duplicated %s %s; the shard's local shard map keeps the rest)",
		f.shard, isAre(int64(len(ds)), "mapping", "mappings"), strings.Join(ds, ", "))
	if len(f.notes) > 0 {
		s += "; " + strings.Join(f.notes, "; ")
	}
	return s
}

func rangeOf(m fleet.ShardMap, d fleet.Difference) string {
	if d.Min == nil {
		return "(the shard row)"
	}
	return boundsText(m, d.Min, d.Max)
}

func spanText(m fleet.ShardMap, r keyRange) string {
	return "[" + shardkey.FormatBound(m.KeyType, r.min) + ", " + shardkey.FormatBound(m.KeyType, r.max) + ")"
}

// isAre picks the singular or the plural form for n.
func isAre(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func itThem(n int64) string { return isAre(n, "it", "them") }
