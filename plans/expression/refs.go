package expression

import (
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// ParamRef is one reference to a template parameter, like params.db.server
// or params['db'].server.
type ParamRef struct {
	// Path are the constant member names after params: ["db", "server"]. It
	// stops at the first member that is not a constant name (params[x]).
	Path []string
	// Columns holds, for each element of Path, its 1-based column (in
	// runes) inside the expression text; Lines the matching 1-based lines.
	Lines, Columns []int
	// Optional says the expression copes with a missing value: the chain is
	// the left side of ?? or uses ?. somewhere.
	Optional bool
}

// String renders the reference as params.a.b.
func (r ParamRef) String() string { return "params." + strings.Join(r.Path, ".") }

// ParamRefs lists the references to params in the expression, longest
// chains only, in source order.
func (p *Program) ParamRefs() []ParamRef {
	n := p.prog.Node()
	v := &paramVisitor{inner: map[ast.Node]bool{}, optional: map[ast.Node]bool{}}
	ast.Walk(&n, v)
	var out []ParamRef
	for _, m := range v.members {
		if v.inner[m] {
			continue
		}
		if r, ok := paramChain(m, p.Source); ok {
			r.Optional = r.Optional || v.optional[m]
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Lines[0] != out[j].Lines[0] {
			return out[i].Lines[0] < out[j].Lines[0]
		}
		return out[i].Columns[0] < out[j].Columns[0]
	})
	return out
}

type paramVisitor struct {
	members  []*ast.MemberNode
	inner    map[ast.Node]bool // member nodes that are the object of another member
	optional map[ast.Node]bool // member nodes on the left of ??
}

func (v *paramVisitor) Visit(n *ast.Node) {
	if b, ok := (*n).(*ast.BinaryNode); ok && b.Operator == "??" {
		left := b.Left
		if c, ok := left.(*ast.ChainNode); ok {
			left = c.Node
		}
		v.optional[left] = true
	}
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	v.members = append(v.members, m)
	if in, ok := m.Node.(*ast.MemberNode); ok {
		v.inner[in] = true
	}
	if c, ok := m.Node.(*ast.ChainNode); ok {
		if in, ok := c.Node.(*ast.MemberNode); ok {
			v.inner[in] = true
		}
	}
}

// paramChain unwinds m down to its root; ok is false unless the root is
// the identifier params and at least the first member is a constant name.
func paramChain(m *ast.MemberNode, src string) (ParamRef, bool) {
	var chain []*ast.MemberNode
	var node ast.Node = m
	optional := false
	for {
		switch x := node.(type) {
		case *ast.MemberNode:
			chain = append(chain, x)
			optional = optional || x.Optional
			node = x.Node
			continue
		case *ast.ChainNode:
			optional = true
			node = x.Node
			continue
		case *ast.IdentifierNode:
			if x.Value != "params" {
				return ParamRef{}, false
			}
		default:
			return ParamRef{}, false
		}
		break
	}
	r := ParamRef{Optional: optional}
	runes := []rune(src)
	for i := len(chain) - 1; i >= 0; i-- {
		s, ok := chain[i].Property.(*ast.StringNode)
		if !ok {
			break
		}
		r.Path = append(r.Path, s.Value)
		line, col := runeLineCol(runes, chain[i].Property.Location().From)
		r.Lines, r.Columns = append(r.Lines, line), append(r.Columns, col)
	}
	return r, len(r.Path) > 0
}

// runeLineCol turns a 0-based rune offset into a 1-based line and column.
func runeLineCol(runes []rune, off int) (int, int) {
	line, col := 1, 1
	for i := 0; i < off && i < len(runes); i++ {
		if runes[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// ParamRefs lists the references to params of every interpolation, with
// lines and columns relative to the whole string.
func (t *Interp) ParamRefs() []ParamRef {
	var out []ParamRef
	for _, part := range t.Parts {
		if part.Prog == nil {
			continue
		}
		before := []rune(t.Source[:part.Offset])
		baseLine, baseCol := runeLineCol(before, len(before))
		for _, r := range part.Prog.ParamRefs() {
			for i := range r.Path {
				if r.Lines[i] == 1 {
					r.Columns[i] += baseCol - 1
				}
				r.Lines[i] += baseLine - 1
			}
			out = append(out, r)
		}
	}
	return out
}
