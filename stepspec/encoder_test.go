package stepspec

import (
	"reflect"
	"testing"
	"time"
)

// TestEncoderWritesWhatWithWrites encodes specs whose nested inputs change
// from one to the next, and some that repeat, with one Encoder: each must
// come out exactly as With writes it, never as an earlier spec's.
func TestEncoderWritesWhatWithWrites(t *testing.T) {
	a, b := Location{Server: "sql-1", Database: "s1"}, Location{Server: "sql-1", Database: "s2"}
	tables := func(key string, ref ...string) Tables {
		return Tables{Sharded: []ShardedTable{{Table: "customers", Key: "id"}, {Table: "orders", Key: key}}, Reference: ref}
	}
	window := ChangeWindow{Days: []string{"sat"}, Start: "01:00", Duration: "4h", TimeZone: "UTC"}
	specs := []Spec{
		MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x01", High: "0x02", From: a, To: b, BatchSize: 100, Tables: tables("customer_id", "regions")},
		MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x01", High: "0x02", From: b, To: a, BatchSize: 100, Tables: tables("customer_id", "regions"), Undo: true},
		MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x02", High: "", From: a, To: b, BatchSize: 10, Tables: tables("order_id", "regions")},
		MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x03", From: a, To: b, Tables: tables("order_id")},
		MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x03", From: a, To: b, Tables: Tables{}},
		MoveRange{ShardMap: "m", KeyType: "int64", Low: "0x03", From: a, To: b, Tables: Tables{Sharded: []ShardedTable{}, Reference: []string{}}},
		SetSchemaInfo{ShardMap: "m", Tables: tables("customer_id", "regions")},
		SetSchemaInfo{ShardMap: "m", Tables: tables("customer_id", "regions", "countries")},
		RecoverySnapshot{ShardMap: "m", Locations: []Location{a, b}},
		RecoverySnapshot{ShardMap: "m", Locations: []Location{a}},
		RecoverySnapshot{ShardMap: "m", Locations: []Location{b, a}},
		InstanceChange{Instance: "mi-1", Operation: "update", Typical: time.Hour, P95: 2 * time.Hour, Window: window},
		InstanceChange{Instance: "mi-1", Operation: "update", Typical: time.Hour, P95: 3 * time.Hour},
		InstanceChange{Instance: "mi-2", Operation: "update", Typical: time.Hour, P95: 3 * time.Hour, Window: ChangeWindow{Days: []string{"sun"}, Start: "01:00", Duration: "4h", TimeZone: "UTC"}},
		InstanceChange{Instance: "mi-2", Operation: "update", Window: window},
		noted{Note: note{Names: []string{"a"}, Text: "x"}},
		noted{Note: note{Names: []string{"a"}}},
		noted{Note: note{Names: []string{"a"}, Text: "x"}},
		noted{Note: note{Text: "x"}},
	}
	enc := NewEncoder()
	for round := range 2 {
		for i, s := range specs {
			if got, want := enc.With(s), With(s); !reflect.DeepEqual(got, want) {
				t.Errorf("round %d, spec %d (%T):\n got %#v\nwant %#v", round, i, s, got, want)
			}
		}
	}
}

// noted is a spec with a nested input that has a list and an omitempty field.
type noted struct {
	Note note `json:"note"`
}

type note struct {
	Names []string `json:"names"`
	Text  string   `json:"text,omitempty"`
}

func (noted) Action() string { return "test.noted" }

// TestEncoderSharesNestedInputs: the location and the tables of two moves
// are one encoding, and the input maps themselves are not.
func TestEncoderSharesNestedInputs(t *testing.T) {
	a, b := Location{Server: "sql-1", Database: "s1"}, Location{Server: "sql-1", Database: "s2"}
	tables := Tables{Sharded: []ShardedTable{{Table: "customers", Key: "id"}}, Reference: []string{"regions"}}
	enc := NewEncoder()
	m1 := enc.With(MoveRange{ShardMap: "m", Low: "0x01", From: a, To: b, Tables: tables})
	m2 := enc.With(MoveRange{ShardMap: "m", Low: "0x02", From: b, To: a, Tables: tables})
	same := func(x, y any) bool { return reflect.ValueOf(x).Pointer() == reflect.ValueOf(y).Pointer() }
	for _, tc := range []struct {
		what string
		x, y any
	}{
		{"from of one and to of the other", m1["from"], m2["to"]},
		{"sharded tables", m1["sharded"], m2["sharded"]},
		{"reference tables", m1["reference"], m2["reference"]},
	} {
		if !same(tc.x, tc.y) {
			t.Errorf("%s: two encodings of the same value", tc.what)
		}
	}
	if same(m1, m2) || same(m1["from"], m2["from"]) {
		t.Error("different inputs share an encoding")
	}
}
