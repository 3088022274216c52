package main

import (
	"os"
	"path/filepath"

	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
)

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
