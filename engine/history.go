package engine

import (
	"fmt"

	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepspec"
)

// historyRuns bounds how many recent runs are read for measurements.
const historyRuns = 20

// MeasuredThroughput returns the move speed (rows/s) of the newest finished
// move on a target, read from the journals of earlier runs, so estimates come
// from this fleet rather than a default. ok is false when there is none.
func MeasuredThroughput(stateDir, target string) (rowsPerSecond float64, basis string, ok bool) {
	runs, err := runner.List(stateDir)
	if err != nil {
		return 0, "", false
	}
	seen := 0
	for i := len(runs) - 1; i >= 0 && seen < historyRuns; i-- {
		r := runs[i]
		if r.Target != target {
			continue
		}
		seen++
		st, err := runner.Status(stateDir, r.ID)
		if err != nil {
			continue
		}
		for _, s := range st.Steps {
			if s.Action != stepspec.MoveRangeName || s.State != runner.StateDone {
				continue
			}
			rate, _ := s.Outputs["rowsPerSecond"].(float64)
			rows, _ := s.Outputs["rows"].(float64)
			if rate > 0 && rows >= 1000 { // tiny moves measure overhead, not speed
				return rate, fmt.Sprintf("measured in run %s", r.ID), true
			}
		}
	}
	return 0, "", false
}

// PlanOptions returns planner options informed by earlier runs on the target.
func PlanOptions(stateDir, target string) planner.Options {
	if rate, basis, ok := MeasuredThroughput(stateDir, target); ok {
		return planner.Options{Throughput: rate, ThroughputBasis: basis}
	}
	return planner.Options{}
}
