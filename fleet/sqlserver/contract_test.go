package sqlserver

import (
	"context"
	"os"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// EnvTestScripts names the folder of the Elastic Database library's own
// deployment scripts (CreateShardMapManagerGlobal.sql and the rest, as the
// Java port ships them in elastic-db-tools/src/main/resources/scripts). Set,
// the shard map suites run a second time on shard map managers those
// scripts made, besides the ones made by fleetplan's own procedures.
const EnvTestScripts = "FLEETPLAN_TEST_ELASTICDB_SCRIPTS"

// suiteStore is a test's target with the databases the suite may use:
// Databases lists only this test's, not everything on the server.
type suiteStore struct {
	*Target
	dbs []fleet.Location
}

func (s suiteStore) Databases(context.Context) ([]fleet.Location, error) { return s.dbs, nil }

// storeVariant is how the suite's shard map managers are made: scripts ""
// is fleetplan's own procedures, else the library's scripts in that folder.
type storeVariant struct{ name, scripts string }

var storeVariants = []storeVariant{{name: "fleetplan procedures"}, {name: "library scripts", scripts: os.Getenv(EnvTestScripts)}}

// eachStore runs fn once per variant, on a server (testServer skips
// without one); the library's variant skips, saying why, when
// EnvTestScripts is not set.
func eachStore(t *testing.T, fn func(t *testing.T, open func(t *testing.T, extra ...string) (*Target, []fleet.Location))) {
	testServer(t)
	for _, v := range storeVariants {
		t.Run(v.name, func(t *testing.T) {
			if v.name == "library scripts" && v.scripts == "" {
				t.Skip(EnvTestScripts + " is not set: the suite ran on shard map managers made by fleetplan's own procedures; " +
					"set it to the folder of the Elastic Database library's own scripts to run it on the library's too (docs/sqlserver.md)")
			}
			fn(t, func(t *testing.T, extra ...string) (*Target, []fleet.Location) {
				tg, locs := testTarget(t, extra...)
				tg.cfg.ElasticDBScripts = v.scripts
				return tg, locs
			})
		})
	}
}

// TestContract runs the shard map store contract suite (fleettest.Run)
// against a real server, through the store's stored procedures:
// fleetplan's own, and the library's when EnvTestScripts names them.
func TestContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T, extra ...string) (*Target, []fleet.Location)) {
		fleettest.Run(t, func(t *testing.T) fleet.ShardMapStore {
			tg, locs := open(t, "db_a", "db_b", "db_c")
			return suiteStore{Target: tg, dbs: append([]fleet.Location{tg.cfg.SMM()}, locs...)}
		})
	})
}
