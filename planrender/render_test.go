package planrender

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/stepgraph"
)

// The text renderer lists the steps once each, in dependency order, padded
// whatever the width of the number or the id.
func TestRenderTextStepLines(t *testing.T) {
	g := &stepgraph.Graph{Kind: "ShardLayout", Plan: "p", Target: "local"}
	for i := 12; i >= 1; i-- {
		s := &stepgraph.Step{ID: fmt.Sprintf("step-%d", i), Action: "noop", Title: "t"}
		if i > 1 {
			s.Needs = []string{fmt.Sprintf("step-%d", i-1), "step-1"}
		}
		g.Steps = append(g.Steps, s)
	}
	g.Steps[len(g.Steps)-1].Estimate = stepgraph.Estimate{Duration: 30 * time.Millisecond, Rows: 1500, Basis: "rows"}
	g.Steps = append(g.Steps, &stepgraph.Step{ID: strings.Repeat("x", 40), Action: "noop"})
	var b strings.Builder
	if err := Text(&b, g); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"   1. step-1                           noop  [~30ms, 1,500 rows]\n      t\n",
		"   2. " + strings.Repeat("x", 40) + " noop\n",
		"   3. step-2                           noop\n      t\n      needs: step-1, step-1\n",
		"  13. step-12                          noop\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
