package stepgraph

import (
	"sort"
	"time"
)

// Counts tallies changes by operation.
func (g *Graph) Counts() map[ChangeOp]int {
	m := map[ChangeOp]int{}
	for _, c := range g.Changes {
		m[c.Op]++
	}
	return m
}

// Total returns the duration along the critical path (steps run in parallel
// where their needs allow, so the sum of all steps would overstate it), the
// rows to move, and the longest window in which any data is unavailable.
func (g *Graph) Total() Estimate { return TotalOf(g.Order()) }

// TotalOf is Total over steps already in dependency order.
func TotalOf(order []*Step) Estimate {
	finish := make(map[string]time.Duration, len(order))
	var total Estimate
	for _, s := range order {
		var start time.Duration
		for _, n := range s.Needs {
			if finish[n] > start {
				start = finish[n]
			}
		}
		end := start + s.Estimate.Duration
		finish[s.ID] = end
		if end > total.Duration {
			total.Duration = end
		}
		total.Unavailable = max(total.Unavailable, s.Estimate.Unavailable)
		total.Rows += s.Estimate.Rows
	}
	return total
}

// Order returns the steps in dependency order, stable with respect to g.Steps:
// in passes over the steps still waiting, in their listed order, each step
// whose needs are all placed is placed next. Needs of unknown steps do not
// hold a step back. Needs are resolved to indices once, so a pass costs a
// slice lookup per need rather than a map lookup.
func (g *Graph) Order() []*Step {
	slot := make(map[string]int32, len(g.Steps)) // id -> first step with it
	own := make([]int32, len(g.Steps))           // step -> slot of its id
	for i, s := range g.Steps {
		j, dup := slot[s.ID]
		if !dup {
			j = int32(i)
			slot[s.ID] = j
		}
		own[i] = j
	}
	// needs[start[i]:start[i+1]] are the slots step i waits for.
	start := make([]int32, len(g.Steps)+1)
	var needs []int32
	for i, s := range g.Steps {
		for _, n := range s.Needs {
			if j, ok := slot[n]; ok {
				needs = append(needs, j)
			}
		}
		start[i+1] = int32(len(needs))
	}
	placed := make([]bool, len(g.Steps)) // by slot: a step with that id is placed
	out := make([]*Step, 0, len(g.Steps))
	waiting := make([]int32, len(g.Steps))
	for i := range waiting {
		waiting[i] = int32(i)
	}
	for len(waiting) > 0 {
		rest := waiting[:0]
		for _, i := range waiting {
			ready := true
			for _, j := range needs[start[i]:start[i+1]] {
				if !placed[j] {
					ready = false
					break
				}
			}
			if ready {
				placed[own[i]] = true
				out = append(out, g.Steps[i])
			} else {
				rest = append(rest, i)
			}
		}
		if len(rest) == len(waiting) { // a cycle: Validate reports it; render the rest as listed
			for _, i := range rest {
				out = append(out, g.Steps[i])
			}
			break
		}
		waiting = rest
	}
	return out
}

// IDs lists the ids of the steps of order that keep selects.
func IDs(order []*Step, keep func(*Step) bool) []string {
	var out []string
	for _, s := range order {
		if keep(s) {
			out = append(out, s.ID)
		}
	}
	return out
}

// SortChanges orders changes for display: creates, updates, moves, deletes.
func SortChanges(cs []Change) {
	rank := map[ChangeOp]int{Create: 0, Update: 1, Move: 2, Delete: 3}
	sort.SliceStable(cs, func(i, j int) bool { return rank[cs[i].Op] < rank[cs[j].Op] })
}

// ProductionSteps lists the ids of steps that touch production, in run order.
func (g *Graph) ProductionSteps() []string { return IDs(g.Order(), TouchesProduction) }

// LiveAtPlanSteps lists the ids of steps whose effect was live at plan time
// but which may still run (LiveAtPlan), in run order.
func (g *Graph) LiveAtPlanSteps() []string { return IDs(g.Order(), IsLiveAtPlan) }

// ApprovalSteps lists the ids of steps gated by a manual approval, in run order.
func (g *Graph) ApprovalSteps() []string { return IDs(g.Order(), NeedsApproval) }

// TouchesProduction, IsLiveAtPlan and NeedsApproval select steps for IDs.
func TouchesProduction(s *Step) bool { return s.Production }
func IsLiveAtPlan(s *Step) bool      { return s.LiveAtPlan != "" }
func NeedsApproval(s *Step) bool     { return s.Approval }
