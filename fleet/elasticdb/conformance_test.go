package elasticdb_test

import (
	"testing"

	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// The in-memory executor passes the suite every store passes.
func TestElasticDBConformance(t *testing.T) {
	fleettest.RunElasticDBConformance(t, func(t *testing.T) fleettest.ElasticDBStore {
		ex, dbs, create := elasticdb.NewMemStore(t)
		return fleettest.ElasticDBStore{Executor: ex, Databases: dbs, CreateShardMap: create}
	})
}
