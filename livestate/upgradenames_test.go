package livestate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/planner"
)

// TestUpgradeNames: objects the steps read but the fleet lacks are refused
// at the with: value that names them; the demo's own names plan.
func TestUpgradeNames(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     string // "" = plans
	}{
		"as in the demo":     {},
		"primary server":     {from: "primary: {server: contoso-1", to: "primary: {server: contoso-7", want: `upgrade.yaml:9:23: server contoso-7 does not exist`},
		"primary database":   {from: "database: contoso,", to: "database: contosa,", want: `upgrade.yaml:9:44: database contoso-1/contosa does not exist`},
		"profile":            {from: "profile: contoso,", to: "profile: contozo,", want: `upgrade.yaml:11:31: traffic-manager profile contozo does not exist`},
		"a new staging host": {from: "staging: {server: contoso-2", to: "staging: {server: contoso-5"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir, tg := workspace(t)
			path := filepath.Join(dir, "upgrade.yaml")
			if tc.from != "" {
				if err := os.WriteFile(path, []byte(strings.Replace(upgradeYAML, tc.from, tc.to, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			doc, diags := loadDocument(t, path)
			if diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			_, diags = rollingUpgrade{}.Plan(context.Background(), doc, tg, planner.Options{})
			errs := diags.Errors()
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].String(), tc.want) || errs[0].Hint == "" {
				t.Fatalf("got %v, want one error with %q", errs, tc.want)
			}
		})
	}
}
