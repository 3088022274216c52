package local

import (
	"fmt"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// Crash points of a multi-database operation, for SimulateCrash.
const (
	CrashAfterGSMBegin  = elasticdb.CrashAfterGSMBegin
	CrashAfterLSMSource = elasticdb.CrashAfterLSMSource
	CrashAfterLSMTarget = elasticdb.CrashAfterLSMTarget
)

// SimulateCrash makes the next shard map operation that reaches point stop
// there without cleaning up, returning an error, exactly as if the process
// had been killed. The next writer's RecoverPending rolls it back. For tests.
func (t *Target) SimulateCrash(point string) {
	t.crashMu.Lock()
	t.crashAt = point
	t.crashMu.Unlock()
}

// reach marks that an operation passed a point: a simulated crash, then the
// fault injection point shardmap.<op> (hit once per point, so the Nth hit
// of an operation is its Nth phase boundary).
func (t *Target) reach(op *elasticdb.Operation, point string) error {
	t.crashMu.Lock()
	crash := t.crashAt == point
	if crash {
		t.crashAt = ""
	}
	t.crashMu.Unlock()
	if crash {
		return fmt.Errorf("%s after %s: %w", op.FaultPoint(), point, elasticdb.ErrSimulatedCrash)
	}
	return faults.Hit(op.FaultPoint())
}
