package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/recovery"
)

func init() { commands = append(commands, newDoctorCmd) }

func newDoctorCmd(a *app) *cobra.Command {
	var (
		ff        fleetFlags
		mapName   string
		format    string
		writePlan string
		batch     int
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check shard maps and data placement; say (and write) the recovery plan that fixes what is wrong",
		Long: `doctor checks every shard map of the target (or one, with --shard-map): the
differences between the global shard map and each shard's local shard map
(with their recovery tokens), operations left pending, locked mappings, and
the placement of every row of the sharded tables: rows whose key the global
shard map sends to another shard, or to none. Rows are read in batches of
--batch distinct keys, with progress on stderr.

Each finding has a severity and the fix; --write-plan FILE writes the
ShardMapRecovery plan that makes the fixes, ready to preview, commit and
apply. Run doctor again after applying it.

Exit status: 0 healthy, 2 findings, 1 error.`,
		Example: `  fleetplan doctor --target local
  fleetplan doctor --target local --shard-map CustomerMap --write-plan recovery.yaml
  fleetplan doctor --fleet /tmp/fleet --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if batch <= 0 {
				return usageErr("--batch must be 1 or more", "")
			}
			name, err := doctorTargetName(a, &ff)
			if err != nil {
				return err
			}
			if writePlan != "" && name == "" {
				return usageErr("--write-plan needs --target: the plan names the target of fleetplan.yaml it is for", "pass --target NAME")
			}
			t, err := ff.openFor(ctx, a, fleet.OpenForDiagnosis)
			if err != nil {
				return err
			}
			defer t.Close()
			rep, err := recovery.Diagnose(ctx, t, recovery.Options{ShardMap: mapName, Target: name, Batch: batch,
				Progress: func(format string, args ...any) { a.view.Progressf(format, args...) }})
			if err != nil {
				return err
			}
			if writePlan != "" && len(rep.Plans) > 0 {
				if err := os.WriteFile(writePlan, []byte(planFile(rep, writePlan)), 0o644); err != nil {
					return &fleet.Error{Op: "write plan", Target: writePlan, Err: err}
				}
			}
			if err := a.view.Doctor(rep, format, writePlan); err != nil {
				return err
			}
			if !rep.Healthy() {
				return &views.ExitError{Code: 2}
			}
			return nil
		},
	}
	ff.add(cmd)
	addShardMapFlag(cmd, &mapName)
	addFormatFlag(cmd, &format, formatText, formatJSON)
	cmd.Flags().StringVar(&writePlan, "write-plan", "", "write the ShardMapRecovery plan that fixes the findings to FILE")
	cmd.Flags().IntVar(&batch, "batch", 1000, "distinct keys one placement batch reads")
	return cmd
}

// doctorTargetName is the fleetplan.yaml name of the target doctor checks
// ("" for --fleet DIR).
func doctorTargetName(a *app, ff *fleetFlags) (string, error) {
	if ff.dir != "" || ff.target != "" {
		return ff.target, nil
	}
	cfg, err := engine.LoadConfig(a.configPath)
	if err != nil {
		return "", nil // ff.open reports it
	}
	names := make([]string, 0, len(cfg.Targets))
	for n := range cfg.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 1 {
		return names[0], nil
	}
	return "", nil
}

// recoveryCredentials says what recovery steps of the target layout or
// doctor reads connect with ("" for --fleet DIR, which has no config).
func recoveryCredentials(a *app, ff *fleetFlags) string {
	if ff.dir != "" {
		return ""
	}
	name, _ := doctorTargetName(a, ff)
	cfg, err := engine.LoadConfig(a.configPath)
	if err != nil || name == "" {
		return ""
	}
	spec, ok := cfg.Targets[name]
	if !ok {
		return ""
	}
	return spec.RecoveryCredentials()
}

// planFile is the plans of a report as one YAML file (a document per map).
func planFile(rep *recovery.Report, path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var docs []string
	for _, p := range rep.Plans {
		var why []string
		for _, f := range rep.Findings {
			if f.ShardMap == p.ShardMap && f.Planned {
				why = append(why, f.Kind+" on "+f.Shard.String())
			}
		}
		name := strings.ToLower(sanitize(base + "-" + p.ShardMap))
		docs = append(docs, p.YAML(name, dedupe(why)))
	}
	return strings.Join(docs, "---\n")
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	return b.String()
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
