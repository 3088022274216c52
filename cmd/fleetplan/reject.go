package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/runner"
)

func init() { commands = append(commands, newRejectCmd) }

func newRejectCmd(a *app) *cobra.Command {
	var dir, who, reason string
	cmd := &cobra.Command{
		Use:   "reject RUN STEP",
		Short: "Reject a step that waits for approval; resume then rolls the run back",
		Long: `reject records in the run's journal that STEP must not run. The next
fleetplan resume RUN rolls back the steps the run completed, newest first.`,
		Example: `  fleetplan reject 20261122T101500Z-ab12 switch-traffic --reason "staging checks failed"
  fleetplan reject 20261122T101500Z-ab12 switch-traffic && fleetplan resume 20261122T101500Z-ab12`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.stateDir(dir)
			if err != nil {
				return err
			}
			by := approver(who)
			if err := runner.Reject(d, args[0], args[1], by, reason); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Step %s of run %s rejected by %s. The next fleetplan resume %s rolls the run back.\n", args[1], args[0], by, args[0])
			return nil
		},
	}
	addStateDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&who, "as", "", "who rejects (default: the current user)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the journal and shown by status")
	return cmd
}
