package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

func key(t *testing.T, k int64) []byte {
	t.Helper()
	b, err := shardkey.Encode(fleet.KeyInt64, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mapLayout renders the GSM's mappings, and fails the test when a shard's
// LSM does not hold exactly the GSM's rows for it.
func mapLayout(t *testing.T, tg *Target) string {
	t.Helper()
	ctx := context.Background()
	ms, err := tg.Mappings(ctx, DemoShardMap)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	gsm := map[string][]string{}
	for _, m := range ms {
		st := "on"
		if !m.Online {
			st = "off"
		}
		parts = append(parts, fmt.Sprintf("%s..%s@%s:%s", shardkey.FormatBound(fleet.KeyInt64, m.Min), shardkey.FormatBound(fleet.KeyInt64, m.Max), m.Location.Database, st))
		gsm[m.Location.Database] = append(gsm[m.Location.Database], fmt.Sprintf("%s %x %x %t", m.ID, m.Min, m.Max, m.Online))
	}
	for _, loc := range DemoShards {
		db, err := tg.db(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT MappingId, MinValue, MaxValue, Status FROM `+tMappingsLocal+` ORDER BY MinValue`)
		if err != nil {
			t.Fatal(err)
		}
		var lsm []string
		for rows.Next() {
			var id string
			var min, max []byte
			var status int
			if err := rows.Scan(&id, &min, &max, &status); err != nil {
				t.Fatal(err)
			}
			lsm = append(lsm, fmt.Sprintf("%s %x %x %t", id, min, max, status&1 == 1))
		}
		rows.Close()
		if strings.Join(lsm, "\n") != strings.Join(gsm[loc.Database], "\n") {
			t.Fatalf("LSM of %s differs from the GSM:\nLSM %v\nGSM %v", loc.Database, lsm, gsm[loc.Database])
		}
	}
	return strings.Join(parts, " ")
}

// smallDemo is a demo fleet of 10 customers, closed when the test ends.
func smallDemo(t *testing.T) *Target {
	t.Helper()
	tg, err := CreateDemo(context.Background(), t.TempDir(), DemoOptions{Customers: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func upperMapping(t *testing.T, tg *Target) fleet.Mapping {
	t.Helper()
	mp, err := tg.MappingForKey(context.Background(), DemoShardMap, key(t, DemoBoundary))
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

// One operation cuts a batch out of a mapping and takes it offline, whether
// the batch is in the middle, at either end or the whole mapping; a crash
// inside it is rolled back to the mapping as it was.
func TestCutMappingOffline(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		min, max any // nil max: +inf
		want     string
		rest     string
	}{
		"middle":  {int64(60000), int64(70000), "0..50000@customers_0:on 50000..60000@customers_1:on 60000..70000@customers_1:off 70000..+inf@customers_1:on", "50000..60000:true 70000..+inf:true"},
		"low end": {int64(50000), int64(70000), "0..50000@customers_0:on 50000..70000@customers_1:off 70000..+inf@customers_1:on", "70000..+inf:true"},
		"to +inf": {int64(60000), nil, "0..50000@customers_0:on 50000..60000@customers_1:on 60000..+inf@customers_1:off", "50000..60000:true"},
		"whole":   {int64(50000), nil, "0..50000@customers_0:on 50000..+inf@customers_1:off", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg := smallDemo(t)
			before := mapLayout(t, tg)
			min := key(t, tc.min.(int64))
			var max []byte
			if tc.max != nil {
				max = key(t, tc.max.(int64))
			}
			mp := upperMapping(t, tg)
			if name != "whole" {
				tg.SimulateCrash(CrashAfterLSMSource)
				if _, _, err := tg.CutMappingOffline(ctx, DemoShardMap, mp.ID, min, max); err == nil {
					t.Fatal("the simulated crash did not stop the cut")
				}
				if _, err := tg.RecoverPending(ctx); err != nil {
					t.Fatal(err)
				}
				if got := mapLayout(t, tg); got != before {
					t.Fatalf("after the crash and the rollback:\n%s\nwant\n%s", got, before)
				}
			}
			off, rest, err := tg.CutMappingOffline(ctx, DemoShardMap, mp.ID, min, max)
			if err != nil {
				t.Fatal(err)
			}
			if off.Online || string(off.Min) != string(min) || string(off.Max) != string(max) {
				t.Fatalf("CutMappingOffline returned %+v", off)
			}
			var parts []string
			for _, p := range rest {
				parts = append(parts, fmt.Sprintf("%s..%s:%t", shardkey.FormatBound(fleet.KeyInt64, p.Min), shardkey.FormatBound(fleet.KeyInt64, p.Max), p.Online))
			}
			if got := strings.Join(parts, " "); got != tc.rest {
				t.Fatalf("the parts left online: %q, want %q", got, tc.rest)
			}
			if got := mapLayout(t, tg); got != tc.want {
				t.Fatalf("layout\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCutMappingOfflineRefuses(t *testing.T) {
	ctx := context.Background()
	tg := smallDemo(t)
	mp := upperMapping(t, tg)
	before := mapLayout(t, tg)
	for name, r := range map[string][2][]byte{
		"below the mapping": {key(t, 40000), key(t, 60000)},
		"empty":             {key(t, 60000), key(t, 60000)},
		"no lower bound":    {nil, key(t, 60000)},
	} {
		if _, _, err := tg.CutMappingOffline(ctx, DemoShardMap, mp.ID, r[0], r[1]); !errors.Is(err, fleet.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, _, err := tg.CutMappingOffline(ctx, DemoShardMap, mp.ID, key(t, 60000), key(t, 70000)); err != nil {
		t.Fatal(err)
	}
	off, err := tg.MappingForKey(ctx, DemoShardMap, key(t, 60000))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tg.CutMappingOffline(ctx, DemoShardMap, off.ID, key(t, 60000), key(t, 65000)); !errors.Is(err, fleet.ResultMappingIsOffline) {
		t.Errorf("cutting an offline mapping: err = %v, want ResultMappingIsOffline", err)
	}
	if got := mapLayout(t, tg); got == before {
		t.Fatal("the valid cut changed nothing")
	}
}

// One operation merges any number of adjacent mappings; a crash inside it
// is rolled back to every mapping as it was.
func TestMergeAllMappings(t *testing.T) {
	ctx := context.Background()
	tg := smallDemo(t)
	for _, at := range []int64{60000, 70000, 80000} {
		mp, err := tg.MappingForKey(ctx, DemoShardMap, key(t, at))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := tg.SplitMapping(ctx, DemoShardMap, mp.ID, key(t, at)); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []uuid.UUID {
		ms, err := tg.Mappings(ctx, DemoShardMap)
		if err != nil {
			t.Fatal(err)
		}
		var out []uuid.UUID
		for _, m := range ms[1:] { // [50000, +inf) in four
			out = append(out, m.ID)
		}
		return out
	}
	split := mapLayout(t, tg)
	if _, err := tg.MergeAllMappings(ctx, DemoShardMap, []uuid.UUID{ids()[0], ids()[2]}); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("merging mappings that are not adjacent: err = %v", err)
	}
	if _, err := tg.MergeAllMappings(ctx, DemoShardMap, append(ids()[:1:1], ids()[0], ids()[1])); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("merging a mapping with itself: err = %v", err)
	}
	tg.SimulateCrash(CrashAfterGSMBegin)
	if _, err := tg.MergeAllMappings(ctx, DemoShardMap, ids()); err == nil {
		t.Fatal("the simulated crash did not stop the merge")
	}
	if _, err := tg.RecoverPending(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mapLayout(t, tg); got != split {
		t.Fatalf("after the crash and the rollback:\n%s\nwant\n%s", got, split)
	}
	merged, err := tg.MergeAllMappings(ctx, DemoShardMap, ids())
	if err != nil {
		t.Fatal(err)
	}
	if want := "0..50000@customers_0:on 50000..+inf@customers_1:on"; mapLayout(t, tg) != want || !merged.Online || merged.Max != nil {
		t.Fatalf("after the merge: %s (returned %+v), want %s", mapLayout(t, tg), merged, want)
	}
}
