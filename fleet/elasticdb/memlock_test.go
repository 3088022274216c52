package elasticdb

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// opLocks is the memStore's sp_getapplock: one exclusive lock per
// operation id, shared by every executor over the same store.
type opLocks struct {
	mu   sync.Mutex
	held map[uuid.UUID]chan struct{} // closed on release
}

func (l *opLocks) lock(ctx context.Context, id uuid.UUID, wait time.Duration) (func(), error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[uuid.UUID]chan struct{}{}
		}
		ch, busy := l.held[id]
		if !busy {
			ch = make(chan struct{})
			l.held[id] = ch
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, id)
					l.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		l.mu.Unlock()
		if wait <= 0 {
			return nil, ErrOperationLocked
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil, ErrOperationLocked
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *memStore) LockOperation(ctx context.Context, id uuid.UUID, wait time.Duration) (func(), error) {
	return s.locks.lock(ctx, id, wait)
}
