package expression

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// Budgets of one evaluation. expr-lang's own MemoryBudget counts elements of
// ranges, list and map literals and sorts, but not the bytes of strings that
// replace, join, split, upper, + ... build, nor loop iterations: a 400-byte
// expression could ask for gigabytes. Every builtin that allocates in
// proportion to its arguments therefore runs through a meter that checks the
// size of its result before building it, and every iteration of a predicate
// (all, map, filter, ...) ticks the meter.
const (
	// ByteBudget bounds the bytes of strings one evaluation may build.
	ByteBudget = 4 << 20
	// ElementBytes is what one element of a list, map or range costs
	// against ByteBudget when a builtin builds one (split).
	ElementBytes = 16
	// StepBudget bounds the iterations of predicates (all, map, filter, ...)
	// one evaluation may run, nested loops multiplied.
	StepBudget = 1_000_000
	// TimeBudget bounds the wall-clock time of one evaluation.
	TimeBudget = 2 * time.Second
)

// Hints of budget errors.
const (
	hintMemory = "an expression may build at most 4 MiB of text and 100000 list, map or range elements; compute large values outside the plan"
	hintSteps  = "all, any, map, filter and the other predicates may run at most 1000000 iterations in one expression, nested loops multiplied; loop over fewer items"
	hintTime   = "an expression must finish within 2s; loop over fewer items"
)

// budgetError is a budget that one evaluation exceeded.
type budgetError struct{ msg, hint string }

func (e *budgetError) Error() string { return e.msg }

// Budgets that the expressions of one plan file share while it is loaded
// (constant parts, and interpolations resolved with template parameters):
// each expression has its own budgets, but a file of thousands of them must
// not take hours to validate.
const (
	FileByteBudget = 16 * ByteBudget
	FileStepBudget = 10 * StepBudget
)

const hintFile = "the expressions of one plan file are computed when it is loaded, within a shared budget; split the file, or compute large values outside the plan"

// Budget is what the expressions of one plan file may use together while it
// is loaded. It is not safe for concurrent use.
type Budget struct{ bytes, steps int }

// NewBudget returns the shared budget of one plan file.
func NewBudget() *Budget { return &Budget{} }

// Within returns env set to charge b as well as its own budgets.
func Within(env *Env, b *Budget) *Env {
	env.budget = b
	return env
}

// meter counts what one evaluation has built and run. It is not safe for
// concurrent use: every evaluation has its own.
type meter struct {
	bytes    int
	steps    int
	deadline time.Time
	shared   *Budget // nil outside a load
}

func newMeter(shared *Budget) *meter {
	return &meter{deadline: time.Now().Add(TimeBudget), shared: shared}
}

// grow charges n bytes, before they are allocated.
func (m *meter) grow(n int) error {
	if n < 0 || n > ByteBudget-m.bytes {
		return &budgetError{msg: fmt.Sprintf("the expression builds more than %d bytes of text", ByteBudget), hint: hintMemory}
	}
	if b := m.shared; b != nil {
		if n > FileByteBudget-b.bytes {
			return &budgetError{msg: fmt.Sprintf("the expressions of this file build more than %d bytes of text together", FileByteBudget), hint: hintFile}
		}
		b.bytes += n
	}
	m.bytes += n
	return m.clock()
}

// step charges one iteration of a predicate.
func (m *meter) step() error {
	m.steps++
	if m.steps > StepBudget {
		return &budgetError{msg: fmt.Sprintf("the expression runs more than %d iterations", StepBudget), hint: hintSteps}
	}
	if b := m.shared; b != nil {
		if b.steps++; b.steps > FileStepBudget {
			return &budgetError{msg: fmt.Sprintf("the expressions of this file run more than %d iterations together", FileStepBudget), hint: hintFile}
		}
	}
	if m.steps%16 == 0 {
		return m.clock()
	}
	return nil
}

func (m *meter) clock() error {
	if time.Now().After(m.deadline) {
		return &budgetError{msg: fmt.Sprintf("the expression runs longer than %s", TimeBudget), hint: hintTime}
	}
	return nil
}

// Names of the metered functions the compiler calls instead of the builtins.
// The prefix cannot be written in a plan: Compile refuses identifiers with it.
const meteredPrefix = "$fleetplan_"

const tickFunc = meteredPrefix + "tick"

// metered are the builtins (and +) that build a value in proportion to their
// arguments, each with the size its result will have (checked before it is
// built) or -1 when the size is only known after (bounded by the input's).
var metered = map[string]func(args []any) int{
	"replace": func(a []any) int {
		s, old, repl, ok := strings3(a)
		if !ok {
			return 0
		}
		n := strings.Count(s, old)
		if old == "" {
			n = utf8.RuneCountInString(s) + 1
		}
		if len(a) == 4 {
			if limit, ok := a[3].(int); ok && limit >= 0 && limit < n {
				n = limit
			}
		}
		return len(s) + n*(len(repl)-len(old))
	},
	"split": func(a []any) int {
		s, _ := a[0].(string)
		sep, _ := a[1].(string)
		n := strings.Count(s, sep) + 1
		if sep == "" {
			n = utf8.RuneCountInString(s)
		}
		return n * ElementBytes
	},
	"join": func(a []any) int {
		glue := ""
		if len(a) == 2 {
			glue, _ = a[1].(string)
		}
		size := 0
		v := reflect.ValueOf(a[0])
		if v.Kind() != reflect.Slice {
			return 0
		}
		for i := 0; i < v.Len(); i++ {
			if s, ok := v.Index(i).Interface().(string); ok {
				size += len(s)
			}
			if i > 0 {
				size += len(glue)
			}
			if size > ByteBudget {
				return size
			}
		}
		return size
	},
	"keys":   elements,
	"values": elements,
	"uniq":   elements,
	"upper":  func([]any) int { return -1 },
	"lower":  func([]any) int { return -1 },
	"trim":   func([]any) int { return -1 },
	"string": func([]any) int { return -1 },
}

// elements is the size of a list as long as the list or map in a[0].
func elements(a []any) int {
	v := reflect.ValueOf(a[0])
	if k := v.Kind(); k != reflect.Slice && k != reflect.Array && k != reflect.Map {
		return 0
	}
	return v.Len() * ElementBytes
}

func strings3(a []any) (string, string, string, bool) {
	if len(a) < 3 {
		return "", "", "", false
	}
	s, ok1 := a[0].(string)
	old, ok2 := a[1].(string)
	repl, ok3 := a[2].(string)
	return s, old, repl, ok1 && ok2 && ok3
}

// meterOf finds the meter of the evaluation in the environment a metered
// function receives as its first argument.
func meterOf(env any) (*meter, error) {
	if e, ok := env.(Env); ok && e.meter != nil {
		return e.meter, nil
	}
	return nil, &budgetError{msg: "internal error: an expression ran without its budget", hint: "report this as a bug of fleetplan"}
}

// meteredFunctions are the functions that replace the metered builtins and
// the ticks of predicates; they join the compile configuration after type
// checking, so a plan cannot call them by name.
func meteredFunctions(c *conf.Config) {
	for name, size := range metered {
		b := builtin.Builtins[builtin.Index[name]]
		c.Functions[meteredPrefix+name] = &builtin.Function{Name: meteredPrefix + name, Func: func(args ...any) (any, error) {
			m, err := meterOf(args[0])
			if err != nil {
				return nil, err
			}
			args = args[1:]
			if n := size(args); n >= 0 {
				if err := m.grow(n); err != nil {
					return nil, err
				}
			}
			out, err := callBuiltin(b, args)
			if err != nil {
				return nil, err
			}
			if size(args) < 0 {
				if s, ok := out.(string); ok {
					err = m.grow(len(s))
				}
			}
			return out, err
		}}
	}
	c.Functions[meteredPrefix+"add"] = &builtin.Function{Name: meteredPrefix + "add", Func: func(args ...any) (any, error) {
		m, err := meterOf(args[0])
		if err != nil {
			return nil, err
		}
		if a, ok := args[1].(string); ok {
			if b, ok := args[2].(string); ok {
				if err := m.grow(len(a) + len(b)); err != nil {
					return nil, err
				}
				return a + b, nil
			}
		}
		return runtime.Add(args[1], args[2]), nil
	}}
	c.Functions[meteredPrefix+"matches"] = &builtin.Function{Name: meteredPrefix + "matches", Func: func(args ...any) (any, error) {
		m, err := meterOf(args[0])
		if err != nil {
			return nil, err
		}
		s, ok1 := args[1].(string)
		pattern, ok2 := args[2].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("matches needs two strings, got %T and %T", args[1], args[2])
		}
		// Compiling a pattern takes tens of bytes per byte of it.
		if err := m.grow(len(pattern) * ElementBytes); err != nil {
			return nil, err
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, err
		}
		return re.MatchString(s), nil
	}}
	c.Functions[tickFunc] = &builtin.Function{Name: tickFunc, Func: func(args ...any) (any, error) {
		m, err := meterOf(args[0])
		if err != nil {
			return nil, err
		}
		return true, m.step()
	}}
}

func callBuiltin(b *builtin.Function, args []any) (any, error) {
	switch {
	case b.Func != nil:
		return b.Func(args...)
	case b.Fast != nil && len(args) == 1:
		return b.Fast(args[0]), nil
	case b.Safe != nil:
		out, _, err := b.Safe(args...)
		return out, err
	}
	return nil, fmt.Errorf("%s cannot be called with %d arguments", b.Name, len(args))
}

// meterPatch rewrites a checked tree so that it runs under the meter: calls
// of metered builtins and string + go through the metered functions, and
// every predicate body first ticks.
type meterPatch struct{}

var boolType = reflect.TypeOf(true)

func envNode() ast.Node { return &ast.IdentifierNode{Value: "$env"} }

func (meterPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if _, ok := metered[n.Name]; ok && n.Map == nil {
			call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: meteredPrefix + n.Name}, Arguments: append([]ast.Node{envNode()}, n.Arguments...)}
			call.SetNature(*n.Nature())
			ast.Patch(node, call)
			return
		}
		for _, a := range n.Arguments {
			if p, ok := a.(*ast.PredicateNode); ok && !ticks(p) {
				tick := &ast.CallNode{Callee: &ast.IdentifierNode{Value: tickFunc}, Arguments: []ast.Node{envNode()}}
				tick.SetType(boolType)
				tick.SetLocation(n.Location())
				seq := &ast.SequenceNode{Nodes: []ast.Node{tick, p.Node}}
				seq.SetNature(*p.Node.Nature())
				seq.SetLocation(p.Node.Location())
				p.Node = seq
			}
		}
	case *ast.BinaryNode:
		if n.Operator == "matches" {
			if _, literal := n.Right.(*ast.StringNode); !literal { // a literal pattern is compiled with the expression
				call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: meteredPrefix + "matches"}, Arguments: []ast.Node{envNode(), n.Left, n.Right}}
				call.SetNature(*n.Nature())
				ast.Patch(node, call)
			}
			return
		}
		if n.Operator != "+" || !maybeString(n.Left) || !maybeString(n.Right) {
			return
		}
		call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: meteredPrefix + "add"}, Arguments: []ast.Node{envNode(), n.Left, n.Right}}
		call.SetNature(*n.Nature())
		ast.Patch(node, call)
	}
}

// ticks reports whether a predicate body already starts with a tick.
func ticks(p *ast.PredicateNode) bool {
	seq, ok := p.Node.(*ast.SequenceNode)
	if !ok || len(seq.Nodes) == 0 {
		return false
	}
	call, ok := seq.Nodes[0].(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	return ok && id.Value == tickFunc
}

// maybeString reports whether a node may hold a string at run time.
func maybeString(n ast.Node) bool {
	k := n.Type().Kind()
	return k == reflect.String || k == reflect.Interface
}
