package runner

import (
	"slices"
	"testing"

	"github.com/fleetplan/fleetplan/stepgraph"
)

// TestRollbackOfReadOnlyWindowKeepsTheOrderBelowIt walks the rollback of a
// rolling upgrade's shape in every order its rollbacks can finish in. The
// step that froze production is undone as soon as traffic is back, but the
// steps it needed (the staging copy, its app) are still undone only after
// every step that depended on them: the copy is not dropped while the
// steps between the freeze and the switch (disconnect, unfreeze) are still
// being undone on it.
func TestRollbackOfReadOnlyWindowKeepsTheOrderBelowIt(t *testing.T) {
	g := graph(
		st("stage", ""), st("app", "", "stage"), st("endpoint", "", "app"),
		st("freeze", "", "endpoint"), st("disconnect", "", "freeze"), st("unfreeze", "", "disconnect"),
		st("upgrade", "", "unfreeze"), st("switch", "", "upgrade"), st("retire", "", "switch"),
	)
	g.ReadOnly = &stepgraph.ReadOnlyWindow{From: "freeze", To: "switch"}
	r := newRun(g, Options{Parallel: 4}, "run", "", "t", nil, nil, nil)
	var newestFirst []string
	for i := len(g.Steps) - 1; i >= 0; i-- {
		newestFirst = append(newestFirst, g.Steps[i].ID)
	}
	ids := r.productionFirst(newestFirst)

	// needers[v]: the steps that need v, directly or not.
	needers := make([][]int, len(g.Steps))
	for i := len(g.Steps) - 1; i >= 0; i-- {
		for _, need := range g.Steps[i].Needs {
			j := r.index[need]
			needers[j] = append(needers[j], i)
			needers[j] = append(needers[j], needers[i]...)
		}
	}
	from, to := r.index["freeze"], r.index["switch"]
	// mustBeDone lists what has to be undone before v's rollback starts.
	mustBeDone := func(v int) []int {
		if v == from {
			return append([]int{to}, needers[to]...)
		}
		return needers[v]
	}

	orders := 0
	var walk func(w *walker, done []bool, running []int, order []string)
	walk = func(w *walker, done []bool, running []int, order []string) {
		for {
			v, ok := w.next()
			if !ok {
				break
			}
			for _, d := range mustBeDone(v) {
				if !done[d] {
					t.Fatalf("rollback of %s started before the rollback of %s was done (finished so far: %v)",
						g.Steps[v].ID, g.Steps[d].ID, order)
				}
			}
			running = append(running, v)
		}
		if len(running) == 0 {
			orders++
			if len(order) != len(g.Steps) {
				t.Fatalf("the walk ended with only %v undone", order)
			}
			return
		}
		for k, v := range running {
			// Each in-flight rollback may finish first: replay the walk so far
			// on a fresh walker, then finish v.
			w2, done2 := replayWalk(r, ids, order)
			w2.done(v)
			done2[v] = true
			rest := slices.Delete(slices.Clone(running), k, k+1)
			walk(w2, done2, rest, append(slices.Clone(order), g.Steps[v].ID))
		}
	}
	w := r.reverseWalker(ids)
	walk(w, make([]bool, len(g.Steps)), nil, nil)
	if orders == 0 {
		t.Fatal("no order walked")
	}
}

// replayWalk builds the reverse walker of ids and finishes the steps of
// order in that order, handing out everything ready before each and
// after the last: the state of a walk before its next rollback finishes.
func replayWalk(r *run, ids, order []string) (*walker, []bool) {
	w := r.reverseWalker(ids)
	done := make([]bool, len(r.g.Steps))
	drain := func() {
		for {
			if _, ok := w.next(); !ok {
				return
			}
		}
	}
	for _, id := range order {
		drain()
		v := r.index[id]
		w.done(v)
		done[v] = true
	}
	drain()
	return w, done
}
