package elasticdb

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// NewMemStore is an empty memStore over three databases, for the
// conformance suite in package elasticdb_test.
func NewMemStore(t *testing.T) (Executor, []fleet.Location, func(context.Context, fleet.ShardMap) error) {
	return newMemStore(dbA, dbB, dbC), []fleet.Location{dbA, dbB, dbC},
		func(context.Context, fleet.ShardMap) error { return nil } // the memStore keeps no ShardMapsGlobal
}
