package steps

import (
	"errors"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

func TestArgs(t *testing.T) {
	in := Inputs{"s": "x", "n": float64(3), "b": "true", "d": "45s", "secs": float64(2), "list": []any{"a", "b"}, "m": map[string]any{"k": 1}}
	a := ArgsOf("t.action", in)
	if a.String("s") != "x" || a.Int("n", 0) != 3 || !a.Bool("b", false) || a.Duration("d", 0) != 45*time.Second ||
		a.Duration("secs", 0) != 2*time.Second || len(a.Strings("list")) != 2 || a.StringMap("m")["k"] != "1" ||
		a.OptString("none", "def") != "def" || a.Err() != nil {
		t.Fatalf("reading good inputs failed: %v", a.Err())
	}
	bad := map[string]func(a *Args){
		"missing":       func(a *Args) { a.String("none") },
		"not a bool":    func(a *Args) { a.Bool("s", false) },
		"not a number":  func(a *Args) { a.Int("s", 0) },
		"bad duration":  func(a *Args) { a.Duration("s", 0) },
		"not a list":    func(a *Args) { a.Strings("n") },
		"not one of":    func(a *Args) { a.OneOf("s", "x", "y", "z") },
		"fraction":      func(a *Args) { a.in["f"] = 1.5; a.Int("f", 0) },
		"list of mixed": func(a *Args) { a.in["l"] = []any{"a", 1}; a.Strings("l") },
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			a := ArgsOf("t.action", Inputs{"s": "x", "n": float64(3)})
			f(a)
			if !errors.Is(a.Err(), fleet.ErrInvalidArgument) || fleet.HintOf(a.Err()) == "" {
				t.Fatalf("want an invalid-argument error with a hint, got %v", a.Err())
			}
		})
	}
}
