package planner

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// loadInstanceChange loads an InstanceChange whose spec lines are spec.
func loadInstanceChange(t *testing.T, spec string) *plans.Document {
	t.Helper()
	return loadPlan(t, "apiVersion: fleetplan/v1\nkind: InstanceChange\nmetadata: {name: ic}\nspec:\n  target: local\n"+spec)
}

// instanceLive is the demo fleet's instances on a Wednesday morning.
func instanceLive() *InstanceLive {
	dbs := []fleet.InstanceDatabase{{Name: "sales", SizeGB: 180}, {Name: "inventory", SizeGB: 40}, {Name: "hr", SizeGB: 12}, {Name: "audit", SizeGB: 300}, {Name: "reporting", SizeGB: 6}}
	return &InstanceLive{
		Now: time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC),
		Instances: []fleet.ManagedInstance{
			{Name: "mi-prod", Tier: estimate.GeneralPurpose, VCores: 8, StorageGB: 256, Subnet: "subnet-1", Labels: map[string]string{"env": "prod"}, Databases: dbs},
			{Name: "mi-dr", Tier: estimate.GeneralPurpose, VCores: 8, StorageGB: 256, Subnet: "subnet-1", Labels: map[string]string{"env": "prod"}, LongRunning: []string{"nightly-import"}},
			{Name: "mi-qa", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64, Subnet: "subnet-1", Labels: map[string]string{"env": "prod"}},
			{Name: "mi-solo", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64, Subnet: "subnet-2"},
			{Name: "mi-pool-a", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64, Pool: "pool-1", Subnet: "subnet-pool"},
		},
		Pools: []fleet.InstancePool{{Name: "pool-1", Subnet: "subnet-pool", VCores: 16}},
	}
}

func TestPlanInstanceChange(t *testing.T) {
	tests := map[string]struct {
		spec    string
		ops     []string // step id: operation
		typical []time.Duration
		needs   map[string]string
	}{
		"scale to business critical": {"  instances: {names: [mi-prod]}\n  desired: {tier: BusinessCritical, vCores: 16}\n",
			[]string{"instance-mi-prod:update"}, []time.Duration{30*time.Minute + 2*time.Hour}, nil},
		"labels, canary first": {"  instances: {labels: {env: prod}}\n  desired: {storageGB: 512}\n  maxParallel: 2\n  canary: mi-qa\n",
			[]string{"instance-mi-qa:update", "instance-mi-dr:update", "instance-mi-prod:update"}, nil,
			map[string]string{"instance-mi-dr": "instance-mi-qa", "instance-mi-prod": "instance-mi-qa"}},
		"already live":     {"  instances: {names: [mi-prod]}\n  desired: {vCores: 8}\n", nil, nil, nil},
		"move into pool":   {"  instances: {names: [mi-qa]}\n  desired: {pool: pool-1}\n", []string{"instance-mi-qa:move-into-pool"}, []time.Duration{5 * time.Minute}, nil},
		"move out of pool": {"  instances: {names: [mi-pool-a]}\n  desired: {pool: \"\"}\n", []string{"instance-mi-pool-a:move-out-of-pool"}, []time.Duration{30 * time.Minute}, nil},
		"delete":           {"  instances: {names: [mi-qa]}\n  desired: {present: false}\n", []string{"instance-mi-qa:delete"}, []time.Duration{35 * time.Second}, nil},
		"delete last":      {"  instances: {names: [mi-solo]}\n  desired: {present: false}\n", []string{"instance-mi-solo:delete"}, []time.Duration{45 * time.Minute}, nil},
		"delete absent":    {"  instances: {names: [mi-gone]}\n  desired: {present: false}\n", nil, nil, nil},
		"create":           {"  instances: {names: [mi-new]}\n  desired: {vCores: 8, storageGB: 256}\n", []string{"instance-mi-new:create"}, []time.Duration{15 * time.Minute}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, diags := PlanInstanceChange(loadInstanceChange(t, tc.spec), instanceLive())
			if diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			var got []string
			for i, s := range g.Steps {
				got = append(got, s.ID+":"+s.With["operation"].(string))
				if tc.typical != nil && rel(s.Estimate.Duration, tc.typical[i]) > 0.01 {
					t.Errorf("%s typical %v, want %v", s.ID, s.Estimate.Duration, tc.typical[i])
				}
				if want := tc.needs[s.ID]; want != "" && (len(s.Needs) != 1 || s.Needs[0] != want) {
					t.Errorf("%s needs %v, want %s", s.ID, s.Needs, want)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.ops, " ") {
				t.Errorf("steps %v, want %v", got, tc.ops)
			}
			if err := g.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPlanInstanceChangeRefuses(t *testing.T) {
	tests := map[string]struct{ spec, want string }{
		"unknown instance": {"  instances: {names: [mi-x]}\n  desired: {tier: BusinessCritical}\n",
			`plan.yaml:6:23: instance "mi-x": no such managed instance; to create it, desired: needs vCores and storageGB`},
		"no label match": {"  instances: {labels: {env: dev}}\n  desired: {vCores: 16}\n",
			`plan.yaml:6:3: spec.instances: no managed instance on target "local" has the labels env=dev`},
		"canary not selected": {"  instances: {names: [mi-prod]}\n  desired: {vCores: 16}\n  canary: mi-dr\n",
			`plan.yaml:8:11: spec.canary: "mi-dr" is not among the instances this plan changes (mi-prod)`},
		"window too short": {"  instances: {names: [mi-prod]}\n  desired: {tier: BusinessCritical}\n  window: {days: [Sat], start: \"02:00\", duration: 4h}\n",
			`plan.yaml:8:3: spec.window: the update of mi-prod takes up to 6 h (p95), longer than the 4 h window, so it could never start`},
		"pool and property": {"  instances: {names: [mi-qa]}\n  desired: {pool: pool-1, vCores: 8}\n",
			`plan.yaml:6:23: instance "mi-qa": a pool move and a property change cannot run as one operation`},
		"unknown pool": {"  instances: {names: [mi-qa]}\n  desired: {pool: pool-9}\n",
			`plan.yaml:6:23: instance "mi-qa": no instance pool "pool-9" on the target`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := PlanInstanceChange(loadInstanceChange(t, tc.spec), instanceLive())
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			got := diags.Err().Error()
			if !strings.Contains(got, tc.want) {
				t.Errorf("error\n%s\nwant it to contain\n%s", got, tc.want)
			}
		})
	}
}

// The preview names the guard and says when it is overridden.
func TestInstanceGuardInPreview(t *testing.T) {
	for _, allow := range []bool{false, true} {
		spec := "  instances: {names: [mi-dr]}\n  desired: {vCores: 16}\n"
		if allow {
			spec += "  allowLongRunningTransactions: true\n"
		}
		g, diags := PlanInstanceChange(loadInstanceChange(t, spec), instanceLive())
		if diags.HasErrors() {
			t.Fatal(diags.Err())
		}
		text := strings.Join(g.Changes[0].Lines, "\n") + strings.Join(g.Warnings, "\n")
		if got := strings.Contains(text, "OVERRIDDEN"); got != allow {
			t.Errorf("allow %v: preview says overridden %v:\n%s", allow, got, text)
		}
		if !strings.Contains(text, "active now: nightly-import") {
			t.Errorf("the preview does not name the active transaction:\n%s", text)
		}
		if g.Steps[0].With["allowLongRunningTransactions"] == true != allow {
			t.Errorf("step input allowLongRunningTransactions = %v", g.Steps[0].With["allowLongRunningTransactions"])
		}
	}
}

func TestInstanceChangeGolden(t *testing.T) {
	bc, diags := PlanInstanceChange(loadInstanceChange(t, "  instances: {names: [mi-prod]}\n  desired: {tier: BusinessCritical, vCores: 16}\n"+
		"  window: {days: [Sat, Sun], start: \"02:00\", duration: 8h, timeZone: UTC}\n"), instanceLive())
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	roll, diags := PlanInstanceChange(loadInstanceChange(t, "  instances: {labels: {env: prod}}\n  desired: {storageGB: 512}\n  maxParallel: 2\n  canary: mi-qa\n"+
		"  window: {days: [Wed], start: \"10:00\", duration: 1h}\n"), instanceLive())
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	for _, tc := range []struct {
		name, format string
		g            *stepgraph.Graph
	}{
		{"instance-bc.txt", planrender.FormatText, bc}, {"instance-bc.md", planrender.FormatMarkdown, bc},
		{"instance-rolling.txt", planrender.FormatText, roll}, {"instance-rolling.md", planrender.FormatMarkdown, roll},
		{"instance-rolling.json", planrender.FormatJSON, func() *stepgraph.Graph { c := *roll; c.Source = "plan.yaml"; return &c }()},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc.name, tc.g, tc.format) })
	}
}

func rel(a, b time.Duration) float64 {
	if b == 0 {
		return float64(a)
	}
	r := float64(a-b) / float64(b)
	if r < 0 {
		return -r
	}
	return r
}

// The fleet total of an instance preview spells durations like the phase
// table above it ("2 h 30 min"), not as Go durations ("2h30m0s").
func TestInstanceFleetTotalTableStyle(t *testing.T) {
	g, diags := PlanInstanceChange(loadInstanceChange(t, "  instances: {labels: {env: prod}}\n  desired: {storageGB: 512}\n  maxParallel: 2\n"), instanceLive())
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	goDuration := regexp.MustCompile(`\b\d+(h\d+)?m\d+s\b|\b\d+h\d+m\b`)
	for _, format := range []string{planrender.FormatText, planrender.FormatMarkdown} {
		var b strings.Builder
		if err := planrender.Render(&b, g, format); err != nil {
			t.Fatal(err)
		}
		var total string
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.Contains(line, "Fleet total:") {
				total = line
			}
		}
		if total == "" || goDuration.MatchString(total) || !strings.Contains(total, " min") {
			t.Errorf("%s: fleet total %q, want durations like 1 min 53 s", format, total)
		}
	}
}
