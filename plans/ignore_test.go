package plans

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIgnored(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(IgnoreFileName, "# workflows\ngithub/\n\n*.k8s.yaml\n")
	write("shards/"+IgnoreFileName, "scratch/\nold.yaml\n")
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"github", true},
		{"github/preview.yml", true},
		{"github/sub/deep.yml", true},
		{"deploy.k8s.yaml", true},
		{"shards/old.yaml", true},
		{"shards/scratch/a.yaml", true},
		{"shards/split.yaml", false},
		{"old.yaml", false}, // shards' rule is relative to shards/
		{"githubx/a.yaml", false},
		{"plan.yaml", false},
		{".", false},
		{"../outside.yaml", false},
	} {
		if got := Ignored(root, filepath.Join(root, tc.path)); got != tc.want {
			t.Errorf("Ignored(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
