package plans

import (
	"strings"
	"testing"
)

func TestBuiltinInfo(t *testing.T) {
	cases := map[string]struct {
		required []string
		steps    int
	}{
		"geo-rolling-upgrade-single-region": {required: []string{"primary", "staging", "trafficManager", "version", "upgradeScript"}, steps: 14},
		"geo-rolling-upgrade-geo-dr":        {required: []string{"primary", "staging", "stagingDR", "trafficManager", "version", "upgradeScript"}, steps: 19},
	}
	if got := len(BuiltinTemplates()); got != len(cases) {
		t.Errorf("%d builtin templates, the test knows %d", got, len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			info, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			if info.Description == "" || !strings.Contains(info.Source, "kind: Template") || len(info.Steps) != tc.steps {
				t.Fatalf("info %+v", info)
			}
			var req []string
			for _, p := range info.Parameters {
				if p.Required {
					req = append(req, p.Name)
				}
				if p.Description == "" && len(p.Properties) == 0 {
					t.Errorf("parameter %s has no description", p.Name)
				}
			}
			if strings.Join(req, ",") != strings.Join(tc.required, ",") {
				t.Errorf("required %v, want %v", req, tc.required)
			}
		})
	}
	if _, err := Builtin("../templates/x"); err == nil {
		t.Fatal("a path was accepted as a template name")
	}
}
