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
// Java port ships them in elastic-db-tools/src/main/resources/scripts), which
// the contract suite runs to give each test a shard map manager the library
// would have made.
const EnvTestScripts = "FLEETPLAN_TEST_ELASTICDB_SCRIPTS"

// suiteStore is a test's target with the databases the suite may use:
// Databases lists only this test's, not everything on the server.
type suiteStore struct {
	*Target
	dbs []fleet.Location
}

func (s suiteStore) Databases(context.Context) ([]fleet.Location, error) { return s.dbs, nil }

func libraryTarget(t *testing.T, extra ...string) (*Target, []fleet.Location) {
	t.Helper()
	testServer(t)
	dir := os.Getenv(EnvTestScripts)
	if dir == "" {
		t.Skip(EnvTestScripts + " is not set: the shard map suites need a shard map manager made by the Elastic Database library, " +
			"deployed from the library's own scripts (docs/sqlserver.md)")
	}
	tg, locs := testTarget(t, extra...)
	tg.cfg.ElasticDBScripts = dir
	return tg, locs
}

// TestContract runs the shard map store contract suite (fleettest.Run)
// against a real server, through the library's stored procedures.
func TestContract(t *testing.T) {
	testServer(t)
	fleettest.Run(t, func(t *testing.T) fleet.ShardMapStore {
		tg, locs := libraryTarget(t, "db_a", "db_b", "db_c")
		return suiteStore{Target: tg, dbs: append([]fleet.Location{tg.cfg.SMM()}, locs...)}
	})
}
