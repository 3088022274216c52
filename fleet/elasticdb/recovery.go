package elasticdb

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// tokenSpace is the name space of recovery tokens (a UUID version 5 of the
// difference's identity), so a token is the same in every observation.
var tokenSpace = uuid.MustParse("6f1f3a52-6c8e-4b7e-9a4d-2f3c0d7e5b11")

// RecoveryToken returns the stable recovery token of a difference of map m:
// a GUID like the library's RecoveryToken, but derived from what the
// difference is (map, shard location, kind, mapping id and key range)
// rather than random, so it survives the process and a plan can name it.
// The detail text is not part of it.
func RecoveryToken(m fleet.ShardMap, d fleet.Difference) string {
	max := "+inf"
	if d.Max != nil {
		max = fmt.Sprintf("%x", d.Max)
	}
	key := fmt.Sprintf("%s|%s|%s|%s|%x|%s", m.ID, strings.ToLower(d.Shard.String()), d.Kind, d.MappingID, d.Min, max)
	return uuid.NewSHA1(tokenSpace, []byte(key)).String()
}

// FinishDifferences completes the differences a driver found for map m with
// what needs the whole GSM (mappings gsm, ordered by Min) and the LSMs of
// every shard (lsm, by shard id): LSM mappings that share keys with another
// shard's GSM mapping, GSM mappings that share keys with each other, shards
// whose database moved (found: shard id -> a location whose LSM holds it),
// and then the recovery token of every difference.
func FinishDifferences(m fleet.ShardMap, gsm []fleet.Mapping, shards []fleet.Shard, lsm map[uuid.UUID][]fleet.Mapping,
	found map[uuid.UUID]fleet.Location, diffs []fleet.Difference) []fleet.Difference {
	locOf := map[uuid.UUID]fleet.Location{}
	for _, s := range shards {
		locOf[s.ID] = s.Location
	}
	for i := range diffs {
		d := &diffs[i]
		if d.Kind != fleet.DiffDatabaseMissing {
			continue
		}
		for _, s := range shards {
			if !s.Location.Equal(d.Shard) {
				continue
			}
			if to, ok := found[s.ID]; ok && !to.Equal(s.Location) {
				to := to
				d.Kind, d.MovedTo = fleet.DiffShardMoved, &to
				d.Detail = fmt.Sprintf("the shard's database is not at %s any more; %s holds the shard (id %s) in its local shard map: "+
					"a geo-failover or a rename moved it", s.Location, to, s.ID)
			}
		}
	}
	for _, s := range shards {
		for _, l := range lsm[s.ID] {
			for _, g := range gsm {
				if g.ShardID == s.ID || !Overlaps(m, g.Min, g.Max, l.Min, l.Max) {
					continue
				}
				min, max := intersection(m, g.Min, g.Max, l.Min, l.Max)
				diffs = append(diffs, fleet.Difference{Shard: s.Location, Kind: fleet.DiffMappingOverlapsOtherShard,
					MappingID: l.ID, Min: min, Max: max,
					Detail: fmt.Sprintf("the shard's local shard map holds %s, but the global shard map gives %s to %s",
						BoundsText(m, l.Min, l.Max), BoundsText(m, g.Min, g.Max), locOf[g.ShardID])})
			}
		}
	}
	for i := range gsm {
		for j := i + 1; j < len(gsm); j++ {
			a, b := gsm[i], gsm[j]
			if m.Type == fleet.RangeMap && a.Max != nil && shardkey.Compare(b.Min, a.Max) >= 0 {
				break // ordered by Min: no later mapping reaches into a
			}
			if !Overlaps(m, a.Min, a.Max, b.Min, b.Max) {
				continue
			}
			min, max := intersection(m, a.Min, a.Max, b.Min, b.Max)
			dup := b // the duplicate: the one its shard's LSM does not hold, else the later one
			if !heldByLSM(lsm, a) && heldByLSM(lsm, b) {
				dup = a
			}
			diffs = append(diffs, fleet.Difference{Shard: locOf[dup.ShardID], Kind: fleet.DiffGSMMappingsOverlap,
				MappingID: dup.ID, Min: min, Max: max,
				Detail: fmt.Sprintf("the global shard map gives %s to %s and %s to %s: a key must have one mapping",
					BoundsText(m, a.Min, a.Max), locOf[a.ShardID], BoundsText(m, b.Min, b.Max), locOf[b.ShardID])})
		}
	}
	for i := range diffs {
		diffs[i].Token = RecoveryToken(m, diffs[i])
	}
	return diffs
}

// heldByLSM reports whether the LSM of g's shard holds g: the same
// MappingId with the same bounds.
func heldByLSM(lsm map[uuid.UUID][]fleet.Mapping, g fleet.Mapping) bool {
	for _, l := range lsm[g.ShardID] {
		if l.ID == g.ID && bytes.Equal(l.Min, g.Min) && (l.Max == nil) == (g.Max == nil) && bytes.Equal(l.Max, g.Max) {
			return true
		}
	}
	return false
}

// intersection returns the keys two overlapping mappings share (a list
// map's point as itself, max nil).
func intersection(m fleet.ShardMap, amin, amax, bmin, bmax []byte) ([]byte, []byte) {
	if m.Type == fleet.ListMap {
		return amin, nil
	}
	min := amin
	if shardkey.Compare(bmin, amin) > 0 {
		min = bmin
	}
	max := amax
	if max == nil || (bmax != nil && shardkey.Compare(bmax, max) < 0) {
		max = bmax
	}
	return min, max
}
