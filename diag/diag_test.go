package diag

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestWriteCapsEachKind checks that text output shows PerKind diagnostics of
// each kind and one line counting the rest, while JSON keeps every one.
func TestWriteCapsEachKind(t *testing.T) {
	var l List
	for i := 0; i < 100; i++ {
		l.Errorf(Pos{File: "p.yaml", Line: 10 + i, Col: 5}, "unknown shard %q", fmt.Sprintf("s%d", i)).WithHint("shards: a")
	}
	for i := 0; i < 3; i++ {
		l.Errorf(Pos{File: "p.yaml", Line: 200 + i, Col: 1}, "range [%d, %d) overlaps", i, i+1).WithHint("h")
	}
	l.Warnf(Pos{File: "p.yaml", Line: 300, Col: 1}, "unknown shard %q", "w").WithHint("h")
	var text strings.Builder
	if err := Write(&text, l, "text"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if got, want := len(lines), PerKind+3+1+1; got != want {
		t.Fatalf("got %d lines, want %d:\n%s", got, want, text.String())
	}
	want := `p.yaml:30:5: 80 more errors like: unknown shard "s20" (from here to p.yaml:109:5) (hint: fix the ones above and validate again; --format json lists every one)`
	if last := lines[len(lines)-1]; last != want {
		t.Errorf("last line\n got %s\nwant %s", last, want)
	}
	var js strings.Builder
	if err := Write(&js, l, "json"); err != nil {
		t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(js.String()), &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(l) {
		t.Errorf("json holds %d diagnostics, want %d", len(all), len(l))
	}
}

func TestKind(t *testing.T) {
	tests := map[string]struct {
		a, b Diagnostic
		same bool
	}{
		"names differ":      {Diagnostic{Message: `unknown shard "a"`}, Diagnostic{Message: `unknown shard "b\"c"`}, true},
		"numbers differ":    {Diagnostic{Message: "range [1, 2) overlaps (line 3)"}, Diagnostic{Message: "range [10, 20) overlaps (line 30)"}, true},
		"severities differ": {Diagnostic{Message: "x"}, Diagnostic{Severity: Warning, Message: "x"}, false},
		"words differ":      {Diagnostic{Message: `unknown shard "a"`}, Diagnostic{Message: `unknown target "a"`}, false},
	}
	for name, tt := range tests {
		if got := Kind(tt.a) == Kind(tt.b); got != tt.same {
			t.Errorf("%s: same kind = %v, want %v (%q, %q)", name, got, tt.same, Kind(tt.a), Kind(tt.b))
		}
	}
}
