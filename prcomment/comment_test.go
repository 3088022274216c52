package prcomment

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/plans"
)

// Two checkouts of one repository at different paths (two CI machines)
// give the comments of two targets of the same name the same keys, so the
// markers find the comments the other posted.
func TestKeysAreStableAcrossCheckouts(t *testing.T) {
	keys := func(top string) []string {
		t.Helper()
		if out, err := exec.Command("git", "init", "-q", top).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v %s", err, out)
		}
		var groups []*gitops.TargetPlans
		for _, d := range []string{"east", "west/prod"} {
			dir := filepath.Join(top, filepath.FromSlash(d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			groups = append(groups, &gitops.TargetPlans{Target: "local", Config: &plans.Config{Dir: dir, Path: filepath.Join(dir, "fleetplan.yaml")}})
		}
		var out []string
		for _, c := range Comments(groups, nil, Limit) {
			out = append(out, c.Key, c.Parts[0][:len(MarkerPrefix(c.Key))])
		}
		return out
	}
	a := keys(filepath.Join(t.TempDir(), "checkout-1"))
	b := keys(filepath.Join(t.TempDir(), "runner", "work", "checkout-2"))
	want := []string{"local@east", MarkerPrefix("local@east"), "local@west/prod", MarkerPrefix("local@west/prod")}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the keys differ between checkouts (-first +second):\n%s", diff)
	}
}
