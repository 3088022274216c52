package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/gofrs/flock"
	"github.com/google/uuid"
)

// opLockPath is the lock file of one operation in the fleet directory: the
// local fleet's equivalent of the library's sp_getapplock on the
// operation's id.
func (t *Target) opLockPath(id uuid.UUID) string {
	return filepath.Join(t.dir, ".shardmap-op-"+id.String()+".lock")
}

// LockOperation implements elasticdb.Executor with a kernel file lock
// (flock) per operation: exclusive between processes and between two
// locks in one process, and released by the kernel when its holder dies,
// as a session's applock is when its connection drops.
func (e executor) LockOperation(ctx context.Context, id uuid.UUID, wait time.Duration) (func(), error) {
	path := e.t.opLockPath(id)
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err == nil && !ok && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = fl.TryLockContext(wctx, 20*time.Millisecond)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, elasticdb.ErrOperationLocked
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Removed while held: a writer that opened the file before and
			// gets the lock after reads the operations log again under it
			// and finds the operation gone.
			_ = os.Remove(path)
			_ = fl.Unlock()
		})
	}, nil
}
