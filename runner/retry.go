package runner

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/fleetplan/fleetplan/stepgraph"
)

// DefaultRetry is used for fields a plan and the options leave at zero. Its
// budget (the sum of backoff waits before giving up) is twice the 30 s a
// planned-maintenance failover may take (DOMAIN.md §3).
var DefaultRetry = stepgraph.RetryPolicy{
	Initial: 250 * time.Millisecond,
	Max:     5 * time.Second,
	Budget:  60 * time.Second,
}

// mergeRetry fills zero fields of p from the fallbacks, in order.
func mergeRetry(p *stepgraph.RetryPolicy, fallbacks ...stepgraph.RetryPolicy) stepgraph.RetryPolicy {
	var out stepgraph.RetryPolicy
	if p != nil {
		out = *p
	}
	for _, f := range fallbacks {
		if out.Attempts == 0 {
			out.Attempts = f.Attempts
		}
		if out.Initial == 0 {
			out.Initial = f.Initial
		}
		if out.Max == 0 {
			out.Max = f.Max
		}
		if out.Budget == 0 {
			out.Budget = f.Budget
		}
	}
	if out.Max < out.Initial {
		out.Max = out.Initial
	}
	return out
}

// backoff yields waits with exponential growth and full jitter: the n-th wait
// is uniform in [0, min(Max, Initial·2ⁿ)]. Waits stop when their sum reaches
// the budget (the last one is shortened to land on it exactly) or when the
// attempts limit is reached.
type backoff struct {
	p        stepgraph.RetryPolicy
	n        int
	waited   time.Duration
	attempts int // attempts made so far
	rnd      func(n int64) int64
}

func newBackoff(p stepgraph.RetryPolicy) *backoff {
	return &backoff{p: p, rnd: rand.Int64N}
}

// next returns the wait before the next attempt, or false when the policy is
// exhausted. Call it after each failed attempt.
func (b *backoff) next() (time.Duration, bool) {
	b.attempts++
	if b.p.Attempts > 0 && b.attempts >= b.p.Attempts {
		return 0, false
	}
	if b.waited >= b.p.Budget {
		return 0, false
	}
	ceil := b.p.Initial << min(b.n, 30)
	if ceil > b.p.Max || ceil <= 0 {
		ceil = b.p.Max
	}
	b.n++
	w := time.Duration(b.rnd(int64(ceil) + 1))
	if b.waited+w > b.p.Budget {
		w = b.p.Budget - b.waited
	}
	b.waited += w
	return w, true
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
