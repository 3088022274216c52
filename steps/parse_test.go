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

// filled sets every input of a spec to a value that is not its zero value
// nor its default, so a field With drops or Parse misreads shows.
func filled(t *testing.T, v reflect.Value) {
	t.Helper()
	for _, f := range stepspec.Fields(v.Type()) {
		dst := v.FieldByIndex(f.Index)
		switch typ := f.Type; {
		case typ == durationType:
			dst.SetInt(int64(90 * time.Second))
		case typ == stringsType:
			dst.Set(reflect.ValueOf([]string{"a", "b"}))
		case typ == stringMapType:
			dst.Set(reflect.ValueOf(map[string]string{"k": "v"}))
		case typ.Kind() == reflect.String:
			dst.SetString("v-" + f.Key)
		case typ.Kind() == reflect.Bool:
			dst.SetBool(f.Default != "true")
		case typ.Kind() == reflect.Pointer && typ.Elem().Kind() == reflect.Bool:
			yes := true
			dst.Set(reflect.ValueOf(&yes))
		case typ.Kind() == reflect.Int:
			dst.SetInt(7)
		case typ.Kind() == reflect.Interface:
			dst.Set(reflect.ValueOf("v-" + f.Key))
		case typ.Kind() == reflect.Struct:
			filled(t, dst)
		case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Struct:
			elem := reflect.New(typ.Elem()).Elem()
			filled(t, elem)
			dst.Set(reflect.Append(reflect.MakeSlice(typ, 0, 1), elem))
		default:
			t.Fatalf("%s: no test value for input %q of type %s", v.Type(), f.Key, typ)
		}
		if dst.IsZero() && f.Default != "true" { // false is what shows for a bool that defaults to true
			t.Fatalf("%s: input %q still zero", v.Type(), f.Key)
		}
	}
}

// Every spec the planner can build a step from reads back, through the
// input map With writes, as the same spec.
func TestEverySpecRoundTripsThroughWith(t *testing.T) {
	specs := stepspec.Specs()
	if len(specs) < 20 {
		t.Fatalf("only %d specs", len(specs))
	}
	for _, zero := range specs {
		t.Run(zero.Action(), func(t *testing.T) {
			want := reflect.New(reflect.TypeOf(zero)).Elem()
			filled(t, want)
			in := stepspec.With(want.Interface().(stepspec.Spec))
			got := reflect.New(want.Type()).Elem()
			a := ArgsOf(zero.Action(), in)
			decodeStruct(a, got)
			if err := a.Err(); err != nil {
				t.Fatalf("Parse(With(%+v)): %v", want, err)
			}
			if !reflect.DeepEqual(got.Interface(), want.Interface()) {
				t.Errorf("With then Parse gave %+v; want %+v (inputs %v)", got, want, in)
			}
		})
	}
}
