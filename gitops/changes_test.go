package gitops

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNameStatus(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []FileChange
		err  bool
	}{
		{name: "empty", out: ""},
		{name: "one of each", out: "M\x00a.yaml\x00A\x00b.yaml\x00D\x00c.yaml\x00R087\x00old.yaml\x00new.yaml\x00C100\x00x.yaml\x00y.yaml\x00T\x00l.yaml\x00",
			want: []FileChange{{Modified, "a.yaml", ""}, {Added, "b.yaml", ""}, {Deleted, "c.yaml", ""}, {Renamed, "new.yaml", "old.yaml"}, {Added, "y.yaml", ""}, {Modified, "l.yaml", ""}}},
		{name: "spaces and tabs in names", out: "M\x00my plans/a\tb.yaml\x00", want: []FileChange{{Modified, "my plans/a\tb.yaml", ""}}},
		{name: "a rename cut short", out: "R100\x00old.yaml\x00", err: true},
		{name: "a status without a path", out: "M\x00", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNameStatus([]byte(tt.out))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
		ok   bool
	}{
		{name: "two documents and a template", ok: true, want: []string{"ShardLayout/a/local", "RollingUpgrade/b/prod"},
			data: "kind: ShardLayout\nmetadata: {name: a}\nspec: {target: local}\n---\nkind: Template\nmetadata: {name: t}\n---\nkind: RollingUpgrade\nmetadata: {name: b}\nspec: {target: prod}\n"},
		{name: "a document of the wrong shape is skipped", ok: true, want: []string{"ShardLayout/a/local"},
			data: "kind: [x]\n---\nkind: ShardLayout\nmetadata: {name: a}\nspec: {target: local}\n"},
		{name: "broken YAML", ok: false, want: []string{"ShardLayout/a/local"},
			data: "kind: ShardLayout\nmetadata: {name: a}\nspec: {target: local}\n---\nkind: [\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, ok := headers([]byte(tt.data))
			var got []string
			for _, h := range hs {
				got = append(got, h.Kind+"/"+h.Metadata.Name+"/"+h.Spec.Target)
			}
			if ok != tt.ok {
				t.Errorf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
