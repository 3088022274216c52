package planner

import (
	"context"
	"runtime"
	"testing"
)

// TestPlanManyRangesAllocates holds planning 10,000 ranges over 100
// shards (1,000 moves) to a bound on the allocations and on the bytes
// allocated per range, so the diff does not slip back to a map, a copy or
// a sort per range, or the steps to an input map per nested value. Both
// counts are the same on every run whatever the load; the bounds leave
// room above what the planner takes today (about 10 allocations and 600
// bytes a range) and stay below what it took before (20 and 1,500).
func TestPlanManyRangesAllocates(t *testing.T) {
	const ranges = 10000
	const maxAllocs, maxBytes = 14, 1000 // per range
	doc, live := movingLayout(t, ranges, 100)
	plan := func() {
		g, diags := PlanShardLayout(context.Background(), doc, live, Options{})
		if diags.HasErrors() || len(g.Steps) < ranges/10 {
			t.Fatalf("%v, %d steps", diags, len(g.Steps))
		}
	}
	allocs := testing.AllocsPerRun(2, plan)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	plan()
	runtime.ReadMemStats(&after)
	bytes := after.TotalAlloc - before.TotalAlloc
	t.Logf("%.1f allocations and %d bytes a range", allocs/ranges, bytes/ranges)
	if allocs > maxAllocs*ranges {
		t.Errorf("%.0f allocations planning %d ranges, more than %d a range", allocs, ranges, maxAllocs)
	}
	if bytes > maxBytes*ranges {
		t.Errorf("%d bytes allocated planning %d ranges, more than %d a range", bytes, ranges, maxBytes)
	}
}
