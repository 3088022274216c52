package planner

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
)

// GSM/LSM differences are listed in the plan's warnings; a change that
// touches a shard or a key range with a difference is refused at the range
// or shard that asks for it; the rest of the plan is still made.
func TestPlanRefusesChangesOnInconsistentShards(t *testing.T) {
	c0 := fleet.Location{Server: "sql-1", Database: "customers_0"}
	c1 := fleet.Location{Server: "sql-1", Database: "customers_1"}
	on := func(loc fleet.Location, kind string, lo, hi string) func(*fleet.MapLayout) {
		return func(m *fleet.MapLayout) {
			d := fleet.Difference{Shard: loc, Kind: kind, Detail: "test"}
			if lo != "" {
				d.Min, d.Max = enc(t, lo), enc(t, hi)
			}
			m.Differences = append(m.Differences, d)
		}
	}
	moveLower := layoutDoc([]string{"customers_0", "customers_1"},
		plans.Range{Low: key("0"), High: keyp("40000"), Shard: "customers_0"},
		plans.Range{Low: key("40000"), Shard: "customers_1"})
	cases := map[string]struct {
		doc     *plans.Document
		mutate  func(*fleet.MapLayout)
		want    string // step ids and actions, when planned
		wantErr string // one of the errors, when refused
	}{
		"a difference on the source shard": {
			doc: moveLower, mutate: on(c0, fleet.DiffShardVersionMismatch, "", ""),
			wantErr: "plan.yaml:21:7: refusing to move [40000, 50000) from customers_0 to customers_1",
		},
		"a missing target database": {
			doc: moveLower, mutate: on(c1, fleet.DiffDatabaseMissing, "", ""),
			wantErr: "plan.yaml:21:7: refusing to move [40000, 50000) from customers_0 to customers_1",
		},
		"a mapping only an LSM holds, over the moved range": {
			doc: moveLower, mutate: on(fleet.Location{Server: "sql-1", Database: "old"}, fleet.DiffMappingInShardOnly, "45000", "46000"),
			wantErr: "refusing to move [40000, 50000)",
		},
		"a difference elsewhere": {
			doc: splitDoc(), mutate: on(c0, fleet.DiffShardVersionMismatch, "", ""),
			want: "create-shard-customers_2=shardmap.create-shard split-75000=shardmap.split move-75000-inf=shardmap.move-range merge-75000-inf=shardmap.merge",
		},
		"a stale LSM in the new shard's database": {
			doc: splitDoc(), mutate: on(fleet.Location{Server: "sql-1", Database: "customers_2"}, fleet.DiffShardInShardOnly, "", ""),
			wantErr: "plan.yaml:12:7: refusing to add shard customers_2 (sql-1/customers_2)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, diags := PlanShardLayout(context.Background(), tc.doc, demoLive(t, tc.mutate), Options{})
			if tc.wantErr != "" {
				errs := diags.Errors()
				found := false
				for _, e := range errs {
					found = found || strings.Contains(e.String(), tc.wantErr)
					if !strings.Contains(e.Hint, "fleetplan layout --shard-map CustomerMap") || !strings.Contains(e.Hint, "fleetplan doctor --write-plan") {
						t.Fatalf("hint %q does not say what works today", e.Hint)
					}
				}
				if g != nil || !found {
					t.Fatalf("got graph %s, errors %v; want refused with %q", actions(g), errs, tc.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("refused: %v", diags.Errors())
			}
			if got := actions(g); got != tc.want {
				t.Fatalf("steps %s, want %s", got, tc.want)
			}
			if len(g.Warnings) == 0 || !strings.Contains(g.Warnings[0], "the global and local shard maps differ: sql-1/customers_0 ShardVersionMismatch") {
				t.Fatalf("warnings %q do not list the difference", g.Warnings)
			}
		})
	}
}
