package local

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// conformanceExecutor is the protocol's executor on the fleet in tg's
// directory, with its GSM deployed.
func conformanceExecutor(t *testing.T, tg *Target) elasticdb.Executor {
	t.Helper()
	g, err := tg.gsm(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return tg.executor(g)
}

// The SQLite store passes the Elastic Database conformance suite, with a
// second writer on its own Target (its own connections and file locks).
func TestElasticDBConformance(t *testing.T) {
	fleettest.RunElasticDBConformance(t, func(t *testing.T) fleettest.ElasticDBStore {
		ctx := context.Background()
		dir := t.TempDir()
		tg, err := Init(ctx, dir, InitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tg.Close() })
		dbs := []fleet.Location{{Server: "sql-1", Database: "db_a"}, {Server: "sql-1", Database: "db_b"}, {Server: "sql-2", Database: "db_c"}}
		for _, loc := range dbs {
			if err := tg.CreateDatabase(ctx, loc); err != nil {
				t.Fatal(err)
			}
		}
		g, err := tg.gsm(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		return fleettest.ElasticDBStore{
			Executor:  tg.executor(g),
			Databases: dbs,
			Second: func(t *testing.T) elasticdb.Executor {
				other, err := Open(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { other.Close() })
				return conformanceExecutor(t, other)
			},
			CreateShardMap: func(ctx context.Context, m fleet.ShardMap) error {
				_, err := g.ExecContext(ctx, `INSERT INTO `+tMapsGlobal+`(ShardMapId, Name, ShardMapType, KeyType) VALUES(?, ?, ?, ?)`,
					m.ID.String(), m.Name, int(m.Type), int(m.KeyType))
				return err
			},
		}
	})
}
