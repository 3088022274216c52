package sqlserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// TestLockContract checks fleet.Locker's contract on a real server: the
// lock is exclusive between two targets (two processes) and within one,
// names its holder, is released by release() (twice is fine) and by the
// end of the holder's session.
func TestLockContract(t *testing.T) {
	a, _ := testTarget(t)
	ctx := context.Background()
	b := newTarget(a.cfg)
	defer b.Close()
	h := fleet.LockHolder{PID: 42, Run: "r-1", Host: "replica-a", Since: time.Now().UTC()}
	release, err := a.LockFleet(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	for name, tg := range map[string]*Target{"another process": b, "the same process": a} {
		_, err := tg.LockFleet(ctx, fleet.LockHolder{Run: "r-2"})
		var le *fleet.FleetLockedError
		if !errors.As(err, &le) {
			t.Fatalf("%s took a held lock: %v", name, err)
		}
		if le.Holder == nil || le.Holder.Run != "r-1" || le.Holder.Host != "replica-a" {
			t.Errorf("%s: holder %+v, want run r-1 on replica-a", name, le.Holder)
		}
	}
	release()
	release()
	again, err := b.LockFleet(ctx, fleet.LockHolder{Run: "r-3"})
	if err != nil {
		t.Fatalf("the released lock is still held: %v", err)
	}
	again()

	// A holder whose session ends (its process died) holds nothing.
	db, err := a.db(a.cfg.SMM())
	if err != nil {
		t.Fatal(err)
	}
	l, ok, err := getAppLock(ctx, db, runLockResource, 0)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	close(l.stop)
	l.conn.Raw(func(dc any) error { return dc.(interface{ Close() error }).Close() })
	l.conn.Close()
	if _, err := b.LockFleet(ctx, fleet.LockHolder{Run: "r-4"}); err != nil {
		t.Fatalf("the lock of an ended session is still held: %v", err)
	}
}
