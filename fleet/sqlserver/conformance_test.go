package sqlserver

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// TestElasticDBConformance runs the Elastic Database conformance suite over
// this driver's executor, on a shard map manager the library's own scripts
// made, with a second target (its own connections) as the second writer.
func TestElasticDBConformance(t *testing.T) {
	testServer(t)
	fleettest.RunElasticDBConformance(t, func(t *testing.T) fleettest.ElasticDBStore {
		tg, locs := libraryTarget(t, "db_a", "db_b", "db_c")
		if err := tg.ensureGlobal(context.Background()); err != nil {
			t.Fatal(err)
		}
		return fleettest.ElasticDBStore{
			Executor: executor{tg},
			Second: func(t *testing.T) elasticdb.Executor {
				other := newTarget(tg.cfg)
				t.Cleanup(func() { other.Close() })
				return executor{other}
			},
			Databases: locs,
			CreateShardMap: func(ctx context.Context, m fleet.ShardMap) error {
				g, err := tg.gsm()
				if err != nil {
					return err
				}
				return tg.call(ctx, g, "create shard map", m.Name, spAddShardMapGlobal, addShardMapDoc(m))
			},
		}
	})
}
