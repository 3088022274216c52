package planner

import (
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/google/uuid"
)

func recoveryDoc(spec *plans.ShardMapRecovery) *plans.Document {
	return &plans.Document{Kind: plans.KindShardMapRecovery, File: "recovery.yaml", Metadata: plans.Metadata{Name: "recover"}, Spec: spec}
}

func recoveryLayout() *fleet.Layout {
	m := fleet.ShardMap{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000aa"), Name: "CustomerMap", Type: fleet.RangeMap, KeyType: fleet.KeyInt64}
	c0 := fleet.Location{Server: "sql-1", Database: "customers_0"}
	c1 := fleet.Location{Server: "sql-1", Database: "customers_1"}
	k := func(v int64) []byte { return []byte{0x80, 0, 0, 0, 0, byte(v >> 16), byte(v >> 8), byte(v)} }
	return &fleet.Layout{Target: "local", Fingerprint: "sha256:test", Maps: []fleet.MapLayout{{
		Map: m,
		Shards: []fleet.ShardState{{Shard: fleet.Shard{ID: uuid.MustParse("00000000-0000-0000-0000-000000000001"), Location: c0}, Exists: false},
			{Shard: fleet.Shard{ID: uuid.MustParse("00000000-0000-0000-0000-000000000002"), Location: c1}, Exists: true}},
		Mappings: []fleet.Mapping{{Min: k(0), Max: k(50000), Location: c0, Online: true}, {Min: k(50000), Location: c1, Online: true}},
		Differences: []fleet.Difference{
			{Shard: c0, Kind: fleet.DiffShardMoved, Detail: "moved", MovedTo: &fleet.Location{Server: "sql-2", Database: "customers_0"}, Token: "3258a2df-5f9e-526d-a89f-6f5fb163a507"},
			{Shard: c1, Kind: fleet.DiffMappingInShardMapOnly, Detail: "mapping in the GSM only", Min: k(50000), Token: "9dd7c136-5de1-53a4-8864-f4bbdf15bc89"},
			{Shard: c1, Kind: fleet.DiffShardVersionMismatch, Detail: "GSM version a, LSM version b", Token: "509c53e0-b404-5c54-b689-467b9ca63139"},
		},
	}}}
}

// The preview of a recovery: the failover's moves, and each difference with
// its resolution as a before/after pair, in text and markdown.
func TestRecoveryPreviewGolden(t *testing.T) {
	spec := &plans.ShardMapRecovery{Target: "local", ShardMap: "CustomerMap", Failover: &plans.Failover{FromServer: "sql-1", ToServer: "sql-2"},
		Resolve: plans.ResolveKeepShardMapping}
	// customers_1 is on sql-1 too but still there: only customers_0 fails over.
	lay := recoveryLayout()
	lay.Maps[0].Shards[1].Shard.Location.Server = "sql-9"
	lay.Maps[0].Mappings[1].Location.Server = "sql-9"
	for i := range lay.Maps[0].Differences[1:] {
		lay.Maps[0].Differences[1+i].Shard.Server = "sql-9"
	}
	spec.Resolutions = []plans.Resolution{{Resolution: plans.ResolveKeepShardMapMapping, Tokens: []string{"9dd7c136-5de1-53a4-8864-f4bbdf15bc89"}}}
	g, diags := PlanShardMapRecovery(recoveryDoc(spec), &RecoveryLive{Layout: lay})
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	checkGolden(t, "recovery.txt", g, "text")
	checkGolden(t, "recovery.md", g, "markdown")
	for _, s := range g.Steps {
		if s.Action == "recovery.detach" || s.Action == "recovery.attach" || s.Action == "recovery.resolve" {
			if s.Rollback == nil || s.Rollback.Action != "recovery.restore" {
				t.Errorf("step %s has no rollback that restores the kept rows", s.ID)
			}
		}
	}
}

// A detach of a shard that still holds rows is refused unless forced, and
// the preview says how many rows.
func TestRecoveryDetachRefusesRows(t *testing.T) {
	lay := recoveryLayout()
	spec := &plans.ShardMapRecovery{Target: "local", ShardMap: "CustomerMap", Detach: []plans.ShardRef{{Server: "sql-1", Database: "customers_1"}}}
	live := &RecoveryLive{Layout: lay, MappedRows: map[string]int64{"sql-1/customers_1": 120}}
	if _, diags := PlanShardMapRecovery(recoveryDoc(spec), live); !diags.HasErrors() || !strings.Contains(diags.Err().Error(), "120 rows in its mapped ranges") {
		t.Fatalf("detach of a shard with rows: %v", diags.Err())
	}
	spec.Force = true
	g, diags := PlanShardMapRecovery(recoveryDoc(spec), live)
	if diags.HasErrors() || len(g.Changes) != 1 || !strings.Contains(g.Changes[0].Detail, "120 rows") {
		t.Fatalf("forced detach: %v %+v", diags.Err(), g)
	}
}
