package gitops

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDebouncer(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Each step happens at a time (ms after t0): an event on a path, a
	// rescan, or a look at whether a batch is due, and what it holds.
	type step struct {
		at     int
		add    string
		rescan bool
		take   bool
		want   *Batch // with take: nil means nothing is due
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(n int) time.Time { return t0.Add(ms(n)) }
	tests := map[string]struct {
		quiet, max int
		steps      []step
	}{
		"an editor's atomic save is one batch": {quiet: 100, max: 1000, steps: []step{
			{at: 0, add: "/r/.a.yaml.swp"}, {at: 1, add: "/r/a.yaml~"}, {at: 2, add: "/r/a.yaml"},
			{at: 101, take: true},
			{at: 102, take: true, want: &Batch{Paths: []string{"/r/.a.yaml.swp", "/r/a.yaml", "/r/a.yaml~"}, First: at(0)}},
			{at: 500, take: true},
		}},
		"a git pull touching 50 files in 40 ms is one batch": {quiet: 100, max: 1000, steps: func() []step {
			var s []step
			for i := 0; i < 50; i++ {
				s = append(s, step{at: i * 40 / 50, add: "/r/p.yaml"})
			}
			return append(s, step{at: 138, take: true}, step{at: 139, take: true, want: &Batch{Paths: []string{"/r/p.yaml"}, First: at(0)}})
		}()},
		"events that never stop are cut at the cap": {quiet: 100, max: 250, steps: []step{
			{at: 0, add: "/r/a"}, {at: 90, add: "/r/b"}, {at: 180, add: "/r/c"}, {at: 249, take: true},
			{at: 250, take: true, want: &Batch{Paths: []string{"/r/a", "/r/b", "/r/c"}, First: at(0)}},
			{at: 260, add: "/r/d"}, {at: 359, take: true},
			{at: 360, take: true, want: &Batch{Paths: []string{"/r/d"}, First: at(260)}},
		}},
		"without a cap a batch waits for quiet": {quiet: 100, steps: []step{
			{at: 0, add: "/r/a"}, {at: 99, add: "/r/a"}, {at: 198, add: "/r/a"}, {at: 297, take: true},
			{at: 298, take: true, want: &Batch{Paths: []string{"/r/a"}, First: at(0)}},
		}},
		"a lost event asks for a rescan": {quiet: 50, max: 1000, steps: []step{
			{at: 0, rescan: true}, {at: 10, add: "/r/a"},
			{at: 60, take: true, want: &Batch{Paths: []string{"/r/a"}, Rescan: true, First: at(0)}},
		}},
		"nothing pending, nothing due": {quiet: 50, steps: []step{{at: 0, take: true}, {at: 10000, take: true}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := &Debouncer{Quiet: ms(tt.quiet), MaxWait: ms(tt.max)}
			for i, s := range tt.steps {
				switch {
				case s.add != "":
					d.Add(at(s.at), s.add)
				case s.rescan:
					d.AddRescan(at(s.at))
				case s.take:
					b, ok := d.Take(at(s.at))
					if ok != (s.want != nil) {
						t.Fatalf("step %d (at %d ms): due = %v, want %v", i, s.at, ok, s.want != nil)
					}
					if ok {
						if diff := cmp.Diff(*s.want, b); diff != "" {
							t.Errorf("step %d (at %d ms): batch (-want +got):\n%s", i, s.at, diff)
						}
						if d.Pending() {
							t.Errorf("step %d: still pending after Take", i)
						}
					}
				}
			}
		})
	}
}
