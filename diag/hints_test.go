package diag_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryDiagnosticHasAHint reads the source of every package and fails on
// a place that makes a diagnostic without a hint: a call of Errorf or Warnf
// (or of a helper that returns one) whose result gets no WithHint or Hint,
// and a Diagnostic literal without a Hint field. Every class of message a
// user can see says what to do about it; a new message cannot be added
// without one.
func TestEveryDiagnosticHasAHint(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	makers := findMakers(files)
	finishers := findFinishers(files)
	for _, f := range files {
		for _, p := range hintless(f, makers, finishers) {
			t.Errorf("%s: diagnostic without a hint: add .WithHint(...) saying what to do", fset.Position(p))
		}
	}
}

// findMakers returns the names of functions and methods that make a
// diagnostic and return it for the caller to finish: Errorf, Warnf, and any
// function whose body returns such a call directly.
func findMakers(files []*ast.File) map[string]bool {
	makers := map[string]bool{"Errorf": true, "Warnf": true}
	for changed := true; changed; {
		changed = false
		for _, f := range files {
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil || makers[fn.Name.Name] {
					continue
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 && isMakerCall(r.Results[0], makers) {
						makers[fn.Name.Name] = true
						changed = true
					}
					return true
				})
			}
		}
	}
	return makers
}

// findFinishers returns the functions that take a *Diagnostic and always
// give it a hint (they call WithHint on it), like reportOutside.
func findFinishers(files []*ast.File) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Recv != nil {
				continue
			}
			for _, field := range fn.Type.Params.List {
				star, ok := field.Type.(*ast.StarExpr)
				if !ok || !isDiagnosticType(star.X) || len(field.Names) != 1 {
					continue
				}
				param := field.Names[0].Name
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if sel, ok := n.(*ast.SelectorExpr); ok && (sel.Sel.Name == "WithHint" || sel.Sel.Name == "Hint") {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == param {
							out[fn.Name.Name] = true
						}
					}
					return true
				})
			}
		}
	}
	return out
}

// isMakerCall reports whether e is x.Errorf(pos, ...) and the like; fmt's,
// testing's and errors' Errorf take a format string first and are skipped.
func isMakerCall(e ast.Expr, makers map[string]bool) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || !makers[sel.Sel.Name] {
		return false
	}
	if id, ok := sel.X.(*ast.Ident); ok && (id.Name == "fmt" || id.Name == "errors") {
		return false
	}
	if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
		return false
	}
	return true
}

// hintless returns the positions in f where a diagnostic is made without a
// hint. A maker call passes when it is chained with .WithHint or .Hint =,
// when it is returned (its caller finishes it), or when its result is kept
// in a variable that gets a hint in the same function.
func hintless(f *ast.File, makers, finishers map[string]bool) []token.Pos {
	var out []token.Pos
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || (f.Name.Name == "diag" && (fn.Name.Name == "Errorf" || fn.Name.Name == "Warnf")) {
			continue // the makers themselves
		}
		hinted := map[string]bool{} // variables that get a hint
		finished := map[ast.Expr]bool{}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if x.Sel.Name == "WithHint" || x.Sel.Name == "Hint" {
					finished[x.X] = true
					if id, ok := x.X.(*ast.Ident); ok {
						hinted[id.Name] = true
					}
				}
			case *ast.ReturnStmt:
				for _, r := range x.Results {
					finished[r] = true
				}
			case *ast.CallExpr:
				if id, ok := x.Fun.(*ast.Ident); ok && finishers[id.Name] {
					for _, a := range x.Args {
						finished[a] = true
					}
				}
			}
			return true
		})
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.AssignStmt:
				if len(x.Lhs) == 1 && len(x.Rhs) == 1 && isMakerCall(x.Rhs[0], makers) {
					if id, ok := x.Lhs[0].(*ast.Ident); ok && hinted[id.Name] {
						finished[x.Rhs[0]] = true
					}
				}
			case *ast.CallExpr:
				if isMakerCall(x, makers) && !finished[ast.Expr(x)] && !isWrapper(fn, x, makers) {
					out = append(out, x.Pos())
				}
			case *ast.CompositeLit:
				if isDiagnosticLit(x) && !hasField(x, "Hint") {
					out = append(out, x.Pos())
				}
			}
			return true
		})
	}
	return out
}

// isWrapper reports whether fn is itself a maker that returns call.
func isWrapper(fn *ast.FuncDecl, call *ast.CallExpr, makers map[string]bool) bool {
	return makers[fn.Name.Name] && fn.Name.Name != "Errorf" && fn.Name.Name != "Warnf"
}

func isDiagnosticLit(c *ast.CompositeLit) bool { return isDiagnosticType(c.Type) }

func isDiagnosticType(e ast.Expr) bool {
	switch t := e.(type) {
	case *ast.SelectorExpr:
		return t.Sel.Name == "Diagnostic"
	case *ast.Ident:
		return t.Name == "Diagnostic"
	}
	return false
}

func hasField(c *ast.CompositeLit, name string) bool {
	for _, e := range c.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == name {
				return true
			}
		}
	}
	return false
}
