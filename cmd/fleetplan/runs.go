package main

import (
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
			return a.view.Runs(d, runs, output)
		},
	}
	addStateDirFlag(cmd, &dir)
	addFormatFlagWithOutputAlias(cmd, &output, formatText, formatJSON)
	return cmd
}
