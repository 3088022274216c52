package plans

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fleetplan/fleetplan/diag"
	"gopkg.in/yaml.v3"
)

// filePos is a 1-based line and column (in runes) of a file.
type filePos struct{ line, col int }

// scalarPos maps a position inside the value of the scalar n (line and
// column 1-based in runes, as expression errors give them) to its position
// in src, the file n was decoded from. It reads the scalar as written (plain,
// quoted with escapes, literal | or folded >, on one line or several) and
// replays YAML's folding; ok is false when that does not reproduce n.Value,
// and the caller reports at the scalar itself.
func scalarPos(src []byte, n *yaml.Node, line, col int) (filePos, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Line == 0 || line < 1 || col < 1 {
		return filePos{}, false
	}
	target, ok := runeIndex(n.Value, line, col)
	if !ok {
		return filePos{}, false
	}
	lines := sourceLines(src, n.Line, n.Value)
	if lines == nil {
		return filePos{}, false
	}
	r := &replay{lines: lines, first: n.Line, want: []rune(n.Value)}
	switch n.Style {
	case 0, yaml.FlowStyle, yaml.TaggedStyle:
		r.flow(n.Column-1, 0)
	case yaml.DoubleQuotedStyle:
		r.flow(n.Column-1, '"')
	case yaml.SingleQuotedStyle:
		r.flow(n.Column-1, '\'')
	case yaml.LiteralStyle, yaml.FoldedStyle:
		r.block(n.Column, n.Style == yaml.FoldedStyle)
	default:
		return filePos{}, false
	}
	if r.failed || len(r.pos) != len(r.want) {
		return filePos{}, false
	}
	switch {
	case target < len(r.pos):
		return r.pos[target], true
	case target == len(r.pos) && target > 0: // just after the last rune (an unexpected end)
		p := r.pos[target-1]
		return filePos{p.line, p.col + 1}, true
	}
	return filePos{}, false
}

// runeIndex converts a 1-based line and column of s to a rune index.
func runeIndex(s string, line, col int) (int, bool) {
	idx := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return 0, false
		}
		idx += utf8.RuneCountInString(s[:i+1])
		s = s[i+1:]
	}
	return idx + col - 1, true
}

// sourceLines returns the lines of src from line first on (without line
// breaks), enough of them to hold a value of the given length.
func sourceLines(src []byte, first int, value string) []string {
	for l := 1; l < first; l++ {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return nil
		}
		src = src[i+1:]
	}
	var out []string
	// A scalar spans at most one line per byte of its value, plus the
	// header and the empty lines folding adds or removes; stop well after.
	for limit := 2*strings.Count(value, "\n") + len(value) + 2; len(src) > 0 && len(out) < limit; {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			i = len(src)
		}
		out = append(out, strings.TrimSuffix(string(src[:i]), "\r"))
		if i == len(src) {
			break
		}
		src = src[i+1:]
	}
	return out
}

// replay regenerates a scalar's value from its source, recording where
// each rune came from, and stops at the first rune that differs from want.
type replay struct {
	lines  []string
	first  int // file line of lines[0]
	want   []rune
	pos    []filePos
	failed bool
}

func (r *replay) done() bool { return r.failed || len(r.pos) >= len(r.want) }

// emit adds rune c produced at line index li, rune column ci (0-based).
func (r *replay) emit(c rune, li, ci int) {
	if r.done() {
		return
	}
	if r.want[len(r.pos)] != c {
		r.failed = true
		return
	}
	r.pos = append(r.pos, filePos{r.first + li, ci + 1})
}

// flow replays a plain (quote 0) or quoted scalar starting at rune column
// start of the first line: the opening quote, or the first rune when plain.
func (r *replay) flow(start int, quote rune) {
	li, line := 0, []rune(r.lines[0])
	ci := start
	if quote != 0 {
		ci++ // past the opening quote
	}
	for !r.done() {
		if ci >= len(line) {
			// A line break: trailing blanks were dropped; fold with the
			// following lines, each stripped of leading blanks.
			empty := 0
			for {
				li++
				if li >= len(r.lines) {
					r.failed = true
					return
				}
				line = []rune(r.lines[li])
				ci = 0
				for ci < len(line) && (line[ci] == ' ' || line[ci] == '\t') {
					ci++
				}
				if ci < len(line) {
					break
				}
				empty++
			}
			if empty == 0 {
				r.emit(' ', li-1, len([]rune(r.lines[li-1])))
			}
			for ; empty > 0; empty-- {
				r.emit('\n', li-1, len([]rune(r.lines[li-1])))
			}
			continue
		}
		c := line[ci]
		switch {
		case quote != 0 && c == quote:
			if quote == '\'' && ci+1 < len(line) && line[ci+1] == '\'' {
				r.emit('\'', li, ci)
				ci += 2
				continue
			}
			r.failed = !r.done()
			return
		case quote == '"' && c == '\\':
			if ci+1 >= len(line) { // an escaped line break joins without a space
				li++
				if li >= len(r.lines) {
					r.failed = true
					return
				}
				line, ci = []rune(r.lines[li]), 0
				for ci < len(line) && (line[ci] == ' ' || line[ci] == '\t') {
					ci++
				}
				continue
			}
			out, width, ok := unescape(line[ci+1:])
			if !ok {
				r.failed = true
				return
			}
			for _, o := range out {
				r.emit(o, li, ci)
			}
			ci += 1 + width
		case c == ' ' || c == '\t':
			// Blanks count only when more text follows on this line.
			j := ci
			for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
			if j >= len(line) || (quote == 0 && line[j] == '#') {
				ci = len(line)
				continue
			}
			for ; ci < j; ci++ {
				r.emit(line[ci], li, ci)
			}
		default:
			r.emit(c, li, ci)
			ci++
		}
	}
}

// unescape decodes the double-quoted escape after a backslash: the runes it
// stands for and how many runes of s it used.
func unescape(s []rune) ([]rune, int, bool) {
	if len(s) == 0 {
		return nil, 0, false
	}
	simple := map[rune]rune{'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
		'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85, '_': 0xa0, 'L': 0x2028, 'P': 0x2029}
	if c, ok := simple[s[0]]; ok {
		return []rune{c}, 1, true
	}
	width := map[rune]int{'x': 2, 'u': 4, 'U': 8}[s[0]]
	if width == 0 || len(s) < 1+width {
		return nil, 0, false
	}
	v, err := strconv.ParseUint(string(s[1:1+width]), 16, 32)
	if err != nil {
		return nil, 0, false
	}
	return []rune{rune(v)}, 1 + width, true
}

// block replays a literal (|) or folded (>) block scalar whose indicator is
// at rune column col of the first line.
func (r *replay) block(col int, folded bool) {
	header := strings.TrimSpace(string([]rune(r.lines[0])[col:]))
	if i := strings.IndexByte(header, '#'); i >= 0 {
		header = strings.TrimSpace(header[:i])
	}
	if strings.ContainsAny(header, "123456789") { // an explicit indentation: not replayed
		r.failed = true
		return
	}
	body := r.lines[1:]
	indent := -1
	for _, l := range body {
		if t := strings.TrimLeft(l, " "); t != "" {
			indent = len(l) - len(t)
			break
		}
	}
	if indent <= 0 {
		r.failed = true
		return
	}
	const (
		emptyLine = iota
		textLine
		outside // less indented: the block has ended
	)
	content := func(i int) ([]rune, int) { // the line without its indentation
		if i >= len(body) {
			return nil, outside
		}
		l := body[i]
		switch {
		case strings.TrimSpace(l) == "":
			return nil, emptyLine
		case len(l) < indent || strings.TrimSpace(l[:indent]) != "":
			return nil, outside
		}
		return []rune(l[indent:]), textLine
	}
	more := func(rs []rune) bool { return len(rs) > 0 && (rs[0] == ' ' || rs[0] == '\t') }
	for i := 0; i < len(body) && !r.done(); i++ {
		rs, kind := content(i)
		switch kind {
		case outside:
			r.failed = true
			return
		case emptyLine:
			r.emit('\n', i+1, indent)
			continue
		}
		for j, c := range rs {
			r.emit(c, i+1, indent+j)
		}
		if !folded {
			r.emit('\n', i+1, indent+len(rs))
			continue
		}
		// Folding: a break between two text lines that are not more
		// indented becomes a space; empty lines in between stay breaks.
		next := i + 1
		for {
			if _, k := content(next); k != emptyLine {
				break
			}
			next++
		}
		nrs, nk := content(next)
		empty := next - i - 1
		if nk != textLine || more(rs) || more(nrs) {
			r.emit('\n', i+1, indent+len(rs))
			continue
		}
		if empty == 0 {
			r.emit(' ', i+1, indent+len(rs))
			continue
		}
		for k := 0; k < empty; k++ {
			r.emit('\n', i+1, indent+len(rs))
		}
		i += empty
	}
}

// ExprPos places a position inside an expression text at run time: line and
// col (1-based, in runes) are relative to text, which the plan holds as a
// scalar at at or after position at of its file. When the file still holds
// text there, the result is the position inside it; otherwise at itself.
func ExprPos(at diag.Pos, text string, line, col int) diag.Pos {
	if at.File == "" || at.Line == 0 || col == 0 {
		return at
	}
	info, err := os.Stat(at.File)
	if err != nil || info.Size() > MaxFileSize {
		return at
	}
	data, err := os.ReadFile(at.File)
	if err != nil {
		return at
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			return at
		}
		if n := findScalar(&doc, at, text); n != nil {
			if p, ok := scalarPos(data, n, max(line, 1), col); ok {
				return diag.Pos{File: at.File, Line: p.line, Col: p.col}
			}
			return diag.Pos{File: at.File, Line: n.Line, Col: n.Column}
		}
	}
}

// findScalar returns the first scalar in document order at or after at whose
// value is text.
func findScalar(n *yaml.Node, at diag.Pos, text string) *yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Value == text && (n.Line > at.Line || n.Line == at.Line && n.Column >= at.Col) {
		return n
	}
	for _, c := range n.Content {
		if f := findScalar(c, at, text); f != nil {
			return f
		}
	}
	return nil
}
