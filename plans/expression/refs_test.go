package expression

import (
	"fmt"
	"strings"
	"testing"
)

func TestParamRefs(t *testing.T) {
	cases := map[string]struct {
		src  string
		want string // path@line:col[?], space-separated
	}{
		"one":           {src: "params.db", want: "db@1:8"},
		"nested":        {src: "params.db.server == 'a'", want: "db.server@1:8,1:11"},
		"index by name": {src: "params['db'].server", want: "db.server@1:8,1:14"},
		"two":           {src: "params.a ?? params.b.c", want: "a@1:8? b.c@1:20,1:22"},
		"optional":      {src: "params.a?.b", want: "a.b@1:8,1:11?"},
		"dynamic index": {src: "params.a[params.n]", want: "a@1:8 n@1:17"},
		"not params":    {src: "steps.a.outputs", want: ""},
		"second line":   {src: "true &&\n  params.x", want: "x@2:10"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Compile(tc.src, Any)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range p.ParamRefs() {
				var at []string
				for i := range r.Path {
					at = append(at, fmt.Sprintf("%d:%d", r.Lines[i], r.Columns[i]))
				}
				s := strings.Join(r.Path, ".") + "@" + strings.Join(at, ",")
				if r.Optional {
					s += "?"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("refs %q, want %q", g, tc.want)
			}
		})
	}
}
