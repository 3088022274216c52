package fleettest

import (
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// The routing contract: what package shardmap relies on from a driver's
// fleet.ShardConnector.
func init() {
	tests["BeginRoutedTx"] = func(t *testing.T, f *fixture) {
		sc := f.connector(t)
		a, b := f.rangeMap(t)
		m := must(f.s.ShardMap(f.ctx, "M"))
		conn := f.shardConn(t, sc, f.dbs[0])

		tx := must(sc.BeginRoutedTx(f.ctx, conn, nil, m, f.dbs[0], a))
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		// A mapping of another shard is not in this shard's LSM.
		_, err := sc.BeginRoutedTx(f.ctx, conn, nil, m, f.dbs[0], b)
		wantErr(t, err, fleet.ResultMappingDoesNotExist)
		// Taken offline: the old id is gone, the new one is offline.
		off := must(f.s.SetMappingOnline(f.ctx, "M", a.ID, false))
		_, err = sc.BeginRoutedTx(f.ctx, conn, nil, m, f.dbs[0], a)
		wantErr(t, err, fleet.ResultMappingDoesNotExist)
		_, err = sc.BeginRoutedTx(f.ctx, conn, nil, m, f.dbs[0], off)
		wantErr(t, err, fleet.ResultMappingIsOffline)
		// Moved and online elsewhere: the source LSM no longer holds it.
		must(f.s.AddShard(f.ctx, "M", f.dbs[2]))
		moved := must(f.s.UpdateMappingShard(f.ctx, "M", off.ID, f.dbs[2]))
		on := must(f.s.SetMappingOnline(f.ctx, "M", moved.ID, true))
		_, err = sc.BeginRoutedTx(f.ctx, conn, nil, m, f.dbs[0], on)
		wantErr(t, err, fleet.ResultMappingDoesNotExist)
		tx = must(sc.BeginRoutedTx(f.ctx, f.shardConn(t, sc, f.dbs[2]), nil, m, f.dbs[2], on))
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		// The failed attempts left the connection usable.
		tx = must(sc.BeginRoutedTx(f.ctx, f.shardConn(t, sc, f.dbs[1]), nil, m, f.dbs[1], b))
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}

	// A write transaction that validated keeps its answer until it ends:
	// taking the mapping offline waits for it.
	tests["BeginRoutedTxHoldsUntilEnd"] = func(t *testing.T, f *fixture) {
		sc := f.connector(t)
		a, _ := f.rangeMap(t)
		m := must(f.s.ShardMap(f.ctx, "M"))
		tx := must(sc.BeginRoutedTx(f.ctx, f.shardConn(t, sc, f.dbs[0]), nil, m, f.dbs[0], a))
		var seq, committedAt, offlineAt atomic.Int64
		done := make(chan error, 1)
		go func() {
			_, err := f.s.SetMappingOnline(f.ctx, "M", a.ID, false)
			offlineAt.Store(seq.Add(1))
			done <- err
		}()
		// Give the offline change every chance to overtake the transaction.
		time.Sleep(200 * time.Millisecond)
		committedAt.Store(seq.Add(1))
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if offlineAt.Load() < committedAt.Load() {
			t.Fatal("the mapping went offline in the shard's LSM while a transaction that validated it was still open")
		}
	}
}

func (f *fixture) connector(t *testing.T) fleet.ShardConnector {
	t.Helper()
	sc, ok := f.s.(fleet.ShardConnector)
	if !ok {
		t.Fatalf("%T must implement fleet.ShardConnector", f.s)
	}
	return sc
}

// shardConn pins a connection of the database's pool for the test.
func (f *fixture) shardConn(t *testing.T, sc fleet.ShardConnector, loc fleet.Location) *sql.Conn {
	t.Helper()
	db := must(sc.ShardDB(f.ctx, loc))
	c := must(db.Conn(f.ctx))
	t.Cleanup(func() { c.Close() })
	return c
}
