package views

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/runner/view"
)

// Formats a view prints in.
const (
	Text     = "text"
	JSON     = "json"
	Markdown = "markdown"
)

// View writes what commands show: results on Out, warnings and text
// diagnostics on Err.
type View struct {
	Out, Err io.Writer
}

// New returns a view over the command's streams.
func New(out, err io.Writer) *View { return &View{Out: out, Err: err} }

// ExitError carries a specific exit code (2 for "changes present" with
// --detailed-exitcode, 3 for an offline mapping, ...). A nil Err prints nothing.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// DiagsShown marks diagnostics that a view already printed in the format the
// user asked for, so main only sets the exit code (1).
type DiagsShown struct{ List diag.List }

func (d *DiagsShown) Error() string { return (&diag.ListError{List: d.List}).Error() }

func (v *View) printf(format string, args ...any) { fmt.Fprintf(v.Out, format, args...) }

// json writes x as indented JSON.
func (v *View) json(x any) error {
	enc := json.NewEncoder(v.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(x)
}

// Warn prints non-error diagnostics to stderr.
func (v *View) Warn(d diag.List) {
	if len(d) > 0 {
		_ = diag.Write(v.Err, d, "text")
	}
}

// Diagnostics prints diagnostics (text on stderr, json on stdout) and returns
// an error that exits 1 when any of them is an error.
func (v *View) Diagnostics(diags diag.List, format string) error {
	out := v.Err
	if format == JSON {
		out = v.Out
	}
	if format == JSON || len(diags) > 0 {
		if err := diag.Write(out, diags, format); err != nil {
			return err
		}
	}
	if diags.HasErrors() {
		return &DiagsShown{List: diags}
	}
	return nil
}

// Events returns the sink that shows run events in output (text or json)
// and a finish function that may be called twice.
func (v *View) Events(output string) (runner.EventSink, func()) {
	return view.New(v.Out, output)
}

// Plural says "1 noun" or "n nouns".
func Plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// when formats a time for tables, in local time.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
