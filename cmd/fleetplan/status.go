package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/runner"
)

func init() { commands = append(commands, newStatusCmd) }

func newStatusCmd(a *app) *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "status [RUN]",
		Short: "Show a run's state step by step: errors, retries, waits, approvals, rollbacks",
		Long: `status rebuilds a run's state from its journal (the newest run when RUN is
omitted) and shows every step: its state, attempts, time spent waiting between
retries, its error, and its rollback. It takes no lock and is safe while a run
is going on.`,
		Example: `  fleetplan status
  fleetplan status 20261122T101500Z-ab12
  fleetplan status 20261122T101500Z-ab12 --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.stateDir(dir)
			if err != nil {
				return err
			}
			var id string
			if len(args) == 1 {
				id = args[0]
			} else if id, err = runner.Newest(d); err != nil {
				return err
			}
			st, err := runner.Status(d, id)
			if err != nil {
				return err
			}
			return a.view.Status(st, output)
		},
	}
	addStateDirFlag(cmd, &dir)
	addFormatFlagWithOutputAlias(cmd, &output, formatText, formatJSON)
	return cmd
}
