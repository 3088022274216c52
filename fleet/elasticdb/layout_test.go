package elasticdb

import (
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestNewMapLayout checks the part of a map's observation every driver
// shares: the pending operations of this map and of no known map (not
// another map's), mappings never nil, and the mappings grouped by shard.
func TestNewMapLayout(t *testing.T) {
	m := fleet.ShardMap{ID: uuid.UUID{15: 1}, Name: "m"}
	other := uuid.UUID{15: 2}
	s1, s2 := uuid.UUID{15: 3}, uuid.UUID{15: 4}
	pending := []Pending{
		{Op: fleet.PendingOperation{ID: uuid.UUID{15: 10}}, MapID: m.ID},
		{Op: fleet.PendingOperation{ID: uuid.UUID{15: 11}}, MapID: other},
		{Op: fleet.PendingOperation{ID: uuid.UUID{15: 12}}}, // its log row names no map this fleetplan can read
	}
	mps := []fleet.Mapping{{ID: uuid.UUID{15: 20}, ShardID: s1}, {ID: uuid.UUID{15: 21}, ShardID: s2}, {ID: uuid.UUID{15: 22}, ShardID: s1}}
	ml, byShard := NewMapLayout(m, mps, pending)
	if got, want := ml.Pending, []fleet.PendingOperation{pending[0].Op, pending[2].Op}; !cmp.Equal(got, want) {
		t.Errorf("pending = %v, want %v", got, want)
	}
	if !cmp.Equal(ml.Mappings, mps) || ml.Map != m {
		t.Errorf("map %v mappings %v, want %v %v", ml.Map, ml.Mappings, m, mps)
	}
	if want := map[uuid.UUID][]fleet.Mapping{s1: {mps[0], mps[2]}, s2: {mps[1]}}; !cmp.Equal(byShard, want) {
		t.Errorf("by shard = %v, want %v", byShard, want)
	}
	empty, byShard := NewMapLayout(m, nil, nil)
	if empty.Mappings == nil || empty.Shards == nil || empty.Pending == nil || empty.Differences == nil || len(byShard) != 0 {
		t.Errorf("an empty map's layout has nil lists (they are JSON [] in layout output): %+v", empty)
	}
}
