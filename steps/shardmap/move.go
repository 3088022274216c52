package shardmap

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// moveRange moves the keys [low, high) from one shard to another in batches,
// with the split-merge service's order of events per batch:
//
//	offline (GSM+LSM) -> copy parents-first -> verify counts and checksums ->
//	repoint the mapping to the target -> online -> delete source rows children-first
//
// As with the split-merge service, the target must hold no rows in the part
// of the range still mapped to the source: Apply checks that before its first
// batch and refuses with the counts. A move never deletes a row on the target.
//
// All state lives in the shard map and the data itself, so Apply can resume
// after a crash at any point:
//   - a mapping already on the target: bring it online, finish deleting the
//     source rows, go on. A move that undoes another (a rollback, `undo`)
//     deletes there only source rows the target holds an equal copy of, as
//     keys it finds on its target may never have moved;
//   - an offline mapping on the source: the batch was in flight, and the
//     target may hold its copy, whole or in part. Rows on the target equal to
//     a source row are that copy and are kept; the copy is completed and
//     verified. Any other row there is someone else's: the batch's own copy
//     is taken back (only rows equal to a source row), the mapping goes back
//     online on the source, and the move refuses with the counts.
type moveRange struct{}

type moveArgs struct {
	mapName   string
	kt        fleet.KeyType
	low, high []byte
	from, to  fleet.Location
	batch     int
	schema    fleet.SchemaInfo
	// undo marks a move that undoes an earlier move of the same range (a
	// rollback): keys it finds already on its target may never have moved,
	// so rows its source holds there are deleted only where they are copies.
	undo bool
}

func parseMove(in steps.Inputs) (moveArgs, error) {
	spec, a := steps.Parse[stepspec.MoveRange](in)
	m := moveArgs{mapName: spec.ShardMap, kt: keyType(a, spec.KeyType), from: steps.LocationOf(spec.From), to: steps.LocationOf(spec.To),
		batch: spec.BatchSize, schema: schemaOf(spec.Tables), undo: spec.Undo}
	m.low, m.high = keyRange(a, spec.Low, spec.High)
	if m.low == nil && a.Err() == nil {
		a.Fail("input low: a range needs a lower bound (0x for the minimum)")
	}
	if m.batch < 1 {
		a.Fail("input batchSize: must be at least 1")
	}
	if len(m.schema.Sharded) == 0 {
		a.Fail("input sharded: at least one sharded table is needed to move data")
	}
	return m, a.Err()
}

func (m moveArgs) rangeText() string {
	return "[" + shardkey.FormatBound(m.kt, m.low) + ", " + shardkey.FormatBound(m.kt, m.high) + ")"
}

func (moveRange) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, err := capsOf(env)
	if err != nil {
		return false, err
	}
	m, err := parseMove(in)
	if err != nil {
		return false, err
	}
	ms, err := within(ctx, c, m.mapName, m.low, m.high)
	if err != nil {
		return false, err
	}
	if len(ms) == 0 || !covers(ms, m.low, m.high) || !allOn(ms, m.to) || lockedBy(ms, lockOwner(env)) {
		return false, nil // still locked by this run: Apply finishes and releases
	}
	r, err := shardkey.Range(m.kt, m.low, m.high)
	if err != nil {
		return false, err
	}
	for _, t := range m.schema.Sharded {
		n, err := c.data.CountRange(ctx, m.from, fleet.ShortTable(t.Table), t.KeyColumn, r)
		if err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil // source rows still to delete
		}
	}
	return true, nil
}

// orderTables returns the sharded tables parents-first, using the foreign keys
// of the source database.
func orderTables(ctx context.Context, c caps, loc fleet.Location, sharded []fleet.ShardedTable) ([]fleet.ShardedTable, error) {
	infos, err := c.data.Tables(ctx, loc)
	if err != nil {
		return nil, err
	}
	want := map[string]fleet.ShardedTable{}
	for _, t := range sharded {
		want[strings.ToLower(fleet.ShortTable(t.Table))] = fleet.ShardedTable{Table: fleet.ShortTable(t.Table), KeyColumn: t.KeyColumn}
	}
	var subset []fleet.TableInfo
	for _, ti := range infos {
		if _, ok := want[strings.ToLower(ti.Name)]; ok {
			subset = append(subset, ti)
		}
	}
	if len(subset) != len(want) {
		var missing []string
		for name := range want {
			found := false
			for _, ti := range subset {
				found = found || strings.EqualFold(ti.Name, name)
			}
			if !found {
				missing = append(missing, name)
			}
		}
		return nil, &fleet.Error{Op: "move", Target: loc.String(), Err: fmt.Errorf("sharded table(s) %s not found", strings.Join(missing, ", "))}
	}
	sorted, err := fleet.SortTables(subset)
	if err != nil {
		return nil, err
	}
	out := make([]fleet.ShardedTable, 0, len(sorted))
	for _, ti := range sorted {
		out = append(out, want[strings.ToLower(ti.Name)])
	}
	return out, nil
}

func reversed(ts []fleet.ShardedTable) []fleet.ShardedTable {
	out := make([]fleet.ShardedTable, len(ts))
	for i, t := range ts {
		out[len(ts)-1-i] = t
	}
	return out
}

func (moveRange) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.MoveRangeName); err != nil {
		return nil, err
	}
	c, err := capsOf(env)
	if err != nil {
		return nil, err
	}
	m, err := parseMove(in)
	if err != nil {
		return nil, err
	}
	mv := &mover{c: c, env: env, m: m}
	return mv.run(ctx)
}

type mover struct {
	c        caps
	env      *steps.Env
	m        moveArgs
	parents  []fleet.ShardedTable // parents-first
	children []fleet.ShardedTable // children-first
	mapType  fleet.MapType
	total    int64
	done     int64
	batches  int64
	// Source deletes trail one batch behind, on a second goroutine, as in
	// the split-merge service: a batch's source rows are deleted only once
	// it is online on the target, and a crash leaves nothing a resume
	// cannot finish. The delete of batch N starts once batch N+1 is
	// offline and must end before N+1 is repointed, so it overlaps the copy
	// of N+1 and never a shard map change of the source database, whose
	// write lock it holds.
	// next is the source mapping the last cut left above its batch: the
	// next batch starts there without reading the map again.
	next     *fleet.Mapping
	delCtx   context.Context // deletes finish even when the run stops
	pending  [][]byte        // the last repointed batch [low, high), its source rows not yet deleted
	deleting chan error      // the running delete's result; nil when none runs
}

// startDelete starts deleting the pending batch's source rows.
func (mv *mover) startDelete() {
	if mv.pending == nil || mv.deleting != nil {
		return
	}
	r := mv.pending
	mv.pending = nil
	done := make(chan error, 1)
	mv.deleting = done
	go func() { done <- mv.deleteSource(mv.delCtx, r[0], r[1]) }()
}

// waitDelete waits for the running delete and returns its error.
func (mv *mover) waitDelete() error {
	if mv.deleting == nil {
		return nil
	}
	err := <-mv.deleting
	mv.deleting = nil
	return err
}

// finishDeletes deletes the pending batch's source rows and returns the
// first error of the deletes still running or pending.
func (mv *mover) finishDeletes() error {
	err := mv.waitDelete()
	if err != nil {
		mv.pending = nil // the resume deletes them
		return err
	}
	mv.startDelete()
	return mv.waitDelete()
}

func (mv *mover) run(ctx context.Context) (steps.Outputs, error) {
	m := mv.m
	var err error
	if mv.parents, err = orderTables(ctx, mv.c, m.from, m.schema.Sharded); err != nil {
		return nil, err
	}
	mv.children = reversed(mv.parents)
	sm, err := mv.c.store.ShardMap(ctx, m.mapName)
	if err != nil {
		return nil, err
	}
	mv.mapType = sm.Type
	// The library's mapping locks on the range, for the whole move; on an
	// error they stay with the run until its resume or rollback. A resumed
	// move presents them from the start (the interrupted batch is ours); a
	// new one takes them once its target range is known to be empty.
	owner := lockOwner(mv.env)
	unlocked := ctx
	ms, err := within(ctx, mv.c, m.mapName, m.low, m.high)
	if err != nil {
		return nil, err
	}
	if lockedBy(ms, owner) {
		ctx = fleet.WithLockOwner(ctx, owner)
	}
	if err := mv.checkTarget(ctx); err != nil {
		return nil, err
	}
	if ctx, err = lockRange(unlocked, mv.c, m.mapName, m.low, m.high, owner); err != nil {
		return nil, err
	}
	// Reference tables first, in foreign-key order, only into empty tables.
	if err := mv.copyReference(ctx); err != nil {
		return nil, err
	}
	if mv.total, err = mv.count(ctx, m.from, m.low, m.high); err != nil {
		return nil, err
	}
	start := time.Now()
	mv.env.Progress(0, mv.total, "rows")
	mv.delCtx = context.WithoutCancel(ctx) // queued deletes finish even when stopping
	cur := m.low
	for m.high == nil || shardkey.Compare(cur, m.high) < 0 {
		if err := ctx.Err(); err != nil {
			mv.finishDeletes()
			return nil, err
		}
		// A batch, once started, runs to its end even if the run is being
		// stopped: the move then halts between batches, with no mapping left
		// offline.
		next, err := mv.step(context.WithoutCancel(ctx), cur)
		if err != nil {
			mv.finishDeletes()
			return nil, err
		}
		if next == nil {
			break // reached +inf
		}
		cur = next
	}
	if err := mv.finishDeletes(); err != nil {
		return nil, err
	}
	if err := unlockRange(context.WithoutCancel(unlocked), mv.c, m.mapName, m.low, m.high, owner); err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	out := steps.Outputs{"rows": mv.done, "batches": mv.batches, "seconds": secs}
	if secs > 0 && mv.done > 0 {
		out["rowsPerSecond"] = float64(mv.done) / secs
	}
	return out, nil
}

func (mv *mover) copyReference(ctx context.Context) error {
	if len(mv.m.schema.Reference) == 0 {
		return nil
	}
	infos, err := mv.c.data.Tables(ctx, mv.m.from)
	if err != nil {
		return err
	}
	var refs []fleet.TableInfo
	for _, ti := range infos {
		for _, r := range mv.m.schema.Reference {
			if strings.EqualFold(ti.Name, fleet.ShortTable(r)) {
				refs = append(refs, ti)
			}
		}
	}
	sorted, err := fleet.SortTables(refs)
	if err != nil {
		return err
	}
	for _, ti := range sorted {
		n, err := mv.c.data.CopyTableIfEmpty(ctx, mv.m.from, mv.m.to, ti.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			mv.env.Logf("copied reference table %s (%d rows) to %s", ti.Name, n, mv.m.to)
		}
	}
	return nil
}

func (mv *mover) count(ctx context.Context, loc fleet.Location, low, high []byte) (int64, error) {
	r, err := shardkey.Range(mv.m.kt, low, high)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range mv.parents {
		n, err := mv.c.data.CountRange(ctx, loc, t.Table, t.KeyColumn, r)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// minBound returns the smaller upper bound (nil = +inf).
func minBound(a, b []byte) []byte {
	if shardkey.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// step advances the move from key cur by one batch (or finishes a mapping that
// already sits on the target) and returns the next key; nil means +inf.
func (mv *mover) step(ctx context.Context, cur []byte) ([]byte, error) {
	m, store := mv.m, mv.c.store
	var mp fleet.Mapping
	var err error
	if carried := mv.next; carried != nil && bytes.Equal(carried.Min, cur) {
		mp = *carried
	} else if mp, err = mappingFor(ctx, mv.c, m.mapName, cur); err != nil {
		return nil, fmt.Errorf("move %s: no mapping for key %s: %w", m.rangeText(), shardkey.FormatBound(m.kt, cur), err)
	}
	mv.next = nil
	end := minBound(mp.Max, m.high)
	switch {
	case mp.Location.Equal(m.to):
		// Repointed earlier: make sure it is online and the source is clean.
		if !mp.Online {
			if _, err := store.SetMappingOnline(ctx, m.mapName, mp.ID, true); err != nil {
				return nil, err
			}
		}
		if !m.undo {
			// This move put it there after verifying the copy: the source's
			// rows in it are that copy's originals.
			if err := mv.deleteSource(ctx, cur, end); err != nil {
				return nil, err
			}
			return end, nil
		}
		if err := mv.deleteCopies(ctx, cur, end); err != nil {
			return nil, err
		}
		return end, nil
	case !mp.Location.Equal(m.from):
		return nil, &fleet.Error{Op: "move " + m.rangeText(), Target: mp.Location.String(),
			Err:  fmt.Errorf("key %s is mapped to %s, neither source %s nor target %s", shardkey.FormatBound(m.kt, cur), mp.Location, m.from, m.to),
			Hint: "someone else changed the shard map; re-plan"}
	}
	if mp.Online {
		// Choose the batch from the real data, so sparse keys move about
		// batchSize shardlets at a time.
		r, err := shardkey.Range(m.kt, cur, end)
		if err != nil {
			return nil, err
		}
		bv, err := mv.c.data.NextBound(ctx, m.from, mv.parents, r, m.batch)
		if err != nil {
			return nil, err
		}
		batchEnd := end
		if bv != nil {
			enc, err := shardkey.Encode(m.kt, bv)
			if err != nil {
				return nil, err
			}
			batchEnd = minBound(enc, end)
		}
		if mp, err = mv.takeOffline(ctx, mp, cur, batchEnd); err != nil {
			return nil, err
		}
	} else if mp.Max == nil && m.high != nil || mp.Max != nil && m.high != nil && shardkey.Compare(mp.Max, m.high) > 0 {
		// An offline mapping reaching past our range: cut it at our bound.
		if err := splitAt(ctx, mv.c, m.mapName, m.high); err != nil {
			return nil, err
		}
		if mp, err = mappingFor(ctx, mv.c, m.mapName, cur); err != nil {
			return nil, err
		}
	}
	// The batch is offline: the previous one's source rows go while it copies.
	mv.startDelete()
	if err := mv.copyBatch(ctx, mp); err != nil {
		return nil, err
	}
	if err := mv.waitDelete(); err != nil {
		return nil, err
	}
	if err := faults.Hit("move.repoint"); err != nil {
		return nil, err
	}
	if err := mv.repointOnline(ctx, mp); err != nil {
		return nil, err
	}
	mv.batches++
	mv.pending = [][]byte{mp.Min, mp.Max}
	return mp.Max, nil
}

// takeOffline takes [low, high) of the online source mapping mp offline, cut
// out of it: in one logged operation where the store offers it, else with a
// split at each bound that needs one and an offline. It returns the offline
// mapping with the batch's key range.
func (mv *mover) takeOffline(ctx context.Context, mp fleet.Mapping, low, high []byte) (fleet.Mapping, error) {
	m, store := mv.m, mv.c.store
	if err := faults.Hit("move.offline"); err != nil {
		return mp, err
	}
	if cutter, ok := store.(fleet.MappingCutter); ok && mv.mapType == fleet.RangeMap {
		off, rest, err := cutter.CutMappingOffline(ctx, m.mapName, mp.ID, low, high)
		for i := range rest {
			if high != nil && bytes.Equal(rest[i].Min, high) {
				mv.next = &rest[i]
			}
		}
		return off, err
	}
	var err error
	for _, at := range [][]byte{low, high} {
		if at != nil && !bytes.Equal(mp.Min, at) && (mp.Max == nil || shardkey.Compare(at, mp.Max) < 0) {
			if err := splitAt(ctx, mv.c, m.mapName, at); err != nil {
				return mp, err
			}
		}
	}
	if mp, err = mappingFor(ctx, mv.c, m.mapName, low); err != nil {
		return mp, err
	}
	off, err := store.SetMappingOnline(ctx, m.mapName, mp.ID, false)
	if err != nil {
		return mp, err
	}
	off.Max = mp.Max // same bounds; a list map's point keeps its key range
	return off, nil
}

// repointOnline points the batch's offline mapping at the target and brings
// it online: in one logged operation where the store offers it, else in two.
func (mv *mover) repointOnline(ctx context.Context, mp fleet.Mapping) error {
	m, store := mv.m, mv.c.store
	if mm, ok := store.(fleet.MappingMover); ok {
		_, err := mm.MoveMappingOnline(ctx, m.mapName, mp.ID, m.to)
		return err
	}
	moved, err := store.UpdateMappingShard(ctx, m.mapName, mp.ID, m.to)
	if err != nil {
		return err
	}
	if err := faults.Hit("move.online"); err != nil {
		return err
	}
	_, err = store.SetMappingOnline(ctx, m.mapName, moved.ID, true)
	return err
}

// copyBatch copies the offline mapping's rows to the target and verifies them.
func (mv *mover) copyBatch(ctx context.Context, mp fleet.Mapping) error {
	m := mv.m
	r, err := shardkey.Range(m.kt, mp.Min, mp.Max)
	if err != nil {
		return err
	}
	if vc, ok := mv.c.data.(fleet.VerifiedCopier); ok {
		// One target transaction checks what the range holds, copies and
		// verifies, and commits only a verified copy.
		rep, err := vc.CopyRangeVerified(ctx, m.from, m.to, mv.parents, r)
		if err != nil {
			return err
		}
		if len(rep.Foreign) > 0 {
			return mv.refuseBatch(ctx, mp, r, rep.Foreign)
		}
		if err := faults.Hit("move.verify"); err != nil {
			return err
		}
		for _, t := range mv.parents {
			mv.done += rep.Rows[t.Table]
		}
		mv.env.Progress(mv.done, mv.total, "rows")
		return nil
	}
	// The source range is offline and nobody writes to it: sum it while the
	// copy runs, on another connection.
	srcSums := make(chan []tableSum, 1)
	go func() { srcSums <- mv.checksums(ctx, m.from, r) }()
	wait := func() []tableSum { return <-srcSums }
	// The target range held nothing when the move began: what is there now
	// can only be this batch's own copy from an interrupted attempt, which
	// the copy completes. Anything else is not ours to touch.
	if foreign, err := mv.foreign(ctx, m.from, m.to, r); err != nil || len(foreign) > 0 {
		wait()
		if err != nil {
			return err
		}
		return mv.refuseBatch(ctx, mp, r, foreign)
	}
	copied, err := mv.c.data.CopyRange(ctx, m.from, m.to, mv.parents, r)
	if err != nil {
		wait()
		return err
	}
	if err := faults.Hit("move.verify"); err != nil {
		wait()
		return err
	}
	dst := mv.checksums(ctx, m.to, r)
	src := wait()
	var rows int64
	for i, t := range mv.parents {
		s, d := src[i], dst[i]
		if s.err != nil {
			return s.err
		}
		if d.err != nil {
			return d.err
		}
		if s.n != d.n || s.sum != d.sum {
			return fleet.CopyMismatch(r, m.to, t.Table, fmt.Sprintf("source has %d rows (checksum %s), target %d (checksum %s)", s.n, s.sum, d.n, d.sum), copied[t.Table])
		}
		rows += s.n
	}
	mv.done += rows
	mv.env.Progress(mv.done, mv.total, "rows")
	return nil
}

// tableSum is one table's row count and checksum in a range.
type tableSum struct {
	n   int64
	sum string
	err error
}

// checksums sums every sharded table (parents first) of a range on one database.
func (mv *mover) checksums(ctx context.Context, loc fleet.Location, r fleet.KeyRange) []tableSum {
	out := make([]tableSum, len(mv.parents))
	for i, t := range mv.parents {
		n, sum, err := mv.c.data.Checksum(ctx, loc, t.Table, t.KeyColumn, r)
		out[i] = tableSum{n, sum, err}
		if err != nil {
			break
		}
	}
	return out
}

// foreign counts, per sharded table, the rows of dst in r that are not a
// copy of a row of src in r (nil when there are none).
func (mv *mover) foreign(ctx context.Context, src, dst fleet.Location, r fleet.KeyRange) (map[string]int64, error) {
	var out map[string]int64
	for _, t := range mv.parents {
		// The usual case, nothing there, needs no row-by-row comparison.
		if n, err := mv.c.data.CountRange(ctx, dst, t.Table, t.KeyColumn, r); err != nil || n == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		c, err := mv.c.data.CompareRange(ctx, src, dst, t.Table, t.KeyColumn, r)
		if err != nil {
			return nil, err
		}
		if c.Others > 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[t.Table] = c.Others
		}
	}
	return out, nil
}

// targetRows counts, per sharded table, the rows of the target in r (nil
// when there are none).
func (mv *mover) targetRows(ctx context.Context, r fleet.KeyRange) (map[string]int64, error) {
	var out map[string]int64
	for _, t := range mv.parents {
		n, err := mv.c.data.CountRange(ctx, mv.m.to, t.Table, t.KeyColumn, r)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[t.Table] = n
		}
	}
	return out, nil
}

// checkTarget refuses, before the first batch, a move whose target holds
// rows in the part of the range still mapped to the source: any row where
// the source's mapping is online, any row but a copy of a source row where
// it is offline (a batch a crash interrupted; that batch's own copy is
// taken back first).
func (mv *mover) checkTarget(ctx context.Context) error {
	m := mv.m
	sm, err := mv.c.store.ShardMap(ctx, m.mapName)
	if err != nil {
		return err
	}
	all, err := mv.c.store.Mappings(ctx, m.mapName)
	if err != nil {
		return err
	}
	for _, mp := range all {
		mp = keyRangeOf(sm, mp)
		if !mp.Location.Equal(m.from) {
			continue
		}
		lo, hi := mp.Min, minBound(mp.Max, m.high)
		if shardkey.Compare(mp.Min, m.low) < 0 {
			lo = m.low
		}
		if hi != nil && shardkey.Compare(lo, hi) >= 0 || m.high != nil && shardkey.Compare(lo, m.high) >= 0 || mp.Max != nil && shardkey.Compare(mp.Max, m.low) <= 0 {
			continue // outside the move's range
		}
		r, err := shardkey.Range(m.kt, lo, hi)
		if err != nil {
			return err
		}
		// Where the source's mapping is online nothing was copied yet: the
		// target must hold no row at all, except when this move undoes one
		// whose deletes did not finish, whose leftovers are copies of the
		// source's rows. Where it is offline, rows equal to a source row are
		// the interrupted batch's copy. Copies are kept and the copy
		// completes around them; any other row is refused.
		var found map[string]int64
		if mp.Online && !m.undo {
			found, err = mv.targetRows(ctx, r)
		} else {
			found, err = mv.foreign(ctx, m.from, m.to, r)
		}
		if err != nil {
			return err
		}
		switch {
		case len(found) > 0 && mp.Online:
			return mv.notEmpty(r, found, "nothing was changed")
		case len(found) > 0:
			return mv.refuseBatch(ctx, mp, r, found)
		}
	}
	return nil
}

// notEmpty is the refusal of a move whose target range holds rows it did not copy.
func (mv *mover) notEmpty(r fleet.KeyRange, found map[string]int64, what string) error {
	var total int64
	var parts []string
	for _, t := range mv.parents {
		if n := found[t.Table]; n > 0 {
			total += n
			parts = append(parts, fmt.Sprintf("%d %s", n, t.Table))
		}
	}
	return &fleet.Error{Op: "move " + mv.m.rangeText(), Target: mv.m.to.String(),
		Err: fmt.Errorf("%w: it holds %d rows in %s that this move did not copy (%s)",
			fleet.ErrTargetNotEmpty, total, r, strings.Join(parts, ", ")),
		Hint: "a move's target range must be empty, as with the split-merge service; those rows were left untouched and " + what +
			". Remove them from the target (or move them to the source first), or move the range to another shard, then plan again"}
}

// refuseBatch takes back this batch's own copy (only rows equal to a source
// row), puts the offline mapping back online on the source, and refuses.
func (mv *mover) refuseBatch(ctx context.Context, mp fleet.Mapping, r fleet.KeyRange, found map[string]int64) error {
	if _, err := mv.c.data.DeleteCopies(ctx, mv.m.from, mv.m.to, mv.children, r); err != nil {
		return err
	}
	if _, err := mv.c.store.SetMappingOnline(ctx, mv.m.mapName, mp.ID, true); err != nil {
		return err
	}
	return mv.notEmpty(r, found, "the batch is back online on the source")
}

func (mv *mover) deleteSource(ctx context.Context, low, high []byte) error {
	r, err := shardkey.Range(mv.m.kt, low, high)
	if err != nil {
		return err
	}
	_, err = mv.c.data.DeleteRange(ctx, mv.m.from, mv.children, r)
	return err
}

// deleteCopies deletes the source rows of a range that already sits on the
// target, keeping every row the target has no equal copy of: a row changed
// on the target since its batch moved, or (when this move undoes an earlier
// one) a row the earlier move never copied.
func (mv *mover) deleteCopies(ctx context.Context, low, high []byte) error {
	r, err := shardkey.Range(mv.m.kt, low, high)
	if err != nil {
		return err
	}
	if _, err := mv.c.data.DeleteCopies(ctx, mv.m.to, mv.m.from, mv.children, r); err != nil {
		return err
	}
	if kept, err := mv.foreign(ctx, mv.m.to, mv.m.from, r); err == nil && len(kept) > 0 {
		mv.env.Logf("kept rows on %s in %s that %s holds no equal copy of: %v", mv.m.from, r, mv.m.to, kept)
	}
	return nil
}

// Rollback moves the range back: the planner gives the reverse move as this
// step's rollback, so there is nothing else to undo here.
func (moveRange) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}

func (moveRange) Estimate(in steps.Inputs) steps.Estimate {
	return steps.Estimate{Basis: "rows counted at plan time"}
}
