package stepstest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/steps"
	_ "github.com/fleetplan/fleetplan/steps/app"
	_ "github.com/fleetplan/fleetplan/steps/database"
	_ "github.com/fleetplan/fleetplan/steps/generic"
	_ "github.com/fleetplan/fleetplan/steps/instance"
	_ "github.com/fleetplan/fleetplan/steps/recovery"
	_ "github.com/fleetplan/fleetplan/steps/shardmap"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
	"github.com/fleetplan/fleetplan/stepspec"
)

const module = "github.com/fleetplan/fleetplan/"

// builtIn lists the actions the action packages registered (not the fakes
// of this package's own tests).
func builtIn() []string {
	self := steps.CallerPackage(0)
	var out []string
	for _, n := range steps.Names() {
		if steps.RegisteredBy(n) != self {
			out = append(out, n)
		}
	}
	return out
}

func TestEverySpecNamesARegisteredAction(t *testing.T) {
	for _, name := range stepspec.Names() {
		if _, err := steps.Lookup(name); err != nil {
			t.Errorf("stepspec describes %s, but no action package registers it: %v", name, err)
		}
	}
}

func TestEveryActionHasASpec(t *testing.T) {
	specs := stepspec.Names()
	for _, name := range builtIn() {
		if !slices.Contains(specs, name) {
			t.Errorf("action %s (registered by %s) has no spec in package stepspec", name, steps.RegisteredBy(name))
		}
	}
}

// TestEveryActionPackageRunsTheSuite checks that every package under steps/
// registers actions (so the imports above see all of them) and that each
// one's tests call Run, which fails for an action without a case.
func TestEveryActionPackageRunsTheSuite(t *testing.T) {
	registering := map[string]bool{}
	for _, name := range builtIn() {
		registering[steps.RegisteredBy(name)] = true
	}
	dirs, err := filepath.Glob("../*/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	self := steps.CallerPackage(0)
	for _, doc := range dirs {
		dir := filepath.Dir(doc)
		pkg := module + "steps/" + filepath.Base(dir)
		if pkg == self {
			continue
		}
		if !registering[pkg] {
			t.Errorf("%s registers no action here: import it in %s so its actions are checked against stepspec", pkg, "registry_test.go")
			continue
		}
		if !callsRun(t, dir) {
			t.Errorf("%s registers actions but no test of it calls stepstest.Run with their conformance cases", pkg)
		}
	}
	if len(registering) < 5 {
		t.Fatalf("only %d action packages found", len(registering))
	}
}

// callsRun reports whether a _test.go file in dir calls stepstest.Run.
func callsRun(t *testing.T, dir string) bool {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return !found
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "stepstest" {
					found = true
				}
			}
			return !found
		})
	}
	return found
}

// TestEveryActionHasACompileTimeCheck checks that the type of every
// registered action appears in a `var _ steps.Action = T{}` of its package,
// so a method with a wrong signature fails the build, not a run.
func TestEveryActionHasACompileTimeCheck(t *testing.T) {
	checked := map[string]bool{} // "package.Type"
	dirs, err := filepath.Glob("../*/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range dirs {
		dir := filepath.Dir(doc)
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for _, typ := range actionChecks(t, f) {
				checked[module+"steps/"+filepath.Base(dir)+"."+typ] = true
			}
		}
	}
	for _, name := range builtIn() {
		a, err := steps.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		typ := reflect.TypeOf(a)
		if key := typ.PkgPath() + "." + typ.Name(); !checked[key] {
			t.Errorf("action %s (%s) has no `var _ steps.Action = %s{}` in its package", name, key, typ.Name())
		}
	}
}

// actionChecks lists the types T of the `var _ steps.Action = T{}` in file.
func actionChecks(t *testing.T, path string) []string {
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, sp := range gd.Specs {
			vs := sp.(*ast.ValueSpec)
			sel, ok := vs.Type.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Action" || len(vs.Names) != 1 || vs.Names[0].Name != "_" || len(vs.Values) != 1 {
				continue
			}
			if lit, ok := vs.Values[0].(*ast.CompositeLit); ok {
				if id, ok := lit.Type.(*ast.Ident); ok {
					out = append(out, id.Name)
				}
			}
		}
	}
	return out
}
