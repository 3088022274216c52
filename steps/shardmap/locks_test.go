package shardmap

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
)

// cancelAfter cancels a context once a move has reported progress.
type cancelAfter struct{ cancel context.CancelFunc }

func (c cancelAfter) Progress(_ string, done, _ int64, _ string) {
	if done > 0 {
		c.cancel()
	}
}
func (cancelAfter) Logf(string, string, ...any) {}

func lockOwners(t *testing.T, tg interface {
	Mappings(context.Context, string) ([]fleet.Mapping, error)
}) map[uuid.UUID]int {
	t.Helper()
	ms, err := tg.Mappings(context.Background(), "CustomerMap")
	if err != nil {
		t.Fatal(err)
	}
	out := map[uuid.UUID]int{}
	for _, m := range ms {
		if m.LockOwner != fleet.NoLock {
			out[m.LockOwner]++
		}
	}
	return out
}

// A move holds the library's mapping locks on its range, with an owner
// derived from the run id: a second mover is refused by the store, the same
// run picks the move up again, and the locks are gone once it is done.
func TestMoveHoldsMappingLocksForTheRun(t *testing.T) {
	tg, _ := demo(t, 2000)
	in := moveInputs(t, "1000", "50000", "customers_0", "customers_1", 300)
	ctx, cancel := context.WithCancel(context.Background())
	first := &steps.Env{Target: tg, RunID: "run-a", StepID: "move", Reporter: cancelAfter{cancel}}
	if _, err := (moveRange{}).Apply(ctx, first, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted move: %v, want context.Canceled", err)
	}
	owner := fleet.RunLockOwner("run-a")
	if got := lockOwners(t, tg); got[owner] == 0 || len(got) != 1 {
		t.Fatalf("lock owners after the interrupted move = %v, want only %s", got, owner)
	}

	bg := context.Background()
	second := &steps.Env{Target: tg, RunID: "run-b", StepID: "move"}
	_, err := (moveRange{}).Apply(bg, second, in)
	var le *fleet.MappingLockedError
	if !errors.As(err, &le) || le.Owner != owner || !errors.Is(err, fleet.ErrMappingLocked) {
		t.Fatalf("second mover: %v, want a MappingLockedError naming %s", err, owner)
	}
	if fleet.HintOf(err) == "" {
		t.Fatalf("second mover's error has no hint: %v", err)
	}
	// A writer that does not present the owner (a .NET client, say) is refused by the store itself.
	ms, err := tg.Mappings(bg, "CustomerMap")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.LockOwner != owner {
			continue
		}
		if _, err := tg.SetMappingOnline(bg, "CustomerMap", m.ID, !m.Online); !errors.As(err, &le) || le.Owner != owner {
			t.Fatalf("unowned write to a locked mapping: %v, want refused naming %s", err, owner)
		}
		if _, _, err := tg.SplitMapping(fleet.WithLockOwner(bg, fleet.RunLockOwner("run-b")), "CustomerMap", m.ID, m.Max); err == nil {
			t.Fatal("split by another owner succeeded")
		}
		break
	}

	// The same run (a resume, in any process) presents the same owner.
	resumed := &steps.Env{Target: tg, RunID: "run-a", StepID: "move"}
	if done, err := (moveRange{}).Observe(bg, resumed, in); err != nil || done {
		t.Fatalf("Observe of the interrupted move = %v, %v; want false", done, err)
	}
	if _, err := (moveRange{}).Apply(bg, resumed, in); err != nil {
		t.Fatalf("resumed move: %v", err)
	}
	if got := lockOwners(t, tg); len(got) != 0 {
		t.Fatalf("lock owners after the move = %v, want none", got)
	}
	if got := [2]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers")}; got != [2]int64{1000, 1000} {
		t.Fatalf("customers on (c0, c1) = %v, want [1000 1000]", got)
	}
}

// A mapping locked by someone else (set by hand, or by the library's
// LockMapping) stops a move before it changes anything.
func TestMoveRefusesAForeignMappingLock(t *testing.T) {
	bg := context.Background()
	tg, _ := demo(t, 500)
	foreign := uuid.MustParse("0b5e8a52-5a3c-4f0e-9b11-3d2f3c9d7e10")
	lo, _ := tg.MappingForKey(bg, "CustomerMap", mustBound(t, "10"))
	if err := tg.LockMapping(bg, "CustomerMap", lo.ID, foreign); err != nil {
		t.Fatal(err)
	}
	before := layoutOf(t, tg)
	env := &steps.Env{Target: tg, RunID: "run-c", StepID: "move"}
	for name, in := range map[string]steps.Inputs{
		"the whole mapping": moveInputs(t, "0", "50000", "customers_0", "customers_1", 100),
		"a part of it":      moveInputs(t, "100", "200", "customers_0", "customers_1", 100),
	} {
		_, err := (moveRange{}).Apply(bg, env, in)
		var le *fleet.MappingLockedError
		if !errors.As(err, &le) || le.Owner != foreign {
			t.Fatalf("%s: %v, want a MappingLockedError naming %s", name, err, foreign)
		}
	}
	if after := layoutOf(t, tg); len(after) != len(before) || after[0] != before[0] {
		t.Fatalf("layout changed: %v -> %v", before, after)
	}
	if got := [2]int64{count(t, tg, "customers_0", "customers"), count(t, tg, "customers_1", "customers")}; got != [2]int64{500, 0} {
		t.Fatalf("customers on (c0, c1) = %v, want [500 0]", got)
	}
}

func mustBound(t *testing.T, k string) []byte {
	b, err := shardkey.ParseBound(bound(t, k))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
