package expression

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
)

// Kind is the result type an expression must have.
type Kind int

const (
	// Bool expressions are guards: they must evaluate to a boolean.
	Bool Kind = iota
	// Any expressions are interpolations: any value.
	Any
)

// Limits applied to every expression.
const (
	// MaxNodes bounds the size of an expression's syntax tree.
	MaxNodes = 2000
	// MemoryBudget bounds the elements of ranges, list and map literals and
	// sorts one evaluation may build (expr-lang's own budget, which counts
	// elements, not bytes; ByteBudget counts the bytes of strings).
	MemoryBudget = 100_000
	// MaxSourceLen bounds the length of an expression's text.
	MaxSourceLen = 8 << 10
)

// Builtins are the expr-lang builtins plan expressions may call. Everything
// else (now(), date(), fromJSON(), ...) is disabled: plans must be
// deterministic given the environment.
var Builtins = []string{
	"all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast",
	"count", "sum", "len", "abs", "ceil", "floor", "round", "int", "float", "string",
	"trim", "upper", "lower", "split", "join", "replace", "hasPrefix", "hasSuffix",
	"indexOf", "max", "min", "mean", "first", "last", "keys", "values", "duration",
	"sortBy", "groupBy", "uniq", "get",
}

// Program is a compiled expression. It is immutable and safe for concurrent use.
type Program struct {
	Source string
	Kind   Kind
	// Refs are the environment roots ("live", "params", "steps", "run") the
	// expression mentions, sorted.
	Refs []string
	prog *vm.Program
}

// Error is a compile or evaluation error, with the position inside the
// expression text (1-based; zero when unknown) and a hint when one helps.
type Error struct {
	Line, Column int
	Msg          string
	Hint         string
	// Text is what Line and Column are relative to: the expression, or the
	// string holding it as a ${{ }} interpolation.
	Text string
}

func (e *Error) Error() string {
	switch {
	case e.Column == 0:
		return "expression error: " + e.Msg
	case e.Line > 1:
		return fmt.Sprintf("expression error at line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("expression error at column %d: %s", e.Column, e.Msg)
}

// HintOf returns the hint of an expression error (empty when it has none).
func HintOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

func options(kind Kind) []expr.Option {
	opts := []expr.Option{expr.Env(Env{}), expr.MaxNodes(MaxNodes), expr.DisableAllBuiltins()}
	for _, b := range Builtins {
		opts = append(opts, expr.EnableBuiltin(b))
	}
	if kind == Bool {
		return append(opts, expr.AsBool())
	}
	return append(opts, expr.AsAny())
}

// config builds an expr-lang configuration as expr.Compile does; metered
// adds the metered functions, which only the compiler may call.
func config(kind Kind, metered bool) *conf.Config {
	c := conf.CreateNew()
	for _, op := range options(kind) {
		op(c)
	}
	for name := range c.Disabled {
		delete(c.Builtins, name)
	}
	c.Check()
	if metered {
		meteredFunctions(c)
	}
	return c
}

// Compile parses and type-checks src against Env, computes its constant
// sub-expressions under the budgets (an error there is an error of the
// expression, at its position) and compiles it to run under the budgets.
// Errors are *Error values carrying the line and column inside src.
func Compile(src string, kind Kind) (*Program, error) { return CompileIn(nil, src, kind) }

// CompileIn is Compile with the constant parts also charged to b (nil: none),
// the budget the expressions of one plan file share while it is loaded.
func CompileIn(b *Budget, src string, kind Kind) (p *Program, err error) {
	if len(src) > MaxSourceLen {
		return nil, &Error{Msg: fmt.Sprintf("expression is %d bytes long; the limit is %d", len(src), MaxSourceLen),
			Hint: "move the logic into a template parameter or split it into several guards"}
	}
	defer func() {
		// expr-lang is robust, but a panic on hostile input must never reach the user.
		if r := recover(); r != nil {
			p, err = nil, &Error{Msg: "the expression failed to compile: " + firstLine(r), Hint: "report this as a bug of fleetplan, with the expression"}
		}
		if e, ok := err.(*Error); ok {
			e.Text = src
		}
	}()
	cfg := config(kind, false)
	tree, err := checker.ParseCheck(src, cfg)
	if err != nil {
		return nil, toError(err)
	}
	if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			err = fe.Bind(tree.Source)
		}
		e := toError(err).(*Error)
		e.Hint = hintConstant
		return nil, e
	}
	refs := roots(tree.Node)
	f := &folder{source: tree.Source, budget: b}
	if err := f.fold(&tree.Node); err != nil {
		return nil, err
	}
	ast.Walk(&tree.Node, meterPatch{})
	meteredFunctions(cfg) // type checking is over: from here on only the compiler sees them
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, toError(err)
	}
	return &Program{Source: src, Kind: kind, Refs: refs, prog: prog}, nil
}

// firstLine renders a recovered value without what follows its first line
// (expr-lang's compiler appends a stack trace).
func firstLine(v any) string {
	s := fmt.Sprint(v)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func toError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		// Name environment types as plans see them, not as Go does.
		e := &Error{Msg: strings.ReplaceAll(fe.Message, "expression.", "")}
		var be *budgetError
		switch {
		case errors.As(err, &be):
			e.Msg, e.Hint = be.msg, be.hint
		case fe.Message == "memory budget exceeded":
			e.Msg, e.Hint = fmt.Sprintf("the expression builds more than %d elements of lists, maps or ranges", MemoryBudget), hintMemory
		}
		if fe.Line > 0 {
			e.Line, e.Column = fe.Line, fe.Column+1
		}
		return e
	}
	return &Error{Msg: firstLine(err)}
}

type rootVisitor struct{ seen map[string]bool }

func (v *rootVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && slices.Contains(Roots, id.Value) {
		v.seen[id.Value] = true
	}
}

func roots(n ast.Node) []string {
	v := &rootVisitor{seen: map[string]bool{}}
	ast.Walk(&n, v)
	var out []string
	for _, r := range Roots {
		if v.seen[r] {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// References reports whether the expression mentions the environment root.
func (p *Program) References(root string) bool { return slices.Contains(p.Refs, root) }

// OnlyReferences reports whether every root the expression mentions is in roots.
func (p *Program) OnlyReferences(roots ...string) bool {
	for _, r := range p.Refs {
		if !slices.Contains(roots, r) {
			return false
		}
	}
	return true
}

// Eval runs the program against env (nil means an empty environment) under
// the budgets. Runtime errors (a missing step output, a budget) are *Error
// values.
func (p *Program) Eval(env *Env) (any, error) {
	if env == nil {
		env = &Env{}
	}
	out, err := run(p.prog, env)
	if e, ok := err.(*Error); ok {
		e.Text = p.Source
	}
	return out, err
}

// EvalBool runs a Bool program and returns its result.
func (p *Program) EvalBool(env *Env) (bool, error) {
	out, err := p.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, &Error{Msg: fmt.Sprintf("expected a boolean, got %T", out), Hint: "a guard must be true or false, e.g. len(live.shards) > 0"}
	}
	return b, nil
}
