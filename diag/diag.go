package diag

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// Severity says whether a diagnostic stops the run.
type Severity int

const (
	// Error diagnostics make the input unusable; the command exits 1.
	Error Severity = iota
	// Warning diagnostics are shown but do not fail the command.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalJSON renders the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Pos is a position in a source file. Line and Col are 1-based; zero means unknown.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Pos) String() string {
	switch {
	case p.File == "":
		return "<input>"
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Diagnostic is one problem in user input.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Pos      Pos      `json:"pos"`
	Message  string   `json:"message"`
	Hint     string   `json:"hint,omitempty"`
}

// String renders "path:line:col: error: message (hint: ...)" on one line.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// List is an ordered collection of diagnostics.
type List []Diagnostic

// Errorf appends an error at pos.
func (l *List) Errorf(pos Pos, format string, args ...any) *Diagnostic {
	*l = append(*l, Diagnostic{Severity: Error, Pos: pos, Message: fmt.Sprintf(format, args...)})
	return &(*l)[len(*l)-1]
}

// Warnf appends a warning at pos.
func (l *List) Warnf(pos Pos, format string, args ...any) *Diagnostic {
	*l = append(*l, Diagnostic{Severity: Warning, Pos: pos, Message: fmt.Sprintf(format, args...)})
	return &(*l)[len(*l)-1]
}

// WithHint sets the hint of a diagnostic and returns it, for chaining after Errorf.
func (d *Diagnostic) WithHint(format string, args ...any) *Diagnostic {
	d.Hint = fmt.Sprintf(format, args...)
	return d
}

// Add appends diagnostics from another list.
func (l *List) Add(other ...Diagnostic) { *l = append(*l, other...) }

// HasErrors reports whether any diagnostic is an error.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns only the error diagnostics.
func (l List) Errors() List {
	var out List
	for _, d := range l {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, line and column, keeping the original order of
// equal positions, and drops exact duplicates.
func (l List) Sort() List {
	out := append(List(nil), l...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	dedup := out[:0]
	for i, d := range out {
		if i > 0 && d == out[i-1] {
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup
}

// Err returns the list as an error if it holds any error diagnostics, else nil.
func (l List) Err() error {
	if !l.HasErrors() {
		return nil
	}
	return &ListError{List: l}
}

// ListError carries diagnostics through error returns; the CLI prints each one.
type ListError struct{ List List }

func (e *ListError) Error() string {
	var lines []string
	for _, d := range e.List.Sort() {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

// PerKind is how many diagnostics of one kind Write prints as text; the rest
// are counted in one line. One systematic mistake (every range naming a
// missing shard) must not bury the other problems under 100,000 lines.
const PerKind = 20

// Write prints diagnostics one per line (text) or as a JSON array (format
// "json"). Text shows the first PerKind diagnostics of each kind (same
// severity and message but for quoted names and numbers), then, for each
// kind with more, one line saying how many more there are and where the
// first and last of them are. JSON lists every diagnostic.
func Write(w io.Writer, l List, format string) error {
	l = l.Sort()
	bw := bufio.NewWriter(w)
	if format == "json" {
		if l == nil {
			l = List{}
		}
		enc := json.NewEncoder(bw)
		enc.SetIndent("", "  ")
		if err := enc.Encode(l); err != nil {
			return err
		}
		return bw.Flush()
	}
	type omitted struct {
		first, last Diagnostic
		n           int
	}
	shown := map[string]int{}
	var more []*omitted
	byKind := map[string]*omitted{}
	for _, d := range l {
		k := Kind(d)
		if shown[k] < PerKind {
			shown[k]++
			bw.WriteString(d.String())
			bw.WriteByte('\n')
			continue
		}
		o := byKind[k]
		if o == nil {
			o = &omitted{first: d}
			byKind[k] = o
			more = append(more, o)
		}
		o.last = d
		o.n++
	}
	for _, o := range more {
		what := "errors"
		if o.first.Severity == Warning {
			what = "warnings"
		}
		s := Diagnostic{Severity: o.first.Severity, Pos: o.first.Pos,
			Message: fmt.Sprintf("%d more %s like: %s (from here to %s)", o.n, what, o.first.Message, o.last.Pos),
			Hint:    "fix the ones above and validate again; --format json lists every one"}
		if o.n == 1 {
			s.Message = fmt.Sprintf("1 more %s like: %s", strings.TrimSuffix(what, "s"), o.first.Message)
		}
		bw.WriteString(s.String())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

var (
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	numberRE = regexp.MustCompile(`[0-9]+`)
)

// Kind names the class of a diagnostic: its severity and message with quoted
// text and numbers left out, so `unknown shard "s7"` and `unknown shard "s8"`
// are one kind.
func Kind(d Diagnostic) string {
	return d.Severity.String() + ": " + numberRE.ReplaceAllString(quotedRE.ReplaceAllString(d.Message, `"…"`), "#")
}
