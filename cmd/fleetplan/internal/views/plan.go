package views

import (
	"bufio"

	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// Plan prints the step graph in format: text, markdown or json.
func (v *View) Plan(g *stepgraph.Graph, format string) error {
	// A plan of many steps is many lines: write them in blocks, not a
	// system call per line.
	w := bufio.NewWriter(v.Out)
	if err := planrender.Render(w, g, format); err != nil {
		return err
	}
	return w.Flush()
}

// Saved says where plan --out saved the plan (not in json, which is the
// graph alone).
func (v *View) Saved(path, format string) {
	if format != JSON {
		v.printf("\nSaved the plan to %s; `fleetplan apply %s` runs exactly this graph.\n", path, path)
	}
}

// Changes is the exit status of a plan: with detailed (plan
// --detailed-exitcode), 2 when the graph changes anything (gitops.Changed:
// steps that change nothing, such as no-ops and gates, are no change).
func (v *View) Changes(g *stepgraph.Graph, detailed bool) error {
	if detailed && gitops.Changed(g) {
		return &ExitError{Code: 2}
	}
	return nil
}
