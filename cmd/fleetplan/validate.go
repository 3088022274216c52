package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/engine"
)

func init() { commands = append(commands, newValidateCmd) }

func newValidateCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check plan files and folders and report every problem at once",
		Long: `validate reads plan files and folders (recursively, *.yaml and *.yml), checks each
document against its schema and the rules of its kind, expands templates and compiles
every expression. Problems are printed one per line as path:line:col: message, and
the command exits 1 when there is any error. fleetplan.yaml is found in each plan's
folder or the nearest parent, unless --config names one.`,
		Example: `  fleetplan validate examples/
  fleetplan validate examples/shards/split.yaml --format json
  fleetplan validate --config ops/fleetplan.yaml plans/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, diags := engine.LoadOptions(a.configPath).Load(args...)
			bad := engine.CheckActions(set)
			diags = append(diags, bad...)
			return a.view.Validate(len(set.Documents), diags, format)
		},
	}
	addFormatFlag(cmd, &format, formatText, formatJSON)
	return cmd
}
