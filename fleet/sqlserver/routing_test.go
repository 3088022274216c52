package sqlserver

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

func TestRoutedMappingQueryGolden(t *testing.T) {
	golden(t, "routing.golden", map[string]string{"routed mapping": RoutedMappingQuery})
	// The lock is what makes the answer hold until the transaction ends.
	if !strings.Contains(RoutedMappingQuery, "WITH (HOLDLOCK)") {
		t.Fatal("RoutedMappingQuery must read the LSM row under HOLDLOCK")
	}
}

func TestCheckRouted(t *testing.T) {
	tg := &Target{red: newRedactor("s3cret")}
	m := fleet.ShardMap{ID: uuid.New(), Name: "M", Type: fleet.RangeMap, KeyType: fleet.KeyInt32}
	loc := fleet.Location{Server: "sql-1", Database: "shard0"}
	k := func(v int32) []byte { return []byte{byte(uint32(v)>>24) ^ 0x80, byte(v >> 16), byte(v >> 8), byte(v)} }
	mp := fleet.Mapping{ID: uuid.New(), Min: k(0), Max: k(100)}
	open := fleet.Mapping{ID: uuid.New(), Min: []byte{}, Max: nil}
	invalid := mssql.Error{Number: 4060, All: []mssql.Error{{Number: 208, Message: "Invalid object name '__ShardManagement.ShardMappingsLocal'."}, {Number: 4060}}}
	tests := []struct {
		name string
		mp   fleet.Mapping
		row  routedRow
		err  error
		want error // nil: validated
		text string
	}{
		{name: "online, same bounds", mp: mp, row: routedRow{min: k(0), max: k(100), status: 1}},
		{name: "online, unbounded both ends", mp: open, row: routedRow{min: nil, max: nil, status: 1}},
		{name: "row missing", mp: mp, err: sql.ErrNoRows, want: fleet.ResultMappingDoesNotExist, text: "does not hold the mapping"},
		{name: "other bounds", mp: mp, row: routedRow{min: k(0), max: k(50), status: 1}, want: fleet.ResultMappingDoesNotExist, text: "the local shard map of sql-1/shard0"},
		{name: "LSM unbounded, GSM bounded", mp: mp, row: routedRow{min: k(0), max: nil, status: 1}, want: fleet.ResultMappingDoesNotExist},
		{name: "GSM unbounded, LSM bounded", mp: open, row: routedRow{min: []byte{}, max: k(5), status: 1}, want: fleet.ResultMappingDoesNotExist},
		{name: "offline", mp: mp, row: routedRow{min: k(0), max: k(100), status: 0}, want: fleet.ResultMappingIsOffline, text: "offline"},
		{name: "no local shard map (208 in any entry of All)", mp: mp, err: invalid, want: fleet.ResultMappingDoesNotExist, text: "has no local shard map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tg.checkRouted(m, loc, tc.mp, tc.row, tc.err)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want validated, got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var fe *fleet.Error
			if !errors.As(err, &fe) || fe.Hint == "" {
				t.Fatalf("want a *fleet.Error with a hint, got %#v", err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("%q does not say %q", err, tc.text)
			}
		})
	}
	// Any other error is the driver's classified, redacted error.
	err := tg.checkRouted(m, loc, mp, routedRow{}, mssql.Error{Number: 40613, Message: "Database unavailable, password s3cret"})
	if !fleet.IsTransient(err) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want a transient, redacted error, got %v", err)
	}
}
