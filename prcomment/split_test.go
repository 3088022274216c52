package prcomment

import (
	"fmt"
	"strings"
	"testing"
)

func header(i, n int) string {
	if n == 1 {
		return "<!-- c -->\n"
	}
	return fmt.Sprintf("<!-- c part %d/%d -->\n", i, n)
}

func table(rows int) string {
	var b strings.Builder
	b.WriteString("| # | step |\n|---:|---|\n")
	for i := range rows {
		fmt.Fprintf(&b, "| %d | `step-%05d` |\n", i, i)
	}
	return b.String()
}

func fence(info string, lines int) string {
	var b strings.Builder
	b.WriteString("```" + info + "\n")
	for i := range lines {
		fmt.Fprintf(&b, "+ line %05d of the block\n", i)
	}
	b.WriteString("```\n")
	return b.String()
}

// checkParts holds every part to the rules: within the limit, every code
// block closed, every table starting with its header.
func checkParts(t *testing.T, parts []string, limit int) {
	t.Helper()
	for i, p := range parts {
		if len(p) > limit {
			t.Errorf("part %d is %d bytes, over the limit %d", i+1, len(p), limit)
		}
		lines := strings.Split(p, "\n")
		fences := 0
		inTable := false
		for j, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				fences++
			}
			isRow := strings.HasPrefix(l, "|") && fences%2 == 0
			if isRow && !inTable {
				if j+1 >= len(lines) || !strings.HasPrefix(lines[j+1], "|---") {
					t.Errorf("part %d: a table starts without its header at line %d: %q", i+1, j+1, l)
				}
			}
			inTable = isRow
		}
		if fences%2 != 0 {
			t.Errorf("part %d: a code block is left open", i+1)
		}
		if want := header(i+1, len(parts)); !strings.HasPrefix(p, want) {
			t.Errorf("part %d does not start with %q", i+1, want)
		}
	}
}

// rows counts the table rows and block lines of parts, for "nothing lost".
func count(parts []string, sub string) int {
	n := 0
	for _, p := range parts {
		n += strings.Count(p, sub)
	}
	return n
}

func TestSplit(t *testing.T) {
	section := func(name string, size int) string {
		return "#### " + name + "\n\n" + strings.Repeat("word ", size/5) + "\n\n"
	}
	tests := []struct {
		name  string
		body  string
		limit int
		parts int                  // expected number of parts, 0: any
		check func([]string) error // what must hold besides checkParts
	}{
		{name: "fits", body: section("a", 100), limit: 1000, parts: 1},
		{name: "exactly the limit", body: strings.Repeat("x", 1000-len(header(1, 1))-1) + "\n", limit: 1000, parts: 1},
		{
			name: "at section boundaries", body: section("a", 400) + section("b", 400) + section("c", 400), limit: 1000, parts: 2,
			check: func(parts []string) error {
				for i, p := range parts {
					if !strings.HasPrefix(strings.SplitN(p, "\n", 2)[1], "#### ") {
						return fmt.Errorf("part %d does not start at a heading", i+1)
					}
				}
				return nil
			},
		},
		{
			name: "a long table repeats its header", body: "#### Steps\n\n" + table(2000), limit: 4000,
			check: func(parts []string) error {
				if got := count(parts, "`step-"); got != 2000 {
					return fmt.Errorf("%d rows, want 2000", got)
				}
				return nil
			},
		},
		{
			name: "a long diff is closed and opened again", body: "#### Changes\n\n" + fence("diff", 3000), limit: 8000,
			check: func(parts []string) error {
				if got := count(parts, "+ line "); got != 3000 {
					return fmt.Errorf("%d lines, want 3000", got)
				}
				for i, p := range parts {
					if !strings.Contains(p, "```diff\n") {
						return fmt.Errorf("part %d holds no opened diff block", i+1)
					}
				}
				return nil
			},
		},
		{
			name: "a diagram too large for a comment becomes a note", body: "#### Step graph\n\n" + fence("mermaid", 5000) + section("after", 100), limit: 8000, parts: 1,
			check: func(parts []string) error {
				if !strings.Contains(parts[0], "The step graph is too large for a comment: 5000 lines of mermaid") || strings.Contains(parts[0], "```mermaid") {
					return fmt.Errorf("no note instead of the diagram:\n%s", parts[0])
				}
				return nil
			},
		},
		{
			name: "a diagram that fits a part is kept whole", body: section("a", 3000) + "#### Step graph\n\n" + fence("mermaid", 100) + section("b", 3000), limit: 7000, parts: 2,
			check: func(parts []string) error {
				if count(parts, "```mermaid") != 1 || count(parts, "+ line ") != 100 {
					return fmt.Errorf("the diagram was cut")
				}
				return nil
			},
		},
		{
			name: "long details are wrapped again in every part", body: "<details><summary>Text plan</summary>\n\n" + fence("text", 3000) + "\n</details>\n", limit: 10000,
			check: func(parts []string) error {
				for i, p := range parts {
					if strings.Count(p, "<details>") != 1 || strings.Count(p, "</details>") != 1 {
						return fmt.Errorf("part %d: details not balanced", i+1)
					}
				}
				if got := count(parts, "+ line "); got != 3000 {
					return fmt.Errorf("%d lines, want 3000", got)
				}
				return nil
			},
		},
		{name: "one line longer than a part", body: strings.Repeat("é", 5000) + "\n", limit: 1000},
		{name: "real limit", body: section("a", 40000) + "#### Steps\n\n" + table(5000) + fence("diff", 4000), limit: Limit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := Split(tt.body, tt.limit, header)
			checkParts(t, parts, tt.limit)
			if tt.parts != 0 && len(parts) != tt.parts {
				t.Errorf("%d parts, want %d", len(parts), tt.parts)
			}
			if tt.check != nil {
				if err := tt.check(parts); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
