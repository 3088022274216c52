package stepspec

import (
	"strings"
	"testing"
)

func TestKeyOf(t *testing.T) {
	var move MoveRange
	var shard CreateShard
	var wait Wait
	for _, tc := range []struct {
		spec, field any
		want        string
	}{
		{&wait, &wait.Until, "until"},
		{&wait, &wait.Interval, "interval"},
		{&shard, &shard.Server, "server"}, // through the embedded Location
		{&shard, &shard.SchemaFile, "schemaFile"},
		{&move, &move.From, "from"},
		{&move, &move.Sharded, "sharded"}, // through the embedded Tables
		{&move, &move.Undo, "undo"},
	} {
		if got := KeyOf(tc.spec, tc.field); got != tc.want {
			t.Errorf("KeyOf = %q, want %q", got, tc.want)
		}
	}
}

func TestKeyOfRefusesWhatIsNotAnInput(t *testing.T) {
	var move, other MoveRange
	for name, tc := range map[string]struct {
		spec, field any
		want        string
	}{
		"another spec's field": {&move, &other.Low, "has no input at that field"},
		"a struct of inputs":   {&move, &move.Tables, "has no input at that field"},
		"not pointers":         {move, move.Low, "wants pointers"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r, _ := recover().(string)
				if !strings.Contains(r, tc.want) {
					t.Fatalf("panic %q, want %q", r, tc.want)
				}
			}()
			KeyOf(tc.spec, tc.field)
		})
	}
}
