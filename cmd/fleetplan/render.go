package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/engine"
)

func init() { commands = append(commands, newRenderCmd) }

func newRenderCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "render PATH...",
		Short: "Print plans fully expanded: templates inlined, parameters resolved",
		Long: `render loads plans like validate and prints each document as YAML, with uses:/with:
replaced by the template's steps and every interpolation that depends only on params
resolved. Interpolations over steps, live or run stay as written: they are resolved
when the plan runs. Problems are printed on stderr; with any error nothing is rendered.`,
		Example: `  fleetplan render examples/upgrades/contoso-v2.yaml
  fleetplan render examples/ > expanded.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, diags := engine.LoadOptions(a.configPath).Load(args...)
			return a.view.Render(set.Documents, diags)
		},
	}
}
