package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/runner"
)

func init() { commands = append(commands, newRejectCmd) }

func newRejectCmd(a *app) *cobra.Command {
	var dir, who, reason string
	cmd := &cobra.Command{
		Use:   "reject RUN STEP",
		Short: "Reject a step that waits for approval and roll the run back",
		Long: `reject records in the run's journal that STEP must not run, then rolls the
run back at once (as fleetplan resume RUN would): production is made
available again first, then the steps the run completed are undone, newest
first (parts the plan keeps for analysis stay until fleetplan rollback RUN).
With only --state-dir (no fleetplan.yaml to open the fleet with) the
rollback waits for fleetplan resume RUN.`,
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
			if cfg, err := engine.LoadConfig(a.configPath); err == nil && runhistory.StateDir(cfg) == d {
				a.view.Rejected(args[0], args[1], by, true)
				return a.continueRun(cmd, args[0], formatText, "resume", func(_, runID string, opt runner.Options) (*runner.Result, error) {
					res, err := runner.Resume(cmd.Context(), runID, opt)
					if res != nil && (res.Status == runner.StatusRolledBack || res.Status == runner.StatusKept) {
						return res, nil // what a rejection asks for
					}
					return res, err
				})
			}
			a.view.Rejected(args[0], args[1], by, false)
			return nil
		},
	}
	addStateDirFlag(cmd, &dir)
	addAsFlag(cmd, &who)
	cmd.Flags().StringVar(&reason, flagReason, "", "why, recorded in the journal and shown by status")
	return cmd
}
