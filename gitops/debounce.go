package gitops

import (
	"sort"
	"time"
)

// Debouncer gathers the file events of a burst (an editor's save: write a
// temporary file, rename it over the plan; a git pull touching 50 files)
// into one batch. A batch is due once no event came for Quiet, or MaxWait
// after its first event, whichever is sooner, so a tree that never stops
// changing is still re-planned. It keeps no clock of its own: every call
// is given the time, so tests decide what time it is.
type Debouncer struct {
	Quiet   time.Duration
	MaxWait time.Duration // 0: no cap

	first, last time.Time
	paths       map[string]bool
	rescan      bool
}

// Batch is what a burst of events touched.
type Batch struct {
	// Paths are the files and folders named by the events, sorted.
	Paths []string
	// Rescan is set when events may have been lost (the kernel's queue
	// overflowed, a watched folder was renamed): the whole tree is read
	// again, as it always is; the watches are set up afresh.
	Rescan bool
	// First is when the batch's first event came: the save the plan that
	// follows answers.
	First time.Time
}

// Add records an event on path at now.
func (d *Debouncer) Add(now time.Time, path string) {
	d.touch(now)
	if d.paths == nil {
		d.paths = map[string]bool{}
	}
	d.paths[path] = true
}

// AddRescan records that events may have been lost.
func (d *Debouncer) AddRescan(now time.Time) {
	d.touch(now)
	d.rescan = true
}

func (d *Debouncer) touch(now time.Time) {
	if !d.Pending() {
		d.first = now
	}
	d.last = now
}

// Pending reports whether a batch is being gathered.
func (d *Debouncer) Pending() bool { return !d.first.IsZero() }

// Due is when the pending batch is due (zero when none is pending).
func (d *Debouncer) Due() time.Time {
	if !d.Pending() {
		return time.Time{}
	}
	due := d.last.Add(d.Quiet)
	if d.MaxWait > 0 {
		if limit := d.first.Add(d.MaxWait); limit.Before(due) {
			due = limit
		}
	}
	return due
}

// Take returns the pending batch when it is due at now, and starts a new one.
func (d *Debouncer) Take(now time.Time) (Batch, bool) {
	if !d.Pending() || now.Before(d.Due()) {
		return Batch{}, false
	}
	b := Batch{Rescan: d.rescan, First: d.first}
	for p := range d.paths {
		b.Paths = append(b.Paths, p)
	}
	sort.Strings(b.Paths)
	*d = Debouncer{Quiet: d.Quiet, MaxWait: d.MaxWait}
	return b, true
}
