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
	fmt.Fprintln(tw, "RUN\tPLAN\tTARGET\tSTATUS\tSTARTED\tSTEPS\tCOMMIT\tFILE")
	for _, r := range runs {
		commit, file := provenanceCells(r.Provenance)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.ID, dash(r.Plan), dash(r.Target), r.Status, when(r.Started), r.Done, r.Total, commit, file)
	}
	return tw.Flush()
}

// provenanceCells are the commit (short, "+dirty" when the working tree
// differed from it) and the plan file of a run, "-" when not recorded.
func provenanceCells(p *runner.Provenance) (commit, file string) {
	if p == nil {
		return "-", "-"
	}
	commit = dash(shortCommit(p.Commit))
	if p.Commit != "" && p.Dirty {
		commit += "+dirty"
	}
	return commit, dash(p.File)
}

// provenanceLine says where a run's plan came from, for status.
func provenanceLine(p *runner.Provenance) string {
	if p == nil {
		return ""
	}
	s := dash(p.File)
	switch {
	case p.Commit == "":
		s += " (not in git)"
	case p.Dirty:
		s += " at commit " + shortCommit(p.Commit) + " (the working tree had uncommitted changes)"
	default:
		s += " at commit " + shortCommit(p.Commit)
	}
	if p.ContentHash != "" {
		s += ", content sha256 " + shortCommit(p.ContentHash)
	}
	return s
}
