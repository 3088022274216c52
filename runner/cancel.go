package runner

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/fleetplan/fleetplan/steps"
)

// A cancel request is the file Dir/runs/<id>/cancel, written atomically by
// Cancel from any process; the run's journal records how the run ended
// (run-cancelled). A live runner does not poll for the file: it watches the
// run folder through the kernel's file-change notification (inotify, kqueue,
// ReadDirectoryChangesW), so the request wakes it at once, and a runner that
// starts later (resume) finds the file when it opens the run.

// errCancelRequested is the cause given to running steps when `cancel` asks
// the run to stop.
var errCancelRequested = steps.ErrCancelRequested

// cancelFallbackPoll is how often a run looks for a cancel request when the
// kernel refuses it a file watch (out of inotify watches, say); with a watch
// it never polls.
var cancelFallbackPoll = 250 * time.Millisecond

// cancelWatch tells a walk when a cancel request appears in a run folder.
type cancelWatch struct {
	dir       string
	requested chan struct{} // closed once the request is seen
	stop      chan struct{}
	once      sync.Once
	done      sync.WaitGroup
	w         *fsnotify.Watcher
}

// watchCancel starts watching runDir. A request that is already there is
// reported at once. poll is the fallback interval used only when no watch
// can be set up (0: none).
func watchCancel(runDir string, poll time.Duration) *cancelWatch {
	c := &cancelWatch{dir: runDir, requested: make(chan struct{}), stop: make(chan struct{})}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(runDir); err != nil {
			_ = w.Close()
		}
	}
	c.done.Add(1)
	if err == nil {
		c.w = w
		go c.watch()
	} else {
		go c.poll(poll)
	}
	// After the watch is in place, so a request written in between is seen.
	if cancelRequested(runDir) {
		c.fire()
	}
	return c
}

// Requested is closed once a cancel request is seen.
func (c *cancelWatch) Requested() <-chan struct{} { return c.requested }

// seen reports whether a cancel request was seen.
func (c *cancelWatch) seen() bool {
	select {
	case <-c.requested:
		return true
	default:
		return false
	}
}

// before reports whether a cancel was requested before now. The watch
// delivers its events a moment after the file appears, so a walk about to
// start steps looks at the file itself: a cancel made while a step ran (by
// that step, say) then stops the walk before the next step starts.
func (c *cancelWatch) before() bool {
	if !c.seen() && cancelRequested(c.dir) {
		c.fire()
	}
	return c.seen()
}

func (c *cancelWatch) fire() { c.once.Do(func() { close(c.requested) }) }

func (c *cancelWatch) watch() {
	defer c.done.Done()
	for {
		select {
		case <-c.stop:
			return
		case ev, ok := <-c.w.Events:
			if !ok {
				return
			}
			if filepath.Base(ev.Name) == cancelFile && cancelRequested(c.dir) {
				c.fire()
			}
		case _, ok := <-c.w.Errors:
			if !ok {
				return
			}
			// An overflowed event queue may have dropped the request.
			if cancelRequested(c.dir) {
				c.fire()
			}
		}
	}
}

func (c *cancelWatch) poll(every time.Duration) {
	defer c.done.Done()
	if every <= 0 {
		<-c.stop
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if cancelRequested(c.dir) {
				c.fire()
			}
		}
	}
}

// close stops watching.
func (c *cancelWatch) close() {
	close(c.stop)
	if c.w != nil {
		_ = c.w.Close()
	}
	c.done.Wait()
}

// cancelRequested reports whether runDir holds a cancel request.
func cancelRequested(runDir string) bool {
	_, err := os.Stat(filepath.Join(runDir, cancelFile))
	return err == nil
}
