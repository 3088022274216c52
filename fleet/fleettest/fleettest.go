package fleettest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// Crash points a CrashSimulator understands: right after the GSM begin
// transaction, after the source shard's LSM, after the target shard's LSM
// (before the GSM end transaction).
var CrashPoints = []string{"gsm-begin", "lsm-source", "lsm-target"}

// CrashSimulator is implemented by drivers that can stop the next
// multi-database operation dead at a point, as a killed process would. The
// suite then checks that RecoverPending rolls it back completely.
type CrashSimulator interface {
	SimulateCrash(point string)
}

// managerLocator is implemented by drivers that know their shard map manager
// database, so the suite does not use it as a shard.
type managerLocator interface {
	ShardMapManager(ctx context.Context) (fleet.Location, error)
}

// Store is what the suite needs: the store, its observer and its databases.
type Store interface {
	fleet.ShardMapStore
	fleet.Observer
	Databases(ctx context.Context) ([]fleet.Location, error)
}

// Run runs the contract suite. open must return a fresh, empty fleet (no
// shard maps) holding at least three databases besides the shard map
// manager; the store must also implement fleet.Observer and list its
// databases (fleet.DatabaseAdmin's Databases).
func Run(t *testing.T, open func(t *testing.T) fleet.ShardMapStore) {
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					mf, ok := r.(mustFail)
					if !ok {
						panic(r)
					}
					t.Fatalf("%s:%d: %v", mf.file, mf.line, mf.err)
				}
			}()
			f := newFixture(t, open)
			test(t, f)
		})
	}
}

type fixture struct {
	ctx context.Context
	s   Store
	dbs []fleet.Location // shard candidates
}

func newFixture(t *testing.T, open func(t *testing.T) fleet.ShardMapStore) *fixture {
	t.Helper()
	raw := open(t)
	s, ok := raw.(Store)
	if !ok {
		t.Fatalf("%T must implement fleet.Observer and Databases(ctx) for the contract suite", raw)
	}
	ctx := context.Background()
	all, err := s.Databases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mgr fleet.Location
	if ml, ok := raw.(managerLocator); ok {
		if mgr, err = ml.ShardMapManager(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{ctx: ctx, s: s}
	for _, d := range all {
		if !d.Equal(mgr) {
			f.dbs = append(f.dbs, d)
		}
	}
	if len(f.dbs) < 3 {
		t.Fatalf("the fleet needs at least three databases besides the shard map manager, has %v", f.dbs)
	}
	return f
}

// key encodes an int64 key.
func key(t *testing.T, v int64) []byte {
	t.Helper()
	b, err := shardkey.Encode(fleet.KeyInt64, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustFail carries a failed must to Run, which reports it with its line.
type mustFail struct {
	err  error
	file string
	line int
}

// must returns v, or stops the test (via Run's recover) when err is set.
func must[T any](v T, err error) T {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(mustFail{err, filepath.Base(file), line})
	}
	return v
}

func wantErr(t *testing.T, err error, target error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one matching %v", err, target)
	}
	var fe *fleet.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *fleet.Error", err)
	}
}

// rangeMap creates "M" (range, int64) with the first two databases as shards
// and [0,100) -> dbs[0], [100,+inf) -> dbs[1].
func (f *fixture) rangeMap(t *testing.T) (fleet.Mapping, fleet.Mapping) {
	t.Helper()
	must(f.s.CreateShardMap(f.ctx, "M", fleet.RangeMap, fleet.KeyInt64))
	must(f.s.AddShard(f.ctx, "M", f.dbs[0]))
	must(f.s.AddShard(f.ctx, "M", f.dbs[1]))
	a := must(f.s.AddMapping(f.ctx, "M", f.dbs[0], key(t, 0), key(t, 100)))
	b := must(f.s.AddMapping(f.ctx, "M", f.dbs[1], key(t, 100), nil))
	return a, b
}

func (f *fixture) shard(t *testing.T, m string, loc fleet.Location) fleet.Shard {
	t.Helper()
	for _, s := range must(f.s.Shards(f.ctx, m)) {
		if s.Location.Equal(loc) {
			return s
		}
	}
	t.Fatalf("no shard %s in %s", loc, m)
	return fleet.Shard{}
}

// consistent checks the GSM/LSM invariants through Observe: no differences,
// the same shard Version in both stores, no pending operation.
func (f *fixture) consistent(t *testing.T) *fleet.Layout {
	t.Helper()
	lay := must(f.s.Observe(f.ctx, ""))
	for _, m := range lay.Maps {
		for _, d := range m.Differences {
			t.Errorf("map %s: difference %s on %s: %s", m.Map.Name, d.Kind, d.Shard, d.Detail)
		}
		for _, p := range m.Pending {
			t.Errorf("map %s: operation %s (%s) still pending", m.Map.Name, p.ID, p.Name)
		}
		for _, s := range m.Shards {
			if s.LSMVersion != s.Shard.Version {
				t.Errorf("map %s shard %s: GSM version %s, LSM version %s", m.Map.Name, s.Shard.Location, s.Shard.Version, s.LSMVersion)
			}
		}
		for i := 1; i < len(m.Mappings); i++ {
			if shardkey.Compare(m.Mappings[i-1].Min, m.Mappings[i].Min) >= 0 {
				t.Errorf("map %s: mappings not ordered by Min", m.Map.Name)
			}
		}
	}
	if lay.Fingerprint == "" {
		t.Error("layout has no fingerprint")
	}
	return lay
}

var tests = map[string]func(t *testing.T, f *fixture){
	"CreateShardMap": func(t *testing.T, f *fixture) {
		m := must(f.s.CreateShardMap(f.ctx, "Customers", fleet.RangeMap, fleet.KeyInt64))
		if m.ID == uuid.Nil || m.Name != "Customers" || m.Type != fleet.RangeMap || m.KeyType != fleet.KeyInt64 {
			t.Fatalf("created %+v", m)
		}
		again := must(f.s.CreateShardMap(f.ctx, "Customers", fleet.RangeMap, fleet.KeyInt64))
		if again.ID != m.ID {
			t.Fatal("CreateShardMap is not idempotent")
		}
		_, err := f.s.CreateShardMap(f.ctx, "customers", fleet.ListMap, fleet.KeyInt64)
		wantErr(t, err, fleet.ResultShardMapExists)
		got := must(f.s.ShardMap(f.ctx, "CUSTOMERS"))
		if got != m {
			t.Fatalf("ShardMap = %+v, want %+v (names are case-insensitive)", got, m)
		}
		must(f.s.CreateShardMap(f.ctx, "Apps", fleet.ListMap, fleet.KeyGuid))
		all := must(f.s.ShardMaps(f.ctx))
		if len(all) != 2 || all[0].Name != "Apps" || all[1].Name != "Customers" {
			t.Fatalf("ShardMaps = %+v", all)
		}
		_, err = f.s.ShardMap(f.ctx, "nope")
		wantErr(t, err, fleet.ErrNotFound)
		_, err = f.s.CreateShardMap(f.ctx, "", fleet.RangeMap, fleet.KeyInt64)
		wantErr(t, err, fleet.ErrInvalidArgument)
		_, err = f.s.CreateShardMap(f.ctx, "bad", fleet.MapType(3), fleet.KeyInt64)
		wantErr(t, err, fleet.ErrInvalidArgument)
		_, err = f.s.CreateShardMap(f.ctx, "bad", fleet.RangeMap, fleet.KeyType(0))
		wantErr(t, err, fleet.ErrInvalidArgument)
		f.consistent(t)
	},

	"AddAndRemoveShard": func(t *testing.T, f *fixture) {
		must(f.s.CreateShardMap(f.ctx, "M", fleet.RangeMap, fleet.KeyInt64))
		s := must(f.s.AddShard(f.ctx, "M", f.dbs[0]))
		if s.ID == uuid.Nil || s.Version == uuid.Nil || s.Status != fleet.ShardOnline || !s.Location.Equal(f.dbs[0]) {
			t.Fatalf("AddShard = %+v", s)
		}
		again := must(f.s.AddShard(f.ctx, "M", f.dbs[0]))
		if again.ID != s.ID {
			t.Fatal("AddShard is not idempotent")
		}
		must(f.s.AddShard(f.ctx, "M", f.dbs[1]))
		if n := len(must(f.s.Shards(f.ctx, "M"))); n != 2 {
			t.Fatalf("%d shards, want 2", n)
		}
		f.consistent(t)
		must(f.s.AddMapping(f.ctx, "M", f.dbs[1], key(t, 0), nil))
		wantErr(t, f.s.RemoveShard(f.ctx, "M", f.dbs[1]), fleet.ResultShardHasMappings)
		if err := f.s.RemoveShard(f.ctx, "M", f.dbs[0]); err != nil {
			t.Fatal(err)
		}
		if n := len(must(f.s.Shards(f.ctx, "M"))); n != 1 {
			t.Fatalf("%d shards after remove, want 1", n)
		}
		wantErr(t, f.s.RemoveShard(f.ctx, "M", f.dbs[0]), fleet.ErrNotFound)
		_, err := f.s.AddShard(f.ctx, "nope", f.dbs[0])
		wantErr(t, err, fleet.ErrNotFound)
		_, err = f.s.AddShard(f.ctx, "M", fleet.Location{Server: f.dbs[0].Server, Database: "no_such_db"})
		wantErr(t, err, fleet.ErrNoDatabase)
		// A removed shard can be added again.
		must(f.s.AddShard(f.ctx, "M", f.dbs[0]))
		f.consistent(t)
	},

	"AddMappingAndRoute": func(t *testing.T, f *fixture) {
		a, b := f.rangeMap(t)
		if !a.Online || a.LockOwner != fleet.NoLock || !a.Location.Equal(f.dbs[0]) || b.Max != nil {
			t.Fatalf("mappings %+v %+v", a, b)
		}
		cases := map[string]struct {
			k    int64
			want fleet.Location
		}{
			"low bound": {0, f.dbs[0]},
			"inside":    {99, f.dbs[0]},
			"boundary":  {100, f.dbs[1]},
			"unbounded": {1 << 40, f.dbs[1]},
		}
		for name, tc := range cases {
			mp, err := f.s.MappingForKey(f.ctx, "M", key(t, tc.k))
			if err != nil || !mp.Location.Equal(tc.want) {
				t.Errorf("%s: MappingForKey(%d) = %v, %v; want %s", name, tc.k, mp.Location, err, tc.want)
			}
		}
		_, err := f.s.MappingForKey(f.ctx, "M", key(t, -1))
		wantErr(t, err, fleet.ErrNotFound)
		wantErr(t, err, fleet.ResultMappingNotFoundForKey)
		overlaps := map[string][2][]byte{
			"inside":   {key(t, 10), key(t, 20)},
			"across":   {key(t, -10), key(t, 1)},
			"to +inf":  {key(t, 500), nil},
			"covering": {key(t, -5), nil},
		}
		for name, r := range overlaps {
			_, err := f.s.AddMapping(f.ctx, "M", f.dbs[0], r[0], r[1])
			if !errors.Is(err, fleet.ResultMappingRangeMapped) {
				t.Errorf("%s: AddMapping overlap error = %v", name, err)
			}
		}
		again := must(f.s.AddMapping(f.ctx, "M", f.dbs[0], key(t, 0), key(t, 100)))
		if again.ID != a.ID {
			t.Fatal("AddMapping of an identical mapping is not idempotent")
		}
		_, err = f.s.AddMapping(f.ctx, "M", f.dbs[0], key(t, -5), key(t, -5))
		wantErr(t, err, fleet.ErrInvalidArgument)
		_, err = f.s.AddMapping(f.ctx, "M", f.dbs[0], []byte{1, 2, 3}, nil)
		wantErr(t, err, fleet.ErrInvalidArgument)
		_, err = f.s.AddMapping(f.ctx, "M", f.dbs[2], key(t, -100), key(t, -50))
		wantErr(t, err, fleet.ErrNotFound) // not a shard of M
		low := must(f.s.AddMapping(f.ctx, "M", f.dbs[0], []byte{}, key(t, -100)))
		mps := must(f.s.Mappings(f.ctx, "M"))
		if len(mps) != 3 || mps[0].ID != low.ID || mps[1].ID != a.ID || mps[2].ID != b.ID {
			t.Fatalf("Mappings not ordered by Min: %+v", mps)
		}
		mp := must(f.s.MappingForKey(f.ctx, "M", key(t, -1<<62)))
		if mp.ID != low.ID {
			t.Fatal("the empty minimum does not cover the lowest keys")
		}
		f.consistent(t)
	},

	"ListMap": func(t *testing.T, f *fixture) {
		must(f.s.CreateShardMap(f.ctx, "L", fleet.ListMap, fleet.KeyInt64))
		must(f.s.AddShard(f.ctx, "L", f.dbs[0]))
		must(f.s.AddShard(f.ctx, "L", f.dbs[1]))
		p := must(f.s.AddMapping(f.ctx, "L", f.dbs[0], key(t, 7), key(t, 1000)))
		if p.Max != nil {
			t.Fatalf("point mapping Max = %x, want nil", p.Max)
		}
		must(f.s.AddMapping(f.ctx, "L", f.dbs[1], key(t, 8), nil))
		_, err := f.s.AddMapping(f.ctx, "L", f.dbs[1], key(t, 7), nil)
		wantErr(t, err, fleet.ResultMappingPointMapped)
		if got := must(f.s.MappingForKey(f.ctx, "L", key(t, 7))); got.ID != p.ID {
			t.Fatal("point lookup failed")
		}
		_, err = f.s.MappingForKey(f.ctx, "L", key(t, 9))
		wantErr(t, err, fleet.ErrNotFound)
		_, _, err = f.s.SplitMapping(f.ctx, "L", p.ID, key(t, 8))
		wantErr(t, err, fleet.ErrInvalidArgument)
		off := must(f.s.SetMappingOnline(f.ctx, "L", p.ID, false))
		moved := must(f.s.UpdateMappingShard(f.ctx, "L", off.ID, f.dbs[1]))
		if !moved.Location.Equal(f.dbs[1]) {
			t.Fatal("point mapping did not move")
		}
		f.consistent(t)
	},

	"SplitAndMerge": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		before := f.shard(t, "M", f.dbs[0])
		lo, hi, err := f.s.SplitMapping(f.ctx, "M", a.ID, key(t, 40))
		if err != nil {
			t.Fatal(err)
		}
		if string(lo.Min) != string(key(t, 0)) || string(lo.Max) != string(key(t, 40)) ||
			string(hi.Min) != string(key(t, 40)) || string(hi.Max) != string(key(t, 100)) {
			t.Fatalf("split bounds %x-%x %x-%x", lo.Min, lo.Max, hi.Min, hi.Max)
		}
		if lo.ID == a.ID || hi.ID == a.ID || lo.ShardID != a.ShardID || hi.ShardID != a.ShardID || !lo.Online || !hi.Online {
			t.Fatalf("split results %+v %+v", lo, hi)
		}
		after := f.shard(t, "M", f.dbs[0])
		if after.Version == before.Version {
			t.Fatal("split did not bump the shard version")
		}
		f.consistent(t)
		_, _, err = f.s.SplitMapping(f.ctx, "M", a.ID, key(t, 50))
		wantErr(t, err, fleet.ErrNotFound) // the parent id is gone
		for name, at := range map[string][]byte{"at min": key(t, 0), "at max": key(t, 40), "outside": key(t, 70), "inf": nil} {
			_, _, err := f.s.SplitMapping(f.ctx, "M", lo.ID, at)
			if !errors.Is(err, fleet.ErrInvalidArgument) {
				t.Errorf("split %s: error %v, want ErrInvalidArgument", name, err)
			}
		}
		_, err = f.s.MergeMappings(f.ctx, "M", hi.ID, lo.ID)
		wantErr(t, err, fleet.ErrInvalidArgument) // right before left
		merged := must(f.s.MergeMappings(f.ctx, "M", lo.ID, hi.ID))
		if string(merged.Min) != string(key(t, 0)) || string(merged.Max) != string(key(t, 100)) {
			t.Fatalf("merged %x-%x", merged.Min, merged.Max)
		}
		if f.shard(t, "M", f.dbs[0]).Version == after.Version {
			t.Fatal("merge did not bump the shard version")
		}
		f.consistent(t)
		// Different shards and different status are refused.
		b := must(f.s.MappingForKey(f.ctx, "M", key(t, 100)))
		_, err = f.s.MergeMappings(f.ctx, "M", merged.ID, b.ID)
		wantErr(t, err, fleet.ErrInvalidArgument)
		lo2, hi2, err := f.s.SplitMapping(f.ctx, "M", merged.ID, key(t, 10))
		if err != nil {
			t.Fatal(err)
		}
		off := must(f.s.SetMappingOnline(f.ctx, "M", hi2.ID, false))
		_, err = f.s.MergeMappings(f.ctx, "M", lo2.ID, off.ID)
		wantErr(t, err, fleet.ErrInvalidArgument)
		f.consistent(t)
	},

	"OnlineOfflineAndMove": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		v0 := f.shard(t, "M", f.dbs[0]).Version
		wantErr(t, f.s.RemoveMapping(f.ctx, "M", a.ID), fleet.ResultMappingNotOffline)
		_, err := f.s.UpdateMappingShard(f.ctx, "M", a.ID, f.dbs[1])
		wantErr(t, err, fleet.ResultMappingNotOffline)
		off := must(f.s.SetMappingOnline(f.ctx, "M", a.ID, false))
		if off.Online || off.ID == a.ID || string(off.Min) != string(a.Min) {
			t.Fatalf("offline mapping %+v (must have a new id)", off)
		}
		v1 := f.shard(t, "M", f.dbs[0]).Version
		if v1 == v0 {
			t.Fatal("marking offline did not bump the shard version")
		}
		same := must(f.s.SetMappingOnline(f.ctx, "M", off.ID, false))
		if same.ID != off.ID || f.shard(t, "M", f.dbs[0]).Version != v1 {
			t.Fatal("marking an offline mapping offline again changed it")
		}
		_, err = f.s.SetMappingOnline(f.ctx, "M", a.ID, true)
		wantErr(t, err, fleet.ErrNotFound) // old id
		f.consistent(t)
		src0, dst0 := f.shard(t, "M", f.dbs[0]).Version, f.shard(t, "M", f.dbs[1]).Version
		moved := must(f.s.UpdateMappingShard(f.ctx, "M", off.ID, f.dbs[1]))
		if moved.ID == off.ID || !moved.Location.Equal(f.dbs[1]) || moved.Online {
			t.Fatalf("moved mapping %+v", moved)
		}
		if f.shard(t, "M", f.dbs[0]).Version == src0 || f.shard(t, "M", f.dbs[1]).Version == dst0 {
			t.Fatal("moving a mapping must bump both shards' versions")
		}
		f.consistent(t)
		if again := must(f.s.UpdateMappingShard(f.ctx, "M", moved.ID, f.dbs[1])); again.ID != moved.ID {
			t.Fatal("UpdateMappingShard to the same shard is not a no-op")
		}
		_, err = f.s.UpdateMappingShard(f.ctx, "M", moved.ID, f.dbs[2])
		wantErr(t, err, fleet.ErrNotFound) // not a shard of M
		on := must(f.s.SetMappingOnline(f.ctx, "M", moved.ID, true))
		if got := must(f.s.MappingForKey(f.ctx, "M", key(t, 5))); got.ID != on.ID || !got.Online || !got.Location.Equal(f.dbs[1]) {
			t.Fatalf("route after move = %+v", got)
		}
		off2 := must(f.s.SetMappingOnline(f.ctx, "M", on.ID, false))
		if err := f.s.RemoveMapping(f.ctx, "M", off2.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.s.MappingForKey(f.ctx, "M", key(t, 5))
		wantErr(t, err, fleet.ErrNotFound)
		f.consistent(t)
	},

	"Locks": func(t *testing.T, f *fixture) {
		a, _ := f.rangeMap(t)
		owner, other := uuid.New(), uuid.New()
		wantErr(t, f.s.LockMapping(f.ctx, "M", a.ID, fleet.NoLock), fleet.ErrInvalidArgument)
		if err := f.s.LockMapping(f.ctx, "M", a.ID, owner); err != nil {
			t.Fatal(err)
		}
		// As the library's spLockOrUnlockShardMappingsGlobal: a locked
		// mapping is 308 even to its owner.
		wantErr(t, f.s.LockMapping(f.ctx, "M", a.ID, owner), fleet.ResultMappingAlreadyLocked)
		wantErr(t, f.s.LockMapping(f.ctx, "M", a.ID, other), fleet.ResultMappingAlreadyLocked)
		if got := must(f.s.MappingForKey(f.ctx, "M", key(t, 1))); got.LockOwner != owner {
			t.Fatalf("lock owner %s, want %s", got.LockOwner, owner)
		}
		_, err := f.s.SetMappingOnline(f.ctx, "M", a.ID, false)
		wantErr(t, err, fleet.ResultMappingLockOwnerIDDiff)
		// The refusal names the owner, so an operator knows who holds it.
		var le *fleet.MappingLockedError
		if !errors.As(err, &le) || le.Owner != owner || !errors.Is(err, fleet.ErrMappingLocked) {
			t.Fatalf("refused write to a locked mapping: %v, want a MappingLockedError naming %s", err, owner)
		}
		_, _, err = f.s.SplitMapping(fleet.WithLockOwner(f.ctx, other), "M", a.ID, key(t, 50))
		wantErr(t, err, fleet.ResultMappingLockOwnerIDDiff)
		// ForceUnlock unlocks; it does not let a change past a lock.
		_, _, err = f.s.SplitMapping(fleet.WithLockOwner(f.ctx, fleet.ForceUnlock), "M", a.ID, key(t, 50))
		wantErr(t, err, fleet.ResultMappingLockOwnerIDDiff)
		lo, hi, err := f.s.SplitMapping(fleet.WithLockOwner(f.ctx, owner), "M", a.ID, key(t, 50))
		if err != nil {
			t.Fatal(err)
		}
		if lo.LockOwner != owner || hi.LockOwner != owner {
			t.Fatal("split children must keep the lock owner")
		}
		off := must(f.s.SetMappingOnline(fleet.WithLockOwner(f.ctx, owner), "M", lo.ID, false))
		if off.LockOwner != owner {
			t.Fatal("an update must keep the lock owner")
		}
		wantErr(t, f.s.UnlockMapping(f.ctx, "M", off.ID, other), fleet.ResultMappingLockOwnerIDDiff)
		if err := f.s.UnlockMapping(f.ctx, "M", off.ID, owner); err != nil {
			t.Fatal(err)
		}
		wantErr(t, f.s.UnlockMapping(f.ctx, "M", off.ID, other), fleet.ResultMappingLockOwnerIDDiff) // unlocked: 307, as the library
		if err := f.s.UnlockMapping(f.ctx, "M", hi.ID, fleet.ForceUnlock); err != nil {
			t.Fatalf("force unlock: %v", err)
		}
		for _, mp := range must(f.s.Mappings(f.ctx, "M")) {
			if mp.LockOwner != fleet.NoLock {
				t.Fatalf("mapping %s still locked by %s", mp.ID, mp.LockOwner)
			}
		}
		f.consistent(t)
	},

	"SchemaInfo": func(t *testing.T, f *fixture) {
		must(f.s.CreateShardMap(f.ctx, "M", fleet.RangeMap, fleet.KeyInt64))
		_, err := f.s.SchemaInfo(f.ctx, "M")
		wantErr(t, err, fleet.ErrNotFound)
		want := fleet.SchemaInfo{
			Sharded:   []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "orders", KeyColumn: "customer_id"}},
			Reference: []string{"regions"},
		}
		if err := f.s.SetSchemaInfo(f.ctx, "M", want); err != nil {
			t.Fatal(err)
		}
		got := must(f.s.SchemaInfo(f.ctx, "m"))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("SchemaInfo = %+v, want %+v", got, want)
		}
		want.Reference = append(want.Reference, "countries")
		if err := f.s.SetSchemaInfo(f.ctx, "M", want); err != nil {
			t.Fatal(err)
		}
		if got := must(f.s.SchemaInfo(f.ctx, "M")); len(got.Reference) != 2 {
			t.Fatalf("SchemaInfo not replaced: %+v", got)
		}
		bad := fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "t", KeyColumn: "k"}}, Reference: []string{"T"}}
		wantErr(t, f.s.SetSchemaInfo(f.ctx, "M", bad), fleet.ErrInvalidArgument)
		wantErr(t, f.s.SetSchemaInfo(f.ctx, "nope", want), fleet.ErrNotFound)
		// Schema names are kept: sales.OrderLines is not OrderLines (dbo's).
		schemas := fleet.SchemaInfo{
			Sharded:   []fleet.ShardedTable{{Table: "sales.OrderLines", KeyColumn: "id"}, {Table: "OrderLines", KeyColumn: "id"}},
			Reference: []string{"sales.Regions"},
		}
		must(0, f.s.SetSchemaInfo(f.ctx, "M", schemas))
		if got := must(f.s.SchemaInfo(f.ctx, "M")); fmt.Sprint(got) != fmt.Sprint(schemas) {
			t.Fatalf("SchemaInfo = %+v, want %+v", got, schemas)
		}
		for _, bad := range []fleet.SchemaInfo{
			{Sharded: []fleet.ShardedTable{{Table: "dbo.t", KeyColumn: "k"}}, Reference: []string{"t"}},
			{Reference: []string{"db.sales.t"}},
			{Reference: []string{"order lines"}},
		} {
			wantErr(t, f.s.SetSchemaInfo(f.ctx, "M", bad), fleet.ErrInvalidArgument)
		}
	},

	"MappingIDsAndVersionsMatchLSM": func(t *testing.T, f *fixture) {
		a, b := f.rangeMap(t)
		must(f.s.AddShard(f.ctx, "M", f.dbs[2]))
		lo, hi, err := f.s.SplitMapping(f.ctx, "M", a.ID, key(t, 30))
		if err != nil {
			t.Fatal(err)
		}
		off := must(f.s.SetMappingOnline(f.ctx, "M", hi.ID, false))
		must(f.s.UpdateMappingShard(f.ctx, "M", off.ID, f.dbs[2]))
		offB := must(f.s.SetMappingOnline(f.ctx, "M", b.ID, false))
		must(f.s.SetMappingOnline(f.ctx, "M", offB.ID, true))
		lay := f.consistent(t)
		m := lay.Map("M")
		if m == nil || len(m.Mappings) != 3 || len(m.Shards) != 3 {
			t.Fatalf("layout %+v", m)
		}
		_ = lo
	},

	"CrashRecovery": func(t *testing.T, f *fixture) {
		cs, ok := f.s.(CrashSimulator)
		if !ok {
			t.Fatalf("%T cannot simulate crashes; the local driver must", f.s)
		}
		f.rangeMap(t)
		must(f.s.AddShard(f.ctx, "M", f.dbs[2]))
		must(f.s.CreateShardMap(f.ctx, "M2", fleet.RangeMap, fleet.KeyInt64))
		type crashOp struct {
			prepare func() // runs before the crash is armed
			run     func() error
		}
		ops := map[string]crashOp{
			"split": {run: func() error {
				a := must(f.s.MappingForKey(f.ctx, "M", key(t, 0)))
				_, _, err := f.s.SplitMapping(f.ctx, "M", a.ID, key(t, 50))
				return err
			}},
			"offline": {run: func() error {
				a := must(f.s.MappingForKey(f.ctx, "M", key(t, 0)))
				_, err := f.s.SetMappingOnline(f.ctx, "M", a.ID, !a.Online)
				return err
			}},
			"move": {
				prepare: func() {
					b := must(f.s.MappingForKey(f.ctx, "M", key(t, 100)))
					must(f.s.SetMappingOnline(f.ctx, "M", b.ID, false))
				},
				run: func() error {
					b := must(f.s.MappingForKey(f.ctx, "M", key(t, 100)))
					_, err := f.s.UpdateMappingShard(f.ctx, "M", b.ID, f.dbs[2])
					return err
				}},
			"add shard": {
				prepare: func() {
					if err := f.s.RemoveShard(f.ctx, "M2", f.dbs[0]); err != nil && !errors.Is(err, fleet.ErrNotFound) {
						t.Fatal(err)
					}
				},
				run: func() error {
					_, err := f.s.AddShard(f.ctx, "M2", f.dbs[0])
					return err
				}},
			"remove shard": {
				prepare: func() { must(f.s.AddShard(f.ctx, "M2", f.dbs[1])) },
				run:     func() error { return f.s.RemoveShard(f.ctx, "M2", f.dbs[1]) },
			},
		}
		names := make([]string, 0, len(ops))
		for n := range ops {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			for _, point := range CrashPoints {
				op := ops[name]
				if op.prepare != nil {
					op.prepare()
				}
				before := f.consistent(t)
				cs.SimulateCrash(point)
				runErr := op.run()
				if runErr == nil {
					t.Fatalf("%s at %s: no simulated crash", name, point)
				}
				mid := must(f.s.Observe(f.ctx, ""))
				pending := 0
				for _, m := range mid.Maps {
					pending += len(m.Pending)
				}
				if pending == 0 {
					t.Fatalf("%s at %s: no pending operation after the crash (%v)", name, point, runErr)
				}
				if mid.Fingerprint == before.Fingerprint {
					t.Fatalf("%s at %s: the fingerprint ignores a pending operation", name, point)
				}
				ids := must(f.s.RecoverPending(f.ctx))
				if len(ids) != 1 {
					t.Fatalf("%s at %s: RecoverPending rolled back %v", name, point, ids)
				}
				after := f.consistent(t)
				if after.Fingerprint != before.Fingerprint {
					t.Fatalf("%s at %s: state after rollback differs from before the operation", name, point)
				}
				if again := must(f.s.RecoverPending(f.ctx)); len(again) != 0 {
					t.Fatalf("RecoverPending is not idempotent: %v", again)
				}
			}
		}
		// A writer that meets a crashed operation's rows undoes it (its owner
		// is gone) and goes ahead; a writer that does not meet it leaves it.
		cs.SimulateCrash(CrashPoints[1])
		if err := ops["split"].run(); err == nil {
			t.Fatal("no simulated crash")
		}
		b := must(f.s.MappingForKey(f.ctx, "M", key(t, 100)))
		if err := f.s.LockMapping(f.ctx, "M", b.ID, uuid.New()); err != nil {
			t.Fatalf("writer after a crash: %v", err)
		}
		if err := f.s.UnlockMapping(f.ctx, "M", b.ID, fleet.ForceUnlock); err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, m := range must(f.s.Observe(f.ctx, "M")).Maps {
			pending += len(m.Pending)
		}
		if pending != 1 {
			t.Fatalf("%d operations pending after a write elsewhere, want the crashed split", pending)
		}
		a := must(f.s.MappingForKey(f.ctx, "M", key(t, 0)))
		if _, err := f.s.SetMappingOnline(f.ctx, "M", a.ID, !a.Online); err != nil {
			t.Fatalf("writer meeting the crashed split: %v", err)
		}
		f.consistent(t)
	},

	"ConcurrentWriters": func(t *testing.T, f *fixture) {
		must(f.s.CreateShardMap(f.ctx, "M", fleet.RangeMap, fleet.KeyInt64))
		must(f.s.AddShard(f.ctx, "M", f.dbs[0]))
		must(f.s.AddShard(f.ctx, "M", f.dbs[1]))
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 4; i++ {
					lo := int64(w*1000 + i*10)
					if _, err := f.s.AddMapping(f.ctx, "M", f.dbs[w%2], key(t, lo), key(t, lo+10)); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := len(must(f.s.Mappings(f.ctx, "M"))); n != 16 {
			t.Fatalf("%d mappings, want 16", n)
		}
		f.consistent(t)
	},
}
