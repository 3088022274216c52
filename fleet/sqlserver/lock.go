package sqlserver

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// runLockResource is the application lock every run that changes the fleet
// takes, in the shard map manager database (sp_getapplock locks are per
// database), so every checkout and every target name reaching the same shard
// map manager takes the same lock.
const runLockResource = "fleetplan:run"

// heartbeat is how often a held lock's session is pinged, so no idle
// timeout of a gateway or a load balancer ends the session that holds it.
const heartbeat = 30 * time.Second

// appLock is an application lock held by one pinned session.
type appLock struct {
	conn     *sql.Conn
	resource string
	stop     chan struct{}
	once     sync.Once
}

// getAppLock pins a session of db and takes resource on it (session owner),
// waiting up to wait (0: not at all). ok is false when another session
// holds it.
func getAppLock(ctx context.Context, db *sql.DB, resource string, wait time.Duration) (l *appLock, ok bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	var r int
	if err := conn.QueryRowContext(ctx, GetAppLockSQL, sql.Named("resource", resource), sql.Named("timeout", int(wait/time.Millisecond))).Scan(&r); err != nil {
		conn.Close()
		return nil, false, err
	}
	switch {
	case r >= 0: // 0 granted, 1 granted after a wait
	case r == -1: // timeout: another session holds it
		conn.Close()
		return nil, false, nil
	default: // -2 cancelled, -3 deadlock victim, -999 parameter error
		conn.Close()
		return nil, false, fmt.Errorf("sp_getapplock %s returned %d", resource, r)
	}
	l = &appLock{conn: conn, resource: resource, stop: make(chan struct{})}
	go l.keepAlive()
	return l, true, nil
}

func (l *appLock) keepAlive() {
	tk := time.NewTicker(heartbeat)
	defer tk.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tk.C:
			ctx, cancel := context.WithTimeout(context.Background(), heartbeat)
			_ = l.conn.PingContext(ctx)
			cancel()
		}
	}
}

// release gives the lock back and closes the session. Idempotent; closing
// the session alone would release it too.
func (l *appLock) release() {
	l.once.Do(func() {
		close(l.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = l.conn.ExecContext(ctx, ReleaseAppLockSQL, sql.Named("resource", l.resource))
		_ = l.conn.Close()
	})
}

// LockFleet implements fleet.Locker with sp_getapplock on a pinned session
// of the shard map manager database: exclusive across processes and hosts,
// released by release() or when the session ends with the process. The
// holder's details are kept in fleetplan.Holders, a table of fleetplan's own
// schema, so a refused run can name the holder.
func (t *Target) LockFleet(ctx context.Context, h fleet.LockHolder) (func(), error) {
	smm := t.cfg.SMM()
	db, err := t.db(smm)
	if err != nil {
		return nil, err
	}
	l, ok, err := getAppLock(ctx, db, runLockResource, 0)
	if err != nil {
		return nil, t.red.wrap("lock fleet", smm.String(), err)
	}
	if !ok {
		return nil, &fleet.Error{Op: "lock fleet", Target: smm.String(),
			Err: &fleet.FleetLockedError{Fleet: smm.String(), Holder: t.readHolder(ctx, db, runLockResource)},
			Hint: "another run is changing this fleet (from another checkout, host or replica); wait for it to finish: " +
				"the lock is released as soon as its session ends"}
	}
	// The details are a courtesy to the next one refused; the lock holds without them.
	_ = t.writeHolder(ctx, l.conn, runLockResource, h)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = l.conn.ExecContext(ctx, DeleteHolderSQL, sql.Named("resource", runLockResource))
		l.release()
	}, nil
}

func (t *Target) writeHolder(ctx context.Context, conn *sql.Conn, resource string, h fleet.LockHolder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, EnsureStateSchemaSQL); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, UpsertHolderSQL, sql.Named("resource", resource), sql.Named("holder", string(b)))
	return err
}

func (t *Target) readHolder(ctx context.Context, db *sql.DB, resource string) *fleet.LockHolder {
	var s string
	if err := db.QueryRowContext(ctx, ReadHolderSQL, sql.Named("resource", resource)).Scan(&s); err != nil {
		return nil
	}
	var h fleet.LockHolder
	if json.Unmarshal([]byte(s), &h) != nil {
		return nil
	}
	return &h
}
