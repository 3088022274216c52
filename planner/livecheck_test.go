package planner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
)

func demoTables() []fleet.TableInfo {
	return []fleet.TableInfo{
		{Name: "customers", Columns: []string{"id", "name"}, ColumnTypes: []string{"INTEGER", "TEXT"}},
		{Name: "orders", Columns: []string{"id", "customer_id"}, ColumnTypes: []string{"INTEGER", "INTEGER"}},
		{Name: "regions", Columns: []string{"id", "name"}, ColumnTypes: []string{"INTEGER", "TEXT"}},
	}
}

// TestCheckLiveNames: names a plan gives to live things are checked against
// the live fleet and reported at the field that names them.
func TestCheckLiveNames(t *testing.T) {
	at := func(line, col int) diag.Pos { return diag.Pos{File: "plan.yaml", Line: line, Col: col} }
	intFits := func(kt fleet.KeyType, typ string) (bool, string) { return typ == "INTEGER", "an INTEGER column" }
	cases := map[string]struct {
		doc  func(*plans.ShardLayout)
		live func(*ShardLayoutLive)
		want string // "" = no error
	}{
		"all there": {},
		"unknown server": {
			doc:  func(s *plans.ShardLayout) { s.Shards[2].Server, s.Shards[2].ServerPos = "sql-9", at(12, 40) },
			want: `plan.yaml:12:40: shard customers_2: server "sql-9" does not exist in target "local" (hint: did you mean "sql-1"?`,
		},
		"unknown server said explicitly": {
			doc: func(s *plans.ShardLayout) { s.Shards[2].Server, s.Shards[2].CreateServer = "sql-9", true },
		},
		"servers unknown to the driver": {
			doc:  func(s *plans.ShardLayout) { s.Shards[2].Server = "sql-9" },
			live: func(l *ShardLayoutLive) { l.Servers = nil },
		},
		"missing table": {
			doc: func(s *plans.ShardLayout) {
				s.Tables.Sharded[1].Table, s.Tables.Sharded[1].Pos = "ordrs", at(30, 40)
			},
			want: `plan.yaml:30:40: table "ordrs" does not exist on shard customers_0 (sql-1/customers_0), shard customers_1 (sql-1/customers_1), new shard customers_2 (sql-1/customers_2, from schemaFile schema.sql) (hint: did you mean "orders"?`,
		},
		"missing reference table": {
			doc: func(s *plans.ShardLayout) {
				s.Tables.Reference, s.Tables.ReferencePos = []string{"region"}, []diag.Pos{at(31, 17)}
			},
			want: `plan.yaml:31:17: table "region" does not exist on shard customers_0`,
		},
		"missing key column": {
			doc: func(s *plans.ShardLayout) {
				s.Tables.Sharded[1].Key, s.Tables.Sharded[1].KeyPos = "cust_id", at(30, 60)
			},
			want: `plan.yaml:30:60: table orders has no column "cust_id" on shard customers_0 (sql-1/customers_0), shard customers_1 (sql-1/customers_1), new shard customers_2 (sql-1/customers_2, from schemaFile schema.sql) (hint: did you mean "customer_id"? columns of orders: id, customer_id)`,
		},
		"key column of the wrong type": {
			doc: func(s *plans.ShardLayout) {
				s.Tables.Sharded[0].Key, s.Tables.Sharded[0].KeyPos = "name", at(29, 50)
			},
			want: `plan.yaml:29:50: key column customers.name is TEXT on shard customers_0 (sql-1/customers_0), which cannot hold int64 keys (hint: int64 keys need an INTEGER column;`,
		},
		"types unknown to the driver": {
			doc:  func(s *plans.ShardLayout) { s.Tables.Sharded[0].Key = "name" },
			live: func(l *ShardLayoutLive) { l.KeyColumnFits = nil },
		},
		"schemaFile lacks a table": {
			live: func(l *ShardLayoutLive) { l.SchemaFile.Tables = l.SchemaFile.Tables[:2] },
			want: `plan.yaml:1:1: table "regions" does not exist on new shard customers_2 (sql-1/customers_2, from schemaFile schema.sql) (hint: tables on customers_2: customers, orders; add it to the schemaFile, or remove it from tables:)`,
		},
		"omitted tables are the stored ones": {
			doc:  func(s *plans.ShardLayout) { s.Tables, s.ShardMapPos = plans.Tables{Omitted: true}, at(6, 13) },
			live: func(l *ShardLayoutLive) { l.SchemaFile.Tables = l.SchemaFile.Tables[:2] },
			want: `plan.yaml:6:13: table "regions" (in the stored schema info of the shard map; tables: is omitted) does not exist on new shard customers_2`,
		},
		"schemaFile does not run": {
			doc: func(s *plans.ShardLayout) { s.SchemaFilePos = at(25, 15) },
			live: func(l *ShardLayoutLive) {
				l.SchemaFile = SchemaFileState{Described: true, Err: errors.New("near \"CREAT\": syntax error")}
			},
			want: `plan.yaml:25:15: schemaFile schema.sql does not run: near "CREAT": syntax error (hint: fix the script`,
		},
		"schemaFile not told": {
			doc: func(s *plans.ShardLayout) { s.Tables.Sharded[1].Key = "cust_id" },
			live: func(l *ShardLayoutLive) {
				l.SchemaFile = SchemaFileState{}
				l.Databases[fleet.Location{Server: "sql-1", Database: "customers_0"}] = DatabaseState{Exists: true, Tables: []string{"customers", "orders", "regions"}}
				l.Databases[fleet.Location{Server: "sql-1", Database: "customers_1"}] = DatabaseState{Exists: true, Tables: []string{"customers", "orders", "regions"}}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc := splitDoc()
			doc.ShardLayout().SchemaFile = "/plans/schema.sql"
			if tc.doc != nil {
				tc.doc(doc.ShardLayout())
			}
			live := demoLive(t, nil)
			live.Servers = []string{"contoso-1", "sql-1"}
			live.KeyColumnFits = intFits
			live.SchemaFile = SchemaFileState{Described: true, Tables: demoTables()}
			for loc, db := range live.Databases {
				db.Described = demoTables()
				live.Databases[loc] = db
			}
			if tc.live != nil {
				tc.live(live)
			}
			g, diags := PlanShardLayout(context.Background(), doc, live, Options{})
			errs := diags.Errors()
			if tc.want == "" {
				if len(errs) > 0 || g == nil {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].String(), tc.want) || errs[0].Hint == "" {
				t.Fatalf("got %v\nwant one error starting %s", errs, tc.want)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	cols := []string{"id", "customer_id", "amount", "note", "created_at"}
	cases := map[string]string{
		"cust_id":     "customer_id",
		"customer_di": "customer_id",
		"amt":         "amount",
		"created":     "created_at",
		"x":           "",
		"region":      "",
		"costumer_id": "customer_id",
		"countries":   "",
		"ID":          "id",
	}
	for name, want := range cases {
		if got := nearest(name, cols); got != want {
			t.Errorf("nearest(%q) = %q, want %q", name, got, want)
		}
	}
}
