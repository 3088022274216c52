package engine

import (
	"path/filepath"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// CheckPaths checks, before a run starts, that every file a step of g names
// (its path inputs, as far as they are known before the run) still lies
// inside roots: files can change between plan and apply, and a saved plan is
// a file anyone may have edited. Inputs computed by ${{ }} at run time are
// checked when their step runs.
func CheckPaths(g *stepgraph.Graph, roots confine.Roots) error {
	base := ""
	if g.Source != "" {
		base = filepath.Dir(g.Source)
	}
	env := &steps.Env{BaseDir: base, Roots: roots}
	var check func(s *stepgraph.Step) error
	check = func(s *stepgraph.Step) error {
		if s == nil {
			return nil
		}
		for _, k := range steps.FileInputs(s.Action) {
			v, ok := s.With[k].(string)
			if !ok || v == "" || expression.HasInterpolation(v) {
				continue
			}
			if _, err := env.Path(k, v); err != nil {
				return &fleet.Error{Op: "step " + s.ID, Err: err, Hint: fleet.HintOf(err)}
			}
		}
		return check(s.Rollback)
	}
	for _, s := range g.Steps {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}
