package views

import (
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans"
)

// Render prints expanded documents as YAML, or, when diags hold an error,
// only the diagnostics (on stderr), exiting 1.
func (v *View) Render(docs []*plans.Document, diags diag.List) error {
	if err := v.Diagnostics(diags, Text); err != nil {
		return err
	}
	return plans.Render(v.Out, docs)
}
