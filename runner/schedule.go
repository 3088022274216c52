package runner

import (
	"context"
	"runtime"
)

// scheduler drives one walk of the graph in one direction. The walker says
// which steps may start; the scheduler starts each on its own goroutine and
// collects what they report. It is the only writer of the journal: it
// commits once per turn, covering every step that finished since the last
// turn and every step it is about to start (group commit).
type scheduler struct {
	r    *run
	w    *walker
	dir  direction
	msgs chan msg
}

func (r *run) newScheduler(w *walker, d direction) *scheduler {
	return &scheduler{r: r, w: w, dir: d, msgs: make(chan msg, 2*r.parallel+16)}
}

// launch starts steps the walker handed out, each on its own goroutine.
func (sc *scheduler) launch(ctx context.Context, vs []int) {
	for _, i := range vs {
		go func(i int) { sc.msgs <- sc.r.attempt(ctx, i, sc.dir, sc.msgs) }(i)
	}
}

// groupSpins bounds how often the scheduler yields to let running steps
// finish before it commits a turn.
const groupSpins = 3

// collect waits until a running step reports or wake is signalled, then
// gathers what else has been reported. Steps that are about to finish get a
// few chances to run first, so that one fsync covers them too instead of
// costing one each. woken says that wake ended the wait.
func (sc *scheduler) collect(batch []msg, wake <-chan struct{}) (_ []msg, woken bool) {
	select {
	case m := <-sc.msgs:
		batch = append(batch, m)
	case <-wake:
		return batch, true
	}
	for spins := 0; ; {
		select {
		case m := <-sc.msgs:
			batch = append(batch, m)
			continue
		default:
		}
		if spins == groupSpins || finals(batch) >= sc.w.inFlight() {
			return batch, false
		}
		spins++
		runtime.Gosched()
	}
}

// finals counts the messages that end a step's attempt.
func finals(batch []msg) int {
	n := 0
	for _, m := range batch {
		if m.final() {
			n++
		}
	}
	return n
}
