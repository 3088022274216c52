package views

import (
	"fmt"

	"github.com/fleetplan/fleetplan/recovery"
)

// Progressf reports progress of a long command on stderr.
func (v *View) Progressf(format string, args ...any) { fmt.Fprintf(v.Err, format+"\n", args...) }

// Doctor prints what doctor found: every finding with its severity and its
// fix, and where the plan that fixes them was written.
func (v *View) Doctor(rep *recovery.Report, format, planPath string) error {
	if format == JSON {
		return v.json(rep)
	}
	if rep.Healthy() {
		batches := fmt.Sprintf("%d batches", rep.Batches)
		if rep.Batches == 1 {
			batches = "1 batch"
		}
		v.printf("Healthy: the global and local shard maps agree, nothing is pending or locked, and every row is on the shard its key routes to (%s read).\n", batches)
		return nil
	}
	errs, warns := 0, 0
	for _, f := range rep.Findings {
		if f.Severity == recovery.SevError {
			errs++
		} else {
			warns++
		}
		where := ""
		if f.Shard.Server != "" {
			where = " " + f.Shard.String()
		}
		rng := ""
		if f.Low != "" || f.High != "" {
			rng = fmt.Sprintf(" [%s, %s)", f.Low, f.High)
		}
		v.printf("%s: %s %s%s%s: %s\n", f.Severity, f.ShardMap, f.Kind, where, rng, f.Detail)
		if f.Token != "" {
			v.printf("  token: %s\n", f.Token)
		}
		v.printf("  fix: %s\n", f.Fix)
	}
	v.printf("\n%s, %s.\n", Plural(errs, "error"), Plural(warns, "warning"))
	switch {
	case len(rep.Plans) == 0:
		v.printf("No plan fixes these automatically; follow each fix above.\n")
	case planPath != "":
		v.printf("Wrote the recovery plan to %s: preview it with `fleetplan plan %s`, apply it, then run doctor again.\n", planPath, planPath)
	default:
		v.printf("`fleetplan doctor --write-plan FILE` writes the ShardMapRecovery plan that makes the planned fixes.\n")
	}
	return nil
}
