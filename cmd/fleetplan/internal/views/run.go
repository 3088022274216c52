package views

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// ApplyPlan shows the graph apply is about to run (not in json, where the
// event stream is all there is).
func (v *View) ApplyPlan(g *stepgraph.Graph, output string) error {
	if output == JSON {
		return nil
	}
	return planrender.Text(v.Out, g)
}

// Confirm asks whether to run steps steps.
func (v *View) Confirm(steps int) {
	v.printf("\nRun these %d steps? Only 'yes' is accepted: ", steps)
}

// RemovingKept says that apply first removes what a failed run kept.
func (v *View) RemovingKept(run, output string) {
	if output != JSON {
		v.printf("\nRemoving what run %s kept for analysis (fleetplan rollback %s):\n", run, run)
	}
}

// RunResult reports how a run ended; err, the runner's, is what main maps
// to the exit code.
func (v *View) RunResult(res *runner.Result, err error, output string) error {
	if res == nil {
		return err
	}
	if output != JSON {
		switch res.Status {
		case runner.StatusDone:
			v.printf("\nRun %s done: %d of %d steps.\n", res.RunID, res.Done, res.Total)
		case runner.StatusAwaitingApproval:
			v.printf("\nRun %s is waiting for approval of %s.\n  fleetplan approve %s %s\n  fleetplan resume %s\n",
				res.RunID, strings.Join(res.Awaiting, ", "), res.RunID, firstOr(res.Awaiting, "STEP"), res.RunID)
		default:
			v.printf("\nRun %s ended %s: %s\n", res.RunID, res.Status, res.Reason)
		}
	}
	return err
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// Approved says a gate was approved and what to run next.
func (v *View) Approved(run, step, by string) {
	v.printf("Step %s of run %s approved by %s. Continue with: fleetplan resume %s\n", step, run, by, run)
}

// Rejected says a gate was rejected; rollingBack when the rollback follows
// at once, else the next resume does it.
func (v *View) Rejected(run, step, by string, rollingBack bool) {
	if rollingBack {
		v.printf("Step %s of run %s rejected by %s. Rolling the run back:\n", step, run, by)
		return
	}
	v.printf("Step %s of run %s rejected by %s. The next fleetplan resume %s rolls the run back.\n", step, run, by, run)
}

// Cancelled says a run was cancelled at once (done) or will stop once its
// running steps finish.
func (v *View) Cancelled(run string, done bool) {
	if done {
		v.printf("Run %s cancelled. Undo what it did with: fleetplan rollback %s\n", run, run)
		return
	}
	v.printf("Cancel requested: run %s stops once its running steps finish (see fleetplan status %s).\n", run, run)
}

// ProductionRestored says cancel made production read-write again.
func (v *View) ProductionRestored() {
	fmt.Fprintf(v.Out, "Production is read-write again (rollback of the step that froze it).\n")
}
