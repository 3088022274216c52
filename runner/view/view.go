package view

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/fleetplan/fleetplan/runner"
)

// Output formats accepted by New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Sink renders runner events; it implements runner.EventSink. The runner
// serialises calls to Event; Close must be called once the run returns.
type Sink struct {
	w      io.Writer
	format string
	bars   bool
	enc    *json.Encoder

	// text: last progress line printed per step (event time), for throttling.
	lastProgress map[string]time.Time

	// bars: one bar aggregating the progress of the steps reporting unit.
	bar        *progressbar.ProgressBar
	barUnit    string
	barDesc    string
	active     map[string][2]int64 // step -> done, total
	stepsDone  int64
	stepsTotal int64
	err        error
}

// ProgressEvery is the least time between two plain-text progress lines of
// the same step (first and last lines are always printed).
const ProgressEvery = time.Second

// New returns a sink writing format to w, with progress bars when the format
// is text and w is a terminal, and a finish function that clears the bar (it
// may be called more than once). An unknown format is treated as text;
// commands check their flag with CheckFormat first.
func New(w io.Writer, format string) (*Sink, func()) {
	if CheckFormat(format) != nil {
		format = FormatText
	}
	s, _ := NewSink(w, format, format != FormatJSON && IsTerminal(w))
	return s, func() { _ = s.Close() }
}

// CheckFormat reports whether format is one New accepts.
func CheckFormat(format string) error {
	switch format {
	case FormatText, FormatJSON, "":
		return nil
	}
	return fmt.Errorf("unknown output format %q (want text or json)", format)
}

// NewSink returns a sink writing format ("text" or "json") to w. With bars,
// text progress is drawn as a progress bar (use it only when w is a terminal,
// see IsTerminal); transitions are still printed one per line above the bar.
func NewSink(w io.Writer, format string, bars bool) (*Sink, error) {
	if err := CheckFormat(format); err != nil {
		return nil, err
	}
	s := &Sink{w: w, format: format, lastProgress: map[string]time.Time{}, active: map[string][2]int64{}}
	if format == FormatJSON {
		s.enc = json.NewEncoder(w)
	} else {
		s.format = FormatText
		s.bars = bars
	}
	return s, nil
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Err returns the first write error, if any.
func (s *Sink) Err() error { return s.err }

// Event implements runner.EventSink.
func (s *Sink) Event(e runner.Event) {
	if e.Unit == "steps" && e.Total > 0 {
		s.stepsDone, s.stepsTotal = e.Done, e.Total
	}
	switch {
	case s.enc != nil:
		s.keep(s.enc.Encode(e))
	case s.bars:
		s.barEvent(e)
	default:
		s.textEvent(e)
	}
}

// Close clears a progress bar left on screen.
func (s *Sink) Close() error {
	s.dropBar()
	return s.err
}

func (s *Sink) keep(err error) {
	if err != nil && s.err == nil {
		s.err = err
	}
}

func (s *Sink) println(line string) {
	_, err := fmt.Fprintln(s.w, line)
	s.keep(err)
}

func (s *Sink) textEvent(e runner.Event) {
	if e.Type == runner.EventProgress {
		last, seen := s.lastProgress[e.Step]
		final := e.Total > 0 && e.Done >= e.Total
		if seen && !final && e.Time.Sub(last) < ProgressEvery {
			return
		}
		s.lastProgress[e.Step] = e.Time
	}
	s.println(Line(e))
}

func (s *Sink) barEvent(e runner.Event) {
	switch e.Type {
	case runner.EventProgress:
		if e.Unit != s.barUnit {
			s.dropBar()
			s.barUnit = e.Unit
		}
		s.active[e.Step] = [2]int64{e.Done, e.Total}
		s.drawBar()
		return
	case string(runner.StepDone), string(runner.StepFailed), string(runner.StepSkipped):
		delete(s.active, e.Step)
	}
	if s.bar != nil {
		s.keep(s.bar.Clear())
	}
	s.println(Line(e))
	if len(s.active) == 0 {
		s.dropBar()
	} else if s.bar != nil {
		s.drawBar()
	}
}

func (s *Sink) drawBar() {
	var done, total int64
	ids := make([]string, 0, len(s.active))
	for id, p := range s.active {
		done += p[0]
		total += p[1]
		ids = append(ids, id)
	}
	sort.Strings(ids)
	desc := strings.Join(ids, ", ")
	if len(desc) > 40 {
		desc = desc[:37] + "..."
	}
	if s.stepsTotal > 0 {
		desc = fmt.Sprintf("[%d/%d steps] %s", s.stepsDone, s.stepsTotal, desc)
	}
	if total <= 0 {
		total = -1 // unknown length: a spinner
	}
	if s.bar == nil {
		s.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(s.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(s.barUnit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
		)
	} else {
		if s.bar.GetMax64() != total {
			s.bar.ChangeMax64(total)
		}
		if desc != s.barDesc {
			s.bar.Describe(desc)
		}
	}
	s.barDesc = desc
	s.keep(s.bar.Set64(done))
	if total > 0 && done >= total {
		s.bar = nil // finished bars stop rendering; the next progress starts a new one
	}
}

func (s *Sink) dropBar() {
	if s.bar != nil {
		s.keep(s.bar.Clear())
		s.bar = nil
	}
	clear(s.active)
}

// Line renders one event as a line of plain text, e.g.
//
//	10:15:01Z step move-1 done [3/12]
//	10:15:02Z step move-2 retrying: attempt 1 failed, retrying in 250ms: copy batch (error 40613)
//	10:15:02Z step move-2: 12000/50000 rows (24%)
func Line(e runner.Event) string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format("15:04:05Z"))
	b.WriteByte(' ')
	switch e.Type {
	case runner.EventProgress:
		if e.Unit == "%" && e.Total > 0 {
			// A step that reports a percentage: "15%", not "15/100 % (15%)".
			fmt.Fprintf(&b, "step %s: %d%%", e.Step, e.Done*100/e.Total)
			return b.String()
		}
		fmt.Fprintf(&b, "step %s: %d", e.Step, e.Done)
		if e.Total > 0 {
			fmt.Fprintf(&b, "/%d %s (%d%%)", e.Total, e.Unit, e.Done*100/e.Total)
		} else {
			fmt.Fprintf(&b, " %s", e.Unit)
		}
		return b.String()
	case runner.EventLog:
		fmt.Fprintf(&b, "step %s: %s", e.Step, e.Message)
		return b.String()
	}
	subject, verb := e.Type, ""
	for _, prefix := range []string{"run-", "step-", "rollback-"} {
		if rest, ok := strings.CutPrefix(e.Type, prefix); ok {
			subject, verb = strings.TrimSuffix(prefix, "-"), strings.ReplaceAll(rest, "-", " ")
			break
		}
	}
	switch subject {
	case "step":
		subject = "step " + e.Step
	case "rollback":
		subject = "rollback of " + e.Step
	}
	b.WriteString(subject)
	if verb != "" {
		b.WriteString(" " + verb)
	}
	switch runner.RecordType(e.Type) {
	case runner.StepDone, runner.StepSkipped, runner.RunDone:
		if e.Total > 0 {
			fmt.Fprintf(&b, " [%d/%d]", e.Done, e.Total)
		}
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Error != "" {
		b.WriteString(": " + e.Error)
	}
	return b.String()
}
