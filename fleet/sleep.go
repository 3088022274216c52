package fleet

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends; then it returns ctx's cause. Drivers
// poll long-running operations with it, and steps wait with it.
func Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return nil
	}
}
