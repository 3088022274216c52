package fleettest

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// Detection and resolution of GSM/LSM differences (the library's
// RecoveryManager): every driver breaks its maps the same way through its
// own Executor, and must find and repair each break.
func init() {
	for name, test := range recoveryTests {
		tests[name] = test
	}
}

func (f *fixture) recoverer(t *testing.T) elasticdb.Recoverer {
	t.Helper()
	r, ok := f.s.(elasticdb.Recoverer)
	if !ok {
		t.Fatalf("%T must implement elasticdb.Recoverer: ShardMapRecovery plans and doctor repair shard maps through it", f.s)
	}
	return r
}

// lsm runs fn in a transaction of the LSM at loc, to break it.
func (f *fixture) lsm(t *testing.T, loc fleet.Location, fn func(ctx context.Context, tx elasticdb.LSMTx) error) {
	t.Helper()
	err := f.recoverer(t).Recover(f.ctx, func(ex elasticdb.Executor) error {
		_, err := ex.LSM(f.ctx, "break local shard map", loc, elasticdb.LSMOpen{}, func(tx elasticdb.LSMTx) error { return fn(f.ctx, tx) })
		return err
	})
	must(0, err)
}

func (f *fixture) gsmBreak(t *testing.T, fn func(ctx context.Context, tx elasticdb.GSMTx) error) {
	t.Helper()
	err := f.recoverer(t).Recover(f.ctx, func(ex elasticdb.Executor) error {
		return ex.GSM(f.ctx, "break global shard map", func(tx elasticdb.GSMTx) error { return fn(f.ctx, tx) })
	})
	must(0, err)
}

func (f *fixture) recover(t *testing.T, fn func(ex elasticdb.Executor, m fleet.ShardMap) error) {
	t.Helper()
	m := must(f.s.ShardMap(f.ctx, "M"))
	must(0, f.recoverer(t).Recover(f.ctx, func(ex elasticdb.Executor) error { return fn(ex, m) }))
}

func (f *fixture) resolve(t *testing.T, loc fleet.Location, resolution string) {
	t.Helper()
	f.recover(t, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.ResolveMappingDifferences(f.ctx, ex, m, loc, resolution)
	})
}

// differences returns the kinds of the differences found on loc, checking
// that each has a recovery token that a second observation repeats.
func (f *fixture) differences(t *testing.T, loc fleet.Location) map[string]fleet.Difference {
	t.Helper()
	first := must(f.s.Observe(f.ctx, "M")).Maps[0].Differences
	again := must(f.s.Observe(f.ctx, "M")).Maps[0].Differences
	tokens := map[string]bool{}
	for _, d := range again {
		tokens[d.Token] = true
	}
	out := map[string]fleet.Difference{}
	for _, d := range first {
		if _, err := uuid.Parse(d.Token); err != nil {
			t.Errorf("difference %s on %s has no recovery token (%q)", d.Kind, d.Shard, d.Token)
		}
		if !tokens[d.Token] {
			t.Errorf("the recovery token of %s on %s changed between two observations", d.Kind, d.Shard)
		}
		if d.Shard.Equal(loc) {
			out[d.Kind] = d
		}
	}
	return out
}

func (f *fixture) routes(t *testing.T, k int64, want fleet.Location) {
	t.Helper()
	mp, err := f.s.MappingForKey(f.ctx, "M", key(t, k))
	if err != nil || !mp.Location.Equal(want) {
		t.Errorf("key %d routes to %s (%v), want %s", k, mp.Location, err, want)
	}
}

func wantKinds(t *testing.T, got map[string]fleet.Difference, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		if _, ok := got[k]; !ok {
			t.Errorf("no %s difference found; found %v", k, got)
		}
	}
}

var recoveryTests = map[string]func(t *testing.T, f *fixture){
	"RecoveryDeletedLSMMapping": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		f.lsm(t, f.dbs[0], func(ctx context.Context, tx elasticdb.LSMTx) error { return tx.DeleteMapping(ctx, a.ID) })
		d := f.differences(t, f.dbs[0])
		wantKinds(t, d, fleet.DiffMappingInShardMapOnly)
		if got := d[fleet.DiffMappingInShardMapOnly]; got.MappingID != a.ID || string(got.Min) != string(a.Min) {
			t.Errorf("difference %+v, want mapping %s and its range", got, a.ID)
		}
		f.resolve(t, f.dbs[0], elasticdb.KeepShardMapMapping)
		f.consistent(t)
		f.routes(t, 50, f.dbs[0])
	},
	"RecoveryDuplicatedMappingInLSM": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		b := f.shard(t, "M", f.dbs[1])
		dup := elasticdb.LSMMapping{MappingRow: elasticdb.MappingRow{ID: uuid.New(), MapID: a.MapID, Min: a.Min, Max: a.Max, Status: 1}, ShardID: b.ID}
		f.lsm(t, f.dbs[1], func(ctx context.Context, tx elasticdb.LSMTx) error { return tx.InsertMapping(ctx, dup) })
		d := f.differences(t, f.dbs[1])
		wantKinds(t, d, fleet.DiffMappingInShardOnly, fleet.DiffMappingOverlapsOtherShard)
		f.resolve(t, f.dbs[1], elasticdb.KeepShardMapMapping)
		f.consistent(t)
		f.routes(t, 50, f.dbs[0])
		f.routes(t, 150, f.dbs[1])
	},
	"RecoveryShardVersionKeepShard": func(t *testing.T, f *fixture) {
		f.rangeMap(t)
		s := f.shard(t, "M", f.dbs[0])
		v := uuid.New()
		f.lsm(t, f.dbs[0], func(ctx context.Context, tx elasticdb.LSMTx) error {
			row, err := tx.Shard(ctx, s.ID)
			if err != nil || row == nil {
				return errors.Join(err, errors.New("no LSM shard row"))
			}
			row.Version = v
			return tx.UpdateShard(ctx, *row)
		})
		wantKinds(t, f.differences(t, f.dbs[0]), fleet.DiffShardVersionMismatch)
		f.resolve(t, f.dbs[0], elasticdb.KeepShardMapping)
		f.consistent(t)
		if got := f.shard(t, "M", f.dbs[0]).Version; got != v {
			t.Errorf("GSM shard version %s, want the LSM's %s", got, v)
		}
	},
	"RecoveryDuplicatedMappingInGSM": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		b := f.shard(t, "M", f.dbs[1])
		f.gsmBreak(t, func(ctx context.Context, tx elasticdb.GSMTx) error {
			return tx.InsertMapping(ctx, elasticdb.GSMMapping{MappingRow: elasticdb.MappingRow{ID: uuid.New(), MapID: a.MapID,
				Min: key(t, 50), Max: key(t, 60), Status: 1}, ShardID: b.ID, Readable: true})
		})
		d := f.differences(t, f.dbs[1])
		wantKinds(t, d, fleet.DiffGSMMappingsOverlap, fleet.DiffMappingInShardMapOnly)
		f.resolve(t, f.dbs[1], elasticdb.KeepShardMapping)
		f.consistent(t)
		f.routes(t, 55, f.dbs[0])
	},
	"RecoveryDuplicatedMappingInGSMNamesTheDuplicate": func(t *testing.T, f *fixture) {
		// [90, 200) on the first shard overlaps its own [0, 100) and the
		// second shard's [100, +inf), which starts later: every overlap names
		// the duplicate (no LSM holds it) and its shard, never the mapping
		// its shard's LSM holds.
		a, b := f.rangeMap(t)
		s0 := f.shard(t, "M", f.dbs[0])
		dup := elasticdb.GSMMapping{MappingRow: elasticdb.MappingRow{ID: uuid.New(), MapID: a.MapID, Min: key(t, 90), Max: key(t, 200), Status: 1}, ShardID: s0.ID, Readable: true}
		f.gsmBreak(t, func(ctx context.Context, tx elasticdb.GSMTx) error { return tx.InsertMapping(ctx, dup) })
		lay := must(f.s.Observe(f.ctx, "M"))
		overlaps := 0
		for _, d := range lay.Maps[0].Differences {
			if d.Kind != fleet.DiffGSMMappingsOverlap {
				continue
			}
			overlaps++
			if !d.Shard.Equal(f.dbs[0]) || d.MappingID != dup.ID {
				t.Errorf("overlap [%x, %x) on %s names mapping %s, want the duplicate %s on %s", d.Min, d.Max, d.Shard, d.MappingID, dup.ID, f.dbs[0])
			}
		}
		if overlaps != 2 {
			t.Errorf("%d GSMMappingsOverlap differences, want 2 (with [0, 100) and with [100, +inf))", overlaps)
		}
		wantKinds(t, f.differences(t, f.dbs[1]), fleet.DiffMappingOverlapsOtherShard)
		f.resolve(t, f.dbs[0], elasticdb.KeepShardMapping)
		f.consistent(t)
		f.routes(t, 95, f.dbs[0])
		f.routes(t, 150, f.dbs[1])
		if got := must(f.s.Mappings(f.ctx, "M")); len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
			t.Errorf("mappings after the repair: %+v, want only %s and %s", got, a.ID, b.ID)
		}
	},
	"RecoveryDetachAttach": func(t *testing.T, f *fixture) {
		f.rangeMap(t)
		f.recover(t, func(ex elasticdb.Executor, m fleet.ShardMap) error {
			return elasticdb.DetachShard(f.ctx, ex, m, f.dbs[0])
		})
		wantKinds(t, f.differences(t, f.dbs[0]), fleet.DiffShardInShardOnly, fleet.DiffMappingInShardOnly)
		if _, err := f.s.MappingForKey(f.ctx, "M", key(t, 50)); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("a detached shard's key still routes: %v", err)
		}
		f.recover(t, func(ex elasticdb.Executor, m fleet.ShardMap) error {
			if err := elasticdb.AttachShard(f.ctx, ex, m, f.dbs[0]); err != nil {
				return err
			}
			return elasticdb.AttachShard(f.ctx, ex, m, f.dbs[0]) // a resumed step changes nothing
		})
		wantKinds(t, f.differences(t, f.dbs[0]), fleet.DiffMappingInShardOnly)
		f.resolve(t, f.dbs[0], elasticdb.KeepShardMapping)
		f.resolve(t, f.dbs[0], elasticdb.KeepShardMapping)
		f.consistent(t)
		f.routes(t, 50, f.dbs[0])
		f.routes(t, 150, f.dbs[1])
	},
	"RecoverySnapshotRestoresExactly": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		before := f.consistent(t).Fingerprint
		var snap *elasticdb.Snapshot
		f.recover(t, func(ex elasticdb.Executor, m fleet.ShardMap) error {
			var err error
			snap, err = elasticdb.TakeSnapshot(f.ctx, ex, m, []fleet.Location{f.dbs[0], f.dbs[1]})
			return err
		})
		f.lsm(t, f.dbs[0], func(ctx context.Context, tx elasticdb.LSMTx) error { return tx.DeleteMapping(ctx, a.ID) })
		f.recover(t, func(ex elasticdb.Executor, m fleet.ShardMap) error {
			return elasticdb.DetachShard(f.ctx, ex, m, f.dbs[1])
		})
		f.recover(t, func(ex elasticdb.Executor, m fleet.ShardMap) error {
			return elasticdb.RestoreSnapshot(f.ctx, ex, m, snap)
		})
		if after := f.consistent(t).Fingerprint; after != before {
			t.Errorf("restored layout fingerprint %s, want %s", after, before)
		}
	},
}
