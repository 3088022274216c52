package local

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// lockWriters serialises shard map writers: a mutex inside the process and a
// file lock across processes (released by the kernel if the holder dies).
func (t *Target) lockWriters(ctx context.Context) (func(), error) {
	t.writeMu.Lock()
	ok, err := t.flock.TryLockContext(ctx, 10*time.Millisecond)
	if err != nil || !ok {
		t.writeMu.Unlock()
		if err == nil {
			err = errors.New("lock not acquired")
		}
		return nil, &fleet.Error{Op: "lock shard map store", Target: t.dir, Err: err, Transient: ctx.Err() == nil}
	}
	return func() {
		_ = t.flock.Unlock()
		t.writeMu.Unlock()
	}, nil
}

// write runs fn with the writer lock held. create deploys the GSM when
// missing. An operation left pending by another writer is undone only when
// fn's operation meets it and its owner is gone (elasticdb.Run), as the
// library does, never in passing: its owner may be running it still.
func (t *Target) write(ctx context.Context, create bool, fn func(g *sql.DB) error) error {
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	g, err := t.gsm(ctx, create)
	if err != nil {
		return err
	}
	if g == nil {
		return &fleet.Error{Op: "change shard map", Target: t.dir, Err: fleet.ResultShardMapDoesNotExist,
			Hint: "the fleet has no shard maps yet; create one first"}
	}
	return fn(g)
}
