package views

import (
	"fmt"

	"github.com/fleetplan/fleetplan/diag"
)

// Validate shows what validate found in documents documents: every
// diagnostic, and in text a closing count. Any error exits 1.
func (v *View) Validate(documents int, diags diag.List, format string) error {
	if err := v.Diagnostics(diags, format); err != nil {
		return err
	}
	if format == Text {
		warnings := len(diags) - len(diags.Errors())
		fmt.Fprintf(v.Out, "%s valid%s\n", Plural(documents, "document"), warningSuffix(warnings))
	}
	return nil
}

func warningSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return ", " + Plural(n, "warning")
}
