package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/engine"
)

func init() { commands = append(commands, newPlanCmd) }

func newPlanCmd(a *app) *cobra.Command {
	var format, out string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan PLAN",
		Short: "Show what apply would change: the step graph diffed against the live fleet",
		Long: `plan loads a plan file, observes its target and prints the ordered step graph
that apply would run, with guards, rollback branches and estimates. Nothing changes.`,
		Example: `  fleetplan plan examples/shards/split.yaml
  fleetplan plan examples/shards/split.yaml --format markdown > comment.md
  fleetplan plan examples/shards/split.yaml --out split.plan && fleetplan apply split.plan`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			doc, diags := engine.LoadDocument(args[0], a.configPath)
			if diags.HasErrors() {
				return diags.Err()
			}
			a.view.Warn(diags)
			target, err := a.openTarget(ctx, doc.Config, engine.TargetOf(doc))
			if err != nil {
				return err
			}
			defer target.Close()
			g, diags := engine.Plan(ctx, doc, target, engine.PlanOptions(engine.StateDir(doc.Config), target.Name()))
			if diags.HasErrors() {
				return diags.Err()
			}
			a.view.Warn(diags)
			if err := a.view.Plan(g, format); err != nil {
				return err
			}
			if out != "" {
				if err := engine.SavePlan(out, doc.Config, g); err != nil {
					return err
				}
				a.view.Saved(out, format)
			}
			return a.view.Changes(g, detailed)
		},
	}
	addFormatFlag(cmd, &format, formatText, formatMarkdown, formatJSON).also = []string{"md"}
	cmd.Flags().StringVar(&out, flagOut, "", "save the plan (with the live-state fingerprint) to this file")
	cmd.Flags().BoolVar(&detailed, flagDetailedExitcode, false, "exit 0 for no changes, 2 for changes, 1 for errors")
	return cmd
}
