package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/runner"
)

func init() { commands = append(commands, newCancelCmd) }

func newCancelCmd(a *app) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Stop a run after its running steps finish, without rolling back",
		Long: `cancel asks a run to stop. A run being executed stops once its running steps
finish; a run that is paused, interrupted or waiting for approval is marked
cancelled at once. Nothing is rolled back: fleetplan rollback RUN undoes the
run later if you want it. Cancelling a finished run is an error.`,
		Example: `  fleetplan cancel 20261122T101500Z-ab12`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.stateDir(dir)
			if err != nil {
				return err
			}
			id := args[0]
			if err := runner.Cancel(d, id); err != nil {
				return err
			}
			st, err := runner.Status(d, id)
			if err != nil {
				return err
			}
			if st.Status == runner.StatusCancelled {
				fmt.Fprintf(a.stdout, "Run %s cancelled. Undo what it did with: fleetplan rollback %s\n", id, id)
			} else {
				fmt.Fprintf(a.stdout, "Cancel requested: run %s stops once its running steps finish (see fleetplan status %s).\n", id, id)
			}
			return nil
		},
	}
	addStateDirFlag(cmd, &dir)
	return cmd
}
