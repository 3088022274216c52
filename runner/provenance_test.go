package runner

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProvenanceJournaled: where a plan came from is written with
// run-started and read back by Status and List; runs without it show none.
func TestProvenanceJournaled(t *testing.T) {
	tests := []struct {
		name string
		prov *Provenance
	}{
		{"from a commit", &Provenance{Commit: "0123456789abcdef0123456789abcdef01234567", File: "shards/split.yaml", ContentHash: "ab12"}},
		{"from a dirty tree", &Provenance{Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true, File: "a.yaml", ContentHash: "cd34"}},
		{"outside git", &Provenance{File: "a.yaml", ContentHash: "ef56"}},
		{"not recorded", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts(t)
			o.Provenance = tt.prov
			res, err := Start(context.Background(), graph(st("a", newFake(t, &fakeAction{}))), o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.prov, mustStatus(t, o.Dir, res.RunID).Provenance); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			runs, err := List(o.Dir)
			if err != nil || len(runs) != 1 {
				t.Fatalf("List: %v %+v", err, runs)
			}
			if diff := cmp.Diff(tt.prov, runs[0].Provenance); diff != "" {
				t.Errorf("list (-want +got):\n%s", diff)
			}
		})
	}
}
