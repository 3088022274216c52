package plans

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestScalarPos places positions inside scalars of every style: the value
// position (line, col inside the decoded text of key k) and where that rune
// is in the file.
func TestScalarPos(t *testing.T) {
	cases := map[string]struct {
		src       string
		line, col int // inside the value
		want      filePos
		fails     bool
	}{
		"plain":              {src: "k: abc def\n", line: 1, col: 5, want: filePos{1, 8}},
		"plain multi-line":   {src: "k: first\n   second  third\n", line: 1, col: 7, want: filePos{2, 4}},
		"plain empty line":   {src: "k: first\n\n   second\n", line: 2, col: 2, want: filePos{3, 5}},
		"plain comment":      {src: "k: a b # c\n", line: 1, col: 3, want: filePos{1, 6}},
		"double escapes":     {src: `k: "a\"b\u00e9c"` + "\n", line: 1, col: 5, want: filePos{1, 15}},
		"double multi-line":  {src: "k: \"one\n  two\"\n", line: 1, col: 5, want: filePos{2, 3}},
		"double escaped eol": {src: "k: \"one\\\n  two\"\n", line: 1, col: 4, want: filePos{2, 3}},
		"single quote pair":  {src: "k: 'it''s x'\n", line: 1, col: 6, want: filePos{1, 11}},
		"flow mapping":       {src: "k: {a: 1, b: \"x y\"}\n", line: 1, col: 3, want: filePos{1, 17}},
		"literal":            {src: "k: |\n  one\n  two three\n", line: 2, col: 5, want: filePos{3, 7}},
		"literal keep":       {src: "k: |+\n  one\n\n  two\n", line: 3, col: 1, want: filePos{4, 3}},
		"literal deeper":     {src: "a:\n  k: |-\n      one\n        two\n", line: 2, col: 3, want: filePos{4, 9}},
		"folded":             {src: "k: >\n  one\n  two\n", line: 1, col: 5, want: filePos{3, 3}},
		"folded empty line":  {src: "k: >\n  one\n\n  two\n", line: 2, col: 2, want: filePos{4, 4}},
		"folded more indent": {src: "k: >\n  one\n    two\n  three\n", line: 3, col: 1, want: filePos{4, 3}},
		"end of value":       {src: "k: ab\n", line: 1, col: 3, want: filePos{1, 6}},
		"explicit indent":    {src: "k: |2\n   one\n", line: 1, col: 1, fails: true},
		"past the end":       {src: "k: ab\n", line: 1, col: 9, fails: true},
		"no such line":       {src: "k: ab\n", line: 3, col: 1, fails: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.src), &doc); err != nil {
				t.Fatal(err)
			}
			n := lastScalar(&doc)
			got, ok := scalarPos([]byte(tc.src), n, tc.line, tc.col)
			if tc.fails {
				if ok {
					t.Fatalf("scalarPos = %v, want no position", got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Errorf("scalarPos(%q) = %v, %v; want %v", n.Value, got, ok, tc.want)
			}
			// The rune there is the one the value has at (line, col).
			idx, _ := runeIndex(n.Value, tc.line, tc.col)
			if idx < len([]rune(n.Value)) {
				fileLine := []rune(strings.Split(tc.src, "\n")[got.line-1])
				if v := []rune(n.Value)[idx]; v != ' ' && v != '\n' && got.col-1 < len(fileLine) && fileLine[got.col-1] != v && fileLine[got.col-1] != '\\' {
					t.Errorf("file has %q at %v, value has %q", fileLine[got.col-1], got, v)
				}
			}
		})
	}
}

// lastScalar is the last scalar of a document in document order.
func lastScalar(n *yaml.Node) *yaml.Node {
	var last *yaml.Node
	if n.Kind == yaml.ScalarNode {
		last = n
	}
	for _, c := range n.Content {
		if s := lastScalar(c); s != nil {
			last = s
		}
	}
	return last
}
