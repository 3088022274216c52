package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/gitops"
)

func init() { commands = append(commands, newDriftCmd) }

func newDriftCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "drift PATH...",
		Short: "Compare the live fleet with every plan: exit 0 in sync, 2 drifted, 1 error",
		Long: `drift plans every plan document under PATH against its target and reports, per
target, which plans the live fleet matches and which it does not, with what
differs and the newest run of each plan (a plan whose run was rolled back is
drifted on purpose, and says so). Nothing changes: it only observes.

Exit status: 0 when every plan is in sync, 2 when any drifted, 1 when a file did
not load or a plan could not be made (the others are reported all the same).`,
		Example: `  fleetplan drift .
  fleetplan drift plans/ --format markdown
  fleetplan drift plans/ --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, diags := engine.LoadOptions(a.configPath).Load(args...)
			groups := gitops.Group(set.Documents, nil, nil)
			gitops.PlanAll(cmd.Context(), groups, a.openTarget)
			r := &views.DriftReport{Groups: groups, Load: diags, LastRun: map[*gitops.Planned]*gitops.LastRun{}}
			runs := gitops.NewRunIndex()
			for _, g := range groups {
				for _, p := range g.Plans {
					if last, _, err := runs.Newest(p.Doc); err == nil && last != nil {
						r.LastRun[p] = last
					}
				}
			}
			if format == "md" {
				format = formatMarkdown
			}
			return a.view.Drift(r, format)
		},
	}
	addFormatFlag(cmd, &format, formatText, formatMarkdown, formatJSON).also = []string{"md"}
	return cmd
}
