package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// The kinds plan and apply take are the ones in the kind table, and each
// is a kind plans documents can have.
func TestKindTableHoldsThePlannedKinds(t *testing.T) {
	names := planner.KindNames()
	for _, want := range []string{plans.KindShardLayout, plans.KindRollingUpgrade, plans.KindInstanceChange} {
		if _, ok := planner.KindNamed(want); !ok {
			t.Errorf("kind %s is not in the table (have %v)", want, names)
		}
	}
	for _, n := range names {
		if !slices.Contains(plans.Kinds(), n) || n == plans.KindTemplate {
			t.Errorf("the table holds %s, which no plan document can be", n)
		}
	}
}

// A kind not in the table (one that validates but is not planned yet, as
// ShardMapRecovery today) keeps its messages: plan refuses it at the
// document, and a saved plan of it cannot be checked for freshness. A name
// no kind has stands for it, so the test holds whichever kinds get built.
func TestKindNotInTheTable(t *testing.T) {
	const unplanned = "NotPlannedYet"
	doc := &plans.Document{Kind: unplanned, Pos: diag.Pos{File: "r.yaml", Line: 1, Col: 1}}
	g, diags := Plan(context.Background(), doc, nil, planner.Options{})
	if g != nil || len(diags) != 1 {
		t.Fatalf("Plan = %v, %v", g, diags)
	}
	if got, want := diags[0].String(), "r.yaml:1:1: planning NotPlannedYet documents is not supported yet (hint: NotPlannedYet plans validate today; plan and apply take "; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want it to start %q", got, want)
	}
	err := CheckFresh(context.Background(), &stepgraph.Graph{Kind: unplanned}, doc, nil)
	if err == nil || err.Error() != "cannot check the freshness of a saved NotPlannedYet plan" {
		t.Errorf("CheckFresh = %v", err)
	}
}

func TestAndList(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{{nil, ""}, {[]string{"A"}, "A"}, {[]string{"A", "B"}, "A and B"}, {[]string{"A", "B", "C"}, "A, B and C"}} {
		if got := andList(tc.in); got != tc.want {
			t.Errorf("andList(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
