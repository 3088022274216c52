package planner

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// TestPruneKeepsLiveStepsAnEarlierStepChanges: a live step is pruned only
// when no step that could run before it changes what it touches.
func TestPruneKeepsLiveStepsAnEarlierStepChanges(t *testing.T) {
	prod := "database contoso-1/contoso"
	changes := func(objs ...string) StepFacts {
		f := StepFacts{TouchesKnown: true}
		for _, o := range objs {
			f.Touches = append(f.Touches, Touch{Object: o, Changes: true})
		}
		return f
	}
	live := func(f StepFacts) StepFacts { f.Live = true; return f }
	reads := func(o string) StepFacts { return StepFacts{TouchesKnown: true, Touches: []Touch{{Object: o}}} }
	gate := StepFacts{Gate: true, TouchesKnown: true}
	unknown := StepFacts{}
	type step struct {
		id    string
		needs []string
		facts StepFacts
	}
	cases := map[string]struct {
		steps    []step
		reached  bool
		wantKept []string          // in graph order
		wantLive map[string]string // kept live steps and why
	}{
		"freeze, wait, thaw: thaw looks done only because freeze has not run": {
			steps:    []step{{"freeze", nil, changes(prod)}, {"wait", []string{"freeze"}, gate}, {"thaw", []string{"wait"}, live(changes(prod))}},
			wantKept: []string{"freeze", "wait", "thaw"},
			wantLive: map[string]string{"thaw": "step freeze changes " + prod + " before it"},
		},
		"the same with the desired end live: thaw is no evidence that freeze ran": {
			steps:    []step{{"freeze", nil, changes(prod)}, {"wait", []string{"freeze"}, gate}, {"thaw", []string{"wait"}, live(changes(prod))}},
			reached:  true,
			wantKept: []string{"freeze", "wait", "thaw"},
			wantLive: map[string]string{"thaw": "step freeze changes " + prod + " before it"},
		},
		"a step that may run at the same time counts too": {
			steps:    []step{{"freeze", nil, changes(prod)}, {"thaw", nil, live(changes(prod))}},
			wantKept: []string{"freeze", "thaw"},
			wantLive: map[string]string{"thaw": "step freeze changes " + prod + " before it"},
		},
		"a step that runs only after it does not": {
			steps:    []step{{"thaw", nil, live(changes(prod))}, {"freeze", []string{"thaw"}, changes(prod)}},
			wantKept: []string{"freeze"},
		},
		"another object leaves it pruned": {
			steps:    []step{{"freeze-other", nil, changes("database sql-1/customers_1")}, {"thaw", []string{"freeze-other"}, live(changes(prod))}},
			wantKept: []string{"freeze-other"},
		},
		"a step that only reads the object leaves it pruned": {
			steps:    []step{{"stage", nil, reads(prod)}, {"freeze", []string{"stage"}, live(changes(prod))}},
			wantKept: []string{"stage"},
		},
		"a step that cannot say what it touches may change anything": {
			steps:    []step{{"script", nil, unknown}, {"thaw", []string{"script"}, live(changes(prod))}},
			wantKept: []string{"script", "thaw"},
			wantLive: map[string]string{"thaw": "step script may change anything before it"},
		},
		"a live step that cannot say what it touches is kept behind any change": {
			steps:    []step{{"freeze-other", nil, changes("slot contoso-2")}, {"script", []string{"freeze-other"}, live(unknown)}},
			wantKept: []string{"freeze-other", "script"},
			wantLive: map[string]string{"script": "step freeze-other changes slot contoso-2 before it"},
		},
		"a live step that touches nothing is pruned behind anything": {
			steps:    []step{{"script", nil, unknown}, {"approve", []string{"script"}, live(gate)}},
			wantKept: []string{"script"},
		},
		"a chain of live steps: each keeps its own reason": {
			steps: []step{{"freeze", nil, changes(prod)}, {"a", []string{"freeze"}, live(changes(prod))},
				{"b", []string{"a"}, live(changes(prod, "slot contoso-1"))}},
			wantKept: []string{"freeze", "a", "b"},
			wantLive: map[string]string{"a": "step freeze changes " + prod + " before it", "b": "step freeze changes " + prod + " before it"},
		},
		"everything live: a finished plan prunes to nothing": {
			steps:    []step{{"freeze", nil, live(changes(prod))}, {"wait", []string{"freeze"}, gate}, {"drop", []string{"wait"}, live(changes(prod))}},
			wantKept: nil,
		},
		"desired end live: a live step no earlier step changes is evidence for what led to it": {
			steps: []step{{"seed", nil, reads("database contoso-2/contoso")}, {"freeze", []string{"seed"}, changes(prod)},
				{"retire-app", []string{"freeze"}, live(changes("slot contoso-1"))}, {"drop", []string{"retire-app"}, changes(prod)}},
			reached:  true,
			wantKept: []string{"drop"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var specs []*plans.StepSpec
			facts := map[string]StepFacts{}
			for _, s := range tc.steps {
				specs = append(specs, &plans.StepSpec{ID: s.id, Needs: s.needs})
				facts[s.id] = s.facts
			}
			pruned, liveKept := prune(specs, facts, tc.reached)
			var kept []string
			for _, s := range specs {
				if !pruned[s.ID] {
					kept = append(kept, s.ID)
				}
			}
			if diff := cmp.Diff(tc.wantKept, kept); diff != "" {
				t.Errorf("kept steps (-want +got):\n%s", diff)
			}
			if tc.wantLive == nil {
				tc.wantLive = map[string]string{}
			}
			if diff := cmp.Diff(tc.wantLive, liveKept); diff != "" {
				t.Errorf("live steps kept (-want +got):\n%s", diff)
			}
			for id := range liveKept {
				if pruned[id] {
					t.Errorf("step %s is marked live-at-plan but pruned", id)
				}
			}
		})
	}
}

// TestRoundTrip: a graph ends where it began when every step not live now
// changes only objects a later step, live now, changes too.
func TestRoundTrip(t *testing.T) {
	prod := Touch{Object: "database contoso-1/contoso", Changes: true}
	other := Touch{Object: "slot contoso-2", Changes: true}
	f := func(live bool, ts ...Touch) StepFacts { return StepFacts{Live: live, Touches: ts, TouchesKnown: true} }
	cases := map[string]struct {
		steps []*stepgraph.Step
		facts map[string]StepFacts
		want  bool
	}{
		"freeze, wait, thaw": {
			steps: []*stepgraph.Step{{ID: "freeze"}, {ID: "wait", Needs: []string{"freeze"}}, {ID: "thaw", Needs: []string{"wait"}}},
			facts: map[string]StepFacts{"freeze": f(false, prod), "wait": f(false), "thaw": f(true, prod)},
			want:  true,
		},
		"a change nothing later restores": {
			steps: []*stepgraph.Step{{ID: "freeze"}, {ID: "deploy", Needs: []string{"freeze"}}, {ID: "thaw", Needs: []string{"deploy"}}},
			facts: map[string]StepFacts{"freeze": f(false, prod), "deploy": f(false, other), "thaw": f(true, prod)},
		},
		"the restoring step is not after it": {
			steps: []*stepgraph.Step{{ID: "freeze"}, {ID: "thaw"}},
			facts: map[string]StepFacts{"freeze": f(false, prod), "thaw": f(true, prod)},
		},
		"a step that cannot say what it touches": {
			steps: []*stepgraph.Step{{ID: "script"}, {ID: "thaw", Needs: []string{"script"}}},
			facts: map[string]StepFacts{"script": {}, "thaw": f(true, prod)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := RoundTrip(&stepgraph.Graph{Steps: tc.steps}, tc.facts); got != tc.want {
				t.Fatalf("RoundTrip = %t, want %t", got, tc.want)
			}
		})
	}
}

// BenchmarkRoundTripChain checks a chain of 20,000 steps (freeze, thaw,
// freeze, ... of one database, every other one live): the check is linear
// in the graph, where walking every step's descendants afresh was quadratic
// and took tens of seconds for a plan file anyone can write.
func BenchmarkRoundTripChain(b *testing.B) {
	const n = 20000
	g := &stepgraph.Graph{}
	facts := map[string]StepFacts{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s%d", i)
		s := &stepgraph.Step{ID: id, Action: "database.set-read-only"}
		if i > 0 {
			s.Needs = []string{fmt.Sprintf("s%d", i-1)}
		}
		g.Steps = append(g.Steps, s)
		facts[id] = StepFacts{Live: i%2 == 1, TouchesKnown: true, Touches: []Touch{{Object: "database sql-1/db", Changes: true}}}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !RoundTrip(g, facts) {
			b.Fatal("a chain that ends live on its one database is a round trip")
		}
	}
}
