package runner

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one thing that happened during a run: a journaled transition
// (Type is the RecordType), a progress report ("progress") or a log line
// ("log") from an action.
type Event struct {
	Time time.Time `json:"time"`
	Run  string    `json:"run"`
	Step string    `json:"step,omitempty"`
	Type string    `json:"type"`
	// Done out of Total Unit: for "progress" the action's own units ("rows",
	// "batches"); for transitions the run's completed steps ("steps").
	Done    int64         `json:"done"`
	Total   int64         `json:"total"`
	Unit    string        `json:"unit,omitempty"`
	Message string        `json:"message,omitempty"`
	Attempt int           `json:"attempt,omitempty"`
	Wait    time.Duration `json:"wait,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// Event types that are not journal records.
const (
	EventProgress = "progress"
	EventLog      = "log"
)

// EventSink receives events. The runner serialises calls, so an
// implementation need not be safe for concurrent use; it must not block for
// long, since steps wait while it runs.
type EventSink interface {
	Event(Event)
}

// EventFunc adapts a function to an EventSink.
type EventFunc func(Event)

// Event calls f(e).
func (f EventFunc) Event(e Event) { f(e) }

// events serialises delivery to the caller's sink.
type events struct {
	mu   sync.Mutex
	sink EventSink
	run  string
}

func (e *events) emit(ev Event) {
	if e == nil || e.sink == nil {
		return
	}
	ev.Run = e.run
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sink.Event(ev)
}

// reporter turns an action's Progress and Logf calls into events, and
// counts progress reports for the retry budget.
type reporter struct {
	ev         *events
	progressed *atomic.Int64 // nil: not counted
}

func (r reporter) Progress(stepID string, done, total int64, unit string) {
	if r.progressed != nil {
		r.progressed.Add(1)
	}
	if r.ev == nil || r.ev.sink == nil {
		return
	}
	r.ev.emit(Event{Type: EventProgress, Step: stepID, Done: done, Total: total, Unit: unit})
}

func (r reporter) Logf(stepID string, format string, args ...any) {
	if r.ev == nil || r.ev.sink == nil {
		return
	}
	r.ev.emit(Event{Type: EventLog, Step: stepID, Message: fmt.Sprintf(format, args...)})
}

// recordEvent describes a journaled record as an event.
func recordEvent(r Record, done, total int) Event {
	ev := Event{
		Time: r.Time, Step: r.Step, Type: string(r.Type),
		Done: int64(done), Total: int64(total), Unit: "steps",
		Attempt: r.Attempt, Wait: r.Wait, Error: r.Error,
	}
	switch r.Type {
	case StepSkipped:
		ev.Message = "already live"
	case StepRetrying:
		ev.Message = fmt.Sprintf("attempt %d failed, retrying in %s", r.Attempt, r.Wait.Round(time.Millisecond))
		if r.Failover {
			ev.Message = fmt.Sprintf("attempt %d failed, waiting out a failover, %s so far, retrying in %s", r.Attempt, waitedText(r.Waited), r.Wait.Round(time.Millisecond))
		}
	case StepApproved:
		ev.Message = "approved by " + r.Who
	case StepRejected:
		ev.Message = "rejected by " + r.Who
		if r.Reason != "" {
			ev.Message += ": " + r.Reason
		}
	case RollbackSkipped:
		ev.Message = r.Reason
	default:
		ev.Message = r.Reason
	}
	return ev
}

// waitedText says how long an outage has been waited out: "12 s", "450 ms".
func waitedText(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
}
