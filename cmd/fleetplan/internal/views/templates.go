package views

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/plans"
)

// Templates lists built-in templates (full: with every paragraph and the
// steps), or prints the source of the first one.
func (v *View) Templates(infos []*plans.BuiltinInfo, full, source bool, format string) error {
	if source {
		_, err := fmt.Fprint(v.Out, infos[0].Source)
		return err
	}
	if format == JSON {
		return v.json(infos)
	}
	for i, info := range infos {
		if i > 0 {
			fmt.Fprintln(v.Out)
		}
		writeTemplate(v, info, full)
	}
	return nil
}

func writeTemplate(v *View, info *plans.BuiltinInfo, full bool) {
	fmt.Fprintf(v.Out, "%s%s\n", plans.BuiltinPrefix, info.Name)
	desc := info.Description
	if !full {
		desc, _, _ = strings.Cut(desc, "\n\n") // the first paragraph
	}
	for _, line := range strings.Split(desc, "\n") {
		fmt.Fprintf(v.Out, "  %s\n", line)
	}
	fmt.Fprintln(v.Out, "  parameters:")
	writeParams(v, info.Parameters, "    ")
	if full {
		fmt.Fprintf(v.Out, "  steps: %s\n", strings.Join(info.Steps, ", "))
	}
}

func writeParams(v *View, ps []plans.Parameter, indent string) {
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
			fmt.Fprintf(v.Out, "%s%-40s %s\n", indent, head, p.Description)
		} else {
			fmt.Fprintf(v.Out, "%s%s\n", indent, head)
		}
		writeParams(v, p.Properties, indent+"  ")
	}
}
