package local

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// A verified copy copies the range and commits it only once the target's
// range holds exactly the source's rows; a range that holds other rows
// copies nothing.
func TestCopyRangeVerified(t *testing.T) {
	tg := moverFleet(t, 300)
	ctx := context.Background()
	src, dst := DemoShards[0], DemoShards[1]
	r := fleet.KeyRange{Low: int64(100), High: int64(200)}
	rep, err := tg.CopyRangeVerified(ctx, src, dst, demoTables, r)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied["customers"] != 100 || rep.Copied["orders"] != 300 || rep.Rows["customers"] != 100 || rep.Rows["orders"] != 300 || len(rep.Foreign) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if s, d := sums(t, tg, src, r), sums(t, tg, dst, r); s != d {
		t.Fatalf("checksums differ after the copy:\nsrc %s\ndst %s", s, d)
	}
	// Again: the range is complete, nothing is copied, all is verified.
	if rep, err = tg.CopyRangeVerified(ctx, src, dst, demoTables, r); err != nil || rep.Copied["orders"] != 0 || rep.Rows["orders"] != 300 {
		t.Fatalf("second copy: %+v, %v", rep, err)
	}
	// Part of a range there already (an interrupted copy) is completed.
	part := fleet.KeyRange{Low: int64(200), High: int64(250)}
	if err := tg.ApplySQL(ctx, dst, `DELETE FROM orders WHERE customer_id >= 100 AND customer_id < 180`); err != nil {
		t.Fatal(err)
	}
	if rep, err = tg.CopyRangeVerified(ctx, src, dst, demoTables, r); err != nil || rep.Copied["orders"] != 240 || rep.Copied["customers"] != 0 {
		t.Fatalf("completing a copy: %+v, %v", rep, err)
	}
	// A row on the target that is no copy of a source row: nothing is copied.
	if err := tg.ApplySQL(ctx, dst, `INSERT INTO customers(id, region_id, name) VALUES(210, 1, 'someone else')`); err != nil {
		t.Fatal(err)
	}
	rep, err = tg.CopyRangeVerified(ctx, src, dst, demoTables, part)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Foreign["customers"] != 1 || len(rep.Foreign) != 1 {
		t.Fatalf("foreign rows %v, want customers: 1", rep.Foreign)
	}
	if n, _ := tg.CountRange(ctx, dst, "customers", "id", part); n != 1 {
		t.Fatalf("the refused copy left %d customers in the range, want the 1 foreign one", n)
	}
	if n, _ := tg.CountRange(ctx, dst, "orders", "customer_id", part); n != 0 {
		t.Fatalf("the refused copy copied %d orders", n)
	}
}

// What makes a copy differ from its source fails the verify and commits
// nothing: rows a trigger changes (in case only, in a NOCASE column; from
// an integer to an equal real, in a column without affinity), a row it
// adds, a column the target lacks, a column whose affinity converts a
// value, with and without a primary key.
func TestCopyRangeVerifiedRefusesWhatDiffers(t *testing.T) {
	ctx := context.Background()
	withKey := `CREATE TABLE t(k INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, v)`
	noKey := `CREATE TABLE t(k INTEGER, name TEXT COLLATE NOCASE, v)`
	rows := `INSERT INTO t(k, name, v) VALUES(1, 'ann', 5); INSERT INTO t(k, name, v) VALUES(2, 'bob', x'00ff');
		INSERT INTO t(k, name, v) VALUES(3, NULL, 2.5); INSERT INTO t(k, name, v) VALUES(4, 'dan', '7'); INSERT INTO t(k, name, v) VALUES(5, 'eve', 2.0)`
	cases := map[string]struct {
		srcSchema, dstSchema, trigger string
		ok                            bool
	}{
		"same rows":                         {withKey, withKey, "", true},
		"same rows, no primary key":         {noKey, noKey, "", true},
		"case changed":                      {withKey, withKey, `UPDATE t SET name = upper(name) WHERE k = NEW.k`, false},
		"integer to real":                   {withKey, withKey, `UPDATE t SET v = v + 0.0 WHERE k = NEW.k AND typeof(v) = 'integer'`, false},
		"a row added":                       {withKey, withKey, `INSERT OR IGNORE INTO t VALUES(NEW.k + 10, 'extra', 0)`, false},
		"a row added, no primary key":       {noKey, noKey, `INSERT INTO t SELECT NEW.k + 10, 'extra', 0 WHERE NEW.k < 10`, false},
		"case changed, no primary key":      {noKey, noKey, `UPDATE t SET name = upper(name) WHERE k = NEW.k`, false},
		"a column the target lacks":         {`CREATE TABLE t(k INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, v, w DEFAULT 'w')`, withKey, "", false},
		"another affinity on the target":    {withKey, `CREATE TABLE t(k INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, v INTEGER)`, "", false},
		"another primary key on the target": {withKey, `CREATE TABLE t(k INTEGER, name TEXT COLLATE NOCASE, v, PRIMARY KEY(k, name))`, "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg, err := Init(ctx, t.TempDir(), InitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			a, b := fleet.Location{Server: "s", Database: "a"}, fleet.Location{Server: "s", Database: "b"}
			for loc, schema := range map[fleet.Location]string{a: tc.srcSchema, b: tc.dstSchema} {
				if err := tg.CreateDatabase(ctx, loc); err != nil {
					t.Fatal(err)
				}
				if err := tg.ApplySQL(ctx, loc, schema); err != nil {
					t.Fatal(err)
				}
			}
			if err := tg.ApplySQL(ctx, a, rows); err != nil {
				t.Fatal(err)
			}
			if tc.trigger != "" {
				if err := tg.ApplySQL(ctx, b, `CREATE TRIGGER tr AFTER INSERT ON t BEGIN `+tc.trigger+`; END`); err != nil {
					t.Fatal(err)
				}
			}
			tables := []fleet.ShardedTable{{Table: "t", KeyColumn: "k"}}
			r := fleet.KeyRange{Low: int64(0), High: int64(100)}
			rep, err := tg.CopyRangeVerified(ctx, a, b, tables, r)
			n, cerr := tg.CountRange(ctx, b, "t", "k", fleet.KeyRange{})
			if cerr != nil {
				t.Fatal(cerr)
			}
			if tc.ok {
				if err != nil || rep.Rows["t"] != 5 || n != 5 {
					t.Fatalf("copy: %+v, %v; %d rows on the target, want 5", rep, err, n)
				}
				return
			}
			var fe *fleet.Error
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Op, "verify batch") {
				t.Fatalf("copy: %+v, %v; want a failed verify", rep, err)
			}
			if n != 0 {
				t.Fatalf("the failed verify left %d rows on the target", n)
			}
		})
	}
}

// A fault before a sum of the verify leaves the target unchanged.
func TestCopyRangeVerifiedFaultRollsBack(t *testing.T) {
	tg := moverFleet(t, 50)
	ctx := context.Background()
	injectFaults(t, "move.checksum:40501:2")
	if _, err := tg.CopyRangeVerified(ctx, DemoShards[0], DemoShards[1], demoTables, fleet.KeyRange{}); !fleet.IsTransient(err) {
		t.Fatalf("copy error %v, want the injected transient fault", err)
	}
	if n, _ := tg.CountRange(ctx, DemoShards[1], "customers", "id", fleet.KeyRange{}); n != 0 {
		t.Fatalf("%d customers survived a failed verify", n)
	}
}
