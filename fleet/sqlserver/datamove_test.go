package sqlserver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

func TestMovablePreconditions(t *testing.T) {
	pk := keyIndex{name: "pk_orders", primary: true, leading: "customer_id"}
	tests := map[string]struct {
		idx      []keyIndex
		triggers []string
		want     string // "" = movable
	}{
		"key-leading primary key":     {[]keyIndex{pk}, nil, ""},
		"key-leading unique index":    {[]keyIndex{{name: "pk", primary: true, leading: "order_id"}, {name: "ux", leading: "Customer_ID"}}, nil, ""},
		"primary key led by another":  {[]keyIndex{{name: "pk", primary: true, leading: "order_id"}}, nil, "no primary key or unique index led by its sharding key customer_id"},
		"no key at all":               {nil, nil, "no primary key or unique index"},
		"a delete trigger":            {[]keyIndex{pk}, []string{"trg_audit"}, "DELETE trigger(s) trg_audit"},
		"a delete trigger and no key": {nil, []string{"a", "b"}, "DELETE trigger(s) a, b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := movable("sales.orders", "customer_id", tc.idx, tc.triggers)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, fleet.ErrInvalidArgument) {
				t.Fatalf("error %v, want ErrInvalidArgument saying %q", err, tc.want)
			}
		})
	}
}

func TestKeyParameters(t *testing.T) {
	u := uuid.MustParse("a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf")
	if got, ok := param(u).(mssql.UniqueIdentifier); !ok || uuid.UUID(got) != u {
		t.Errorf("a guid key is not a uniqueidentifier parameter: %#v", param(u))
	}
	if got := param(shardkey.TimeSpan(36000000000)); got != int64(36000000000) {
		t.Errorf("timespan: %#v", got)
	}
	at := time.Date(1900, 1, 1, 0, 1, 0, 0, time.FixedZone("", 60))
	if got, ok := param(shardkey.DateTimeOffsetOf(at)).(time.Time); !ok || !got.Equal(at) {
		t.Errorf("datetimeoffset: %#v", got)
	}
	for _, v := range []any{int32(5), int64(5), []byte{1}} {
		if got := param(v); !sameRow([]any{got}, []any{v}) {
			t.Errorf("%T changed: %#v", v, got)
		}
	}
	args := rangeArgs(fleet.KeyRange{Low: int64(1)})
	if len(args) != 1 {
		t.Fatalf("a range open above has one bound parameter: %v", args)
	}
}

func TestScannedBoundsTakeTheRangeType(t *testing.T) {
	if got := like(int64(7), fleet.KeyRange{Low: int32(1)}); got != int32(7) {
		t.Errorf("int32 key: %#v", got)
	}
	u := uuid.MustParse("a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf")
	raw, _ := mssql.UniqueIdentifier(u).Value()
	if got := like(raw, fleet.KeyRange{High: uuid.Nil}); got != u {
		t.Errorf("guid key: %#v", got)
	}
	if got := like(int64(7), fleet.KeyRange{Low: int64(1)}); got != int64(7) {
		t.Errorf("int64 key: %#v", got)
	}
}

func TestSameRow(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	a := []any{int64(1), "x", []byte{1, 2}, at, nil}
	if !sameRow(a, []any{int64(1), "x", []byte{1, 2}, at.In(time.FixedZone("", 3600)), nil}) {
		t.Error("equal rows differ")
	}
	for i, b := range [][]any{
		{int64(2), "x", []byte{1, 2}, at, nil},
		{int64(1), "x", []byte{1}, at, nil},
		{int64(1), "x", []byte{1, 2}, at.Add(time.Second), nil},
		{int64(1), "x", []byte{1, 2}, at, "y"},
		{int64(1), "x"},
	} {
		if sameRow(a, b) {
			t.Errorf("case %d: different rows are the same", i)
		}
	}
}

func TestTableNames(t *testing.T) {
	if got := tableName("dbo", "customers"); got != "customers" {
		t.Errorf("dbo: %s", got)
	}
	if got := tableName("sales", "OrderLines"); got != "sales.OrderLines" {
		t.Errorf("sales: %s", got)
	}
	if _, err := ordering(fleet.TableInfo{Name: "heap"}); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Errorf("a table without a primary key: %v", err)
	}
}

func TestNormalizeDecimalText(t *testing.T) {
	ti := fleet.TableInfo{Columns: []string{"id", "total", "blob", "price"}, ColumnTypes: []string{"bigint", "decimal", "varbinary", "MONEY"}}
	row := []any{int64(1), []byte("10.50"), []byte{1, 2}, []byte("3.2500")}
	normalize(ti, ti.Columns, row)
	if row[1] != "10.50" || row[3] != "3.2500" {
		t.Errorf("decimal and money columns must be text for bulk copy and parameters: %#v", row)
	}
	if _, ok := row[2].([]byte); !ok {
		t.Errorf("a varbinary column stays bytes: %#v", row[2])
	}
	keys := []any{[]byte("7.00")}
	normalize(ti, []string{"total"}, keys)
	if keys[0] != "7.00" {
		t.Errorf("key columns by name: %#v", keys)
	}
}
