package runner

import (
	"context"
	"fmt"
	"testing"

	"github.com/fleetplan/fleetplan/stepgraph"
	_ "github.com/fleetplan/fleetplan/steps/generic" // generic.noop
)

// layered builds width×layers no-op steps; each step needs two steps of the
// layer before (the same shape test/bench/runnerbench gives GNU make).
func layered(width, layers int) *stepgraph.Graph {
	g := graph()
	id := func(l, k int) string { return fmt.Sprintf("s%d_%d", l, k) }
	for l := range layers {
		for k := range width {
			s := &stepgraph.Step{ID: id(l, k), Action: "generic.noop"}
			if l > 0 {
				s.Needs = []string{id(l-1, k), id(l-1, (k+1)%width)}
			}
			g.Steps = append(g.Steps, s)
		}
	}
	return g
}

// BenchmarkRunnerNoop runs 10,000 no-op steps through the runner with its
// fsync'd journal, two at a time (as make -j2 would).
func BenchmarkRunnerNoop(b *testing.B) {
	g := layered(100, 100)
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		res, err := Start(context.Background(), g, Options{Dir: dir, Parallel: 2})
		if err != nil || res.Done != len(g.Steps) {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.ReportMetric(float64(b.N*len(g.Steps))/b.Elapsed().Seconds(), "steps/s")
}
