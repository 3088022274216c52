package planner

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// TestBoundsOfMatchesSortingAll holds the walk over both sorted lists to
// what sorting every bound of both and keeping each once gives, for lists
// in order, out of order and overlapping, with shared, empty and +inf bounds.
func TestBoundsOfMatchesSortingAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type iv struct{ min, max []byte }
	gen := func(n int, ordered bool) []iv {
		var out []iv
		lo := rng.IntN(5)
		for range n {
			hi := lo + 1 + rng.IntN(3)
			r := iv{min: []byte{byte(lo)}, max: []byte{byte(hi)}}
			if lo == 0 {
				r.min = []byte{}
			}
			out = append(out, r)
			lo = hi
			if !ordered {
				lo = rng.IntN(20)
			}
		}
		if n > 0 && rng.IntN(2) == 0 {
			out[len(out)-1].max = nil
		}
		if !ordered {
			rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		}
		return out
	}
	walk := func(ivs []iv) func() ([]byte, bool) {
		return boundsOf(len(ivs), func(i int) []byte { return ivs[i].min }, func(i int) []byte { return ivs[i].max })
	}
	for round := range 500 {
		a, b := gen(rng.IntN(6), round%3 != 0), gen(rng.IntN(6), round%4 != 0)
		var all [][]byte
		for _, r := range append(append([]iv{}, a...), b...) {
			all = append(all, r.min)
			if r.max != nil {
				all = append(all, r.max)
			}
		}
		sort.Slice(all, func(i, j int) bool { return shardkey.Compare(all[i], all[j]) < 0 })
		var want [][]byte
		for i, x := range all {
			if i == 0 || shardkey.Compare(x, want[len(want)-1]) != 0 {
				want = append(want, x)
			}
		}
		got := mergeBounds(walk(a), walk(b), 0)
		if len(got) != len(want) {
			t.Fatalf("round %d: %v and %v: got %v, want %v", round, a, b, got, want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) || (got[i] == nil) != (want[i] == nil) {
				t.Fatalf("round %d: %v and %v: got %v, want %v", round, a, b, got, want)
			}
		}
	}
}

// TestContainingWithAHint: whatever the hint, containing finds what a
// binary search over the mappings finds, duplicate Mins included.
func TestContainingWithAHint(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		var ms []fleet.Mapping
		lo := 0
		for range rng.IntN(6) {
			lo += rng.IntN(3) // 0: a duplicate Min
			m := fleet.Mapping{Min: []byte{byte(lo)}, Max: []byte{byte(lo + 1 + rng.IntN(3))}}
			if rng.IntN(5) == 0 {
				m.Max = nil
			}
			ms = append(ms, m)
		}
		for range 10 {
			x := []byte{byte(rng.IntN(16))}
			want := sort.Search(len(ms), func(i int) bool { return shardkey.Compare(ms[i].Min, x) > 0 }) - 1
			if want >= 0 && cmpMax(x, ms[want].Max) >= 0 {
				want = -1
			}
			hint := rng.IntN(len(ms)+3) - 1
			if got := containing(ms, x, &hint); got != want {
				t.Fatalf("round %d: %v in %v: got %d, want %d", round, x, ms, got, want)
			}
		}
	}
}
