package plans

import (
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
)

// TestYAMLErrorPositions checks that every class of YAML syntax error is
// reported at the mistake (yaml.v3 itself gives the line of the enclosing
// construct, or no line at all on line 1) and with a hint.
func TestYAMLErrorPositions(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	// A file above windowedSize: 20,000 list items of 16 bytes.
	big := "spec:\n  ranges:\n" + strings.Repeat("  - {low: 1234}\n", 20_000)
	tests := map[string]struct {
		in   string
		want string // line:col message
	}{
		"tab below a value":                 {"a:\n  b: local\n\tc: X\n", "3:1 tab character in indentation"},
		"tab at line start":                 {"a:\n\tb: 1\n", "2:1 tab character in indentation"},
		"tab after spaces":                  {"a:\n  b:\n   \tc: 1\n", "3:4 tab character in indentation"},
		"tab in a block scalar":             {"a: |\n  x\n\ty\n", "3:1 tab character in indentation"},
		"unclosed flow list":                {"a:\n  b: [a, b\n  c: local\n", "2:6 invalid YAML: did not find expected ',' or ']'"},
		"unclosed flow map":                 {"a: {x: 1\nb: 2\n", "1:4 invalid YAML: did not find expected ',' or '}'"},
		"value after value":                 {"a:\n  b: x: y\n", "2:7 invalid YAML: mapping values are not allowed in this context"},
		"over-indented key":                 {"a:\n  b: 1\n   c: 2\n", "3:5 invalid YAML: mapping values are not allowed in this context"},
		"under-indented key":                {"a: 1\n---\nb:\n  c: 1\n d: 2\n", "5:2 invalid YAML: did not find expected key"},
		"key among list items":              {"a:\n  - 1\n  b: 2\n", "3:3 invalid YAML: did not find expected '-' indicator"},
		"bad escape on line 1":              {"a: \"abc\\q\"\n", "1:8 invalid YAML: found unknown escape character"},
		"at sign":                           {"a: @x\n", "1:4 invalid YAML: found character that cannot start any token"},
		"unclosed quote":                    {"a: 1\nb: 'abc\n", "2:4 invalid YAML: found unexpected end of stream"},
		"unknown anchor":                    {"a: &x 1\nb: *y\n", "2:5 invalid YAML: unknown anchor 'y' referenced"},
		"last line without break":           {"a:\n  b: 1\n c: 2", "3:2 invalid YAML: did not find expected key"},
		"crlf":                              {"a:\r\n  b: 1\r\n  c: d: e\r\n", "3:7 invalid YAML: mapping values are not allowed in this context"},
		"after a very long line":            {"a: " + long + "\nb: x: y\n", "2:5 invalid YAML: mapping values are not allowed in this context"},
		"end of a very long line":           {"a: " + long + ": y\n", "1:100004 invalid YAML: mapping values are not allowed in this context"},
		"multi-byte characters":             {"a: éé: y\n", "1:6 invalid YAML: mapping values are not allowed in this context"},
		"byte-order mark":                   {"\ufeffa: b: c\n", "1:5 invalid YAML: mapping values are not allowed in this context"},
		"not UTF-8":                         {"a: 1\nb: ab\xffc\n", "2:6 invalid UTF-8: byte 0xFF"},
		"NUL":                               {"a: 1\nb: \x00\n", "2:4 control character U+0000 is not allowed in YAML"},
		"escape control character":          {"a: \x1b[0m\n", "1:4 control character U+001B is not allowed in YAML"},
		"UTF-16 LE":                         {"\xff\xfea\x00:\x00", "1:1 file is encoded as UTF-16; plan files must be UTF-8"},
		"UTF-16 BE without mark":            {"\x00a\x00:\x00 \x00b", "1:1 file is encoded as UTF-16; plan files must be UTF-8"},
		"large file, tab on the last line":  {big + "\t- {low: 1}", "20003:1 tab character in indentation"},
		"large file, value after value":     {big + "  - {low: 1}\n  - a: b: c\n" + big[18:], "20004:9 invalid YAML: mapping values are not allowed in this context"},
		"large file, unclosed flow mapping": {big + "  - {low: 1\n" + big[18:], "20003:5 invalid YAML: did not find expected ',' or '}'"},
		"large file, misindented key":       {big + " x: 1\n", "20003:2 invalid YAML: did not find expected key"},
		"directive":                         {"%YAML 1.3\n---\na: 1\n", "1:9 invalid YAML: found incompatible YAML document"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var diags diag.List
			decodeYAML("f.yaml", []byte(tt.in), &diags)
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			got := strings.TrimPrefix(d.Pos.String(), "f.yaml:") + " " + d.Message
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if d.Hint == "" {
				t.Errorf("no hint: %s", d)
			}
		})
	}
}
