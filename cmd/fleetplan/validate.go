package main

import (
	"fmt"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/spf13/cobra"
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
			if err := a.writeDiags(diags, format); err != nil {
				return err
			}
			if format == "text" {
				warnings := len(diags) - len(diags.Errors())
				fmt.Fprintf(a.stdout, "%s valid%s\n", plural(len(set.Documents), "document"), warningSuffix(warnings))
			}
			return nil
		},
	}
	addFormatFlag(cmd, &format, formatText, formatJSON)
	return cmd
}

// writeDiags prints diagnostics (text on stderr, json on stdout) and returns
// an error that exits 1 when any of them is an error.
func (a *app) writeDiags(diags diag.List, format string) error {
	out := a.stderr
	if format == "json" {
		out = a.stdout
	}
	if format == "json" || len(diags) > 0 {
		if err := diag.Write(out, diags, format); err != nil {
			return err
		}
	}
	if diags.HasErrors() {
		return &diagsPrinted{list: diags}
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func warningSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return ", " + plural(n, "warning")
}
