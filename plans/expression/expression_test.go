package expression

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/google/go-cmp/cmp"
)

func TestCompile(t *testing.T) {
	cases := map[string]struct {
		src      string
		kind     Kind
		wantErr  string // substring; empty means success
		wantCol  int
		wantRefs []string
	}{
		"guard over live":      {src: "all(live.shards, .online)", kind: Bool, wantRefs: []string{"live"}},
		"guard over steps":     {src: "steps['seed'].outputs.lag == 0 && run.attempt < 3", kind: Bool, wantRefs: []string{"run", "steps"}},
		"params any":           {src: "params.primary.server", kind: Any, wantRefs: []string{"params"}},
		"no refs":              {src: "1 + 2", kind: Any},
		"unknown field":        {src: "all(live.shardz, .online)", kind: Bool, wantErr: "type Live has no field shardz", wantCol: 10},
		"unknown name":         {src: "foo > 1", kind: Bool, wantErr: "unknown name foo", wantCol: 1},
		"not bool":             {src: "len(live.shards)", kind: Bool, wantErr: "expected bool"},
		"syntax":               {src: "live.pendingOperations ==", kind: Bool, wantErr: "unexpected token EOF"},
		"disabled builtin now": {src: "now()", kind: Any, wantErr: "unknown name now"},
		"too long":             {src: string(make([]byte, MaxSourceLen+1)), kind: Any, wantErr: "limit"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Compile(tc.src, tc.kind)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				if diff := cmp.Diff(tc.wantRefs, p.Refs); diff != "" {
					t.Errorf("refs (-want +got):\n%s", diff)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile error = %v, want *Error containing %q", err, tc.wantErr)
			}
			if !contains(e.Msg, tc.wantErr) {
				t.Errorf("message %q lacks %q", e.Msg, tc.wantErr)
			}
			if tc.wantCol != 0 && e.Column != tc.wantCol {
				t.Errorf("column = %d, want %d", e.Column, tc.wantCol)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestEvalBool(t *testing.T) {
	env := &Env{
		Live: Live{Shards: []LiveShard{{Name: "a", Online: true}, {Name: "b", Online: false}}, PendingOperations: 2,
			Differences: []LiveDifference{{ShardMap: "m", Shard: "b", Server: "s", Database: "b", Kind: "DatabaseMissing"}}},
		Steps:  map[string]StepState{"seed": {Status: "done", Outputs: map[string]any{"lag": 0}}},
		Params: map[string]any{"min": 1},
	}
	cases := map[string]struct {
		src  string
		want bool
	}{
		"any online":        {"any(live.shards, .online)", true},
		"all online":        {"all(live.shards, .online)", false},
		"pending":           {"live.pendingOperations >= params.min", true},
		"differences":       {"len(live.differences) == 0", false},
		"difference fields": {"any(live.differences, .kind == 'DatabaseMissing' && .shard == 'b' && .low == '')", true},
		"step output":       {"steps.seed.outputs.lag == 0 && steps.seed.status == 'done'", true},
		"missing step safe": {"steps['nope'].status == ''", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Compile(tc.src, Bool)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.EvalBool(env)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMemoryBudget(t *testing.T) {
	p, err := Compile("len(map(1..params.n, # * 2)) > 0", Bool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.EvalBool(&Env{Params: map[string]any{"n": 1000000}}); err == nil {
		t.Fatal("expected the memory budget to stop the evaluation")
	}
}

// nested returns n nested replace() calls, each multiplying the length of
// seed by ten.
func nested(seed string, n int) string {
	s := seed
	for range n {
		s = "replace(" + s + ", 'a', 'aaaaaaaaaa')"
	}
	return s
}

// doubling returns a let chain that doubles seed n times.
func doubling(seed string, n int) string {
	s, prev := "let v0 = "+seed, "v0"
	for i := 1; i <= n; i++ {
		s += fmt.Sprintf("; let v%d = %s + %s", i, prev, prev)
		prev = fmt.Sprintf("v%d", i)
	}
	return s + "; len(" + prev + ") > 0"
}

// TestBudgets checks that every builtin that allocates in proportion to its
// arguments is bounded: constant expressions when they are compiled, the
// others when they run, with the position of the operation that crossed
// the budget.
func TestBudgets(t *testing.T) {
	env := &Env{Params: map[string]any{"s": "aaaaaaaaaa", "n": 2000000000, "list": []any{"x", "y"}},
		Live: Live{Shards: make([]LiveShard, 2000)}}
	cases := map[string]struct {
		src        string
		atCompile  bool   // the error comes from Compile (a constant), not Eval
		wantErr    string // substring; empty means success
		wantLine   int
		wantColumn int
		wantHint   string
	}{
		"nested replace":       {src: nested("'aaaaaaaaaa'", 9) + " != ''", atCompile: true, wantErr: "more than 4194304 bytes", wantColumn: 25, wantHint: "4 MiB"},
		"nested replace param": {src: nested("params.s", 9) + " != ''", wantErr: "more than 4194304 bytes", wantColumn: 25, wantHint: "4 MiB"},
		"let doubling":         {src: doubling("'aaaaaaaaaaaaaaaa'", 30), atCompile: true, wantErr: "more than 4194304 bytes", wantHint: "4 MiB"},
		"let doubling param":   {src: doubling("params.s", 30), wantErr: "more than 4194304 bytes", wantHint: "4 MiB"},
		"huge range":           {src: "all(1..2000000000, # > 0)", atCompile: true, wantErr: "more than 100000 elements", wantColumn: 6},
		"huge range param":     {src: "all(1..params.n, # > 0)", wantErr: "more than 100000 elements", wantColumn: 6},
		"nested loops":         {src: "let r = 1..1000; all(r, all(r, all(r, # > 0)))", atCompile: true, wantErr: "more than 1000000 iterations", wantHint: "iterations"},
		"nested loops live":    {src: "all(live.shards, all(live.shards, !.online))", wantErr: "more than 1000000 iterations", wantColumn: 18},
		"join":                 {src: "len(join(map(1..20000, params.s + params.s + params.s + params.s + params.s + params.s), params.s)) > 0", wantErr: "bytes"},
		"split":                {src: "len(split(" + nested("params.s", 5) + ", '')) > 0", wantErr: "bytes"},
		"replace with n":       {src: "replace(" + nested("params.s", 5) + ", 'a', 'aaaaaaaaaa', 1000000) != ''", wantErr: "bytes"},
		"upper":                {src: "let a = " + nested("params.s", 5) + "; let b = upper(a) + upper(a) + upper(a); b != ''", wantErr: "bytes"},
		"string of a list":     {src: "len(string(map(1..90000, params.s))) > 0", wantErr: "more than"},
		"matches":              {src: "let p = " + nested("params.s", 4) + "; any(1..1000, params.s matches p)", wantErr: "bytes"},
		"matches works":        {src: "params.s matches '^a+$' && params.s matches params.s && !(params.s matches 'b')"},
		"map of ranges":        {src: "len(map(1..1000, 1..1000)) > 0", atCompile: true, wantErr: "elements"},
		"constant division":    {src: "1 % 0 == 0", atCompile: true, wantErr: "integer divide by zero", wantHint: "computed when the plan is loaded"},
		"small constants fold": {src: "len(replace('abc', 'b', 'xyz')) == 5 && 'a' + 'b' == 'ab' && len(1..10) == 10"},
		"in a wide range":      {src: "params.n in 0..2000000000", atCompile: true, wantErr: "elements"},
		"strings join":         {src: "join(params.list, '-') == 'x-y' && split('a,b', ',')[1] == 'b' && upper(params.s) != ''"},
		"concat of any":        {src: "params.s + 'b' != '' && params.n + 1 > 0"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Compile(tc.src, Bool)
			if err == nil && !tc.atCompile {
				_, err = p.EvalBool(env)
			} else if err == nil && tc.wantErr != "" {
				t.Fatalf("Compile(%q) passed; want a constant error %q", tc.src, tc.wantErr)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !contains(e.Msg, tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if e.Hint == "" || !contains(e.Hint, tc.wantHint) {
				t.Errorf("hint = %q, want one containing %q", e.Hint, tc.wantHint)
			}
			if e.Column == 0 || (tc.wantColumn != 0 && e.Column != tc.wantColumn) {
				t.Errorf("column = %d, want %d", e.Column, tc.wantColumn)
			}
		})
	}
}

// TestTimeBudget checks the clock of the meter (without timing anything).
func TestTimeBudget(t *testing.T) {
	m := newMeter(nil)
	m.deadline = m.deadline.Add(-2 * TimeBudget)
	var err error
	for range 64 {
		if err = m.step(); err != nil {
			break
		}
	}
	var be *budgetError
	if !errors.As(err, &be) || !contains(be.msg, "longer than") {
		t.Fatalf("err = %v, want the time budget", err)
	}
}

// TestFileBudget checks that constants compiled within one budget share it:
// each of these is within its own budget, but not eleven of them together.
func TestFileBudget(t *testing.T) {
	b := NewBudget()
	src := "let r = 1..1000; let q = 1..990; all(r, all(q, # > 0))"
	for i := 1; i <= 11; i++ {
		_, err := CompileIn(b, src, Bool)
		if i < 11 && err != nil {
			t.Fatalf("expression %d: %v", i, err)
		}
		if i == 11 && (err == nil || !contains(err.Error(), "of this file run more than 10000000 iterations") || HintOf(err) == "") {
			t.Fatalf("expression 11: err = %v, want the file budget with a hint", err)
		}
	}
	if _, err := Compile(src, Bool); err != nil {
		t.Errorf("without a shared budget: %v", err)
	}
}

// TestMeteredNamesCannotBeCalled checks that a plan cannot call the metered
// functions by name (with an environment of its own making).
func TestMeteredNamesCannotBeCalled(t *testing.T) {
	for _, src := range []string{meteredPrefix + "replace($env, 'a', 'a', 'b')", tickFunc + "($env)"} {
		if _, err := Compile(src, Any); err == nil {
			t.Errorf("Compile(%q) passed", src)
		}
	}
}

func TestInterp(t *testing.T) {
	env := &Env{Params: map[string]any{"n": 3, "server": "sql-1"}, Steps: map[string]StepState{"a": {Outputs: map[string]any{"x": "out"}}}}
	cases := map[string]struct {
		src         string
		partial     bool
		want        any
		wantErr     string
		wantErrCol  int
		wantErrLine int
	}{
		"plain":              {src: "no interpolation", want: "no interpolation"},
		"typed single":       {src: "${{ params.n }}", want: 3},
		"mixed text":         {src: "on ${{ params.server }}: ${{ params.n * 2 }}", want: "on sql-1: 6"},
		"steps resolved":     {src: "${{ steps.a.outputs.x }}", want: "out"},
		"partial keeps":      {src: "${{ params.server }}/${{ steps.a.outputs.x }}", partial: true, want: "sql-1/${{ steps.a.outputs.x }}"},
		"partial single":     {src: "${{ steps.a.outputs.x }}", partial: true, want: "${{ steps.a.outputs.x }}"},
		"unterminated":       {src: "abc ${{ params.n", wantErr: "unterminated", wantErrCol: 5},
		"empty":              {src: "${{  }}", wantErr: "empty"},
		"error column":       {src: "x ${{ params.n + }}", wantErr: "unexpected token", wantErrCol: 17},
		"error second line":  {src: "first\nx ${{ foo }}", wantErr: "unknown name foo", wantErrLine: 2, wantErrCol: 7},
		"list rendered json": {src: "v=${{ [1, 2] }}", want: "v=[1,2]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			it, err := CompileInterp(tc.src)
			if tc.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || !contains(e.Msg, tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.wantErrCol != 0 && e.Column != tc.wantErrCol {
					t.Errorf("column = %d, want %d", e.Column, tc.wantErrCol)
				}
				if tc.wantErrLine != 0 && e.Line != tc.wantErrLine {
					t.Errorf("line = %d, want %d", e.Line, tc.wantErrLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if tc.partial {
				got, err = it.Partial(env, "params")
			} else {
				got, err = it.Eval(env)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	in := map[string]any{"a": "${{ params.n }}", "b": []any{"x-${{ run.id }}", 4}, "c": map[string]any{"d": true}}
	env := &Env{Params: map[string]any{"n": 7}, Run: Run{ID: "r1"}}
	got, err := Interpolate(in, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": 7, "b": []any{"x-r1", 4}, "c": map[string]any{"d": true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if in["a"] != "${{ params.n }}" {
		t.Error("Interpolate modified its input")
	}
	if _, err := Interpolate(map[string]any{"k": "${{ nope }}"}, env); err == nil || !contains(err.Error(), "k:") {
		t.Errorf("err = %v, want one naming the key", err)
	}
}

func FuzzCompileExpression(f *testing.F) {
	for _, s := range []string{"all(live.shards, .online)", "steps['a'].outputs.x > 1", "params.x + 'y'", "${{", "1..", "map(1..9, #)", "let x = 1; x", "{a: [1, {b: 2}]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, k := range []Kind{Bool, Any} {
			if p, err := Compile(src, k); err == nil {
				_, _ = p.Eval(&Env{})
			}
		}
		if it, err := CompileInterp(src); err == nil {
			_, _ = it.Eval(&Env{})
		}
	})
}

// fuzzEnv is a sample environment with values of every kind expressions read.
func fuzzEnv() *Env {
	shards := make([]LiveShard, 300)
	mappings := make([]LiveMapping, 300)
	for i := range shards {
		shards[i] = LiveShard{Name: fmt.Sprintf("customers_%d", i), Server: "sql-1", Online: i%7 != 0, Mappings: i, Rows: int64(i) * 1000}
		mappings[i] = LiveMapping{Low: fmt.Sprint(i * 100), High: fmt.Sprint(i*100 + 100), Shard: shards[i].Name, Online: true}
	}
	return &Env{
		Live:   Live{Shards: shards, Mappings: mappings, Databases: []LiveDatabase{{Server: "sql-1", Name: "db", Role: "primary"}}, PendingOperations: 1},
		Params: map[string]any{"s": "aaaaaaaaaa", "n": 2000000000, "small": 3, "list": []any{"x", "y", 1, 2.5}, "m": map[string]any{"a": "b"}},
		Steps:  map[string]StepState{"a": {Status: "done", Outputs: map[string]any{"x": 2, "s": "out"}}},
		Run:    Run{ID: "r1", Target: "local", Plan: "p", Attempt: 1},
	}
}

// maxFuzzHeap bounds the live heap after one evaluation. The budgets allow
// 4 MiB of text and 100000 elements; a broken budget asks for gigabytes.
const maxFuzzHeap = 512 << 20

// FuzzExpressionBudgets compiles (folding constants), then evaluates random
// expressions against a sample environment under the budgets, and checks
// that the process survives them: no panic escapes, every error is an
// *Error, and the heap stays far below what a broken budget would take.
func FuzzExpressionBudgets(f *testing.F) {
	for _, s := range []string{
		nested("'aaaaaaaaaa'", 9), nested("params.s", 9), doubling("params.s", 30), doubling("'aa'", 30),
		"all(1..2000000000, # > 0)", "all(1..params.n, # > 0)", "let r = 1..1000; all(r, all(r, all(r, true)))",
		"all(live.shards, all(live.shards, all(live.shards, .online)))", "len(join(map(1..90000, params.s), params.s))",
		"split(replace(params.s, 'a', 'aaaaaaaaaa'), '')", "upper(params.s) + lower(params.s)", "string(live)",
		"keys(groupBy(live.shards, .server))", "uniq(map(1..50000, # % 7))", "sortBy(live.shards, .rows)",
		"count(live.mappings, .online) > 0 ? 'a' : 'b'", "steps.a.outputs.s + run.id", "params.m.a + params.list[0]",
		"let x = params.s; let y = x + x; replace(y, 'a', y)", "filter(1..1000, # % 2 == 0) | map(# * 2) | sum()",
	} {
		f.Add(s)
	}
	env := fuzzEnv()
	f.Fuzz(func(t *testing.T, src string) {
		check := func(what string, err error) {
			var e *Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("%s(%q): error %T %v, want *Error", what, src, err, err)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > maxFuzzHeap {
				t.Fatalf("%s(%q): heap is %d MiB after the evaluation", what, src, ms.HeapAlloc>>20)
			}
		}
		for _, k := range []Kind{Bool, Any} {
			p, err := Compile(src, k)
			check("Compile", err)
			if err == nil {
				_, err = p.Eval(env)
				check("Eval", err)
			}
		}
		it, err := CompileInterp("x ${{ " + src + " }} y")
		check("CompileInterp", err)
		if err == nil {
			_, err = it.Eval(env)
			check("Interp.Eval", err)
		}
	})
}

// FuzzBudgetsKeepResults checks that metering and constant folding change
// no result: an expression gives what plain expr-lang gives, and fails only
// where expr-lang fails too or a budget stops it.
func FuzzBudgetsKeepResults(f *testing.F) {
	for _, s := range []string{"all(live.shards, .online)", "map(1..9, #)", "1..3 | map(# + 1) | filter(# > 2)",
		"len('a' + 'b') > 1 ? upper('x') : lower('Y')", "split('a,b', ',')[0] matches 'a'", "{a: 1}?.a ?? 2",
		"let f = 1..5; sortBy(f, -#)", "groupBy(1..10, # % 2)", "if true { 1 } else { 2 }", "params.s + 'x'",
		"join(map(live.shards, .name), ',')", "uniq([1, 1, 2])", "replace(params.s, 'a', 'b')", "string(1..3)",
		"first(live.shards).name + run.id", "params.s matches params.s"} {
		f.Add(s)
	}
	env := fuzzEnv()
	f.Fuzz(func(t *testing.T, src string) {
		var got any
		p, err := Compile(src, Any)
		if err == nil {
			got, err = p.Eval(env)
		}
		plain, perr := expr.Compile(src, options(Any)...)
		if perr != nil {
			return
		}
		machine := vm.VM{MemoryBudget: MemoryBudget}
		want, perr := machine.Run(plain, *env)
		switch {
		case perr != nil:
			return
		case err != nil:
			if h := HintOf(err); h != hintMemory && h != hintSteps && h != hintTime {
				t.Fatalf("%q: %v; expr-lang gives %v", src, err, want)
			}
		case !reflect.DeepEqual(got, want) && sameItems(got) != sameItems(want):
			t.Fatalf("%q = %#v; expr-lang gives %#v", src, got, want)
		}
	})
}

// sameItems renders a value with the items of a list sorted (keys() and
// values() follow map order).
func sameItems(v any) string {
	l, ok := v.([]any)
	if !ok {
		return fmt.Sprint(v)
	}
	items := make([]string, len(l))
	for i, e := range l {
		items[i] = fmt.Sprint(e)
	}
	sort.Strings(items)
	return fmt.Sprint(items)
}
