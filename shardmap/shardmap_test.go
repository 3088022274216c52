package shardmap

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

var (
	shard0 = local.DemoShards[0]
	shard1 = local.DemoShards[1]
	shard2 = fleet.Location{Server: local.DemoServer, Database: "customers_2"}
)

// demo creates a small demo fleet and returns the router's target and a
// second target on the same directory, standing for the mover's process.
func demo(t *testing.T) (app, mover *local.Target) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	app, err := local.CreateDemo(ctx, dir, local.DemoOptions{Customers: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	mover, err = local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mover.Close() })
	return app, mover
}

func newRouter(t *testing.T, tg fleet.Target, opts Options) *Router {
	t.Helper()
	r, err := New(context.Background(), tg, local.DemoShardMap, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func key(t *testing.T, v int64) []byte {
	t.Helper()
	b, err := shardkey.Encode(fleet.KeyInt64, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// insertCustomer writes customer id through the router.
func insertCustomer(ctx context.Context, r *Router, id int64) error {
	return r.InTx(ctx, id, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO customers (id, balance) VALUES (?, 0)`, id)
		return err
	})
}

// rowsOf counts the customers with id on a shard, read straight from its file.
func rowsOf(t *testing.T, tg *local.Target, loc fleet.Location, id int64) int {
	t.Helper()
	db, err := tg.ShardDB(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM customers WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mappingAt finds the mapping holding key v in the global shard map.
func mappingAt(t *testing.T, s fleet.ShardMapStore, v int64) fleet.Mapping {
	t.Helper()
	mp, err := s.MappingForKey(context.Background(), local.DemoShardMap, key(t, v))
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

// moveUpper moves the mapping holding 50000 to a new shard customers_2, as a
// move does it (offline, repoint, online), without data: the tests only
// write keys the move never copies.
func moveUpper(t *testing.T, mover *local.Target) {
	t.Helper()
	ctx := context.Background()
	if err := mover.CreateDatabase(ctx, shard2); err != nil {
		t.Fatal(err)
	}
	if err := mover.ApplySQL(ctx, shard2, local.ShardSchemaSQL); err != nil {
		t.Fatal(err)
	}
	if _, err := mover.AddShard(ctx, local.DemoShardMap, shard2); err != nil {
		t.Fatal(err)
	}
	off, err := mover.SetMappingOnline(ctx, local.DemoShardMap, mappingAt(t, mover, 50000).ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mover.MoveMappingOnline(ctx, local.DemoShardMap, off.ID, shard2); err != nil {
		t.Fatal(err)
	}
}

func TestOpenForKeyRoutesToTheShardThatHoldsTheKey(t *testing.T) {
	ctx := context.Background()
	app, _ := demo(t)
	r := newRouter(t, app, Options{})
	for id, want := range map[int64]fleet.Location{7: shard0, 49999: shard0, 50000: shard1, 75123: shard1} {
		c, err := r.OpenForKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Shard().Equal(want) {
			t.Errorf("key %d: routed to %s, want %s", id, c.Shard(), want)
		}
		c.Close()
		if id == 7 {
			continue // the demo has customer 7 already
		}
		if err := insertCustomer(ctx, r, id); err != nil {
			t.Fatal(err)
		}
		for _, loc := range []fleet.Location{shard0, shard1} {
			wantRows := 0
			if loc.Equal(want) {
				wantRows = 1
			}
			if n := rowsOf(t, app, loc, id); n != wantRows {
				t.Errorf("key %d: %d rows on %s, want %d", id, n, loc, wantRows)
			}
		}
	}
	if s := r.Stats(); s.StoreLookups != 2 || s.CacheHits == 0 {
		t.Errorf("stats %+v: want the two mappings read from the global shard map once each, then cache hits", s)
	}
}

func TestOpenForKeyRefusesKeysItCannotRoute(t *testing.T) {
	ctx := context.Background()
	app, _ := demo(t)
	r := newRouter(t, app, Options{})
	if _, err := r.OpenForKey(ctx, "seven"); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Errorf("a text key of an int64 map: %v, want ErrInvalidArgument", err)
	}
	if _, err := r.OpenForKey(ctx, int64(-5)); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("an unmapped key: %v, want ErrNotFound", err)
	}
	if _, err := New(ctx, app, "NoSuchMap", Options{}); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("an unknown map: %v, want ErrNotFound", err)
	}
}

func TestOfflineKeyIsATypedRetryableError(t *testing.T) {
	ctx := context.Background()
	app, mover := demo(t)
	r := newRouter(t, app, Options{Retry: RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond, Budget: 20 * time.Millisecond}})
	// Cache the online mapping, then take it offline behind the router's back.
	c, err := r.OpenForKey(ctx, int64(50010))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	off, err := mover.SetMappingOnline(ctx, local.DemoShardMap, mappingAt(t, mover, 50010).ID, false)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err == nil {
		tx.Rollback()
	}
	var oe *OfflineError
	if !errors.As(err, &oe) || !IsOffline(err) || !fleet.IsTransient(err) {
		t.Fatalf("BeginTx on an offline key: %v, want an *OfflineError", err)
	}
	if oe.Key != "50010" || oe.Range != "[50000, +inf)" || !oe.Shard.Equal(shard1) {
		t.Errorf("offline error %+v", oe)
	}
	if _, err := r.OpenForKey(ctx, int64(50011)); !IsOffline(err) {
		t.Errorf("OpenForKey on an offline key: %v, want IsOffline", err)
	}
	if err := insertCustomer(ctx, r, 50010); !IsOffline(err) {
		t.Errorf("InTx past its budget: %v, want IsOffline", err)
	}
	if n := rowsOf(t, app, shard1, 50010); n != 0 {
		t.Errorf("%d rows written to an offline key", n)
	}

	// Retried until the mapping comes back online (at the third retry).
	retries := 0
	r.opts.Retry = RetryPolicy{Initial: time.Millisecond, Budget: time.Minute, OnRetry: func(n int, err error, _ time.Duration) {
		retries = n
		if !IsOffline(err) {
			t.Errorf("retry %d after %v, want only offline errors", n, err)
		}
		if n == 3 {
			if _, err := mover.SetMappingOnline(ctx, local.DemoShardMap, off.ID, true); err != nil {
				t.Error(err)
			}
		}
	}}
	if err := insertCustomer(ctx, r, 50010); err != nil {
		t.Fatal(err)
	}
	if retries != 3 {
		t.Errorf("%d retries, want 3", retries)
	}
	if n := rowsOf(t, app, shard1, 50010); n != 1 {
		t.Errorf("%d rows after the key came back online, want 1", n)
	}
}

func TestStaleCacheFollowsTheMoveAndNeverWritesToTheOldShard(t *testing.T) {
	ctx := context.Background()
	app, mover := demo(t)
	r := newRouter(t, app, Options{})
	if err := insertCustomer(ctx, r, 50001); err != nil {
		t.Fatal(err)
	}
	// A connection opened before the move, and the cache, still say customers_1.
	c, err := r.OpenForKey(ctx, int64(50002))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Shard().Equal(shard1) {
		t.Fatalf("routed to %s before the move", c.Shard())
	}
	moveUpper(t, mover)

	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, balance) VALUES (50002, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if !c.Shard().Equal(shard2) {
		t.Errorf("the connection stayed on %s after the move, want %s", c.Shard(), shard2)
	}
	if err := insertCustomer(ctx, r, 50003); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64][2]int{50002: {0, 1}, 50003: {0, 1}} {
		if got := [2]int{rowsOf(t, app, shard1, id), rowsOf(t, app, shard2, id)}; got != want {
			t.Errorf("customer %d: rows on (old, new) shard %v, want %v", id, got, want)
		}
	}
	if s := r.Stats(); s.Refreshes != 1 {
		t.Errorf("stats %+v: want one refresh (the stale mapping dropped once)", s)
	}
}

func TestSplitOnTheSameShardRefreshesWithoutMoving(t *testing.T) {
	ctx := context.Background()
	app, mover := demo(t)
	r := newRouter(t, app, Options{})
	c, err := r.OpenForKey(ctx, int64(60000))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := mover.SplitMapping(ctx, local.DemoShardMap, mappingAt(t, mover, 60000).ID, key(t, 70000)); err != nil {
		t.Fatal(err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if mp := c.Mapping(); !c.Shard().Equal(shard1) || shardkey.Compare(mp.Max, key(t, 70000)) != 0 {
		t.Errorf("after the split: %s, mapping max %x", c.Shard(), mp.Max)
	}
}

func TestRetryStopsAtErrorsItMustNotRetry(t *testing.T) {
	ctx := context.Background()
	hard := errors.New("constraint failed")
	calls := 0
	err := Retry(ctx, RetryPolicy{}, func(context.Context) error { calls++; return hard })
	if !errors.Is(err, hard) || calls != 1 {
		t.Errorf("a hard error: %v after %d calls, want it after 1", err, calls)
	}
	calls = 0
	transient := &fleet.Error{Op: "commit", Code: 40613}
	err = Retry(ctx, RetryPolicy{}, func(context.Context) error { calls++; return permanent(transient) })
	if err != transient || calls != 1 {
		t.Errorf("a commit of unknown outcome: %v after %d calls, want it returned after 1", err, calls)
	}
	calls = 0
	err = Retry(ctx, RetryPolicy{Initial: time.Millisecond}, func(context.Context) error {
		calls++
		if calls < 4 {
			return transient
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Errorf("transient errors: %v after %d calls, want success at the 4th", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	err = Retry(cctx, RetryPolicy{Initial: time.Hour}, func(context.Context) error { cancel(); return transient })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, transient) {
		t.Errorf("cancelled while waiting: %v", err)
	}
}

func TestCacheKeepsOneMappingPerKey(t *testing.T) {
	c := cache{m: fleet.ShardMap{Type: fleet.RangeMap, KeyType: fleet.KeyInt64}}
	mp := func(id byte, lo, hi int64) fleet.Mapping {
		m := fleet.Mapping{Min: key(t, lo), Online: true}
		m.ID[0] = id
		if hi >= 0 {
			m.Max = key(t, hi)
		}
		return m
	}
	c.put(mp(1, 0, 100))
	c.put(mp(2, 100, 200))
	c.put(mp(3, 150, -1)) // read after a merge: replaces mapping 2
	for v, want := range map[int64]byte{-1: 0, 0: 1, 99: 1, 100: 0, 149: 0, 150: 3, 1 << 40: 3} {
		got, ok := c.find(key(t, v))
		if want == 0 {
			if ok {
				t.Errorf("key %d: found mapping %d, want none", v, got.ID[0])
			}
			continue
		}
		if !ok || got.ID[0] != want {
			t.Errorf("key %d: mapping %d (found %v), want %d", v, got.ID[0], ok, want)
		}
	}
	c.drop(mp(3, 150, -1))
	if _, ok := c.find(key(t, 160)); ok {
		t.Error("a dropped mapping is still found")
	}
}
