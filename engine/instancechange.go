package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// PlanInstanceChange observes the target's managed instances and plans an
// InstanceChange, with estimates blended with what earlier runs measured.
func PlanInstanceChange(ctx context.Context, doc *plans.Document, target fleet.Target) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	spec := doc.InstanceChange
	stateDir := ""
	if doc.Config != nil {
		stateDir = StateDir(doc.Config)
	}
	live, err := ObserveInstances(ctx, target, stateDir)
	if err != nil {
		diags.Errorf(orPos(spec.SelectorPos, doc.Pos), "observe target %q: %v", target.Name(), err).
			WithHint("%s", orHint(fleet.HintOf(err), "the target's driver must list managed instances"))
		return nil, diags
	}
	g, diags := planner.PlanInstanceChange(doc, live)
	if g != nil {
		if abs, err := filepath.Abs(g.Source); err == nil {
			g.Source = abs
		}
	}
	return g, diags
}

// ObserveInstances reads the instances, pools and the fleet's time, and
// what earlier runs in stateDir ("" for none) measured.
func ObserveInstances(ctx context.Context, target fleet.Target, stateDir string) (*planner.InstanceLive, error) {
	im, ok := target.(fleet.InstanceManager)
	if !ok {
		return nil, fmt.Errorf("driver %s has no managed instances", target.Driver())
	}
	live := &planner.InstanceLive{Now: time.Now().UTC().Truncate(time.Minute)}
	var err error
	if live.Instances, err = im.ManagedInstances(ctx); err != nil {
		return nil, err
	}
	if live.Pools, err = im.InstancePools(ctx); err != nil {
		return nil, err
	}
	if c, ok := target.(fleet.Clock); ok {
		now, err := c.Now(ctx)
		if err != nil {
			return nil, err
		}
		live.Now = now.UTC().Truncate(time.Minute)
	}
	if stateDir != "" {
		live.History = InstanceHistory(stateDir, target.Name())
	}
	return live, nil
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

func orPos(p, fallback diag.Pos) diag.Pos {
	if p.Line == 0 {
		return fallback
	}
	return p
}

func orHint(h, fallback string) string {
	if h == "" {
		return fallback
	}
	return h
}
