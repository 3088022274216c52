package steps_test

import (
	"testing"

	"github.com/fleetplan/fleetplan/steps"
	_ "github.com/fleetplan/fleetplan/steps/app"
	_ "github.com/fleetplan/fleetplan/steps/database"
	_ "github.com/fleetplan/fleetplan/steps/generic"
	_ "github.com/fleetplan/fleetplan/steps/shardmap"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
)

// touchesNothing are the actions that change nothing in the fleet and read
// nothing an earlier step could change.
var touchesNothing = map[string]bool{"generic.noop": true, "generic.wait": true, "generic.approve": true}

// TestEveryActionSaysWhatItTouches: with inputs known only at run time, every
// action may touch anything (unless it never touches the fleet at all), so a
// planner never prunes a live step behind it.
func TestEveryActionSaysWhatItTouches(t *testing.T) {
	unresolved := steps.Inputs{}
	for _, k := range []string{"server", "database", "partnerServer", "partnerDatabase", "slot", "profile", "endpoint",
		"from", "to", "target", "shardMap", "status", "version", "command", "url", "file"} {
		unresolved[k] = "${{ steps.prepare.outputs." + k + " }}"
	}
	for _, name := range steps.Names() {
		a, err := steps.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		refs, all := steps.Touches(a, unresolved)
		switch {
		case touchesNothing[name] && (all || len(refs) > 0):
			t.Errorf("%s touches nothing, but Touches says %v (all %t)", name, refs, all)
		case !touchesNothing[name] && !all:
			t.Errorf("%s with unresolved inputs names only %v; it must say it may touch anything", name, refs)
		}
	}
}

// TestTouchesNamesTheObjects: resolved inputs name the objects the same way
// in every action, so two steps on one object are seen to meet.
func TestTouchesNamesTheObjects(t *testing.T) {
	cases := map[string]struct {
		action string
		in     steps.Inputs
		want   []steps.Ref
	}{
		"read-only":  {"database.set-read-only", steps.Inputs{"server": "contoso-1", "database": "contoso"}, []steps.Ref{{Kind: steps.RefDatabase, Name: "contoso-1/contoso", Changes: true}}},
		"read-write": {"database.set-read-write", steps.Inputs{"server": "contoso-1", "database": "contoso"}, []steps.Ref{{Kind: steps.RefDatabase, Name: "contoso-1/contoso", Changes: true}}},
		"move": {"shardmap.move-range", steps.Inputs{"shardMap": "CustomerMap", "from": map[string]any{"server": "sql-1", "database": "customers_0"},
			"to": map[string]any{"server": "sql-1", "database": "customers_1"}},
			[]steps.Ref{{Kind: steps.RefShardMap, Name: "CustomerMap", Changes: true}, {Kind: steps.RefDatabase, Name: "sql-1/customers_0", Changes: true},
				{Kind: steps.RefDatabase, Name: "sql-1/customers_1", Changes: true}}},
		"create shard": {"shardmap.create-shard", steps.Inputs{"shardMap": "CustomerMap", "server": "sql-1", "database": "customers_2"},
			[]steps.Ref{{Kind: steps.RefShardMap, Name: "CustomerMap", Changes: true}, {Kind: steps.RefDatabase, Name: "sql-1/customers_2", Changes: true}}},
		"split": {"shardmap.split", steps.Inputs{"shardMap": "CustomerMap", "at": "0x80"}, []steps.Ref{{Kind: steps.RefShardMap, Name: "CustomerMap", Changes: true}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := steps.Lookup(tc.action)
			if err != nil {
				t.Fatal(err)
			}
			refs, all := steps.Touches(a, tc.in)
			if all {
				t.Fatalf("%s says it may touch anything", tc.action)
			}
			if len(refs) != len(tc.want) {
				t.Fatalf("refs %v, want %v", refs, tc.want)
			}
			for i := range refs {
				if refs[i] != tc.want[i] {
					t.Fatalf("refs %v, want %v", refs, tc.want)
				}
			}
		})
	}
}
