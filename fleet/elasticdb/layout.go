package elasticdb

import (
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// NewMapLayout starts the observation of map m, as every driver's Observe
// assembles it: the map's readable mappings (never nil), the pending
// operations that concern it (an operation whose map the log does not name
// concerns every map), empty shards and differences for the driver to
// fill, and the mappings grouped by shard for ShardDifferences.
func NewMapLayout(m fleet.ShardMap, mappings []fleet.Mapping, pending []Pending) (fleet.MapLayout, map[uuid.UUID][]fleet.Mapping) {
	ml := fleet.MapLayout{Map: m, Shards: []fleet.ShardState{}, Mappings: []fleet.Mapping{}, Pending: []fleet.PendingOperation{}, Differences: []fleet.Difference{}}
	ml.Mappings = append(ml.Mappings, mappings...)
	for _, p := range pending {
		if p.MapID == m.ID || p.MapID == uuid.Nil {
			ml.Pending = append(ml.Pending, p.Op)
		}
	}
	byShard := map[uuid.UUID][]fleet.Mapping{}
	for _, mp := range ml.Mappings {
		byShard[mp.ShardID] = append(byShard[mp.ShardID], mp)
	}
	return ml, byShard
}
