package planfile

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/stepgraph"
)

func samplePlan() *Plan {
	return &Plan{Config: "/repo/fleetplan.yaml", Graph: &stepgraph.Graph{
		FormatVersion: stepgraph.FormatVersion, Kind: "RollingUpgrade", Plan: "p", Source: "/repo/p.yaml", Target: "local",
		Steps: []*stepgraph.Step{{ID: "a", Action: "generic.noop", With: map[string]any{"n": 1.5, "s": "x"}}},
	}}
}

func TestRoundTrip(t *testing.T) {
	key := []byte("k3y")
	b, err := Encode(samplePlan(), key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("p.plan", b)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Signed() || s.Graph.Steps[0].ID != "a" || s.Config != "/repo/fleetplan.yaml" {
		t.Fatalf("parsed %+v", s)
	}
	if err := s.Verify("p.plan", key, "fleetplan.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify("p.plan", []byte("other"), "fleetplan.yaml"); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	signed, _ := Encode(samplePlan(), []byte("k3y"))
	unsigned, _ := Encode(samplePlan(), nil)
	cases := map[string]struct {
		b    []byte
		want error
		msg  string
	}{
		"a step added":        {b: bytes.Replace(unsigned, []byte(`"generic.noop"`), []byte(`"generic.exec"`), 1), want: ErrChanged},
		"a value changed":     {b: bytes.Replace(unsigned, []byte(`1.5`), []byte(`2.5`), 1), want: ErrChanged},
		"digest removed":      {b: bytes.Replace(unsigned, []byte(`"digest": "sha256:`), []byte(`"digest": "x`), 1), want: ErrChanged},
		"old format":          {b: []byte(`{"formatVersion":1,"config":"x","graph":{}}`), msg: "saved plan format 1, this fleetplan reads 2"},
		"no plan":             {b: []byte(`{"formatVersion":2}`), msg: "no plan in it"},
		"not json":            {b: []byte(`{"formatVersion":`), msg: "not a valid saved plan"},
		"signed then changed": {b: bytes.Replace(signed, []byte(`"s": "x"`), []byte(`"s": "y"`), 1), want: ErrChanged},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("p.plan", c.b)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %q", err, c.msg)
			}
		})
	}
	// Whitespace is not content: re-indenting keeps the digest.
	reindented := bytes.ReplaceAll(unsigned, []byte("\n  "), []byte("\n    "))
	if _, err := Parse("p.plan", reindented); err != nil {
		t.Fatalf("re-indented: %v", err)
	}
	s, err := Parse("p.plan", unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify("p.plan", []byte("k3y"), "fleetplan.yaml"); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("unsigned: %v", err)
	}
}

// FuzzParse feeds arbitrary bytes to the saved-plan loader: it must never
// panic, and whatever it accepts must encode and parse again.
func FuzzParse(f *testing.F) {
	signed, _ := Encode(samplePlan(), []byte("k3y"))
	unsigned, _ := Encode(samplePlan(), nil)
	f.Add(signed)
	f.Add(unsigned)
	f.Add([]byte(`{"formatVersion":2,"digest":"sha256:","plan":{}}`))
	f.Add([]byte(`{"formatVersion":2,"plan":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.plan", b)
		if err != nil {
			return
		}
		_ = s.Verify("fuzz.plan", []byte("k"), "fleetplan.yaml")
		again, err := Encode(&s.Plan, nil)
		if err != nil {
			t.Fatalf("accepted a plan that does not encode: %v", err)
		}
		if _, err := Parse("again.plan", again); err != nil {
			t.Fatalf("re-encoded plan refused: %v", err)
		}
	})
}
