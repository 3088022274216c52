package local

import (
	"errors"
	"fmt"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// errSimulatedCrash stops an operation dead, as a killed process would.
var errSimulatedCrash = errors.New("simulated crash")

// Crash points of a multi-database operation, for SimulateCrash.
const (
	CrashAfterGSMBegin  = "gsm-begin"  // log row and pending GSM rows committed
	CrashAfterLSMSource = "lsm-source" // source shard's LSM committed
	CrashAfterLSMTarget = "lsm-target" // target shard's LSM committed, GSM end not run
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
		return fmt.Errorf("%s after %s: %w", op.FaultPoint(), point, errSimulatedCrash)
	}
	return faults.Hit(op.FaultPoint())
}
