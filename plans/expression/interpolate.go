package expression

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Delimiters of an interpolation inside a string.
const (
	Open  = "${{"
	Close = "}}"
)

// Interp is a string holding ${{ expr }} interpolations, compiled.
type Interp struct {
	Source string
	Parts  []Part
}

// Part is either literal text (Prog == nil) or one interpolation.
type Part struct {
	Text   string   // literal text, or the full "${{ ... }}" source of an interpolation
	Prog   *Program // nil for literal text
	Offset int      // byte offset of the expression text inside Source
}

// HasInterpolation reports whether s contains an interpolation opener.
func HasInterpolation(s string) bool { return strings.Contains(s, Open) }

// CompileInterp splits s into literal text and interpolations and compiles
// each expression as Any. Errors are *Error values whose line and column are
// relative to s.
func CompileInterp(s string) (*Interp, error) { return CompileInterpIn(nil, s) }

// CompileInterpIn is CompileInterp with the constant parts also charged to b
// (see CompileIn).
func CompileInterpIn(b *Budget, s string) (*Interp, error) {
	t := &Interp{Source: s}
	rest, base := s, 0
	for {
		i := strings.Index(rest, Open)
		if i < 0 {
			if rest != "" {
				t.Parts = append(t.Parts, Part{Text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.Parts = append(t.Parts, Part{Text: rest[:i]})
		}
		start := i + len(Open)
		j := strings.Index(rest[start:], Close)
		if j < 0 {
			line, col := lineCol(s, base+i, 1, 1)
			return nil, &Error{Line: line, Column: col, Msg: "unterminated ${{: add the closing }}"}
		}
		src := rest[start : start+j]
		if strings.TrimSpace(src) == "" {
			line, col := lineCol(s, base+i, 1, 1)
			return nil, &Error{Line: line, Column: col, Msg: "empty ${{ }}"}
		}
		p, err := CompileIn(b, src, Any)
		if err != nil {
			return nil, relocate(s, base+start, err)
		}
		end := start + j + len(Close)
		t.Parts = append(t.Parts, Part{Text: rest[i:end], Prog: p, Offset: base + start})
		rest, base = rest[end:], base+end
	}
}

// relocate turns an error of the expression at byte offset off of s into one
// whose line and column are relative to s.
func relocate(s string, off int, err error) error {
	e, ok := err.(*Error)
	if !ok || e.Column == 0 {
		return err
	}
	line, col := lineCol(s, off, e.Line, e.Column)
	return &Error{Line: line, Column: col, Msg: e.Msg, Hint: e.Hint, Text: s}
}

// lineCol converts a position (line, col, 1-based) inside a substring that
// starts at byte offset off of s into a line and column of s.
func lineCol(s string, off, line, col int) (int, int) {
	before := s[:off]
	l := 1 + strings.Count(before, "\n")
	c := utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:]) + 1 // 1-based column of off
	if line > 1 {
		return l + line - 1, col
	}
	return l, c + col - 1
}

// Refs lists the environment roots used by any interpolation, sorted and unique.
func (t *Interp) Refs() []string {
	seen := map[string]bool{}
	for _, p := range t.Parts {
		if p.Prog != nil {
			for _, r := range p.Prog.Refs {
				seen[r] = true
			}
		}
	}
	var out []string
	for _, r := range Roots {
		if seen[r] {
			out = append(out, r)
		}
	}
	return out
}

// Eval resolves every interpolation. A string that is exactly one ${{ }}
// yields the typed value; mixed text yields a string.
func (t *Interp) Eval(env *Env) (any, error) { return t.eval(env, nil) }

// Partial resolves only the interpolations whose roots are all in roots and
// keeps the others as written. It returns the typed value when the string is
// exactly one interpolation and it could be resolved.
func (t *Interp) Partial(env *Env, roots ...string) (any, error) {
	return t.eval(env, func(p *Program) bool { return p.OnlyReferences(roots...) })
}

func (t *Interp) eval(env *Env, resolve func(*Program) bool) (any, error) {
	if len(t.Parts) == 1 && t.Parts[0].Prog != nil {
		p := t.Parts[0].Prog
		if resolve != nil && !resolve(p) {
			return t.Source, nil
		}
		v, err := p.Eval(env)
		if err != nil {
			return nil, relocate(t.Source, t.Parts[0].Offset, err)
		}
		return v, nil
	}
	var b strings.Builder
	for _, part := range t.Parts {
		if part.Prog == nil || (resolve != nil && !resolve(part.Prog)) {
			b.WriteString(part.Text)
			continue
		}
		v, err := part.Prog.Eval(env)
		if err != nil {
			return nil, relocate(t.Source, part.Offset, err)
		}
		b.WriteString(Stringify(v))
	}
	return b.String(), nil
}

// Stringify renders a value for mixed text: scalars as written, nil as the
// empty string, lists and maps as JSON.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// Interpolate resolves every ${{ }} in v (strings, and strings nested in
// []any and map[string]any) against env and returns a new value; v is not
// modified. The runner calls it on a step's inputs just before the step runs.
func Interpolate(v any, env *Env) (any, error) {
	switch x := v.(type) {
	case string:
		if !HasInterpolation(x) {
			return x, nil
		}
		t, err := CompileInterp(x)
		if err != nil {
			return nil, err
		}
		return t.Eval(env)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := Interpolate(e, env)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := Interpolate(e, env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}
