package elasticdb

import (
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
)

func TestShardDifferences(t *testing.T) {
	loc := fleet.Location{Server: "sql-1", Database: "customers_1"}
	s := fleet.Shard{ID: id(2), Version: id(3), MapID: id(1), Location: loc}
	a := fleet.Mapping{ID: id(4), Min: []byte{0x80}, Max: []byte{0x90}, Online: true}
	b := fleet.Mapping{ID: id(5), Min: []byte{0x90}, Online: true}
	offline := a
	offline.Online = false
	kinds := func(ds []fleet.Difference) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Kind)
		}
		return out
	}
	tests := map[string]struct {
		local LocalShard
		gsm   []fleet.Mapping
		want  []string
	}{
		"equal":          {LocalShard{Exists: true, HasLSM: true, HasShardRow: true, Version: id(3), Mappings: []fleet.Mapping{a, b}}, []fleet.Mapping{a, b}, nil},
		"database gone":  {LocalShard{}, []fleet.Mapping{a}, []string{fleet.DiffDatabaseMissing}},
		"no lsm":         {LocalShard{Exists: true}, []fleet.Mapping{a, b}, []string{fleet.DiffShardMissingInShard, fleet.DiffMappingInShardMapOnly, fleet.DiffMappingInShardMapOnly}},
		"no shard row":   {LocalShard{Exists: true, HasLSM: true, Mappings: []fleet.Mapping{a}}, []fleet.Mapping{a}, []string{fleet.DiffShardMissingInShard}},
		"old version":    {LocalShard{Exists: true, HasLSM: true, HasShardRow: true, Version: id(9), Mappings: []fleet.Mapping{a}}, []fleet.Mapping{a}, []string{fleet.DiffShardVersionMismatch}},
		"status differs": {LocalShard{Exists: true, HasLSM: true, HasShardRow: true, Version: id(3), Mappings: []fleet.Mapping{offline}}, []fleet.Mapping{a}, []string{fleet.DiffMappingMismatch}},
		"each side one":  {LocalShard{Exists: true, HasLSM: true, HasShardRow: true, Version: id(3), Mappings: []fleet.Mapping{b}}, []fleet.Mapping{a}, []string{fleet.DiffMappingInShardMapOnly, fleet.DiffMappingInShardOnly}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := kinds(ShardDifferences(testMap, s, tc.local, tc.gsm))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("kinds (-want +got):\n%s", d)
			}
		})
	}
}
