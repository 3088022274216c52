package runhistory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// StateDir returns the state folder (runs and locks) beside a config.
func StateDir(cfg *plans.Config) string { return filepath.Join(cfg.Dir, runner.StateDirName) }

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

// FinishedUnchanged returns the newest run that applied the same steps as g
// to the end when the live state of everything those steps touch is still
// what it was then (endState describes it now, for the steps of the
// earlier run's graph). For a graph that ends where it began (planner.RoundTrip:
// a freeze -> wait -> thaw) that is the only way to tell a finished plan
// from a new one; applying it again would do what that run did and end
// where it ended. "" when there is none.
func FinishedUnchanged(stateDir string, g *stepgraph.Graph, endState func(old *stepgraph.Graph) (string, error)) string {
	runs, err := runner.List(stateDir)
	if err != nil {
		return ""
	}
	want := stepsDigest(g)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Plan != g.Plan || r.Status != runner.StatusDone {
			continue
		}
		st, err := runner.Status(stateDir, r.ID)
		if err != nil || st.Kind != g.Kind || st.Target != g.Target || st.EndState == "" {
			continue
		}
		old, err := runner.Graph(stateDir, r.ID)
		if err != nil || stepsDigest(old) != want {
			continue
		}
		if now, err := endState(old); err == nil && now == st.EndState {
			return r.ID
		}
		return "" // the newest run of these steps: the fleet moved on since
	}
	return ""
}

// stepsDigest identifies what a graph's steps do, leaving out what changes
// between plans of the same steps (estimates, live-at-plan notes, where in
// the file a step is written).
func stepsDigest(g *stepgraph.Graph) string {
	h := sha256.New()
	for _, s := range g.Steps {
		c := *s
		c.Estimate, c.LiveAtPlan, c.Pos = stepgraph.Estimate{}, "", diag.Pos{}
		b, _ := json.Marshal(&c)
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StepDurations reads how long each step of earlier runs of a plan took, from
// their journals (the newest run that did the step wins).
func StepDurations(stateDir, plan string) map[string]planner.Measured {
	runs, err := runner.List(stateDir)
	if err != nil || len(runs) == 0 {
		return nil
	}
	out := map[string]planner.Measured{}
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Plan != plan {
			continue
		}
		st, err := runner.Status(stateDir, runs[i].ID)
		if err != nil {
			continue
		}
		for _, s := range st.Steps {
			if _, have := out[s.ID]; have || s.State != runner.StateDone || s.Started.IsZero() || !s.Finished.After(s.Started) {
				continue
			}
			out[s.ID] = planner.Measured{Duration: s.Finished.Sub(s.Started), RunID: runs[i].ID}
		}
	}
	return out
}

// InstanceHistory summarises the instance operations earlier runs on a
// target finished: measured against the table's typical, by type.
func InstanceHistory(stateDir, target string) map[estimate.Type]estimate.History {
	runs, err := runner.List(stateDir)
	if err != nil {
		return nil
	}
	var ms []estimate.Measured
	for i := len(runs) - 1; i >= 0 && len(ms) < 200; i-- {
		if runs[i].Target != target {
			continue
		}
		st, err := runner.Status(stateDir, runs[i].ID)
		if err != nil {
			continue
		}
		for _, s := range st.Steps {
			if s.Action != stepspec.InstanceChangeName || s.State != runner.StateDone {
				continue
			}
			elapsed, _ := s.Outputs["elapsedSeconds"].(float64)
			typical, _ := s.Outputs["tableTypicalSeconds"].(float64)
			typ, _ := s.Outputs["operation"].(string)
			if elapsed > 0 && typical > 0 {
				ms = append(ms, estimate.Measured{Type: estimate.Type(typ), Typical: seconds(typical), Duration: seconds(elapsed)})
			}
		}
	}
	out := map[estimate.Type]estimate.History{}
	for _, t := range []estimate.Type{estimate.Create, estimate.Update, estimate.Delete, estimate.MoveIntoPool, estimate.MoveOutOfPool} {
		if h := estimate.Summarise(t, ms); h.N > 0 {
			out[t] = h
		}
	}
	return out
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
