package main

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
)

// fleetFlags are the ways layout and route find a fleet.
type fleetFlags struct {
	target, dir string
}

func (f *fleetFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.target, flagTarget, "", helpTarget)
	cmd.Flags().StringVar(&f.dir, flagFleet, "", helpFleet)
}

// open returns the fleet named by --fleet or --target, opened for plans.
func (f *fleetFlags) open(ctx context.Context, a *app) (fleet.Target, error) {
	return f.openFor(ctx, a, fleet.OpenForPlans)
}

// openFor is open for a purpose (doctor and layout: fleet.OpenForDiagnosis).
func (f *fleetFlags) openFor(ctx context.Context, a *app, mode fleet.OpenMode) (fleet.Target, error) {
	if f.dir != "" {
		if f.target != "" {
			return nil, usageErr("--fleet and --target exclude each other", "use one of them")
		}
		t, err := local.OpenFor(ctx, f.dir, mode)
		if err != nil {
			return nil, err
		}
		return t, a.applyTimeScale(t)
	}
	cfg, err := engine.LoadConfig(a.configPath)
	if err != nil {
		return nil, err
	}
	name := f.target
	if name == "" {
		names := make([]string, 0, len(cfg.Targets))
		for n := range cfg.Targets {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) != 1 {
			return nil, usageErr("--target is required: "+cfg.Path+" names "+views.Plural(len(names), "target")+" ("+strings.Join(names, ", ")+")",
				"pass --target NAME, or --fleet DIR for a local fleet")
		}
		name = names[0]
	}
	return a.openTargetFor(ctx, cfg, name, mode)
}
