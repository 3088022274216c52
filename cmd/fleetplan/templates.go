package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/plans"
)

func init() { commands = append(commands, newTemplatesCmd) }

func newTemplatesCmd(a *app) *cobra.Command {
	var format string
	var source bool
	cmd := &cobra.Command{
		Use:   "templates [NAME]",
		Short: "List the built-in templates (uses: builtin:NAME) with their parameters",
		Long: `templates lists the templates shipped inside fleetplan, which any plan can use
as uses: builtin:NAME with its parameters under with:. With NAME it describes
that one template; --source prints the template file itself.`,
		Example: `  fleetplan templates
  fleetplan templates geo-rolling-upgrade-single-region
  fleetplan templates geo-rolling-upgrade-geo-dr --source > my-upgrade.yaml
  fleetplan templates --format json`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: plans.BuiltinTemplates(),
		RunE: func(cmd *cobra.Command, args []string) error {
			names := plans.BuiltinTemplates()
			if len(args) == 1 {
				names = args
			} else if source {
				return usageErr("--source prints one template", "name it: fleetplan templates NAME --source")
			}
			var infos []*plans.BuiltinInfo
			for _, n := range names {
				info, err := plans.Builtin(strings.TrimPrefix(n, plans.BuiltinPrefix))
				if err != nil {
					return usageErr(err.Error(), "list them with: fleetplan templates")
				}
				infos = append(infos, info)
			}
			return a.view.Templates(infos, len(args) == 1, source, format)
		},
	}
	addFormatFlag(cmd, &format, formatText, formatJSON)
	cmd.Flags().BoolVar(&source, flagSource, false, "print the template file of NAME")
	return cmd
}
