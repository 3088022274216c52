package expression

import (
	"reflect"
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// MaxFoldedBytes bounds the size of a value folded into a compiled
// expression; a larger constant is still computed (and bounded) when the
// expression is compiled, but computed again at every evaluation instead of
// being kept.
const MaxFoldedBytes = 64 << 10

const hintConstant = "this part of the expression reads nothing from live, params, steps or run, so it is computed when the plan is loaded; fix it there"

// folder computes every constant sub-expression (one that reads nothing from
// the environment, no predicate item and no variable declared around it)
// under the budgets when the expression is compiled, and replaces it with its
// value. A constant that fails or exceeds a budget is an error of the
// expression at the position where it failed, before anything runs.
type folder struct {
	source file.Source
	cfg    *conf.Config // an Any configuration with the metered functions, made when first needed
	budget *Budget      // shared with other expressions, or nil
}

func (f *folder) fold(p *ast.Node) error {
	n := *p
	if foldable(n) && constant(n) {
		v, err := f.eval(n, p)
		if err != nil {
			return err
		}
		if approxSize(reflect.ValueOf(v), 0) <= MaxFoldedBytes {
			var c ast.Node = &ast.ConstantNode{Value: v}
			if v == nil {
				c = &ast.NilNode{}
			}
			c.SetNature(*n.Nature())
			ast.Patch(p, c)
		}
		return nil
	}
	for _, c := range children(n) {
		if err := f.fold(c); err != nil {
			return err
		}
	}
	return nil
}

// eval compiles the constant sub-tree at p on its own (metered; *p becomes
// the metered tree) and runs it with an empty environment.
func (f *folder) eval(n ast.Node, p *ast.Node) (any, error) {
	ast.Walk(&n, meterPatch{})
	*p = n
	if f.cfg == nil {
		f.cfg = config(Any, true)
	}
	prog, err := compiler.Compile(&parser.Tree{Node: n, Source: f.source}, f.cfg)
	if err != nil {
		return nil, toError(err)
	}
	out, err := run(prog, &Env{budget: f.budget})
	if err != nil {
		if e, ok := err.(*Error); ok && (e.Hint == "" || e.Hint == hintEval) {
			e.Hint = hintConstant
		}
		return nil, err
	}
	return out, nil
}

// foldable reports whether a node is a value worth computing on its own:
// not a literal already, not a name, and not part of a larger construct.
func foldable(n ast.Node) bool {
	switch n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode, *ast.BytesNode,
		*ast.ConstantNode, *ast.IdentifierNode, *ast.PredicateNode, *ast.PairNode, *ast.PointerNode:
		return false
	}
	return true
}

// constant reports whether n reads nothing that is known only at run time.
func constant(n ast.Node) bool {
	r := refsOf(n)
	return !r.env && !r.pointer && len(r.vars) == 0
}

// refs are what a sub-tree reads from outside itself.
type refs struct {
	env     bool     // a root of the environment, or $env
	pointer bool     // the item of an enclosing predicate (#, .field)
	vars    []string // variables declared around it (let)
}

func (r *refs) add(o refs) {
	r.env = r.env || o.env
	r.pointer = r.pointer || o.pointer
	for _, v := range o.vars {
		if !slices.Contains(r.vars, v) {
			r.vars = append(r.vars, v)
		}
	}
}

func refsOf(n ast.Node) refs {
	var r refs
	switch x := n.(type) {
	case *ast.IdentifierNode:
		if x.Value == "$env" || slices.Contains(Roots, x.Value) {
			r.env = true
		} else {
			r.vars = []string{x.Value}
		}
		return r
	case *ast.PointerNode:
		r.pointer = true
		return r
	case *ast.PredicateNode:
		r = refsOf(x.Node)
		r.pointer = false // the item of this predicate
		return r
	case *ast.VariableDeclaratorNode:
		r = refsOf(x.Value)
		inner := refsOf(x.Expr)
		inner.vars = slices.DeleteFunc(inner.vars, func(v string) bool { return v == x.Name })
		r.add(inner)
		return r
	case *ast.CallNode:
		// The callee of a call is a function name, not a variable.
		if _, ok := x.Callee.(*ast.IdentifierNode); !ok {
			r.add(refsOf(x.Callee))
		}
		for _, a := range x.Arguments {
			r.add(refsOf(a))
		}
		return r
	}
	for _, c := range children(n) {
		r.add(refsOf(*c))
	}
	return r
}

// children lists pointers to the direct sub-trees of n.
func children(n ast.Node) []*ast.Node {
	var out []*ast.Node
	add := func(ps ...*ast.Node) {
		for _, p := range ps {
			if *p != nil {
				out = append(out, p)
			}
		}
	}
	switch x := n.(type) {
	case *ast.UnaryNode:
		add(&x.Node)
	case *ast.BinaryNode:
		add(&x.Left, &x.Right)
	case *ast.ChainNode:
		add(&x.Node)
	case *ast.MemberNode:
		add(&x.Node, &x.Property)
	case *ast.SliceNode:
		add(&x.Node, &x.From, &x.To)
	case *ast.CallNode:
		add(&x.Callee)
		for i := range x.Arguments {
			add(&x.Arguments[i])
		}
	case *ast.BuiltinNode:
		for i := range x.Arguments {
			add(&x.Arguments[i])
		}
		if x.Map != nil {
			add(&x.Map)
		}
	case *ast.PredicateNode:
		add(&x.Node)
	case *ast.VariableDeclaratorNode:
		add(&x.Value, &x.Expr)
	case *ast.SequenceNode:
		for i := range x.Nodes {
			add(&x.Nodes[i])
		}
	case *ast.ConditionalNode:
		add(&x.Cond, &x.Exp1, &x.Exp2)
	case *ast.ArrayNode:
		for i := range x.Nodes {
			add(&x.Nodes[i])
		}
	case *ast.MapNode:
		for i := range x.Pairs {
			add(&x.Pairs[i])
		}
	case *ast.PairNode:
		add(&x.Key, &x.Value)
	}
	return out
}

// approxSize estimates the bytes a value holds, stopping once it passes
// MaxFoldedBytes.
func approxSize(v reflect.Value, acc int) int {
	if acc > MaxFoldedBytes || !v.IsValid() {
		return acc
	}
	switch v.Kind() {
	case reflect.String:
		return acc + ElementBytes + v.Len()
	case reflect.Slice, reflect.Array:
		acc += ElementBytes * (1 + v.Len())
		for i := 0; i < v.Len() && acc <= MaxFoldedBytes; i++ {
			acc = approxSize(v.Index(i), acc)
		}
		return acc
	case reflect.Map:
		acc += 2 * ElementBytes * (1 + v.Len())
		it := v.MapRange()
		for it.Next() && acc <= MaxFoldedBytes {
			acc = approxSize(it.Value(), approxSize(it.Key(), acc))
		}
		return acc
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return acc + ElementBytes
		}
		return approxSize(v.Elem(), acc)
	}
	return acc + ElementBytes
}

// run evaluates a compiled program under the budgets.
func run(prog *vm.Program, env *Env) (out any, err error) {
	defer func() {
		// expr-lang recovers its own panics; this is for anything it misses.
		if r := recover(); r != nil {
			out, err = nil, &Error{Msg: "the expression failed: " + firstLine(r), Hint: "report this as a bug of fleetplan, with the expression"}
		}
	}()
	e := *env
	e.meter = newMeter(e.budget)
	machine := vm.VM{MemoryBudget: MemoryBudget}
	out, err = machine.Run(prog, e)
	if err != nil {
		ee := toError(err).(*Error)
		if ee.Hint == "" {
			ee.Hint = hintEval
		}
		return nil, ee
	}
	return out, nil
}

const hintEval = "the expression failed on the values it read; check that the params, steps outputs and live fields it uses exist and have the types it expects"
