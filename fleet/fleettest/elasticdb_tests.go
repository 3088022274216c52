package fleettest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

type edbOpCase struct {
	name string
	op   func(t *testing.T, f *edbFixture) *elasticdb.Operation
	m    func(f *edbFixture) fleet.ShardMap
	want []string // the map's layout after the operation
}

func rMap(f *edbFixture) fleet.ShardMap { return f.r }
func lMap(f *edbFixture) fleet.ShardMap { return f.l }

var rangeBefore = []string{"A [-inf, 100) online", "A [100, 200) online", "A [200, 300) offline"}

// edbOpCases has an operation of every operation code the protocol writes
// (AttachShard, 16, has its own test in package elasticdb: its LSM step is
// a location rewrite).
func edbOpCases() []edbOpCase {
	with := func(extra ...string) []string { return append(slices.Clone(rangeBefore), extra...) }
	return []edbOpCase{
		{"1 add shard", func(t *testing.T, f *edbFixture) *elasticdb.Operation { return elasticdb.AddShardOp(f.r, f.c) }, rMap, rangeBefore},
		{"2 remove shard", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.RemoveShardOp(f.r, f.shard(t, "R/B"))
		}, rMap, rangeBefore},
		{"3 update shard", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			s := f.shard(t, "R/B")
			nw := elasticdb.ShardRowOf(s, uuid.New())
			nw.Status = fleet.ShardOffline
			return &elasticdb.Operation{ID: uuid.New(), Code: fleet.OpUpdateShard, Map: f.r, ShardOp: true,
				Steps: []elasticdb.Step{{Kind: elasticdb.StepUpdate, Shard: elasticdb.ShardRowOf(s, s.Version), NewShard: nw}}}
		}, rMap, rangeBefore},
		{"4 add point", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.AddMappingOp(f.l, f.shard(t, "L/B"), key(t, 3), nil)
		}, lMap, []string{"A point 1 online", "A point 2 offline", "B point 3 online"}},
		{"5 remove point", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.RemoveMappingOp(f.l, f.shard(t, "L/A"), f.mapping(t, f.l, key(t, 2)), fleet.NoLock)
		}, lMap, []string{"A point 1 online"}},
		{"6 point online", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.SetOnlineOp(f.l, f.shard(t, "L/A"), f.mapping(t, f.l, key(t, 2)), true, fleet.NoLock)
		}, lMap, []string{"A point 1 online", "A point 2 online"}},
		{"6 point to another shard", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.RepointOp(f.l, f.shard(t, "L/A"), f.shard(t, "L/B"), f.mapping(t, f.l, key(t, 2)), false, fleet.NoLock)
		}, lMap, []string{"A point 1 online", "B point 2 offline"}},
		{"7 point offline", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.SetOnlineOp(f.l, f.shard(t, "L/A"), f.mapping(t, f.l, key(t, 1)), false, fleet.NoLock)
		}, lMap, []string{"A point 1 offline", "A point 2 offline"}},
		{"8 add range", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.AddMappingOp(f.r, f.shard(t, "R/B"), key(t, 300), nil)
		}, rMap, with("B [300, +inf) online")},
		{"9 remove range", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.RemoveMappingOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, key(t, 200)), fleet.NoLock)
		}, rMap, rangeBefore[:2]},
		{"10 range online", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.SetOnlineOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, key(t, 200)), true, fleet.NoLock)
		}, rMap, []string{"A [-inf, 100) online", "A [100, 200) online", "A [200, 300) online"}},
		{"10 range to another shard, online", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.RepointOp(f.r, f.shard(t, "R/A"), f.shard(t, "R/B"), f.mapping(t, f.r, key(t, 200)), true, fleet.NoLock)
		}, rMap, []string{"A [-inf, 100) online", "A [100, 200) online", "B [200, 300) online"}},
		{"11 range offline", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.SetOnlineOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, key(t, 100)), false, fleet.NoLock)
		}, rMap, []string{"A [-inf, 100) online", "A [100, 200) offline", "A [200, 300) offline"}},
		{"14 split", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.SplitOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, []byte{}), key(t, 50), fleet.NoLock)
		}, rMap, []string{"A [-inf, 50) online", "A [100, 200) online", "A [200, 300) offline", "A [50, 100) online"}},
		{"15 merge", func(t *testing.T, f *edbFixture) *elasticdb.Operation {
			return elasticdb.MergeOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, []byte{}), f.mapping(t, f.r, key(t, 100)), fleet.NoLock)
		}, rMap, []string{"A [-inf, 200) online", "A [200, 300) offline"}},
	}
}

// crashed runs op on writer w, stopped dead at point, and returns the one
// log row it leaves.
func (f *edbFixture) crashed(t *testing.T, w *probe, op *elasticdb.Operation, point string) elasticdb.LogRow {
	t.Helper()
	w.mu.Lock()
	w.crashAt = point
	w.mu.Unlock()
	if err := elasticdb.Run(f.ctx, w, op); !errors.Is(err, elasticdb.ErrSimulatedCrash) {
		t.Fatalf("Run = %v, want the simulated crash", err)
	}
	rows := f.logRows(t)
	if len(rows) != 1 || rows[0].ID != op.ID || rows[0].Code != op.Code || rows[0].UndoStartState != elasticdb.UndoBegin {
		t.Fatalf("log after the crash: %+v, want operation %s code %d", rows, op.ID, op.Code)
	}
	return rows[0]
}

var edbTests = map[string]func(t *testing.T, mk func(t *testing.T) *edbFixture){
	// Every operation does what it says, leaves no log row and both maps
	// agreeing.
	"EveryOperation": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		for _, tc := range edbOpCases() {
			t.Run(tc.name, func(t *testing.T) {
				f := mk(t)
				f.run(t, tc.op(t, f))
				f.consistent(t)
				if got := f.layout(t, tc.m(f)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("layout %q, want %q", got, tc.want)
				}
			})
		}
	},

	// A writer killed at any phase boundary leaves its operation pending,
	// logged with a document the library can read (so a .NET client that
	// meets it can undo it), and RecoverPending restores the store exactly.
	"CrashedOperationIsUndone": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		for _, tc := range edbOpCases() {
			for _, point := range CrashPoints {
				t.Run(tc.name+"/killed after "+point, func(t *testing.T) {
					f := mk(t)
					op := tc.op(t, f)
					before := f.state(t)
					row := f.crashed(t, f.w, op, point)
					if err := ReadAsLibrary(row.Code, row.Data); err != nil {
						t.Fatalf("the library cannot read the pending document: %v\n%s", err, row.Data)
					}
					ids, err := elasticdb.RecoverPending(f.ctx, f.second())
					if err != nil || len(ids) != 1 || ids[0] != op.ID {
						t.Fatalf("RecoverPending = %v, %v", ids, err)
					}
					diffStates(t, "recovery did not restore the store", before, f.state(t))
					f.consistent(t)
				})
			}
		}
	},

	// An operation that fails at a phase boundary is rolled back at once.
	"FailedOperationIsRolledBack": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		for _, tc := range edbOpCases() {
			for _, point := range CrashPoints {
				t.Run(tc.name+"/failed after "+point, func(t *testing.T) {
					f := mk(t)
					op := tc.op(t, f)
					before := f.state(t)
					f.w.failAt = point
					if err := elasticdb.Run(f.ctx, f.w, op); !errors.Is(err, errInjected) {
						t.Fatalf("Run = %v, want the injected failure", err)
					}
					diffStates(t, "the failed operation was not rolled back", before, f.state(t))
				})
			}
		}
	},

	// A pending operation the library left (its document, as its request
	// builder writes it, and the rows its procedures wrote) is undone by us,
	// restoring both maps exactly.
	"LibraryOperationIsUndone": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		for _, tc := range edbOpCases() {
			if tc.name == "3 update shard" {
				continue // no library document builder for UpdateShard in the suite
			}
			t.Run(tc.name, func(t *testing.T) {
				f := mk(t)
				op := tc.op(t, f)
				before := f.state(t)
				row := f.crashed(t, f.w, op, elasticdb.CrashAfterLSMTarget)
				row.Data = LibraryDocument(op)
				if err := ReadAsLibrary(row.Code, row.Data); err != nil {
					t.Fatalf("the port rejects the library's own document: %v", err)
				}
				f.gsm(t, func(tx elasticdb.GSMTx) error {
					if err := tx.DeleteLog(f.ctx, row.ID); err != nil {
						return err
					}
					return tx.InsertLog(f.ctx, row)
				})
				if ids, err := elasticdb.RecoverPending(f.ctx, f.second()); err != nil || len(ids) != 1 {
					t.Fatalf("RecoverPending = %v, %v", ids, err)
				}
				diffStates(t, "undoing the library's operation", before, f.state(t))
			})
		}
	},

	// An undo that fails half-way (a shard unreachable) is run again by the
	// next recovery, to the same end.
	"InterruptedUndoIsRunAgain": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		f := mk(t)
		op := elasticdb.RepointOp(f.r, f.shard(t, "R/A"), f.shard(t, "R/B"), f.mapping(t, f.r, key(t, 200)), true, fleet.NoLock)
		before := f.state(t)
		f.crashed(t, f.w, op, elasticdb.CrashAfterLSMTarget)
		w := f.second()
		w.failLSM = &f.a // the source, undone after the target
		if _, err := elasticdb.RecoverPending(f.ctx, w); !errors.Is(err, errInjected) {
			t.Fatalf("RecoverPending = %v, want the injected failure", err)
		}
		if len(f.logRows(t)) != 1 {
			t.Fatal("the interrupted undo dropped the log row")
		}
		if ids, err := elasticdb.RecoverPending(f.ctx, w); err != nil || len(ids) != 1 {
			t.Fatalf("RecoverPending again = %v, %v", ids, err)
		}
		diffStates(t, "after the second recovery", before, f.state(t))
	},

	// The undo rule (the library's StoreOperation on result 52): a write
	// that meets a running operation does not undo it; it waits for the
	// operation's lock, then refuses, naming it. The operation finishes as
	// if nobody had been there, and a writer that was waiting meanwhile
	// finds its mapping changed, not rolled back.
	"RunningOperationIsNotUndone": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		f := mk(t)
		mp := f.mapping(t, f.r, key(t, 200))
		move := elasticdb.RepointOp(f.r, f.shard(t, "R/A"), f.shard(t, "R/B"), mp, true, fleet.NoLock)
		ps := &pause{point: elasticdb.CrashAfterLSMSource, reached: make(chan struct{}), resume: make(chan struct{})}
		f.w.pause = ps
		done := make(chan error, 1)
		go func() { done <- elasticdb.Run(f.ctx, f.w, move) }()
		select {
		case <-ps.reached:
		case err := <-done:
			t.Fatalf("the move ended before its pause: %v", err)
		}
		held := f.state(t)
		w := f.second()
		for name, op := range map[string]*elasticdb.Operation{
			"same mapping": elasticdb.SetOnlineOp(f.r, f.shard(t, "R/A"), mp, true, fleet.NoLock),
			"same shard":   elasticdb.AddMappingOp(f.r, f.shard(t, "R/B"), key(t, 300), nil),
		} {
			err := elasticdb.Run(elasticdb.WithPendingWait(f.ctx, 0), w, op)
			var running *elasticdb.OperationRunningError
			if !errors.As(err, &running) || running.ID != move.ID || !errors.Is(err, fleet.ResultPendingOperation) {
				close(ps.resume)
				t.Fatalf("%s: Run = %v, want 52 naming the running move %s", name, err, move.ID)
			}
			var fe *fleet.Error
			if !errors.As(err, &fe) || fe.Hint == "" {
				t.Errorf("%s: %v is not a *fleet.Error with a hint", name, err)
			}
		}
		if ids, err := elasticdb.RecoverPending(f.ctx, w); err != nil || len(ids) != 0 {
			t.Errorf("RecoverPending while the move runs = %v, %v; want nothing undone", ids, err)
		}
		diffStates(t, "a second writer changed a running operation", held, f.state(t))
		// A writer that waits for the lock while the move finishes.
		waited := make(chan error, 1)
		go func() {
			waited <- elasticdb.Run(elasticdb.WithPendingWait(f.ctx, time.Minute), w,
				elasticdb.SetOnlineOp(f.r, f.shard(t, "R/A"), mp, false, fleet.NoLock))
		}()
		close(ps.resume)
		if err := <-done; err != nil {
			t.Fatalf("the move, after a second writer met it: %v", err)
		}
		if err := <-waited; !errors.Is(err, fleet.ResultMappingDoesNotExist) && !errors.Is(err, fleet.ResultShardVersionMismatch) {
			t.Fatalf("the waiting writer = %v, want its stale mapping refused (301 or 204)", err)
		}
		f.consistent(t)
		if got, want := f.layout(t, f.r), []string{"A [-inf, 100) online", "A [100, 200) online", "B [200, 300) online"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("layout %q, want %q", got, want)
		}
	},

	// Once an operation's owner is gone (its lock free), the next write
	// that meets it undoes it and goes ahead; a write that does not meet it
	// leaves it pending.
	"DeadOwnersOperationIsUndoneByTheWriterThatMeetsIt": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		f := mk(t)
		mp := f.mapping(t, f.r, key(t, 200))
		before := f.state(t)
		f.crashed(t, f.w, elasticdb.RepointOp(f.r, f.shard(t, "R/A"), f.shard(t, "R/B"), mp, true, fleet.NoLock), elasticdb.CrashAfterLSMSource)
		w := f.second()
		if err := elasticdb.Run(f.ctx, w, elasticdb.AddMappingOp(f.l, f.shard(t, "L/B"), key(t, 3), nil)); err != nil {
			t.Fatalf("a write elsewhere: %v", err)
		}
		if n := len(f.logRows(t)); n != 1 {
			t.Fatalf("%d operations pending after a write that did not meet the crashed one", n)
		}
		if err := elasticdb.Run(f.ctx, w, elasticdb.SetOnlineOp(f.r, f.shard(t, "R/A"), mp, true, fleet.NoLock)); err != nil {
			t.Fatalf("the write that meets the crashed move: %v", err)
		}
		f.consistent(t)
		if got, want := f.layout(t, f.r), []string{"A [-inf, 100) online", "A [100, 200) online", "A [200, 300) online"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("layout %q, want %q", got, want)
		}
		_ = before
	},

	// UndoPending, before a change that writes without the protocol (the
	// RecoveryManager's), undoes a dead owner's operation and refuses while
	// another one runs.
	"UndoPendingRefusesWhileAnOperationRuns": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		f := mk(t)
		dead := elasticdb.AddMappingOp(f.l, f.shard(t, "L/B"), key(t, 3), nil)
		f.crashed(t, f.w, dead, elasticdb.CrashAfterGSMBegin)
		split := elasticdb.SplitOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, []byte{}), key(t, 50), fleet.NoLock)
		ps := &pause{point: elasticdb.CrashAfterGSMBegin, reached: make(chan struct{}), resume: make(chan struct{})}
		f.w.pause = ps
		done := make(chan error, 1)
		go func() { done <- elasticdb.Run(f.ctx, f.w, split) }()
		<-ps.reached
		err := elasticdb.UndoPending(elasticdb.WithPendingWait(f.ctx, 0), f.second())
		close(ps.resume)
		var running *elasticdb.OperationRunningError
		if !errors.As(err, &running) || running.ID != split.ID {
			t.Fatalf("UndoPending while the split runs = %v, want it refused naming the split", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if rows := f.logRows(t); len(rows) != 0 {
			t.Fatalf("left pending: %+v; want the dead owner's add undone and the split done", rows)
		}
		f.consistent(t)
	},

	// A shard added at a location where a dead owner's add is pending meets
	// that operation (52, as the library's Begin says), undoes it and goes
	// ahead; it is not refused as a location clash (205).
	"PendingAddShardAtTheSameLocation": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		f := mk(t)
		f.crashed(t, f.w, elasticdb.AddShardOp(f.r, f.c), elasticdb.CrashAfterLSMSource)
		if err := elasticdb.Run(f.ctx, f.second(), elasticdb.AddShardOp(f.r, f.c)); err != nil {
			t.Fatalf("adding the shard again: %v", err)
		}
		f.consistent(t)
	},

	// Version checks: an operation built from a shard version that has
	// changed since is 204 and changes nothing; so is a shard whose LSM
	// holds another version than the GSM.
	"ShardVersionIsChecked": func(t *testing.T, mk func(t *testing.T) *edbFixture) {
		f := mk(t)
		stale := f.shard(t, "R/A")
		f.run(t, elasticdb.SetOnlineOp(f.r, f.shard(t, "R/A"), f.mapping(t, f.r, key(t, 200)), true, fleet.NoLock))
		before := f.state(t)
		err := elasticdb.Run(f.ctx, f.w, elasticdb.SetOnlineOp(f.r, stale, f.mapping(t, f.r, key(t, 100)), false, fleet.NoLock))
		if !errors.Is(err, fleet.ResultShardVersionMismatch) {
			t.Fatalf("Run with a stale shard version = %v, want 204", err)
		}
		diffStates(t, "a refused operation changed the store", before, f.state(t))
		f.consistent(t)
	},
}
