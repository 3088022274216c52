package stepgraph

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// passOrder is the step order by its definition: repeated passes over the
// steps in listed order, each placing every step whose known needs are all
// placed; when a pass places nothing (a cycle), the rest follow as listed.
func passOrder(g *Graph) []string {
	known := map[string]bool{}
	for _, s := range g.Steps {
		known[s.ID] = true
	}
	done := map[string]bool{}
	var out []string
	for len(out) < len(g.Steps) {
		progressed := false
		for _, s := range g.Steps {
			if done[s.ID] {
				continue
			}
			ready := true
			for _, n := range s.Needs {
				if known[n] && !done[n] {
					ready = false
					break
				}
			}
			if ready {
				done[s.ID], progressed = true, true
				out = append(out, s.ID)
			}
		}
		if !progressed {
			for _, s := range g.Steps {
				if !done[s.ID] {
					done[s.ID] = true
					out = append(out, s.ID)
				}
			}
		}
	}
	return out
}

func TestTopoOrder(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.Intn(30)
		g := &Graph{}
		for i := 0; i < n; i++ {
			g.Steps = append(g.Steps, &Step{ID: fmt.Sprintf("s%d", i)})
		}
		for _, s := range g.Steps {
			for k := r.Intn(4); k > 0; k-- {
				need := fmt.Sprintf("s%d", r.Intn(n))
				switch r.Intn(10) {
				case 0:
					need = "unknown" // a need of no step holds nothing back
				case 1, 2, 3, 4, 5, 6: // mostly acyclic: needs of later-listed steps too
				default:
					if need >= s.ID { // sometimes only earlier ones
						continue
					}
				}
				if need != s.ID {
					s.Needs = append(s.Needs, need)
				}
			}
		}
		var got []string
		for _, s := range g.Order() {
			got = append(got, s.ID)
		}
		if want := passOrder(g); !slices.Equal(got, want) {
			t.Fatalf("trial %d: topo = %v, want %v", trial, got, want)
		}
	}
}

// A cycle is rendered, not looped on: the steps it holds back follow in
// their listed order.
func TestTopoOrderCycle(t *testing.T) {
	g := &Graph{Steps: []*Step{
		{ID: "a", Needs: []string{"c"}},
		{ID: "b"},
		{ID: "c", Needs: []string{"a"}},
		{ID: "d", Needs: []string{"b"}},
	}}
	var got []string
	for _, s := range g.Order() {
		got = append(got, s.ID)
	}
	if want := "b d a c"; strings.Join(got, " ") != want {
		t.Fatalf("topo = %v, want %s", got, want)
	}
}

func TestFindCycle(t *testing.T) {
	for _, tc := range []struct {
		steps [][]string // id, then its needs
		want  string
	}{
		{[][]string{{"a"}, {"b", "a"}, {"c", "b", "gone"}}, ""},
		{[][]string{{"a", "c"}, {"b", "a"}, {"c", "b"}}, "a c b a"},
		{[][]string{{"x"}, {"a", "x", "b"}, {"b", "c"}, {"c", "a"}}, "a b c a"},
		{[][]string{{"a", "a"}}, "a a"},
	} {
		g := &Graph{}
		for _, st := range tc.steps {
			g.Steps = append(g.Steps, &Step{ID: st[0], Needs: st[1:]})
		}
		if got := strings.Join(g.FindCycle(), " "); got != tc.want {
			t.Errorf("%v: FindCycle = %q, want %q", tc.steps, got, tc.want)
		}
		if err := g.Validate(); tc.want != "" && (err == nil || !strings.Contains(err.Error(), "dependency cycle: ["+tc.want+"]")) {
			t.Errorf("%v: Validate = %v, want the cycle [%s]", tc.steps, err, tc.want)
		}
	}
}
