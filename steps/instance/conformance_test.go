package instance

import (
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

func TestConformance(t *testing.T) {
	hour := time.Hour
	stepstest.Run(t,
		stepstest.Case{Name: "update", Spec: stepspec.InstanceChange{Instance: "mi-dr", Operation: fleet.InstanceUpdate,
			Settings: stepspec.InstanceSettings{VCores: 16}, Typical: hour / 2, P95: hour, Unavailable: 2 * time.Minute}, Undo: stepstest.NoRollback},
		stepstest.Case{Name: "move into pool", Spec: stepspec.InstanceChange{Instance: "mi-dr", Operation: fleet.InstanceMoveIntoPool,
			Settings: stepspec.InstanceSettings{Pool: "pool-1"}, Typical: 5 * time.Minute, P95: 10 * time.Minute}, Undo: stepstest.NoRollback},
		stepstest.Case{Name: "delete", Spec: stepspec.InstanceChange{Instance: "mi-pool-b", Operation: fleet.InstanceDelete,
			Typical: time.Minute, P95: 2 * time.Minute}, Undo: stepstest.NoRollback},
	)
}
