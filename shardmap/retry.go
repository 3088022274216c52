package shardmap

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// RetryPolicy says how Retry waits between attempts: exponential backoff with
// full jitter (the n-th wait is uniform in [0, min(Max, Initial·2ⁿ)]), for
// at most Budget of elapsed time since the first attempt.
type RetryPolicy struct {
	Initial time.Duration // first backoff ceiling
	Max     time.Duration // largest backoff ceiling
	// Budget is the longest Retry keeps trying. The default outlasts a 30 s
	// failover of an Azure SQL database, twice over.
	Budget time.Duration
	// OnRetry, when set, is called before each wait with the attempt number
	// (from 1), the error that failed it and the wait.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// DefaultRetry fills the zero fields of every RetryPolicy. Moves keep a
// batch offline for milliseconds to seconds, so the first waits are short.
var DefaultRetry = RetryPolicy{Initial: 5 * time.Millisecond, Max: time.Second, Budget: time.Minute}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = DefaultRetry.Initial
	}
	if p.Max <= 0 {
		p.Max = DefaultRetry.Max
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Budget <= 0 {
		p.Budget = DefaultRetry.Budget
	}
	return p
}

// Retryable reports whether Retry tries again after err: a key that is
// offline (IsOffline) or a transient error (fleet.IsTransient: a database in
// failover, a busy database, a mapping that changed while it was read).
func Retryable(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	return IsOffline(err) || fleet.IsTransient(err)
}

// Retry calls fn until it succeeds, fails with an error that is not
// Retryable, the policy's budget is spent, or ctx ends; it returns fn's last
// error (or ctx's). Zero fields of p take DefaultRetry's.
func Retry(ctx context.Context, p RetryPolicy, fn func(ctx context.Context) error) error {
	p = p.withDefaults()
	deadline := time.Now().Add(p.Budget)
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !Retryable(err) {
			return unwrapPermanent(err)
		}
		ceil := p.Initial << min(attempt-1, 30)
		if ceil > p.Max || ceil <= 0 {
			ceil = p.Max
		}
		wait := time.Duration(rand.Int64N(int64(ceil) + 1))
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		wait = min(wait, left)
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

func unwrapPermanent(err error) error {
	if pe, ok := err.(*permanentError); ok {
		return pe.err
	}
	return err
}
