package gitops

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// TreeWatch watches folder trees for changes through the kernel's file
// notifications (fsnotify) and turns bursts of events into batches.
//
// It watches folders, never single files: an editor's atomic save (write a
// temporary file, rename it over the plan) replaces the file, and a watch on
// the file would be lost with it. New folders get a watch as they appear and
// are read at once (files written into them before the watch was in place
// are not missed, as the whole tree is read for every batch anyway). A root
// reached through a symlink (git-sync swaps one atomically to publish a new
// checkout) is watched through the folder holding the link too: when the
// link changes, the watches move to the tree it points at now. A lost
// event (the kernel's queue overflowed) or a renamed folder makes the next
// batch a rescan, which sets every watch up afresh.
type TreeWatch struct {
	roots []string
	// Skip reports folders not to watch (besides hidden ones, which are
	// never watched: .git, .fleetplan).
	skip func(dir string) bool

	w *fsnotify.Watcher

	mu    sync.Mutex      // guards what follows: Sync and the setters run beside Run
	dirs  map[string]bool // folders watched, by real path
	links map[string]bool // symlinks on the way to a root: a change to one is a rescan
	// parents are the folders watched only for the symlinks in them.
	parents map[string]bool
	extra   []string        // folders outside the roots holding files the plans read
	reads   map[string]bool // files besides YAML whose change matters (templates, SQL files), real paths
	// OnError receives what the watcher cannot handle itself (a folder it
	// cannot watch); nil drops it.
	OnError func(error)
}

// NewTreeWatch starts watching roots (folders; a file's folder is watched
// for it). skip may be nil.
func NewTreeWatch(roots []string, skip func(dir string) bool) (*TreeWatch, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	t := &TreeWatch{w: w, skip: skip, dirs: map[string]bool{}}
	for _, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			w.Close()
			return nil, err
		}
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			abs = filepath.Dir(abs)
		}
		t.roots = append(t.roots, abs)
	}
	if err := t.Sync(); err != nil {
		w.Close()
		return nil, err
	}
	return t, nil
}

// Close stops watching.
func (t *TreeWatch) Close() error { return t.w.Close() }

// Watched lists the folders watched now (real paths), sorted.
func (t *TreeWatch) Watched() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.dirs))
	for d := range t.dirs {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// SetExtra sets the folders outside the roots to watch (each alone, not its
// subfolders): where templates or SQL files the plans read live. The next
// Sync applies it.
func (t *TreeWatch) SetExtra(dirs []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.extra = dirs
}

// SetReads sets the files besides YAML files whose events matter: the SQL
// and other files the plans read. Events on other files (a local fleet's
// database files, build output) are not changes to the plans.
func (t *TreeWatch) SetReads(files []string) {
	reads := map[string]bool{}
	for _, f := range files {
		reads[f] = true
		if real, err := filepath.EvalSymlinks(f); err == nil {
			reads[real] = true
		} else if dir, err := filepath.EvalSymlinks(filepath.Dir(f)); err == nil {
			reads[filepath.Join(dir, filepath.Base(f))] = true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reads = reads
}

// Sync makes the watches match the trees as they are now: every folder
// under the roots (symlinks resolved), the extra folders, and the folders
// holding a symlink on the way to a root. Folders that went away lose their
// watch first, so a folder renamed within the tree is watched under its new
// name.
func (t *TreeWatch) Sync() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	want := map[string]bool{}
	links, parents := map[string]bool{}, map[string]bool{}
	for _, root := range t.roots {
		for p := root; ; p = filepath.Dir(p) {
			if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
				links[p] = true
				parents[filepath.Dir(p)] = true
			}
			if filepath.Dir(p) == p {
				break
			}
		}
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue // not there (yet): a link being swapped, a folder to be made
		}
		_ = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if !d.IsDir() {
				return nil
			}
			if p != real && (strings.HasPrefix(d.Name(), ".") || t.skip != nil && t.skip(p)) {
				return filepath.SkipDir
			}
			want[p] = true
			return nil
		})
	}
	for d := range parents {
		if want[d] {
			delete(parents, d) // also a folder of a tree
		} else {
			want[d] = true
		}
	}
	for _, d := range t.extra {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			want[real] = true
		}
	}
	for d := range t.dirs {
		if !want[d] || !sameDir(d) {
			_ = t.w.Remove(d)
			delete(t.dirs, d)
		}
	}
	var errs []error
	for d := range want {
		if t.dirs[d] {
			continue
		}
		if err := t.w.Add(d); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		t.dirs[d] = true
	}
	t.links, t.parents = links, parents
	return errors.Join(errs...)
}

// sameDir reports whether a watched folder is still a folder at its path
// (not replaced by a file, nor gone).
func sameDir(d string) bool {
	st, err := os.Lstat(d)
	return err == nil && st.IsDir()
}

// relevant reports whether an event may change what the plans are made
// from: a YAML file (not an editor's hidden temporary copy of one), a
// .fleetplanignore, or a file a plan reads. The temporary file of an atomic
// save needs no event of its own: renaming it over the plan is one.
func (t *TreeWatch) relevant(name string) bool {
	base := filepath.Base(name)
	switch {
	case t.reads[name]:
		return true
	case base == ".fleetplanignore":
		return true
	case strings.HasPrefix(base, "."):
		return false
	}
	return isPlanExt(strings.ToLower(base))
}

func isPlanExt(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// Run gathers events into batches (see Debouncer) and sends each on out
// once due, until ctx is done. A batch that is due while the receiver is
// busy keeps gathering, so no change is lost and a busy receiver gets one
// batch for everything that happened meanwhile. Folders are re-synced as
// they appear or go.
func (t *TreeWatch) Run(ctx context.Context, quiet, maxWait time.Duration, out chan<- Batch) {
	t.run(ctx, t.w.Events, t.w.Errors, quiet, maxWait, out)
}

func (t *TreeWatch) run(ctx context.Context, events <-chan fsnotify.Event, errs <-chan error, quiet, maxWait time.Duration, out chan<- Batch) {
	d := &Debouncer{Quiet: quiet, MaxWait: maxWait}
	var held *Batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	arm := func() {
		if due := d.Due(); !due.IsZero() {
			timer.Reset(time.Until(due))
		}
	}
	for {
		var send chan<- Batch
		var next Batch
		if held != nil {
			send, next = out, *held
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			now := time.Now()
			switch t.classify(ev) {
			case evRescan:
				d.AddRescan(now)
				_ = t.Sync()
			case evNewDir:
				if err := t.Sync(); err != nil && t.OnError != nil {
					t.OnError(err)
				}
				d.Add(now, ev.Name)
			case evChange:
				d.Add(now, ev.Name)
			default:
				continue
			}
			arm()
		case err, ok := <-errs:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				d.AddRescan(time.Now())
				arm()
			} else if t.OnError != nil {
				t.OnError(err)
			}
		case <-timer.C:
			b, ok := d.Take(time.Now())
			if !ok {
				arm()
				continue
			}
			if b.Rescan {
				if err := t.Sync(); err != nil && t.OnError != nil {
					t.OnError(err)
				}
			}
			held = merge(held, b)
		case send <- next:
			held = nil
		}
	}
}

// What an event means.
const (
	evIgnore = iota
	evChange // a file that matters changed
	evNewDir // a folder appeared: it needs a watch
	evRescan // a symlink on the way to a root changed (git-sync published a tree), or a watched folder went or moved
)

func (t *TreeWatch) classify(ev fsnotify.Event) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	dir := filepath.Dir(ev.Name)
	switch {
	case t.links[ev.Name]:
		return evRescan
	case t.dirs[ev.Name] && ev.Has(fsnotify.Remove|fsnotify.Rename):
		return evRescan
	case t.parents[dir]:
		return evIgnore // the other entries beside a root's symlink
	case ev.Has(fsnotify.Create) && isDir(ev.Name):
		if strings.HasPrefix(filepath.Base(ev.Name), ".") {
			return evIgnore
		}
		return evNewDir
	case t.dirs[dir] && t.relevant(ev.Name):
		return evChange
	}
	return evIgnore
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// merge adds b to a batch not sent yet.
func merge(held *Batch, b Batch) *Batch {
	if held == nil {
		return &b
	}
	seen := map[string]bool{}
	for _, p := range held.Paths {
		seen[p] = true
	}
	for _, p := range b.Paths {
		if !seen[p] {
			held.Paths = append(held.Paths, p)
		}
	}
	sort.Strings(held.Paths)
	held.Rescan = held.Rescan || b.Rescan
	return held
}
