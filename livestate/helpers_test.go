package livestate

import (
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/steps"

	// The actions the upgrade plans of these tests run.
	_ "github.com/fleetplan/fleetplan/steps/app"
	_ "github.com/fleetplan/fleetplan/steps/database"
	_ "github.com/fleetplan/fleetplan/steps/generic"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
)

// loadDocument loads the one plan document of a file, as the commands do.
func loadDocument(t *testing.T, path string) (*plans.Document, diag.List) {
	t.Helper()
	set, diags := plans.Options{PathInputs: steps.FileInputs}.Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	for _, d := range set.Documents {
		if d.Kind != plans.KindTemplate {
			return d, diags
		}
	}
	t.Fatalf("%s: no plan document", path)
	return nil, diags
}
