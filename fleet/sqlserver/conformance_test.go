package sqlserver

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// TestElasticDBConformance runs the Elastic Database conformance suite over
// this driver's executor, on a shard map manager made by fleetplan's own
// procedures (and by the library's scripts when EnvTestScripts names them),
// with a second target (its own connections) as the second writer.
func TestElasticDBConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T, extra ...string) (*Target, []fleet.Location)) {
		testConformance(t, open)
	})
}

func testConformance(t *testing.T, open func(t *testing.T, extra ...string) (*Target, []fleet.Location)) {
	fleettest.RunElasticDBConformance(t, func(t *testing.T) fleettest.ElasticDBStore {
		tg, locs := open(t, "db_a", "db_b", "db_c")
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
