package views

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// The exit status is the view's to decide: these are the results that do
// not exit 0.
func TestExitStatus(t *testing.T) {
	changes := &stepgraph.Graph{Steps: []*stepgraph.Step{{ID: "a"}}}
	cases := map[string]struct {
		show func(v *View) error
		code int // 0: nil error
	}{
		"plan without --detailed-exitcode": {func(v *View) error { return v.Changes(changes, false) }, 0},
		"plan with changes":                {func(v *View) error { return v.Changes(changes, true) }, 2},
		"plan without changes":             {func(v *View) error { return v.Changes(&stepgraph.Graph{}, true) }, 0},
		"route online":                     {func(v *View) error { return v.Route(Route{Key: "1", Online: true}, false, Text) }, 0},
		"route offline":                    {func(v *View) error { return v.Route(Route{Key: "1"}, false, JSON) }, 3},
		"validate error": {func(v *View) error {
			return v.Validate(1, diag.List{{Severity: diag.Error, Message: "bad"}}, JSON)
		}, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := tc.show(New(&out, &errb))
			var ee *ExitError
			var shown *DiagsShown
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("err %v, want none", err)
			case tc.code == 1 && !errors.As(err, &shown):
				t.Fatalf("err %v, want the diagnostics shown", err)
			case tc.code > 1 && (!errors.As(err, &ee) || ee.Code != tc.code):
				t.Fatalf("err %#v, want exit %d", err, tc.code)
			}
		})
	}
}

func TestValidateText(t *testing.T) {
	var out, errb bytes.Buffer
	warn := diag.List{{Severity: diag.Warning, Message: "w"}}
	if err := New(&out, &errb).Validate(3, warn, Text); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "3 documents valid, 1 warning\n" {
		t.Fatalf("stdout %q", got)
	}
	if !strings.Contains(errb.String(), "w") {
		t.Fatalf("warning not on stderr: %q", errb.String())
	}
}
