package views

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/runner/view"
)

// WatchEvent is one thing the watcher did or saw: one line of its log.
type WatchEvent struct {
	Time time.Time `json:"time"`
	// Event is what happened: watching, change, plan, apply, up-to-date,
	// hold, locked, run, resume, drift, in-sync, invalid, unmanaged,
	// error, stopping, stopped.
	Event  string `json:"event"`
	Target string `json:"target,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Plan   string `json:"plan,omitempty"`
	File   string `json:"file,omitempty"`
	Run    string `json:"run,omitempty"`
	// Message says the rest, in words.
	Message string `json:"message,omitempty"`
	// LatencyMS is, for a plan or apply answering a change, the time from
	// the first file event of the change to the start of planning.
	LatencyMS float64 `json:"latencyMs,omitempty"`
}

// WatchLog writes the watcher's events, one line each, as text or JSON
// lines; it is safe for concurrent use, and the runs it starts write their
// events through it, so no two lines mix.
type WatchLog struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	enc  *json.Encoder
	err  error
}

// WatchLog returns the watcher's log on the view's output.
func (v *View) WatchLog(output string) *WatchLog {
	l := &WatchLog{w: v.Out, json: output == JSON}
	l.enc = json.NewEncoder(v.Out)
	return l
}

// Event logs one event.
func (l *WatchLog) Event(e WatchEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json {
		l.keep(l.enc.Encode(e))
		return
	}
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format("15:04:05Z"))
	b.WriteString(" " + e.Event)
	if e.Plan != "" {
		fmt.Fprintf(&b, " %s %q", e.Kind, e.Plan)
		if e.File != "" {
			fmt.Fprintf(&b, " (%s)", e.File)
		}
		if e.Target != "" {
			fmt.Fprintf(&b, " on %q", e.Target)
		}
	} else if e.Target != "" {
		fmt.Fprintf(&b, " target %q", e.Target)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(l.w, b.String())
	l.keep(err)
}

func (l *WatchLog) keep(err error) {
	if err != nil && l.err == nil {
		l.err = err
	}
}

// Err is the first write error.
func (l *WatchLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// RunSink returns a sink for the events of one run, written as the log's
// lines are (text lines or JSON lines, no progress bars).
func (l *WatchLog) RunSink() runner.EventSink {
	format := view.FormatText
	if l.json {
		format = view.FormatJSON
	}
	s, _ := view.NewSink(lockedWriter{l}, format, false)
	return s
}

// lockedWriter writes through the log's lock, so a run's lines never mix
// with the watcher's own.
type lockedWriter struct{ l *WatchLog }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.w.Write(p)
}
