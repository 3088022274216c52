package runner

import "container/heap"

// vertexState is where one vertex of a walk stands.
type vertexState uint8

const (
	vertexWaiting vertexState = iota // some vertex it waits on is not done
	vertexReady                      // everything it waits on is done; not started
	vertexRunning                    // handed out by next, not finished
	vertexHeld                       // handed out, then put aside by the caller (an approval gate)
	vertexDone
	vertexFailed
	vertexBlocked // a vertex it waits on, directly or not, failed: it never runs
)

// walker is the bookkeeping of a parallel walk over a directed acyclic graph
// of vertices 0..n-1. A vertex becomes ready once every vertex it waits on is
// done; next hands out ready vertices, at most limit running at once, in the
// order of their priority. When a vertex fails, every vertex that waits on
// it, directly or not, is marked blocked instead of being run (and failing
// again). Vertices marked as having nothing to do are done as soon as they
// are ready, without being handed out.
//
// Forward execution walks the step graph along its needs; rollback walks
// the same graph with the edges reversed, so a step is undone only after
// every step that depended on it. The walker does no I/O and starts no
// goroutines: the run's scheduler owns it and is its only caller.
type walker struct {
	limit      int
	dependants [][]int // dependants[v]: the vertices that wait on v
	pending    []int   // how many vertices v still waits on
	state      []vertexState
	noop       []bool
	prio       []int // lower runs first; by default, the order vertices became ready
	ready      readyQueue
	running    int
	seq        int // readiness counter, the default priority
}

// newWalker builds a walk: waitsOn[v] lists the vertices v waits on, done
// marks vertices finished before the walk (a resumed run), noop those with
// nothing to do, and prio (optional) orders ready vertices, lower first;
// without it ready vertices are handed out in the order they became ready,
// those ready at the start in index order. A limit below 1 means 1.
func newWalker(waitsOn [][]int, limit int, done, noop []bool, prio []int) *walker {
	n := len(waitsOn)
	w := &walker{
		limit:      max(limit, 1),
		dependants: make([][]int, n),
		pending:    make([]int, n),
		state:      make([]vertexState, n),
		noop:       noop,
		prio:       prio,
	}
	w.ready.w = w
	if w.noop == nil {
		w.noop = make([]bool, n)
	}
	w.ready.explicit = prio != nil
	if prio == nil {
		w.prio = make([]int, n)
	}
	for v, deps := range waitsOn {
		if done != nil && done[v] {
			w.state[v] = vertexDone
		}
		for _, u := range deps {
			w.dependants[u] = append(w.dependants[u], v)
			if done == nil || !done[u] {
				w.pending[v]++
			}
		}
	}
	for v := range n {
		if w.state[v] == vertexWaiting && w.pending[v] == 0 {
			w.makeReady(v)
		}
	}
	return w
}

// makeReady queues v, or finishes it at once when it has nothing to do.
func (w *walker) makeReady(v int) {
	if w.noop[v] {
		w.state[v] = vertexDone
		w.release(v)
		return
	}
	w.state[v] = vertexReady
	if !w.ready.explicit {
		w.prio[v] = w.seq
		w.seq++
	}
	heap.Push(&w.ready, v)
}

// release counts v as done for everything that waits on it.
func (w *walker) release(v int) {
	for _, d := range w.dependants[v] {
		w.pending[d]--
		if w.pending[d] == 0 && w.state[d] == vertexWaiting {
			w.makeReady(d)
		}
	}
}

// canStart reports whether next would hand out a vertex.
func (w *walker) canStart() bool { return w.running < w.limit && w.ready.Len() > 0 }

// hasReady reports whether a ready vertex waits to be started.
func (w *walker) hasReady() bool { return w.ready.Len() > 0 }

// inFlight is how many handed-out vertices have not finished.
func (w *walker) inFlight() int { return w.running }

// next hands out the ready vertex of lowest priority and counts it as
// running; ok is false at the limit or when nothing is ready.
func (w *walker) next() (v int, ok bool) {
	if !w.canStart() {
		return 0, false
	}
	v = heap.Pop(&w.ready).(int)
	w.state[v] = vertexRunning
	w.running++
	return v, true
}

// hold puts a handed-out vertex aside: it stops counting as running, and
// what waits on it keeps waiting.
func (w *walker) hold(v int) {
	w.state[v] = vertexHeld
	w.running--
}

// abandon gives up a running vertex that stopped without an outcome (its
// context ended): it is no longer running, and it is not done.
func (w *walker) abandon(v int) {
	w.state[v] = vertexWaiting
	w.running--
}

// done finishes a running vertex; what waits only on finished vertices
// becomes ready.
func (w *walker) done(v int) {
	w.state[v] = vertexDone
	w.running--
	w.release(v)
}

// fail finishes a running vertex as failed and marks every vertex that
// waits on it, directly or not, as blocked. It returns the vertices it
// marked.
func (w *walker) fail(v int) (blocked []int) {
	w.state[v] = vertexFailed
	w.running--
	stack := append([]int(nil), w.dependants[v]...)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch w.state[d] {
		case vertexDone, vertexFailed, vertexBlocked, vertexRunning:
			continue
		case vertexReady:
			w.ready.remove(d)
		}
		w.state[d] = vertexBlocked
		blocked = append(blocked, d)
		stack = append(stack, w.dependants[d]...)
	}
	return blocked
}

// readyQueue is a min-heap of ready vertices by priority.
type readyQueue struct {
	w        *walker
	vs       []int
	explicit bool // priorities were given by the caller
}

func (q *readyQueue) Len() int           { return len(q.vs) }
func (q *readyQueue) Less(i, j int) bool { return q.w.prio[q.vs[i]] < q.w.prio[q.vs[j]] }
func (q *readyQueue) Swap(i, j int)      { q.vs[i], q.vs[j] = q.vs[j], q.vs[i] }
func (q *readyQueue) Push(x any)         { q.vs = append(q.vs, x.(int)) }
func (q *readyQueue) Pop() any {
	v := q.vs[len(q.vs)-1]
	q.vs = q.vs[:len(q.vs)-1]
	return v
}

func (q *readyQueue) remove(v int) {
	for i, x := range q.vs {
		if x == v {
			heap.Remove(q, i)
			return
		}
	}
}
