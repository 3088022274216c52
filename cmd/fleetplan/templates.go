package main

import (
	"encoding/json"
	"fmt"
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
			if source {
				_, err := fmt.Fprint(a.stdout, infos[0].Source)
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			for i, info := range infos {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				writeTemplate(a, info, len(args) == 1)
			}
			return nil
		},
	}
	addFormatFlag(cmd, &format, formatText, formatJSON)
	cmd.Flags().BoolVar(&source, "source", false, "print the template file of NAME")
	return cmd
}

func writeTemplate(a *app, info *plans.BuiltinInfo, full bool) {
	fmt.Fprintf(a.stdout, "%s%s\n", plans.BuiltinPrefix, info.Name)
	desc := info.Description
	if !full {
		desc, _, _ = strings.Cut(desc, "\n\n") // the first paragraph
	}
	for _, line := range strings.Split(desc, "\n") {
		fmt.Fprintf(a.stdout, "  %s\n", line)
	}
	fmt.Fprintln(a.stdout, "  parameters:")
	writeParams(a, info.Parameters, "    ")
	if full {
		fmt.Fprintf(a.stdout, "  steps: %s\n", strings.Join(info.Steps, ", "))
	}
}

func writeParams(a *app, ps []plans.Parameter, indent string) {
	for _, p := range ps {
		var tags []string
		if p.Required {
			tags = append(tags, "required")
		}
		if p.Type != "" && p.Type != "object" {
			tags = append(tags, p.Type)
		}
		if p.Default != nil {
			tags = append(tags, fmt.Sprintf("default %v", p.Default))
		}
		head := p.Name
		if len(tags) > 0 {
			head += " (" + strings.Join(tags, ", ") + ")"
		}
		if p.Description != "" {
			fmt.Fprintf(a.stdout, "%s%-40s %s\n", indent, head, p.Description)
		} else {
			fmt.Fprintf(a.stdout, "%s%s\n", indent, head)
		}
		writeParams(a, p.Properties, indent+"  ")
	}
}
