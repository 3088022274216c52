package expression

import (
	"errors"
	"testing"

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
		Live:   Live{Shards: []LiveShard{{Name: "a", Online: true}, {Name: "b", Online: false}}, PendingOperations: 2},
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
	p, err := Compile("len(map(1..1000000, # * 2)) > 0", Bool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.EvalBool(nil); err == nil {
		t.Fatal("expected the memory budget to stop the evaluation")
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
