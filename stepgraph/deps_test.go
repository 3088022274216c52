package stepgraph

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// planParsing matches the packages that read plan documents: the YAML,
// JSON Schema and expression libraries, and the planner and plans packages
// that use them.
var planParsing = regexp.MustCompile(`yaml|jsonschema|expr-lang|/planner$|/plans$|/plans/`)

// deps lists what go list -deps reports for pkg, run from the module root.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-deps", pkg)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// forbidden returns the dependencies of pkg that read plan documents.
func forbidden(t *testing.T, pkg string) []string {
	var bad []string
	for _, d := range deps(t, pkg) {
		if planParsing.MatchString(d) {
			bad = append(bad, d)
		}
	}
	return bad
}

// What runs, saves or shows a graph links none of what parses plans.
func TestReadersOfAGraphDoNotLinkPlanParsing(t *testing.T) {
	for _, pkg := range []string{"./stepgraph", "./planrender", "./planfile", "./runner"} {
		if bad := forbidden(t, pkg); len(bad) > 0 {
			t.Errorf("%s depends on %s", pkg, strings.Join(bad, ", "))
		}
	}
}

// The check itself sees plan parsing where it is: the planner links it.
func TestPlanParsingIsSeenInThePlanner(t *testing.T) {
	bad := forbidden(t, "./planner")
	for _, want := range []string{"gopkg.in/yaml.v3", "github.com/expr-lang/expr", "github.com/fleetplan/fleetplan/plans"} {
		found := false
		for _, b := range bad {
			found = found || b == want
		}
		if !found {
			t.Errorf("./planner: %s not reported among %v", want, bad)
		}
	}
}
