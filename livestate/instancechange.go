package livestate

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/stepgraph"
)

func init() { planner.RegisterKind(instanceChange{}) }

// instanceChange is the InstanceChange kind: the target's managed
// instances and pools, planned by planner.PlanInstanceChange.
type instanceChange struct{}

var _ planner.Kind = instanceChange{}

func (instanceChange) Name() string { return plans.KindInstanceChange }

func (instanceChange) Fingerprint(ctx context.Context, doc *plans.Document, target fleet.Target) (string, error) {
	live, err := ObserveInstances(ctx, target, "")
	if err != nil {
		return "", err
	}
	return live.Fingerprint(), nil
}

// Plan observes the target's managed instances and plans an
// InstanceChange, with estimates blended with what earlier runs measured.
func (instanceChange) Plan(ctx context.Context, doc *plans.Document, target fleet.Target, _ planner.Options) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	spec := doc.InstanceChange()
	stateDir := ""
	if doc.Config != nil {
		stateDir = runhistory.StateDir(doc.Config)
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
		live.History = runhistory.InstanceHistory(stateDir, target.Name())
	}
	return live, nil
}

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
