package gitops

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// waitBatch waits for the next batch; the bound only keeps a broken watch
// from hanging the test, nothing is measured.
func waitBatch(t *testing.T, out <-chan Batch) Batch {
	t.Helper()
	select {
	case b := <-out:
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("no batch came")
		return Batch{}
	}
}

func startTree(t *testing.T, roots ...string) (*TreeWatch, <-chan Batch) {
	t.Helper()
	tw, err := NewTreeWatch(roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	done := make(chan struct{})
	go func() { tw.Run(ctx, 20*time.Millisecond, time.Second, out); close(done) }()
	t.Cleanup(func() { cancel(); <-done; tw.Close() })
	return tw, out
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func real(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTreeWatchAtomicSaveAndNewFolders(t *testing.T) {
	dir := real(t, t.TempDir())
	write(t, filepath.Join(dir, "a.yaml"), "v1")
	_, out := startTree(t, dir)

	// An editor's atomic save: a hidden temporary file renamed over the plan.
	tmp := filepath.Join(dir, ".a.yaml.tmp1234")
	write(t, tmp, "v2")
	if err := os.Rename(tmp, filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	if b := waitBatch(t, out); !slices.Contains(b.Paths, filepath.Join(dir, "a.yaml")) || b.Rescan {
		t.Errorf("atomic save: batch %+v", b)
	}

	// A new folder, and a file written into it at once (before or after its
	// watch is in place), then a file in a folder below it.
	write(t, filepath.Join(dir, "new", "b.yaml"), "v1")
	b := waitBatch(t, out)
	if !slices.Contains(b.Paths, filepath.Join(dir, "new")) {
		t.Errorf("new folder: batch %+v", b)
	}
	write(t, filepath.Join(dir, "new", "c.yaml"), "v1")
	if b := waitBatch(t, out); !slices.Contains(b.Paths, filepath.Join(dir, "new", "c.yaml")) {
		t.Errorf("file in the new folder: batch %+v", b)
	}

	// What is not a plan's concern gives no batch: a local fleet's
	// database file, a hidden folder. The next batch is the plan's own.
	write(t, filepath.Join(dir, "fleet.db"), "x")
	write(t, filepath.Join(dir, ".git", "index"), "x")
	write(t, filepath.Join(dir, "a.yaml"), "v3")
	if b := waitBatch(t, out); !slices.Equal(b.Paths, []string{filepath.Join(dir, "a.yaml")}) {
		t.Errorf("only a.yaml should be in the batch: %+v", b)
	}

	// A folder renamed within the tree is a rescan, and is watched under
	// its new name.
	if err := os.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	for b := waitBatch(t, out); !b.Rescan; b = waitBatch(t, out) {
	}
	write(t, filepath.Join(dir, "moved", "d.yaml"), "v1")
	if b := waitBatch(t, out); !slices.Contains(b.Paths, filepath.Join(dir, "moved", "d.yaml")) {
		t.Errorf("file in the renamed folder: batch %+v", b)
	}
}

func TestTreeWatchSymlinkSwap(t *testing.T) {
	// git-sync publishes a checkout by swapping a symlink atomically.
	base := real(t, t.TempDir())
	write(t, filepath.Join(base, "rev1", "a.yaml"), "v1")
	write(t, filepath.Join(base, "rev2", "a.yaml"), "v2")
	link := filepath.Join(base, "current")
	if err := os.Symlink("rev1", link); err != nil {
		t.Fatal(err)
	}
	tw, out := startTree(t, link)
	if w := tw.Watched(); !slices.Contains(w, filepath.Join(base, "rev1")) {
		t.Fatalf("watched %v", w)
	}
	tmp := filepath.Join(base, ".tmp-link")
	if err := os.Symlink("rev2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	if b := waitBatch(t, out); !b.Rescan {
		t.Errorf("symlink swap: batch %+v, want a rescan", b)
	}
	w := tw.Watched()
	if !slices.Contains(w, filepath.Join(base, "rev2")) || slices.Contains(w, filepath.Join(base, "rev1")) {
		t.Errorf("after the swap, watched %v", w)
	}
	write(t, filepath.Join(base, "rev2", "b.yaml"), "v1")
	if b := waitBatch(t, out); !slices.Contains(b.Paths, filepath.Join(base, "rev2", "b.yaml")) {
		t.Errorf("file in the new tree: batch %+v", b)
	}
}

func TestTreeWatchOverflowIsARescan(t *testing.T) {
	dir := real(t, t.TempDir())
	tw, err := NewTreeWatch([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	events, errs := make(chan fsnotify.Event), make(chan error)
	out := make(chan Batch)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tw.run(ctx, events, errs, time.Millisecond, time.Second, out)
	errs <- fsnotify.ErrEventOverflow
	if b := waitBatch(t, out); !b.Rescan {
		t.Errorf("overflow: batch %+v, want a rescan", b)
	}
	// A receiver busy with a batch gets one for all that happened meanwhile.
	events <- fsnotify.Event{Name: filepath.Join(dir, "a.yaml"), Op: fsnotify.Write}
	time.Sleep(50 * time.Millisecond) // the batch is due and held
	events <- fsnotify.Event{Name: filepath.Join(dir, "b.yaml"), Op: fsnotify.Write}
	time.Sleep(50 * time.Millisecond)
	b := waitBatch(t, out)
	if len(b.Paths) == 1 {
		b2 := waitBatch(t, out)
		b.Paths = append(b.Paths, b2.Paths...)
	}
	if !slices.Equal(b.Paths, []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")}) {
		t.Errorf("paths %v", b.Paths)
	}
}
