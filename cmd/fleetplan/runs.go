package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/runner"
)

func init() { commands = append(commands, newRunsCmd) }

func newRunsCmd(a *app) *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs, oldest first, with their status and progress",
		Long: `runs lists the runs journaled in the .fleetplan folder beside fleetplan.yaml:
id, plan, target, status, start time and steps done out of the total. A run
shown "interrupted" was killed or stopped; fleetplan resume continues it.`,
		Example: `  fleetplan runs
  fleetplan runs --format json
  fleetplan runs --state-dir /srv/plans/.fleetplan`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.stateDir(dir)
			if err != nil {
				return err
			}
			runs, err := runner.List(d)
			if err != nil {
				return err
			}
			if output == "json" {
				if runs == nil {
					runs = []runner.RunSummary{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(runs)
			}
			if len(runs) == 0 {
				fmt.Fprintf(a.stdout, "No runs in %s.\n", d)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tPLAN\tTARGET\tSTATUS\tSTARTED\tSTEPS")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\n", r.ID, dash(r.Plan), dash(r.Target), r.Status, when(r.Started), r.Done, r.Total)
			}
			return tw.Flush()
		},
	}
	addStateDirFlag(cmd, &dir)
	addFormatFlagWithOutputAlias(cmd, &output, formatText, formatJSON)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// when formats a time for tables, in local time.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
