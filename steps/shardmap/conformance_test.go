package shardmap

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

// The conformance fleet is the demo fleet: CustomerMap maps [0, 50000) to
// customers_0 and [50000, +inf) to customers_1, and customers 0-99 (with
// their orders) live on customers_0.
func TestConformance(t *testing.T) {
	const customerMap = "CustomerMap"
	shard := func(db string) stepspec.Location { return stepspec.Location{Server: "sql-1", Database: db} }
	tables := stepspec.Tables{Sharded: []stepspec.ShardedTable{{Table: "customers", Key: "id"}, {Table: "orders", Key: "customer_id"}},
		Reference: []string{"regions"}}
	newShard := stepspec.CreateShard{ShardMap: customerMap, Location: shard("customers_2"), CreateDatabase: true, SchemaFile: "schema.sql"}
	schemaFile := func(t *testing.T, env *steps.Env) {
		if err := os.WriteFile(filepath.Join(env.BaseDir, "schema.sql"), []byte(local.ShardSchemaSQL), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	applied := func(spec stepspec.Spec) func(t *testing.T, env *steps.Env) {
		return func(t *testing.T, env *steps.Env) {
			t.Helper()
			a, err := steps.Lookup(spec.Action())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Apply(t.Context(), env, stepspec.With(spec)); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := bound(t, "20000")
	stepstest.Run(t,
		stepstest.Case{Spec: stepspec.CreateMap{ShardMap: "OrderMap", MapType: "range", KeyType: "int64"}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.SetSchemaInfo{ShardMap: customerMap, Tables: stepspec.Tables{Sharded: tables.Sharded[:1]}},
			Undo: stepstest.NoRollback},
		stepstest.Case{Spec: newShard, Prepare: schemaFile},
		stepstest.Case{Spec: stepspec.RemoveShard{ShardMap: customerMap, Location: newShard.Location, DropDatabase: true, DropOnlyIfEmpty: true},
			Prepare: func(t *testing.T, env *steps.Env) { schemaFile(t, env); applied(newShard)(t, env) }, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.Split{ShardMap: customerMap, KeyType: "int64", At: at}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.Merge{ShardMap: customerMap, KeyType: "int64", Low: bound(t, "0"), High: bound(t, "50000")},
			Prepare: applied(stepspec.Split{ShardMap: customerMap, At: at}), Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.AddMapping{ShardMap: customerMap, KeyType: "int64", Low: "0x", High: bound(t, "0"), Location: shard("customers_1")}},
		stepstest.Case{Spec: stepspec.RemoveMapping{ShardMap: customerMap, KeyType: "int64", Low: bound(t, "50000"), High: "",
			Server: "sql-1", Database: "customers_1"}},
		stepstest.Case{Spec: stepspec.MoveRange{ShardMap: customerMap, KeyType: "int64", Low: bound(t, "0"), High: bound(t, "50"),
			From: shard("customers_0"), To: shard("customers_1"), BatchSize: 20, Tables: tables}, Undo: stepstest.NoRollback},
	)
}
