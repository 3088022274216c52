package elasticdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

var (
	dbA = fleet.Location{Server: "sql-1", Database: "db_a"}
	dbB = fleet.Location{Server: "sql-1", Database: "db_b"}
	dbC = fleet.Location{Server: "sql-2", Database: "db_c"}
)

func k64(v int64) []byte {
	b, err := shardkey.Encode(fleet.KeyInt64, v)
	if err != nil {
		panic(err)
	}
	return b
}

// fixture is a store built through the protocol itself: range map R with
// shards A ([min, 100) and [100, 200) online, [200, 300) offline) and B
// (no mappings); list map L with shards A (point 1 online, 2 offline) and
// B; database C without a local shard map.
type fixture struct {
	s      *memStore
	r, l   fleet.ShardMap
	shards map[string]fleet.Shard // "R/A", "L/B", ...
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{s: newMemStore(dbA, dbB, dbC), shards: map[string]fleet.Shard{},
		r: fleet.ShardMap{ID: uuid.New(), Name: "R", Type: fleet.RangeMap, KeyType: fleet.KeyInt64},
		l: fleet.ShardMap{ID: uuid.New(), Name: "L", Type: fleet.ListMap, KeyType: fleet.KeyInt64}}
	for _, m := range []fleet.ShardMap{f.r, f.l} {
		for name, loc := range map[string]fleet.Location{"A": dbA, "B": dbB} {
			op := AddShardOp(m, loc)
			f.run(t, op)
			sh := op.Steps[0].Shard
			f.shards[m.Name+"/"+name] = fleet.Shard{ID: sh.ID, Version: sh.Version, MapID: m.ID, Location: loc, Status: sh.Status}
		}
	}
	f.add(t, f.r, "A", []byte{}, k64(100), true)
	f.add(t, f.r, "A", k64(100), k64(200), true)
	f.add(t, f.r, "A", k64(200), k64(300), false)
	f.add(t, f.l, "A", k64(1), nil, true)
	f.add(t, f.l, "A", k64(2), nil, false)
	return f
}

func (f *fixture) run(t *testing.T, op *Operation) {
	t.Helper()
	if err := Run(context.Background(), f.s, op); err != nil {
		t.Fatalf("%s: %v", op.FaultPoint(), err)
	}
}

// shard returns a shard as the GSM holds it now.
func (f *fixture) shard(name string) fleet.Shard {
	s := f.shards[name]
	s.Version = f.s.gsm.shards[s.ID].Version
	return s
}

func (f *fixture) add(t *testing.T, m fleet.ShardMap, shard string, min, max []byte, online bool) {
	t.Helper()
	op := AddMappingOp(m, f.shard(m.Name+"/"+shard), min, max)
	f.run(t, op)
	if !online {
		f.run(t, SetOnlineOp(m, f.shard(m.Name+"/"+shard), f.mapping(t, m, min), false, fleet.NoLock))
	}
}

// mapping finds the readable GSM mapping of m starting at min.
func (f *fixture) mapping(t *testing.T, m fleet.ShardMap, min []byte) fleet.Mapping {
	t.Helper()
	for _, r := range f.s.gsm.mappings {
		if r.MapID == m.ID && r.Readable && bytes.Equal(r.Min, min) {
			sh := f.s.gsm.shards[r.ShardID]
			return fleet.Mapping{ID: r.ID, MapID: r.MapID, ShardID: r.ShardID, Min: r.Min, Max: r.Max, Online: r.Status&1 == 1,
				LockOwner: r.LockOwner, Location: sh.Loc}
		}
	}
	t.Fatalf("no mapping of %s at %x", m.Name, min)
	return fleet.Mapping{}
}

// layout renders the readable GSM mappings of m by shard database.
func (f *fixture) layout(m fleet.ShardMap) []string {
	var out []string
	for _, r := range f.s.gsm.mappings {
		if r.MapID != m.ID || !r.Readable {
			continue
		}
		st := "offline"
		if r.Status&1 == 1 {
			st = "online"
		}
		out = append(out, fmt.Sprintf("%s %s %s", f.s.gsm.shards[r.ShardID].Loc.Database, BoundsText(m, r.Min, r.Max), st))
	}
	sort.Strings(out)
	return out
}

// consistent checks that nothing is pending and that every shard's LSM
// holds what the GSM says: its shard row at the GSM's version, and the
// same mappings (ids, bounds, status).
func (f *fixture) consistent(t *testing.T) {
	t.Helper()
	if len(f.s.gsm.log) != 0 {
		t.Fatalf("operations left pending: %v", f.s.gsm.log)
	}
	for _, sh := range f.s.gsm.shards {
		if !sh.Readable || sh.OperationID != nil {
			t.Fatalf("shard %s left held: %+v", sh.Loc, sh)
		}
		l := f.s.dbs[sh.Loc]
		if l == nil {
			t.Fatalf("shard %s has no LSM", sh.Loc)
		}
		if got := l.shards[sh.ID]; got.Version != sh.Version {
			t.Fatalf("shard %s: LSM version %s, GSM version %s", sh.Loc, got.Version, sh.Version)
		}
		want, got := map[uuid.UUID]string{}, map[uuid.UUID]string{}
		for _, m := range f.s.gsm.mappings {
			if !m.Readable || m.OperationID != nil {
				t.Fatalf("mapping %s left pending: %+v", m.ID, m)
			}
			if m.ShardID == sh.ID {
				want[m.ID] = fmt.Sprintf("[%x, %x) %d", m.Min, m.Max, m.Status)
			}
		}
		for _, m := range l.mappings {
			if m.ShardID == sh.ID {
				got[m.ID] = fmt.Sprintf("[%x, %x) %d", m.Min, m.Max, m.Status)
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("shard %s: LSM mappings differ from the GSM (-gsm +lsm):\n%s", sh.Loc, d)
		}
	}
}

// The protocol refuses what the library's procedures refuse, with their
// result codes, and changes nothing.
func TestRunRefuses(t *testing.T) {
	owner := uuid.New()
	tests := []struct {
		name string
		op   func(t *testing.T, f *fixture) *Operation
		want fleet.StoreResult
	}{
		{"shard location taken", func(t *testing.T, f *fixture) *Operation { return AddShardOp(f.r, dbA) }, fleet.ResultShardLocationExists},
		{"remove shard with mappings", func(t *testing.T, f *fixture) *Operation { return RemoveShardOp(f.r, f.shard("R/A")) }, fleet.ResultShardHasMappings},
		{"range overlaps", func(t *testing.T, f *fixture) *Operation { return AddMappingOp(f.r, f.shard("R/B"), k64(250), nil) }, fleet.ResultMappingRangeMapped},
		{"point mapped", func(t *testing.T, f *fixture) *Operation { return AddMappingOp(f.l, f.shard("L/B"), k64(1), nil) }, fleet.ResultMappingPointMapped},
		{"remove online mapping", func(t *testing.T, f *fixture) *Operation {
			return RemoveMappingOp(f.r, f.shard("R/A"), f.mapping(t, f.r, k64(100)), fleet.NoLock)
		}, fleet.ResultMappingNotOffline},
		{"move online mapping", func(t *testing.T, f *fixture) *Operation {
			m := f.mapping(t, f.r, k64(100))
			return RepointOp(f.r, f.shard("R/A"), f.shard("R/B"), m, true, fleet.NoLock)
		}, fleet.ResultMappingNotOffline},
		{"wrong lock owner", func(t *testing.T, f *fixture) *Operation {
			return SplitOp(f.r, f.shard("R/A"), f.mapping(t, f.r, []byte{}), k64(50), owner)
		}, fleet.ResultMappingLockOwnerIDDiff},
		{"stale shard version", func(t *testing.T, f *fixture) *Operation {
			s := f.shard("R/A")
			s.Version = uuid.New()
			return SplitOp(f.r, s, f.mapping(t, f.r, []byte{}), k64(50), fleet.NoLock)
		}, fleet.ResultShardVersionMismatch},
		{"mapping gone", func(t *testing.T, f *fixture) *Operation {
			m := f.mapping(t, f.r, []byte{})
			m.ID = uuid.New()
			return SplitOp(f.r, f.shard("R/A"), m, k64(50), fleet.NoLock)
		}, fleet.ResultMappingDoesNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			op := tc.op(t, f)
			before := f.s.dump()
			err := Run(context.Background(), f.s, op)
			if !errors.Is(err, tc.want) || fleet.HintOf(err) == "" && tc.want != fleet.ResultShardLocationExists && tc.want != fleet.ResultMappingLockOwnerIDDiff {
				t.Fatalf("Run = %v (hint %q), want %v", err, fleet.HintOf(err), tc.want)
			}
			if d := cmp.Diff(before, f.s.dump()); d != "" {
				t.Fatalf("a refused operation changed the store:\n%s", d)
			}
		})
	}
}

// A local shard map that is not where the GSM says is refused, never
// written over, and the operation is rolled back.
func TestRunRefusesDivergedLSM(t *testing.T) {
	tests := map[string]func(f *fixture){
		"older shard version": func(f *fixture) {
			s := f.s.dbs[dbA].shards[f.shards["R/A"].ID]
			s.Version = uuid.New()
			f.s.dbs[dbA].shards[s.ID] = s
		},
		"mapping missing locally": func(f *fixture) {
			delete(f.s.dbs[dbA].mappings, f.lowestRangeMapping())
		},
		"no LSM": func(f *fixture) { f.s.dbs[dbA] = nil },
	}
	for name, damage := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			damage(f)
			before := f.s.dump()
			err := Run(context.Background(), f.s, SplitOp(f.r, f.shard("R/A"), f.mapping(t, f.r, []byte{}), k64(50), fleet.NoLock))
			if err == nil || !strings.Contains(fleet.HintOf(err), "fleetplan layout --shard-map R") {
				t.Fatalf("Run = %v (hint %q)", err, fleet.HintOf(err))
			}
			if d := cmp.Diff(before, f.s.dump()); d != "" {
				t.Fatalf("(-before +after):\n%s", d)
			}
		})
	}
}

// lowestRangeMapping is the id of R's mapping [min, 100).
func (f *fixture) lowestRangeMapping() uuid.UUID {
	for _, r := range f.s.gsm.mappings {
		if r.MapID == f.r.ID && len(r.Min) == 0 {
			return r.ID
		}
	}
	return uuid.Nil
}

// An add that overlaps a row another operation still holds (its pending
// add, Readable = 0) is 52, as in the library's Begin, not a success that
// the other operation's end would turn into an overlap. While that
// operation's owner holds its lock, it is left alone and the add refused;
// once the owner is gone, the add undoes it and goes ahead.
func TestAddOverlappingPendingAdd(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.s.crashAt = CrashAfterGSMBegin
	pending := AddMappingOp(f.r, f.shard("R/B"), k64(300), k64(400))
	if err := Run(ctx, f.s, pending); !errors.Is(err, ErrSimulatedCrash) {
		t.Fatal(err)
	}
	before := f.s.dump()
	release, err := f.s.LockOperation(ctx, pending.ID, 0) // its owner, alive
	if err != nil {
		t.Fatal(err)
	}
	err = Run(WithPendingWait(ctx, 0), f.s, AddMappingOp(f.r, f.shard("R/B"), k64(350), nil))
	var running *OperationRunningError
	if !errors.Is(err, fleet.ResultPendingOperation) || !errors.As(err, &running) || running.ID != pending.ID {
		t.Fatalf("Run = %v, want 52 naming the running operation %s", err, pending.ID)
	}
	if d := cmp.Diff(before, f.s.dump()); d != "" {
		t.Fatalf("(-before +after):\n%s", d)
	}
	if ids, err := RecoverPending(ctx, f.s); err != nil || len(ids) != 0 {
		t.Fatalf("RecoverPending with the owner alive = %v, %v; want nothing undone", ids, err)
	}
	release() // the owner dies
	f.run(t, AddMappingOp(f.r, f.shard("R/B"), k64(350), nil))
	f.consistent(t)
	want := []string{"db_a [-inf, 100) online", "db_a [100, 200) online", "db_a [200, 300) offline", "db_b [350, +inf) online"}
	if d := cmp.Diff(want, f.layout(f.r)); d != "" {
		t.Fatalf("layout (-want +got):\n%s", d)
	}
}

// ForceUnlock unlocks a mapping; it does not let a change past the lock
// (the library's Begin compares Lock/Id with LockOwnerId).
func TestForceUnlockDoesNotBypassLocks(t *testing.T) {
	f := newFixture(t)
	mp := f.mapping(t, f.r, []byte{})
	r := f.s.gsm.mappings[mp.ID]
	r.LockOwner = uuid.New()
	f.s.gsm.mappings[mp.ID] = r
	mp.LockOwner = r.LockOwner
	err := Run(context.Background(), f.s, SplitOp(f.r, f.shard("R/A"), mp, k64(50), fleet.ForceUnlock))
	if !errors.Is(err, fleet.ResultMappingLockOwnerIDDiff) {
		t.Fatalf("Run = %v, want 307", err)
	}
}

func TestLockOwnerChange(t *testing.T) {
	m := fleet.ShardMap{ID: uuid.New(), Name: "R", Type: fleet.RangeMap, KeyType: fleet.KeyInt64}
	owner, other, op := uuid.New(), uuid.New(), uuid.New()
	tests := []struct {
		name       string
		cur        uuid.UUID
		pending    bool
		owner      uuid.UUID
		lock       bool
		want       uuid.UUID
		wantResult fleet.StoreResult
	}{
		{"lock a free mapping", fleet.NoLock, false, owner, true, owner, 0},
		{"lock again by the owner", owner, false, owner, true, owner, fleet.ResultMappingAlreadyLocked},
		{"lock another's", other, false, owner, true, other, fleet.ResultMappingAlreadyLocked},
		{"unlock by the owner", owner, false, owner, false, fleet.NoLock, 0},
		{"unlock by another", owner, false, other, false, owner, fleet.ResultMappingLockOwnerIDDiff},
		{"unlock a free mapping", fleet.NoLock, false, owner, false, fleet.NoLock, fleet.ResultMappingLockOwnerIDDiff},
		{"force unlock", other, false, fleet.ForceUnlock, false, fleet.NoLock, 0},
		{"force unlock a free mapping", fleet.NoLock, false, fleet.ForceUnlock, false, fleet.NoLock, 0},
		{"pending operation", fleet.NoLock, true, owner, true, fleet.NoLock, fleet.ResultPendingOperation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mp := fleet.Mapping{ID: uuid.New(), MapID: m.ID, Min: []byte{}, LockOwner: tc.cur}
			if tc.pending {
				mp.OperationID = &op
			}
			got, err := LockOwnerChange("lock", m, mp, tc.owner, tc.lock)
			if tc.wantResult == 0 && err != nil || tc.wantResult != 0 && !errors.Is(err, tc.wantResult) {
				t.Fatalf("err = %v, want %v", err, tc.wantResult)
			}
			if got != tc.want {
				t.Fatalf("owner = %s, want %s", got, tc.want)
			}
		})
	}
}

// AttachShard (code 16) rewrites the location of the shard row the
// database's LSM already holds, and its undo leaves the LSM alone: the row
// was there before (AttachShardOperation's LSM step and its no-op undo).
func TestAttachShard(t *testing.T) {
	ctx := context.Background()
	for _, crash := range []bool{false, true} {
		f := newFixture(t)
		s := f.shard("R/B")
		// The GSM forgot the shard (RecoveryManager.DetachShard).
		delete(f.s.gsm.shards, s.ID)
		lsmBefore := f.s.dump()
		sh := ShardRowOf(s, s.Version)
		op := &Operation{ID: uuid.New(), Code: fleet.OpAttachShard, Map: f.r, ShardOp: true, Steps: []Step{{Kind: StepAdd, Shard: sh}}}
		if crash {
			f.s.crashAt = CrashAfterLSMTarget
			if err := Run(ctx, f.s, op); !errors.Is(err, ErrSimulatedCrash) {
				t.Fatal(err)
			}
			if _, err := RecoverPending(ctx, f.s); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(lsmBefore, f.s.dump()); d != "" {
				t.Fatalf("undo of an attach changed more than the GSM (-before +after):\n%s", d)
			}
			continue
		}
		f.run(t, op)
		f.consistent(t)
		if got := f.s.dbs[dbB].shards[s.ID]; got.LastOperationID != op.ID {
			t.Fatalf("the LSM's shard row was not rewritten: %+v", got)
		}
	}
}
