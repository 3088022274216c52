package shardmap

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/google/uuid"
)

// recorder is a local target that logs, in order, the copies and deletes of
// a move and every shard map change, with the key range each one covers.
type recorder struct {
	*local.Target
	mu     sync.Mutex
	events []string
}

func (r *recorder) log(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) rangeOf(ctx context.Context, mapName string, id uuid.UUID) string {
	ms, _ := r.Target.Mappings(ctx, mapName)
	for _, m := range ms {
		if m.ID == id {
			kr, _ := shardkey.Range(fleet.KeyInt64, m.Min, m.Max)
			return kr.String()
		}
	}
	return "?"
}

func (r *recorder) CopyRange(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, kr fleet.KeyRange) (map[string]int64, error) {
	out, err := r.Target.CopyRange(ctx, src, dst, tables, kr)
	if err == nil {
		r.log("copied %s", kr)
	}
	return out, err
}

func (r *recorder) CopyRangeVerified(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, kr fleet.KeyRange) (fleet.CopyReport, error) {
	out, err := r.Target.CopyRangeVerified(ctx, src, dst, tables, kr)
	if err == nil && len(out.Foreign) == 0 {
		r.log("copied %s", kr)
	}
	return out, err
}

func (r *recorder) DeleteRange(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, kr fleet.KeyRange) (int64, error) {
	r.log("delete %s", kr)
	n, err := r.Target.DeleteRange(ctx, loc, tables, kr)
	r.log("deleted %s", kr)
	return n, err
}

// mapWrite logs a shard map change around fn.
func mapWrite[T any](r *recorder, what string, fn func() (T, error)) (T, error) {
	r.log("map %s", what)
	v, err := fn()
	r.log("mapped %s", what)
	return v, err
}

func (r *recorder) MoveMappingOnline(ctx context.Context, mapName string, id uuid.UUID, to fleet.Location) (fleet.Mapping, error) {
	kr := r.rangeOf(ctx, mapName, id)
	mp, err := mapWrite(r, "repoint "+kr, func() (fleet.Mapping, error) { return r.Target.MoveMappingOnline(ctx, mapName, id, to) })
	if err == nil {
		r.log("repointed %s", kr)
	}
	return mp, err
}

func (r *recorder) CutMappingOffline(ctx context.Context, mapName string, id uuid.UUID, min, max []byte) (fleet.Mapping, []fleet.Mapping, error) {
	kr, _ := shardkey.Range(fleet.KeyInt64, min, max)
	var rest []fleet.Mapping
	mp, err := mapWrite(r, "cut", func() (fleet.Mapping, error) {
		mp, rs, err := r.Target.CutMappingOffline(ctx, mapName, id, min, max)
		rest = rs
		return mp, err
	})
	if err == nil {
		r.log("offline %s", kr)
	}
	return mp, rest, err
}

func (r *recorder) SetMappingOnline(ctx context.Context, mapName string, id uuid.UUID, online bool) (fleet.Mapping, error) {
	kr := r.rangeOf(ctx, mapName, id)
	mp, err := mapWrite(r, "status", func() (fleet.Mapping, error) { return r.Target.SetMappingOnline(ctx, mapName, id, online) })
	if err == nil && !online {
		r.log("offline %s", kr)
	}
	return mp, err
}

func (r *recorder) SplitMapping(ctx context.Context, mapName string, id uuid.UUID, at []byte) (fleet.Mapping, fleet.Mapping, error) {
	var upper fleet.Mapping
	lower, err := mapWrite(r, "split", func() (fleet.Mapping, error) {
		l, u, err := r.Target.SplitMapping(ctx, mapName, id, at)
		upper = u
		return l, err
	})
	return lower, upper, err
}

func (r *recorder) MergeMappings(ctx context.Context, mapName string, left, right uuid.UUID) (fleet.Mapping, error) {
	return mapWrite(r, "merge", func() (fleet.Mapping, error) { return r.Target.MergeMappings(ctx, mapName, left, right) })
}

func (r *recorder) MergeAllMappings(ctx context.Context, mapName string, ids []uuid.UUID) (fleet.Mapping, error) {
	return mapWrite(r, "merge", func() (fleet.Mapping, error) { return r.Target.MergeAllMappings(ctx, mapName, ids) })
}

// A move deletes a batch's source rows only after the batch was copied and
// repointed to the target, and pipelines: the delete of batch N runs after
// batch N+1 went offline and ends before batch N+1 is repointed, so it
// overlaps the copy of N+1 but no shard map change of the source.
func TestMoveDeletesABatchOnlyAfterItsCopyAndPipelines(t *testing.T) {
	ctx := context.Background()
	tg, _ := demo(t, 2000)
	rec := &recorder{Target: tg}
	env := &steps.Env{Target: rec, StepID: "test"}
	if _, err := (moveRange{}).Apply(ctx, env, moveInputs(t, "1000", "50000", "customers_0", "customers_1", 200)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, tg, "customers_0", "customers"); n != 1000 {
		t.Fatalf("customers left on customers_0 = %d, want 1000", n)
	}
	seen := map[string]int{} // event -> index of its first occurrence
	var batches []string     // ranges, in the order they went offline
	inMap, deleting := false, false
	for i, e := range rec.events {
		if _, ok := seen[e]; !ok {
			seen[e] = i
		}
		verb, kr, _ := strings.Cut(e, " ")
		switch verb {
		case "offline":
			batches = append(batches, kr)
		case "map":
			if deleting {
				t.Errorf("event %d: a shard map change (%s) while source rows are being deleted", i, kr)
			}
			inMap = true
		case "mapped":
			inMap = false
		case "delete":
			if inMap {
				t.Errorf("event %d: a delete of %s during a shard map change", i, kr)
			}
			for _, need := range []string{"copied " + kr, "repointed " + kr} {
				if _, ok := seen[need]; !ok {
					t.Errorf("event %d: %s before %q", i, e, need)
				}
			}
			deleting = true
		case "deleted":
			deleting = false
		}
	}
	if len(batches) != 5 {
		t.Fatalf("%d batches went offline, want 5: %v", len(batches), rec.events)
	}
	for n := 0; n+1 < len(batches); n++ {
		del, next := seen["delete "+batches[n]], batches[n+1]
		if off := seen["offline "+next]; del < off {
			t.Errorf("batch %s: its delete began before the next batch went offline", batches[n])
		}
		if end, rep := seen["deleted "+batches[n]], seen["map repoint "+next]; end > rep {
			t.Errorf("batch %s: its delete ended after the next batch's repoint began", batches[n])
		}
	}
	if t.Failed() {
		t.Logf("events:\n%s", strings.Join(rec.events, "\n"))
	}
}

// A merge puts a range a move cut into batches back together in one shard
// map operation; one interrupted by a crash leaves every mapping as it was,
// and running the step again finishes it.
func TestMergeIsOneOperationAndSurvivesACrash(t *testing.T) {
	ctx := context.Background()
	tg, _ := demo(t, 100)
	env := &steps.Env{Target: tg, StepID: "test"}
	for _, at := range []string{"60000", "70000", "80000", "90000"} {
		if _, err := (split{}).Apply(ctx, env, steps.Inputs{"shardMap": "CustomerMap", "keyType": "int64", "at": bound(t, at)}); err != nil {
			t.Fatal(err)
		}
	}
	in := steps.Inputs{"shardMap": "CustomerMap", "low": bound(t, "50000"), "high": ""}
	cut := layoutOf(t, tg)
	if len(cut) != 6 {
		t.Fatalf("layout after the splits: %v", cut)
	}
	tg.SimulateCrash(local.CrashAfterLSMSource)
	if _, err := (merge{}).Apply(ctx, env, in); err == nil {
		t.Fatal("the simulated crash did not stop the merge")
	}
	if _, err := tg.RecoverPending(ctx); err != nil {
		t.Fatal(err)
	}
	if got := layoutOf(t, tg); strings.Join(got, " ") != strings.Join(cut, " ") {
		t.Fatalf("after the crash: %v, want %v", got, cut)
	}
	rec := &recorder{Target: tg}
	if _, err := (merge{}).Apply(ctx, &steps.Env{Target: rec, StepID: "test"}, in); err != nil {
		t.Fatal(err)
	}
	want := []string{"0..50000@customers_0:online", "50000..+inf@customers_1:online"}
	if got := layoutOf(t, tg); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after the merge: %v, want %v", got, want)
	}
	if n := strings.Count(strings.Join(rec.events, "\n"), "map merge"); n != 1 {
		t.Fatalf("%d merge operations, want 1: %v", n, rec.events)
	}
}
