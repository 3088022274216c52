package main

import (
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/runner"
)

func init() { commands = append(commands, newApproveCmd) }

func newApproveCmd(a *app) *cobra.Command {
	var dir, who string
	cmd := &cobra.Command{
		Use:   "approve RUN STEP",
		Short: "Approve a step that waits for manual approval; resume then runs it",
		Long: `approve records in the run's journal that STEP (a step with approval: true)
may run. The run continues with fleetplan resume RUN.`,
		Example: `  fleetplan approve 20261122T101500Z-ab12 switch-traffic
  fleetplan approve 20261122T101500Z-ab12 switch-traffic --as alice && fleetplan resume 20261122T101500Z-ab12`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.stateDir(dir)
			if err != nil {
				return err
			}
			by := approver(who)
			if err := runner.Approve(d, args[0], args[1], by); err != nil {
				return err
			}
			a.view.Approved(args[0], args[1], by)
			return nil
		},
	}
	addStateDirFlag(cmd, &dir)
	addAsFlag(cmd, &who)
	return cmd
}

// approver names who approves or rejects: --as, else the current user.
func approver(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
