package main

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/plans"

	"github.com/spf13/cobra"
)

// app holds what every command needs: the input stream (for apply's
// confirmation), the view that renders everything commands show (they write
// nothing themselves), and the global flags.
type app struct {
	stdin      io.Reader
	view       *views.View
	configPath string
	timeScale  string // --time-scale, "" when not given
}

// commands registered by the files of this package (one file per command).
var commands []func(*app) *cobra.Command

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdin: stdin, view: views.New(stdout, stderr)}
	root := &cobra.Command{
		Use:   "fleetplan",
		Short: "Plan and apply declarative YAML plans against SQL Server / Azure SQL fleets",
		Long: `fleetplan reads YAML plans (shard layouts, rolling upgrades, instance changes),
diffs them against the live fleet, shows the step graph it would run, and applies
it with a checkpoint after every step.`,
		Example: `  fleetplan validate examples/
  fleetplan fleet init --demo /tmp/fleet
  fleetplan plan examples/shards/split.yaml`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configPath, flagConfig, "", "path to fleetplan.yaml (default: found in the plan's folder or the nearest parent)")
	root.PersistentFlags().StringVar(&a.timeScale, flagTimeScale, "", `compress modelled control-plane durations on the local fleet (seeding, scaling): "1/3600", "0.01", "0"; overrides the target's timeScale option`)
	for _, c := range commands {
		root.AddCommand(c(a))
	}
	groupArgs(root)
	usageArgs(root)
	return root
}

// openTarget opens a target named in the config for plans, applying --time-scale.
func (a *app) openTarget(ctx context.Context, cfg *plans.Config, name string) (fleet.Target, error) {
	return a.openTargetFor(ctx, cfg, name, fleet.OpenForPlans)
}

// targetOpens counts the targets the commands opened (tests read it: a
// command that plans many documents opens each target once, not once a
// document).
var targetOpens atomic.Int64

// openTargetFor is openTarget for a purpose (engine.ModeFor a plan's kind).
func (a *app) openTargetFor(ctx context.Context, cfg *plans.Config, name string, mode fleet.OpenMode) (fleet.Target, error) {
	targetOpens.Add(1)
	t, err := engine.OpenTargetFor(ctx, cfg, name, mode)
	if err != nil {
		return nil, err
	}
	return t, a.applyTimeScale(t)
}

// applyTimeScale sets --time-scale on a target that models durations.
func (a *app) applyTimeScale(t fleet.Target) error {
	if a.timeScale == "" {
		return nil
	}
	scale, err := local.ParseTimeScale(a.timeScale)
	if err != nil {
		t.Close()
		return usageErr("--"+flagTimeScale+": "+err.Error(), `give a factor like "1/3600", "0.01" or "0"`)
	}
	if s, ok := t.(interface{ SetTimeScale(float64) }); ok {
		s.SetTimeScale(scale)
	}
	return nil
}
