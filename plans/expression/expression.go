package expression

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
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
	// MemoryBudget bounds what one evaluation may allocate (in expr-lang's
	// units: elements of ranges, maps and slices built while running).
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
// expression text (1-based; zero when unknown).
type Error struct {
	Line, Column int
	Msg          string
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

// Compile parses and type-checks src against Env. Errors are *Error values
// carrying the line and column inside src.
func Compile(src string, kind Kind) (p *Program, err error) {
	if len(src) > MaxSourceLen {
		return nil, &Error{Msg: fmt.Sprintf("expression is %d bytes long; the limit is %d", len(src), MaxSourceLen)}
	}
	defer func() {
		// expr-lang is robust, but a panic on hostile input must never reach the user.
		if r := recover(); r != nil {
			p, err = nil, &Error{Msg: fmt.Sprint(r)}
		}
	}()
	prog, err := expr.Compile(src, options(kind)...)
	if err != nil {
		return nil, toError(err)
	}
	return &Program{Source: src, Kind: kind, Refs: roots(prog.Node()), prog: prog}, nil
}

func toError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		// Name environment types as plans see them, not as Go does.
		e := &Error{Msg: strings.ReplaceAll(fe.Message, "expression.", "")}
		if fe.Line > 0 {
			e.Line, e.Column = fe.Line, fe.Column+1
		}
		return e
	}
	return &Error{Msg: err.Error()}
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

// Eval runs the program against env (nil means an empty environment). Runtime
// errors (a missing step output, the memory budget) are *Error values.
func (p *Program) Eval(env *Env) (out any, err error) {
	if env == nil {
		env = &Env{}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &Error{Msg: fmt.Sprint(r)}
		}
	}()
	machine := vm.VM{MemoryBudget: MemoryBudget}
	out, err = machine.Run(p.prog, *env)
	if err != nil {
		return nil, toError(err)
	}
	return out, nil
}

// EvalBool runs a Bool program and returns its result.
func (p *Program) EvalBool(env *Env) (bool, error) {
	out, err := p.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, &Error{Msg: fmt.Sprintf("expected a boolean, got %T", out)}
	}
	return b, nil
}
