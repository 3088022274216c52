package plans

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fleetplan/fleetplan/diag"
	"gopkg.in/yaml.v3"
)

// checkEncoding finds what the YAML reader would refuse before any YAML is
// parsed, at the exact line and column: text that is not UTF-8 (UTF-16, a
// stray Latin-1 byte) and control characters such as NUL. yaml.v3 reports
// these without a position, so it is not asked.
func checkEncoding(file string, data []byte) *diag.Diagnostic {
	if isUTF16(data) {
		return &diag.Diagnostic{Pos: diag.Pos{File: file, Line: 1, Col: 1},
			Message: "file is encoded as UTF-16; plan files must be UTF-8",
			Hint:    "save the file as UTF-8 (for example: iconv -f UTF-16 -t UTF-8)"}
	}
	line, col := 1, 1
	for i := len(utf8BOM) * boolInt(bytes.HasPrefix(data, utf8BOM)); i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		pos := diag.Pos{File: file, Line: line, Col: col}
		switch {
		case r == utf8.RuneError && size <= 1:
			return &diag.Diagnostic{Pos: pos,
				Message: fmt.Sprintf("invalid UTF-8: byte 0x%02X", data[i]),
				Hint:    "plan files must be UTF-8; save the file as UTF-8 (a Latin-1 or Windows-1252 editor setting writes such bytes)"}
		case !yamlPrintable(r):
			return &diag.Diagnostic{Pos: pos,
				Message: fmt.Sprintf("control character %U is not allowed in YAML", r),
				Hint:    "remove the character; plan files are text, and a NUL byte usually means a binary or UTF-16 file"}
		}
		i += size
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isUTF16 tells UTF-16 text by its byte-order mark, or by the zero bytes of
// ASCII characters in either byte order.
func isUTF16(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return true
	}
	if len(data) < 4 {
		return false
	}
	le := data[0] != 0 && data[1] == 0 && data[2] != 0 && data[3] == 0
	be := data[0] == 0 && data[1] != 0 && data[2] == 0 && data[3] != 0
	return le || be
}

// yamlPrintable is the character set YAML 1.1 allows in a stream.
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7E) || r == 0x85 ||
		(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

var yamlErrRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlProblem is the message of a yaml.v3 error without its "yaml: line N:"
// prefix. yaml.v3 reports the line of the enclosing construct (often lines
// above the mistake, sometimes off by one, never for line 1) and no column.
func yamlProblem(err error) string {
	if m := yamlErrRE.FindStringSubmatch(err.Error()); m != nil {
		return m[2]
	}
	return err.Error()
}

// reportYAMLError turns a yaml.v3 syntax error into a diagnostic at the
// place of the mistake, with a hint for its class.
func reportYAMLError(file string, data []byte, err error, diags *diag.List) {
	problem := yamlProblem(err)
	if strings.HasPrefix(problem, "did not find expected ',' or") {
		// An unclosed bracket: report where it opens. Bisection cannot find
		// it, since any prefix that ends inside brackets fails this way.
		if open := openBracket(data, yamlLine(err)); open >= 0 {
			diags.Errorf(offsetPos(file, data, open), "invalid YAML: %s", problem).WithHint("%s", yamlHint(problem))
			return
		}
	}
	off := locateProblem(data, problem, yamlLine(err))
	pos := offsetPos(file, data, off)
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	indent := lineStart
	for indent < len(data) && (data[indent] == ' ' || data[indent] == '\t') {
		indent++
	}
	if tab := bytes.IndexByte(data[lineStart:indent], '\t'); tab >= 0 && off <= indent {
		diags.Errorf(offsetPos(file, data, lineStart+tab), "tab character in indentation").
			WithHint("YAML indents with spaces only; replace the tab with spaces")
		return
	}
	if problem == "did not find expected key" || problem == "did not find expected '-' indicator" {
		// A line at the wrong indentation: report its first character.
		if indent < len(data) && indent <= off {
			pos = offsetPos(file, data, indent)
		}
	}
	diags.Errorf(pos, "invalid YAML: %s", problem).WithHint("%s", yamlHint(problem))
}

// yamlLine is the line yaml.v3 gives for an error (0 when none).
func yamlLine(err error) int {
	if m := yamlErrRE.FindStringSubmatch(err.Error()); m != nil && m[1] != "" {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// Files above windowedSize are searched in a window of lines around the line
// yaml.v3 names, not whole: each probe parses a prefix, and a few dozen
// parses of a 4 MB file take seconds.
const (
	windowedSize  = 256 << 10
	windowBefore  = 200 // lines
	windowAfter   = 200
	windowMinimum = 2
)

// locateProblem returns the offset of the mistake that makes data fail with
// problem; line is yaml.v3's line for it (of the enclosing construct).
func locateProblem(data []byte, problem string, line int) int {
	if len(data) <= windowedSize || line == 0 {
		return problemOffset(data, problem)
	}
	// Cut lines [first, last) out of the file, take away the indentation
	// they share, and search there, if they fail the same way on their own.
	starts := lineStarts(data)
	first := max(line-1-windowBefore, 1)
	last := min(line+windowAfter, len(starts))
	lineAt := func(i int) []byte { // 1-based, without its line break
		end := len(data)
		if i < len(starts) {
			end = starts[i] - 1
		}
		return data[starts[i-1]:end]
	}
	indent := -1
	for i := first; i <= last; i++ {
		l := lineAt(i)
		n := len(l) - len(bytes.TrimLeft(l, " "))
		if len(bytes.TrimSpace(l)) > 0 && (indent < 0 || n < indent) {
			indent = n
		}
	}
	if indent < 0 || last-first < windowMinimum {
		return problemOffset(data, problem)
	}
	var window []byte
	for i := first; i <= last; i++ {
		l := lineAt(i)
		window = append(window, l[min(indent, len(l)-len(bytes.TrimLeft(l, " "))):]...)
		window = append(window, '\n')
	}
	err := parseAll(window)
	if err == nil || yamlProblem(err) != problem {
		// The window alone does not fail this way: search the whole file
		// from yaml.v3's line on, in growing steps.
		return problemOffsetFrom(data, problem, starts[max(min(line-1, len(starts)), 1)-1])
	}
	woff := problemOffset(window, problem)
	wline := bytes.Count(window[:woff], []byte{'\n'})
	wcol := woff - (bytes.LastIndexByte(window[:woff], '\n') + 1)
	l := lineAt(first + wline)
	cut := min(indent, len(l)-len(bytes.TrimLeft(l, " ")))
	return starts[first+wline-1] + cut + wcol
}

// lineStarts is the offset of the start of every line.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' && i+1 <= len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// problemOffset finds the byte where YAML parsing fails with problem: the
// shortest prefix of data that fails the same way, by bisection (a few dozen
// parses, only once a file is known to be broken). It returns the offset of
// the last character of that prefix.
func problemOffset(data []byte, problem string) int {
	if !failsAs(data, problem) {
		return 0
	}
	return bisect(data, problem, 0, len(data))
}

func failsAs(data []byte, problem string) bool {
	err := parseAll(data)
	return err != nil && yamlProblem(err) == problem
}

// problemOffsetFrom is problemOffset for a mistake at or after from: it
// probes prefixes ending 64, 128, 256, ... bytes after from, then bisects.
func problemOffsetFrom(data []byte, problem string, from int) int {
	lo := from
	for step := 64; ; step *= 2 {
		hi := min(from+step, len(data))
		if failsAs(data[:hi], problem) {
			return bisect(data, problem, lo, hi)
		}
		if hi == len(data) {
			return from
		}
		lo = hi
	}
}

// bisect narrows lo (a prefix that does not fail as problem) and hi (one
// that does) to one character and returns its offset.
func bisect(data []byte, problem string, lo, hi int) int {
	fails := func(k int) bool { return failsAs(data[:k], problem) }
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		for mid > lo+1 && !utf8.RuneStart(data[mid]) {
			mid--
		}
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	off := hi - 1
	for off > 0 && !utf8.RuneStart(data[off]) {
		off--
	}
	return max(off, 0)
}

// parseAll decodes every document of data and returns the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := safeDecode(dec, &n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// openBracket finds the bracket a flow collection error is about. yaml.v3
// names the line before the bracket's (or, on the first line, the line of
// the problem), so the lines after, at and before that line are tried, and
// on the first line the problem's: the innermost bracket open at the end of
// that line and opened on it. It returns -1 when there is none.
func openBracket(data []byte, line int) int {
	starts := lineStarts(data)
	for _, l := range []int{line + 1, line, 1} {
		if l < 1 || l > len(starts) {
			continue
		}
		end := len(data)
		if l < len(starts) {
			end = starts[l]
		}
		if open := unclosedBracket(data[:end]); open >= starts[l-1] {
			return open
		}
	}
	return -1
}

// unclosedBracket returns the offset of the innermost flow bracket ([ or {)
// still open at the end of data, skipping quoted text and comments, or -1.
// A closing bracket of the other kind closes nothing.
func unclosedBracket(data []byte) int {
	var open []int
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '[', '{':
			open = append(open, i)
		case ']', '}':
			if n := len(open); n > 0 && data[open[n-1]] == c-2 {
				open = open[:n-1]
			}
		case '\'', '"':
			if i > 0 && !bytes.ContainsRune([]byte(" \t\n[{,:"), rune(data[i-1])) {
				continue // a quote inside a plain word, like it's
			}
			for i++; i < len(data) && data[i] != c; i++ {
				if c == '"' && data[i] == '\\' {
					i++
				}
			}
		case '#':
			if i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n' {
				for i < len(data) && data[i] != '\n' {
					i++
				}
			}
		}
	}
	if len(open) == 0 {
		return -1
	}
	return open[len(open)-1]
}

// offsetPos is the 1-based line and column (in characters) of a byte offset.
func offsetPos(file string, data []byte, off int) diag.Pos {
	off = min(max(off, 0), len(data))
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	if lineStart == 0 && bytes.HasPrefix(data[:off], utf8BOM) {
		lineStart = len(utf8BOM) // editors do not show a byte-order mark
	}
	return diag.Pos{File: file, Line: bytes.Count(data[:off], []byte{'\n'}) + 1, Col: utf8.RuneCount(data[lineStart:off]) + 1}
}

// yamlHints gives a hint per class of yaml.v3 error, by message prefix.
// Every class has one; yamlHint falls back to a general one.
var yamlHints = []struct{ prefix, hint string }{
	{"found a tab character", "YAML indents with spaces only; replace the tab with spaces"},
	{"found character that cannot start any token", "quote the value: a plain value cannot start with @, ` or %; indent with spaces, not tabs"},
	{"mapping values are not allowed in this context", "quote a value that holds \": \", or check this line's indentation: a key cannot follow a value on the same line"},
	{"mapping keys are not allowed in this context", "quote the value, or put the key on a line of its own"},
	{"block sequence entries are not allowed in this context", "start the list on the next line, indented under its key, or quote a value that begins with \"- \""},
	{"did not find expected key", "check the indentation of this line: keys of one mapping line up in the same column"},
	{"did not find expected '-' indicator", "check the indentation of this line: items of one list line up, each starting with \"- \""},
	{"did not find expected ',' or ']'", "close the list opened here with ], and separate its items with commas"},
	{"did not find expected ',' or '}'", "close the mapping opened here with }, and separate its entries with commas"},
	{"did not find expected node content", "a value is missing here; write one, or quote text that starts with a YAML indicator"},
	{"found unexpected end of stream", "a quoted string or bracket opened here is not closed"},
	{"found unknown escape character", "in double quotes write \\\\ for a backslash, or use single quotes, where backslashes are literal"},
	{"found invalid Unicode character escape code", "write \\uXXXX with four hex digits, or use single quotes"},
	{"did not find expected hexdecimal number", "write \\xXX, \\uXXXX or \\UXXXXXXXX with hex digits, or use single quotes"},
	{"found unexpected document indicator", "--- and ... at the start of a line separate documents; indent or quote text that starts with them"},
	{"did not find expected comment or line break", "put a space before # to start a comment, or quote the value"},
	{"could not find expected ':'", "a key needs a colon and a space after it (key: value)"},
	{"found undefined tag handle", "plan files do not use YAML tags; remove the !tag or quote the value"},
	{"did not find expected", "check the YAML syntax at this position: an indentation, a bracket or a quote is off"},
	{"found incompatible YAML document", "remove the %YAML directive; plan files are YAML 1.1/1.2 without directives"},
	{"found unknown directive name", "remove the % directive, or quote a value that starts with %"},
	{"found duplicate %", "remove the repeated directive"},
	{"found an indentation indicator equal to 0", "a block scalar's indentation indicator is 1-9; remove it to let YAML detect the indentation"},
	{"unknown anchor", "define the anchor (&name) before the alias (*name) that uses it"},
	{"anchor", "an anchor cannot contain an alias of itself; write the values out"},
	{"exceeded max depth", "the document nests too deeply; flatten it"},
	{"document contains excessive aliasing", "this looks like an alias bomb; write the values out instead of nesting aliases"},
	{"control characters are not allowed", "remove the character; plan files are text"},
	{"invalid", "plan files must be UTF-8; save the file as UTF-8"},
	{"incomplete UTF-8", "plan files must be UTF-8; save the file as UTF-8"},
}

func yamlHint(problem string) string {
	for _, h := range yamlHints {
		if strings.HasPrefix(problem, h.prefix) {
			return h.hint
		}
	}
	return "check the YAML syntax at this position"
}
