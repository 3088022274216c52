package prcomment

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limit is the longest comment body GitHub accepts, in characters. Split
// counts bytes, which are never fewer, so a part within Limit bytes is
// within GitHub's limit whatever it holds.
const Limit = 65535

// block is a run of lines that is kept whole when it can be: a heading, a
// paragraph line, a table, a fenced code block or a <details> element.
type block struct {
	kind  blockKind
	lines []string // each with its newline
	fence string   // the opening fence line of a code block
}

type blockKind int

const (
	blockLine blockKind = iota
	blockHeading
	blockTable
	blockFence
	blockDetails
)

func (b block) text() string { return strings.Join(b.lines, "") }

func (b block) size() int {
	n := 0
	for _, l := range b.lines {
		n += len(l)
	}
	return n
}

// Split cuts body into parts of at most limit bytes each, header included:
// header(i, n) is put before part i of n (1-based) and may be "" for a
// single part. It cuts between sections (a heading and what follows it up
// to the next heading) when it can, else between the blocks of a section.
// A table longer than a part is cut between rows and its header repeated; a
// code block is closed and opened again; a mermaid diagram longer than a
// part is replaced by a note, as half a diagram would not render.
func Split(body string, limit int, header func(i, n int) string) []string {
	reserve := len(header(999, 999))
	budget := limit - reserve
	if budget < 256 {
		budget = 256 // a limit this small only happens in tests
	}
	if len(body)+len(header(1, 1)) <= limit {
		return []string{header(1, 1) + body}
	}
	var parts []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	add := func(s string) {
		if cur.Len()+len(s) > budget {
			flush()
		}
		cur.WriteString(s)
	}
	for _, sec := range sections(parse(body)) {
		size := 0
		for _, b := range sec {
			size += b.size()
		}
		if size <= budget {
			var s strings.Builder
			for _, b := range sec {
				s.WriteString(b.text())
			}
			add(s.String())
			continue
		}
		// A section longer than a part is cut between its blocks, the
		// first of them joining what the part holds already.
		for _, b := range sec {
			if b.size() <= budget {
				add(b.text())
				continue
			}
			// Pieces sized to follow what the part holds already (the
			// section's heading), so a heading never stands alone.
			room := budget
			if left := budget - cur.Len(); left >= budget/2 {
				room = left
			}
			for _, piece := range splitBlock(b, room) {
				add(piece)
			}
		}
	}
	flush()
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = header(i+1, len(parts)) + p
	}
	return out
}

// parse cuts markdown into blocks.
func parse(body string) []block {
	lines := strings.SplitAfter(body, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	var out []block
	for i := 0; i < len(lines); {
		l := lines[i]
		trim := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trim, "```"):
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
				j++
			}
			if j < len(lines) {
				j++
			}
			out = append(out, block{kind: blockFence, lines: lines[i:j], fence: l})
			i = j
		case strings.HasPrefix(trim, "<details"):
			depth, j := 0, i
			for ; j < len(lines); j++ {
				t := lines[j]
				depth += strings.Count(t, "<details") - strings.Count(t, "</details>")
				if depth <= 0 {
					j++
					break
				}
			}
			out = append(out, block{kind: blockDetails, lines: lines[i:min(j, len(lines))]})
			i = j
		case strings.HasPrefix(trim, "|"):
			j := i
			for j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "|") {
				j++
			}
			out = append(out, block{kind: blockTable, lines: lines[i:j]})
			i = j
		case strings.HasPrefix(l, "#"):
			out = append(out, block{kind: blockHeading, lines: lines[i : i+1]})
			i++
		default:
			out = append(out, block{kind: blockLine, lines: lines[i : i+1]})
			i++
		}
	}
	return out
}

// sections groups blocks into sections: each heading starts one.
func sections(blocks []block) [][]block {
	var out [][]block
	for _, b := range blocks {
		if b.kind == blockHeading || len(out) == 0 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], b)
	}
	return out
}

// splitBlock cuts one block longer than budget into pieces of at most
// budget bytes that each render on their own.
func splitBlock(b block, budget int) []string {
	switch b.kind {
	case blockTable:
		head := 1
		if len(b.lines) > 1 && strings.Contains(b.lines[1], "---") {
			head = 2
		}
		h := strings.Join(b.lines[:head], "")
		if len(h)*2 > budget {
			return splitLines(b.lines, budget)
		}
		return pack(b.lines[head:], h, "", budget)
	case blockFence:
		if strings.Contains(b.fence, "mermaid") {
			return []string{"_The step graph is too large for a comment: " +
				strconv.Itoa(len(b.lines)-2) + " lines of mermaid. The steps are listed below._\n"}
		}
		inner := b.lines[1:]
		end := "```\n"
		if n := len(inner); n > 0 && strings.TrimSpace(inner[n-1]) == "```" {
			inner = inner[:n-1]
		}
		if len(b.fence)+len(end) > budget/2 {
			return splitLines(b.lines, budget)
		}
		return pack(inner, b.fence, end, budget)
	case blockDetails:
		// Keep the <summary> line and wrap every piece in its own element.
		open := b.lines[0]
		inner := b.lines[1:]
		end := "</details>\n"
		if n := len(inner); n > 0 && strings.TrimSpace(inner[n-1]) == "</details>" {
			inner = inner[:n-1]
		}
		if len(open)+len(end)+2 > budget/2 {
			return splitLines(b.lines, budget)
		}
		var out []string
		for _, piece := range splitInner(strings.Join(inner, ""), budget-len(open)-len(end)-2) {
			out = append(out, open+"\n"+piece+"\n"+end)
		}
		return out
	}
	return splitLines(b.lines, budget)
}

// splitInner splits the content of a <details> element by the same rules.
func splitInner(body string, budget int) []string {
	var out []string
	var cur strings.Builder
	for _, b := range parse(body) {
		pieces := []string{b.text()}
		if b.size() > budget {
			pieces = splitBlock(b, budget)
		}
		for _, p := range pieces {
			if cur.Len()+len(p) > budget && cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			cur.WriteString(p)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// pack puts lines into pieces of at most budget bytes, each between head
// and tail (a table's header, a fence's opening and closing lines).
func pack(lines []string, head, tail string, budget int) []string {
	room := budget - len(head) - len(tail)
	var out []string
	var cur strings.Builder
	emit := func() {
		if cur.Len() > 0 {
			out = append(out, head+cur.String()+tail)
			cur.Reset()
		}
	}
	for _, l := range lines {
		for _, piece := range cutLine(l, room) {
			if cur.Len()+len(piece) > room {
				emit()
			}
			cur.WriteString(piece)
		}
	}
	emit()
	return out
}

// splitLines packs lines with nothing around them.
func splitLines(lines []string, budget int) []string { return pack(lines, "", "", budget) }

// cutLine cuts a line longer than n bytes at rune boundaries: the last
// resort for one line longer than a whole comment.
func cutLine(l string, n int) []string {
	if len(l) <= n {
		return []string{l}
	}
	var out []string
	for len(l) > n {
		i := n - 1 // and a newline
		for i > 0 && !utf8.RuneStart(l[i]) {
			i--
		}
		out = append(out, l[:i]+"\n")
		l = l[i:]
	}
	if l != "" {
		out = append(out, l)
	}
	return out
}
