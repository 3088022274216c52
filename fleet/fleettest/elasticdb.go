package fleettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// ElasticDBStore is a shard map store seen through the Elastic Database
// protocol's executor, for RunElasticDBConformance. Fields may be added;
// the ones here keep their meaning.
type ElasticDBStore struct {
	// Executor runs the protocol's transactions on the store.
	Executor elasticdb.Executor
	// Second opens another writer on the same store, as a second process
	// or client would (its own connections). Nil: Executor is used for
	// both writers, and its LockOperation must still exclude the second.
	Second func(t *testing.T) elasticdb.Executor
	// Databases are at least three existing databases without a local
	// shard map, none of them the shard map manager.
	Databases []fleet.Location
	// CreateShardMap writes an empty shard map's row to ShardMapsGlobal.
	CreateShardMap func(ctx context.Context, m fleet.ShardMap) error
}

// RunElasticDBConformance runs the Elastic Database conformance suite:
// every operation code through the protocol (operation log, the request
// document and its reading by the library's rules, GSM and LSM agreeing
// afterwards), undo from every phase boundary (ours and the library's
// documents), the library's refusals and version checks, and the undo rule:
// a pending operation is undone only when a write meets it and its lock is
// free, never while its owner runs it. newStore returns a fresh, empty
// store each time.
func RunElasticDBConformance(t *testing.T, newStore func(t *testing.T) ElasticDBStore) {
	for _, name := range sortedKeys(edbTests) {
		t.Run(name, func(t *testing.T) {
			edbTests[name](t, func(t *testing.T) *edbFixture { return newEDBFixture(t, newStore) })
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errInjected is the failure the suite injects at a phase boundary or in
// an LSM transaction.
var errInjected = errors.New("injected failure")

// probe wraps a store's executor with the suite's crashes, failures and
// pauses at phase boundaries.
type probe struct {
	elasticdb.Executor
	mu      sync.Mutex
	crashAt string          // Checkpoint stops dead here, once
	failAt  string          // Checkpoint fails here, once
	failLSM *fleet.Location // the next LSM transaction here fails, once
	pause   *pause
}

// pause holds an operation at a phase boundary, as a slow owner would.
type pause struct {
	point   string
	reached chan struct{} // closed when the operation is held
	resume  chan struct{} // close to let it go on
}

func (p *probe) Checkpoint(op *elasticdb.Operation, point string) error {
	if err := p.Executor.Checkpoint(op, point); err != nil {
		return err
	}
	p.mu.Lock()
	crash, fail := p.crashAt == point, p.failAt == point
	if crash {
		p.crashAt = ""
	}
	if fail {
		p.failAt = ""
	}
	ps := p.pause
	if ps != nil && ps.point == point {
		p.pause = nil
	} else {
		ps = nil
	}
	p.mu.Unlock()
	if ps != nil {
		close(ps.reached)
		<-ps.resume
	}
	switch {
	case crash:
		return fmt.Errorf("%s after %s: %w", op.FaultPoint(), point, elasticdb.ErrSimulatedCrash)
	case fail:
		return errInjected
	}
	return nil
}

func (p *probe) LSM(ctx context.Context, what string, loc fleet.Location, open elasticdb.LSMOpen, fn func(elasticdb.LSMTx) error) (elasticdb.LSMState, error) {
	p.mu.Lock()
	fail := p.failLSM != nil && p.failLSM.Equal(loc)
	if fail {
		p.failLSM = nil
	}
	p.mu.Unlock()
	if fail {
		return elasticdb.LSMReady, &fleet.Error{Op: what, Target: loc.String(), Err: errInjected}
	}
	return p.Executor.LSM(ctx, what, loc, open, fn)
}

// edbFixture is a store built through the protocol itself: range map R with
// shards A ([min, 100) and [100, 200) online, [200, 300) offline) and B (no
// mappings); list map L with shards A (point 1 online, 2 offline) and B;
// database C without a local shard map.
type edbFixture struct {
	ctx     context.Context
	w       *probe // the first writer
	second  func() *probe
	r, l    fleet.ShardMap
	a, b, c fleet.Location
	shards  map[string]uuid.UUID // "R/A", "L/B", ...
}

func newEDBFixture(t *testing.T, newStore func(t *testing.T) ElasticDBStore) *edbFixture {
	t.Helper()
	st := newStore(t)
	if len(st.Databases) < 3 {
		t.Fatalf("the conformance suite needs three databases, the store has %v", st.Databases)
	}
	f := &edbFixture{ctx: context.Background(), w: &probe{Executor: st.Executor}, shards: map[string]uuid.UUID{},
		a: st.Databases[0], b: st.Databases[1], c: st.Databases[2],
		r: fleet.ShardMap{ID: uuid.New(), Name: "R", Type: fleet.RangeMap, KeyType: fleet.KeyInt64},
		l: fleet.ShardMap{ID: uuid.New(), Name: "L", Type: fleet.ListMap, KeyType: fleet.KeyInt64}}
	f.second = func() *probe { return f.w }
	if st.Second != nil {
		f.second = func() *probe { return &probe{Executor: st.Second(t)} }
	}
	for _, m := range []fleet.ShardMap{f.r, f.l} {
		if err := st.CreateShardMap(f.ctx, m); err != nil {
			t.Fatal(err)
		}
		for name, loc := range map[string]fleet.Location{"A": f.a, "B": f.b} {
			op := elasticdb.AddShardOp(m, loc)
			f.run(t, op)
			f.shards[m.Name+"/"+name] = op.Steps[0].Shard.ID
		}
	}
	f.add(t, f.r, "A", []byte{}, key(t, 100), true)
	f.add(t, f.r, "A", key(t, 100), key(t, 200), true)
	f.add(t, f.r, "A", key(t, 200), key(t, 300), false)
	f.add(t, f.l, "A", key(t, 1), nil, true)
	f.add(t, f.l, "A", key(t, 2), nil, false)
	return f
}

func (f *edbFixture) run(t *testing.T, op *elasticdb.Operation) {
	t.Helper()
	if err := elasticdb.Run(f.ctx, f.w, op); err != nil {
		t.Fatalf("%s: %v", op.FaultPoint(), err)
	}
}

// gsm runs a read of the global shard map.
func (f *edbFixture) gsm(t *testing.T, fn func(tx elasticdb.GSMTx) error) {
	t.Helper()
	if err := f.w.Executor.GSM(f.ctx, "conformance read", fn); err != nil {
		t.Fatal(err)
	}
}

// shard returns a fixture shard as the GSM holds it now.
func (f *edbFixture) shard(t *testing.T, name string) fleet.Shard {
	t.Helper()
	var row *elasticdb.GSMShard
	f.gsm(t, func(tx elasticdb.GSMTx) (err error) { row, err = tx.Shard(f.ctx, f.shards[name]); return err })
	if row == nil {
		t.Fatalf("no shard %s", name)
	}
	return fleet.Shard{ID: row.ID, Version: row.Version, MapID: row.MapID, Location: row.Loc, Status: row.Status}
}

func (f *edbFixture) add(t *testing.T, m fleet.ShardMap, shard string, min, max []byte, online bool) {
	t.Helper()
	f.run(t, elasticdb.AddMappingOp(m, f.shard(t, m.Name+"/"+shard), min, max))
	if !online {
		f.run(t, elasticdb.SetOnlineOp(m, f.shard(t, m.Name+"/"+shard), f.mapping(t, m, min), false, fleet.NoLock))
	}
}

// mapping finds the readable GSM mapping of m starting at min.
func (f *edbFixture) mapping(t *testing.T, m fleet.ShardMap, min []byte) fleet.Mapping {
	t.Helper()
	var out *fleet.Mapping
	f.gsm(t, func(tx elasticdb.GSMTx) error {
		rows, err := tx.MappingsOverlapping(f.ctx, m, min, nil)
		for _, r := range rows {
			if r.Readable && bytes.Equal(r.Min, min) {
				sh, err := tx.Shard(f.ctx, r.ShardID)
				if err != nil || sh == nil {
					return fmt.Errorf("mapping %s: its shard %s: %v", r.ID, r.ShardID, err)
				}
				out = &fleet.Mapping{ID: r.ID, MapID: r.MapID, ShardID: r.ShardID, Min: r.Min, Max: r.Max, Online: r.Status&1 == 1,
					LockOwner: r.LockOwner, OperationID: r.OperationID, Location: sh.Loc}
			}
		}
		return err
	})
	if out == nil {
		t.Fatalf("no mapping of %s at %x", m.Name, min)
	}
	return *out
}

// listPoints are the points the suite's list map operations use; a list
// map's rows are read point by point.
var listPoints = []int64{0, 1, 2, 3, 4}

// gsmMappings returns every mapping row of m, readable or not.
func (f *edbFixture) gsmMappings(t *testing.T, tx elasticdb.GSMTx, m fleet.ShardMap) ([]elasticdb.GSMMapping, error) {
	if m.Type == fleet.RangeMap {
		return tx.MappingsOverlapping(f.ctx, m, []byte{}, nil)
	}
	var out []elasticdb.GSMMapping
	for _, p := range listPoints {
		rows, err := tx.MappingsOverlapping(f.ctx, m, key(t, p), nil)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func opText(u *uuid.UUID) string {
	if u == nil {
		return "-"
	}
	return u.String()
}

// state is every row of the fixture's maps in both stores, one line each,
// sorted: two equal states are the same store.
func (f *edbFixture) state(t *testing.T) string {
	t.Helper()
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	f.gsm(t, func(tx elasticdb.GSMTx) error {
		rows, err := tx.LogRows(f.ctx)
		if err != nil {
			return err
		}
		for _, r := range rows {
			add("log %s code %d undo %d", r.ID, r.Code, r.UndoStartState)
		}
		for _, m := range []fleet.ShardMap{f.r, f.l} {
			for _, loc := range []fleet.Location{f.a, f.b, f.c} {
				s, err := tx.ShardAt(f.ctx, m.ID, loc)
				if err != nil {
					return err
				}
				if s != nil {
					add("gsm shard %s %s %s version %s status %d readable %t op %s", m.Name, loc.Database, s.ID, s.Version, s.Status, s.Readable, opText(s.OperationID))
				}
			}
			rows, err := f.gsmMappings(t, tx, m)
			if err != nil {
				return err
			}
			for _, r := range rows {
				add("gsm mapping %s %s [%x, %x) status %d shard %s lock %s readable %t op %s", m.Name, r.ID, r.Min, r.Max, r.Status, r.ShardID, r.LockOwner, r.Readable, opText(r.OperationID))
			}
		}
		return nil
	})
	for _, loc := range []fleet.Location{f.a, f.b, f.c} {
		// LastOperationId is left out: an undo stamps its own id, as the
		// library's local procedures do. An LSM deployed and left empty
		// is the same as none (an undone add shard leaves the tables).
		_, err := f.w.Executor.LSM(f.ctx, "conformance read", loc, elasticdb.LSMOpen{IfExists: true}, func(tx elasticdb.LSMTx) error {
			for _, m := range []fleet.ShardMap{f.r, f.l} {
				lm, err := tx.Map(f.ctx, m.ID)
				if err != nil {
					return err
				}
				if lm != nil {
					add("lsm %s map %s", loc.Database, m.Name)
				}
				shards, err := tx.ShardsOfMap(f.ctx, m.ID)
				if err != nil {
					return err
				}
				for _, s := range shards {
					add("lsm %s shard %s %s version %s status %d at %s", loc.Database, m.Name, s.ID, s.Version, s.Status, s.Loc)
					mps, err := tx.MappingsOfShard(f.ctx, s.ID)
					if err != nil {
						return err
					}
					for _, mp := range mps {
						add("lsm %s mapping %s [%x, %x) status %d shard %s", loc.Database, mp.ID, mp.Min, mp.Max, mp.Status, mp.ShardID)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// consistent checks that nothing is pending and that every shard's LSM
// holds what the GSM says: its shard row at the GSM's version, and the same
// mappings (ids, bounds, status), as DetectMappingDifferences compares them.
func (f *edbFixture) consistent(t *testing.T) {
	t.Helper()
	type shardWant struct {
		loc      fleet.Location
		version  uuid.UUID
		mappings map[uuid.UUID]string
	}
	want := map[uuid.UUID]*shardWant{}
	f.gsm(t, func(tx elasticdb.GSMTx) error {
		rows, err := tx.LogRows(f.ctx)
		if err != nil {
			return err
		}
		if len(rows) != 0 {
			return fmt.Errorf("operations left pending: %+v", rows)
		}
		for _, m := range []fleet.ShardMap{f.r, f.l} {
			for _, loc := range []fleet.Location{f.a, f.b, f.c} {
				s, err := tx.ShardAt(f.ctx, m.ID, loc)
				if err != nil || s == nil {
					if err != nil {
						return err
					}
					continue
				}
				if !s.Readable || s.OperationID != nil {
					return fmt.Errorf("shard %s of %s left held: %+v", loc, m.Name, s)
				}
				want[s.ID] = &shardWant{loc: loc, version: s.Version, mappings: map[uuid.UUID]string{}}
			}
			rows, err := f.gsmMappings(t, tx, m)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if !r.Readable || r.OperationID != nil {
					return fmt.Errorf("mapping %s left pending: %+v", r.ID, r)
				}
				w := want[r.ShardID]
				if w == nil {
					return fmt.Errorf("mapping %s on shard %s, which the GSM does not hold", r.ID, r.ShardID)
				}
				w.mappings[r.ID] = fmt.Sprintf("[%x, %x) %d", r.Min, r.Max, r.Status)
			}
		}
		return nil
	})
	for id, w := range want {
		got := map[uuid.UUID]string{}
		var version uuid.UUID
		_, err := f.w.Executor.LSM(f.ctx, "conformance read", w.loc, elasticdb.LSMOpen{}, func(tx elasticdb.LSMTx) error {
			s, err := tx.Shard(f.ctx, id)
			if err != nil || s == nil {
				return fmt.Errorf("the LSM has no shard row %s: %v", id, err)
			}
			version = s.Version
			mps, err := tx.MappingsOfShard(f.ctx, id)
			for _, mp := range mps {
				got[mp.ID] = fmt.Sprintf("[%x, %x) %d", mp.Min, mp.Max, mp.Status)
			}
			return err
		})
		if err != nil {
			t.Fatalf("shard %s: %v", w.loc, err)
		}
		if version != w.version {
			t.Fatalf("shard %s: LSM version %s, GSM version %s", w.loc, version, w.version)
		}
		if fmt.Sprint(sortedMap(got)) != fmt.Sprint(sortedMap(w.mappings)) {
			t.Fatalf("shard %s: LSM mappings %v, GSM mappings %v", w.loc, sortedMap(got), sortedMap(w.mappings))
		}
	}
}

func sortedMap(m map[uuid.UUID]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k.String()+" "+v)
	}
	sort.Strings(out)
	return out
}

// label names a fixture database A, B or C.
func (f *edbFixture) label(loc fleet.Location) string {
	for i, l := range []fleet.Location{f.a, f.b, f.c} {
		if l.Equal(loc) {
			return string(rune('A' + i))
		}
	}
	return loc.String()
}

// layout renders the readable GSM mappings of m by shard database (A, B, C).
func (f *edbFixture) layout(t *testing.T, m fleet.ShardMap) []string {
	t.Helper()
	var out []string
	f.gsm(t, func(tx elasticdb.GSMTx) error {
		rows, err := f.gsmMappings(t, tx, m)
		for _, r := range rows {
			if !r.Readable {
				continue
			}
			sh, err := tx.Shard(f.ctx, r.ShardID)
			if err != nil || sh == nil {
				return fmt.Errorf("mapping %s: shard %s: %v", r.ID, r.ShardID, err)
			}
			st := "offline"
			if r.Status&1 == 1 {
				st = "online"
			}
			out = append(out, fmt.Sprintf("%s %s %s", f.label(sh.Loc), elasticdb.BoundsText(m, r.Min, r.Max), st))
		}
		return err
	})
	sort.Strings(out)
	return out
}

// logRows returns the pending operations.
func (f *edbFixture) logRows(t *testing.T) []elasticdb.LogRow {
	t.Helper()
	var rows []elasticdb.LogRow
	f.gsm(t, func(tx elasticdb.GSMTx) (err error) { rows, err = tx.LogRows(f.ctx); return err })
	return rows
}

func diffStates(t *testing.T, what, before, after string) {
	t.Helper()
	if before == after {
		return
	}
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	inB := map[string]bool{}
	for _, l := range b {
		inB[l] = true
	}
	inA := map[string]bool{}
	for _, l := range a {
		inA[l] = true
	}
	var d []string
	for _, l := range b {
		if !inA[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range a {
		if !inB[l] {
			d = append(d, "+ "+l)
		}
	}
	t.Fatalf("%s (-before +after):\n%s", what, strings.Join(d, "\n"))
}
