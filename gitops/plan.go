package gitops

import (
	"context"
	"sort"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// TargetPlans is what a repository's plans do to one target.
type TargetPlans struct {
	Target string
	// Config is the fleetplan.yaml naming the target (nil for a group of
	// unmanaged documents alone whose target no plan names any more).
	Config *plans.Config
	Plans  []*Planned
	// Unmanaged are the documents of this target that left the repository.
	Unmanaged []Unmanaged
	// Err is why the target could not be opened; no plan of it was made.
	Err error
}

// Planned is one document's plan.
type Planned struct {
	Doc   *plans.Document
	Why   string           // why it is planned (Selection.Why); "" when every plan is
	Graph *stepgraph.Graph // nil when planning failed
	Diags diag.List        // what planning reported (errors leave Graph nil)
	// NotPlanned is set for a document of a kind that has no planner yet
	// (it validates, plan and apply do not take it): it is shown as such,
	// with a warning in Diags, and is not an error of the repository.
	NotPlanned bool
}

// Opener opens a target of a config.
type Opener func(ctx context.Context, cfg *plans.Config, name string) (fleet.Target, error)

// Errors reports whether planning any document, or opening any target, failed.
func Errors(groups []*TargetPlans) bool {
	for _, g := range groups {
		if g.Err != nil {
			return true
		}
		for _, p := range g.Plans {
			if !p.NotPlanned && (p.Graph == nil || p.Diags.HasErrors()) {
				return true
			}
		}
	}
	return false
}

// Changes reports whether any plan changes anything (see Changed).
func Changes(groups []*TargetPlans) bool {
	for _, g := range groups {
		for _, p := range g.Plans {
			if p.Graph != nil && Changed(p.Graph) {
				return true
			}
		}
	}
	return false
}

// Changed reports whether applying g may change the fleet: it previews an
// object change, removes what a failed run kept, or has a step whose action
// may change something (by what the action says it touches: a no-op, a
// wait or an approval gate changes nothing; an action that cannot tell, or
// is not registered, counts as a change). A graph of steps that change
// nothing is "no changes" for --detailed-exitcode, drift and watch.
func Changed(g *stepgraph.Graph) bool {
	if g == nil || g.Empty() {
		return false
	}
	if len(g.Changes) > 0 || len(g.RemoveKept) > 0 {
		return true
	}
	for _, s := range g.Steps {
		a, err := steps.Lookup(s.Action)
		if err != nil {
			return true
		}
		if _, gate := a.(steps.Gate); gate {
			continue
		}
		refs, all := steps.Touches(a, steps.Inputs(s.With))
		if all {
			return true
		}
		for _, r := range refs {
			if r.Changes {
				return true
			}
		}
	}
	return false
}

// Group sorts documents into one group per target of a config: targets by
// name (then config path), documents by file and position, so the output
// of a repository is the same from run to run. Unmanaged documents join
// the group of their target's name.
func Group(docs []*plans.Document, why map[*plans.Document]string, unmanaged []Unmanaged) []*TargetPlans {
	byKey := map[string]*TargetPlans{}
	var groups []*TargetPlans
	for _, d := range docs {
		if d.Kind == plans.KindTemplate || d.Config == nil {
			continue
		}
		name := engine.TargetOf(d)
		k := d.Config.Path + "\x00" + name
		g := byKey[k]
		if g == nil {
			g = &TargetPlans{Target: name, Config: d.Config}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.Plans = append(g.Plans, &Planned{Doc: d, Why: why[d]})
	}
	for _, u := range unmanaged {
		var g *TargetPlans
		for _, x := range groups {
			if x.Target == u.Target {
				g = x
				break
			}
		}
		if g == nil {
			g = &TargetPlans{Target: u.Target}
			groups = append(groups, g)
		}
		g.Unmanaged = append(g.Unmanaged, u)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if groups[i].Target != groups[j].Target {
			return groups[i].Target < groups[j].Target
		}
		return configPath(groups[i]) < configPath(groups[j])
	})
	for _, g := range groups {
		sort.SliceStable(g.Plans, func(i, j int) bool {
			a, b := g.Plans[i].Doc, g.Plans[j].Doc
			if a.File != b.File {
				return a.File < b.File
			}
			return a.Pos.Line < b.Pos.Line
		})
		sort.SliceStable(g.Unmanaged, func(i, j int) bool { return g.Unmanaged[i].File < g.Unmanaged[j].File })
	}
	return groups
}

func configPath(g *TargetPlans) string {
	if g.Config == nil {
		return ""
	}
	return g.Config.Path
}

// PlanAll plans every document of every group against its target, opened
// once per group. Nothing changes: it only observes.
func PlanAll(ctx context.Context, groups []*TargetPlans, open Opener) {
	for _, g := range groups {
		if len(g.Plans) == 0 || ctx.Err() != nil {
			continue
		}
		target, err := open(ctx, g.Config, g.Target)
		if err != nil {
			g.Err = err
			continue
		}
		for _, p := range g.Plans {
			p.Graph, p.Diags = engine.Plan(ctx, p.Doc, target, runhistory.PlanOptions(runhistory.StateDir(p.Doc.Config), target.Name()))
			if _, ok := planner.KindNamed(p.Doc.Kind); !ok {
				// What the engine says of it, as a warning: a repository
				// holding such a plan is planned all the same.
				p.NotPlanned, p.Graph = true, nil
				for i := range p.Diags {
					p.Diags[i].Severity = diag.Warning
				}
				continue
			}
			if p.Diags.HasErrors() {
				p.Graph = nil
			}
		}
		target.Close()
	}
}
