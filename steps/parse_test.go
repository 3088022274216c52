package steps

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/stepspec"
)

func TestParseReadsWhatWithWrites(t *testing.T) {
	yes := true
	move := stepspec.MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x80", High: "",
		From: stepspec.Location{Server: "s", Database: "a"}, To: stepspec.Location{Server: "s", Database: "b"}, BatchSize: 7,
		Tables: stepspec.Tables{Sharded: []stepspec.ShardedTable{{Table: "t", Key: "k"}}, Reference: []string{"r"}}, Undo: true}
	rm := stepspec.RemoveShard{ShardMap: "m", Location: stepspec.Location{Server: "s", Database: "a"}, Reference: []string{}, UnlistDatabase: &yes}
	wait := stepspec.WaitSeeded{Location: stepspec.Location{Server: "s", Database: "a"}, Timeout: 90 * time.Second, Interval: time.Second}
	for _, want := range []stepspec.Spec{move, rm, wait} {
		var got stepspec.Spec
		var err error
		switch want.(type) {
		case stepspec.MoveRange:
			got, err = ParseSpec[stepspec.MoveRange](stepspec.With(want))
		case stepspec.RemoveShard:
			got, err = ParseSpec[stepspec.RemoveShard](stepspec.With(want))
		case stepspec.WaitSeeded:
			got, err = ParseSpec[stepspec.WaitSeeded](stepspec.With(want))
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: With then Parse gave %+v, %v; want %+v", want.Action(), got, err, want)
		}
	}
}

func TestParseDefaultsAndConversions(t *testing.T) {
	w, err := ParseSpec[stepspec.WaitSeeded](Inputs{"server": "s", "database": 12})
	if err != nil || w.Database != "12" || w.Timeout != 2*time.Hour || w.Interval != 100*time.Millisecond {
		t.Fatalf("defaults: %+v, %v", w, err)
	}
	w, err = ParseSpec[stepspec.WaitSeeded](Inputs{"server": "s", "database": "d", "timeout": 30, "interval": "2s"})
	if err != nil || w.Timeout != 30*time.Second || w.Interval != 2*time.Second {
		t.Fatalf("durations: %+v, %v", w, err)
	}
	a, err := ParseSpec[stepspec.Approve](Inputs{"required": "false"})
	if err != nil || a.Required {
		t.Fatalf("bool from text: %+v, %v", a, err)
	}
	if a, _ := ParseSpec[stepspec.Approve](nil); !a.Required {
		t.Fatal("required defaults to true")
	}
	m, err := ParseSpec[stepspec.MoveRange](Inputs{"shardMap": "m", "keyType": "int64", "from": map[string]any{"server": "s", "database": "a"},
		"to": map[string]any{"server": "s", "database": "b"}})
	if err != nil || m.BatchSize != 100 || m.Sharded != nil {
		t.Fatalf("move defaults: %+v, %v", m, err)
	}
}

func TestParseReportsTheFirstProblem(t *testing.T) {
	cases := map[string]struct {
		parse func() error
		want  string
	}{
		"missing":      {func() error { _, err := ParseSpec[stepspec.Drop](Inputs{"server": "s"}); return err }, `input "database" is missing`},
		"first of two": {func() error { _, err := ParseSpec[stepspec.Drop](Inputs{}); return err }, `input "server" is missing`},
		"not a location": {func() error {
			_, err := ParseSpec[stepspec.MoveRange](Inputs{"shardMap": "m", "keyType": "int64", "from": "s/a"})
			return err
		}, `input "from": want {server, database}`},
		"inside a location": {func() error {
			_, err := ParseSpec[stepspec.MoveRange](Inputs{"shardMap": "m", "keyType": "int64", "from": map[string]any{"server": "s"}})
			return err
		}, `input "from": from: invalid argument: input "database" is missing`},
		"table without key": {func() error {
			_, err := ParseSpec[stepspec.SetSchemaInfo](Inputs{"shardMap": "m", "sharded": []any{map[string]any{"table": "t"}}})
			return err
		}, "input sharded: every entry needs table and key"},
		"bad duration": {func() error {
			_, err := ParseSpec[stepspec.WaitSeeded](Inputs{"server": "s", "database": "d", "timeout": "soon"})
			return err
		}, `input "timeout": want a duration like 45s or 2h, got "soon"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.parse()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLiteral(t *testing.T) {
	if !Literal("a", "b") || Literal("a", "") || Literal("${{ params.x }}") {
		t.Fatal("Literal")
	}
}
