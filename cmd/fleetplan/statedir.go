package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
)

// flagStateDir names the state folder explicitly (runs and locks).
const flagStateDir = "state-dir"

// addStateDirFlag adds --state-dir to a command that reads or marks runs.
func addStateDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, flagStateDir, "", "the .fleetplan folder holding runs (default: beside fleetplan.yaml, else ./.fleetplan)")
}

// stateDir returns the folder holding runs: --state-dir when given, else the
// .fleetplan folder beside the fleetplan.yaml named by --config or found from
// the working directory upwards, else ./.fleetplan.
func (a *app) stateDir(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	cfg := a.configPath
	if cfg == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		if p, ok := plans.FindConfig(wd); ok {
			cfg = p
		}
	}
	if cfg == "" {
		return runner.StateDirName, nil
	}
	abs, err := filepath.Abs(cfg)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(abs), runner.StateDirName), nil
}

// checkOutput validates an --output flag of the table commands.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return fmt.Errorf("--output must be text or json, not %q", output)
	}
	return nil
}
