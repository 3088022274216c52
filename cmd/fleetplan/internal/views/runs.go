package views

import (
	"fmt"
	"text/tabwriter"

	"github.com/fleetplan/fleetplan/runner"
)

// Runs lists the runs of a state folder as a table or as JSON.
func (v *View) Runs(dir string, runs []runner.RunSummary, format string) error {
	if format == JSON {
		if runs == nil {
			runs = []runner.RunSummary{}
		}
		return v.json(runs)
	}
	if len(runs) == 0 {
		fmt.Fprintf(v.Out, "No runs in %s.\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(v.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPLAN\tTARGET\tSTATUS\tSTARTED\tSTEPS")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\n", r.ID, dash(r.Plan), dash(r.Target), r.Status, when(r.Started), r.Done, r.Total)
	}
	return tw.Flush()
}
