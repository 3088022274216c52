package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/livestate"
	"github.com/fleetplan/fleetplan/runhistory"
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
cancelled at once. Nothing is rolled back, except that production is made
read-write again at once when the run held it read-only (an upgrade stopped
inside its read-only window): fleetplan rollback RUN undoes the rest later.
Cancelling a finished run is an error.`,
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
				if err := a.restoreProduction(cmd, d, st); err != nil {
					return err
				}
			}
			a.view.Cancelled(id, st.Status == runner.StatusCancelled)
			return nil
		},
	}
	addStateDirFlag(cmd, &dir)
	return cmd
}

// restoreProduction makes production read-write again when a run is
// cancelled while it held production read-only (waiting for approval
// inside the read-only window). Without a fleetplan.yaml to open the fleet
// with, it says what to run instead.
func (a *app) restoreProduction(cmd *cobra.Command, dir string, st *runner.RunStatus) error {
	cfg, err := engine.LoadConfig(a.configPath)
	if err != nil || runhistory.StateDir(cfg) != dir {
		return nil
	}
	target, err := a.openTargetFor(cmd.Context(), cfg, st.Target, engine.ModeFor(st.Kind))
	if err != nil {
		return err
	}
	defer target.Close()
	restored, err := runner.RestoreProduction(cmd.Context(), st.ID, runner.Options{Dir: dir, Target: target,
		Evaluator: &livestate.Evaluator{Target: target}, Command: "fleetplan cancel " + st.ID})
	if err != nil {
		return err
	}
	if restored {
		a.view.ProductionRestored()
	}
	return nil
}
