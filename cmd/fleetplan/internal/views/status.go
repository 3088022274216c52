package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetplan/fleetplan/runner"
)

// Status shows a run step by step, or its state as JSON.
func (v *View) Status(st *runner.RunStatus, format string) error {
	if format == JSON {
		return v.json(st)
	}
	return printStatus(v.Out, st)
}

func printStatus(w io.Writer, st *runner.RunStatus) error {
	fmt.Fprintf(w, "Run:     %s\n", st.ID)
	fmt.Fprintf(w, "Plan:    %s (%s)\n", dash(st.Plan), dash(st.Kind))
	fmt.Fprintf(w, "Target:  %s\n", dash(st.Target))
	if line := provenanceLine(st.Provenance); line != "" {
		fmt.Fprintf(w, "From:    %s\n", line)
	}
	fmt.Fprintf(w, "Status:  %s", st.Status)
	if st.Reason != "" {
		fmt.Fprintf(w, ": %s", st.Reason)
	}
	fmt.Fprintln(w)
	if h := st.Holder; h != nil && h.PID != 0 {
		fmt.Fprintf(w, "Process: pid %d on %s since %s\n", h.PID, h.Host, when(h.Since))
	}
	fmt.Fprintf(w, "Started: %s   Updated: %s\n", when(st.Started), when(st.Updated))
	fmt.Fprintf(w, "Steps:   %d/%d done", st.Done, st.Total)
	if st.Waited > 0 {
		fmt.Fprintf(w, ", %s waited between retries", st.Waited.Round(time.Millisecond))
	}
	fmt.Fprint(w, "\n\n")

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tACTION\tSTATE\tATTEMPTS\tWAITED\tROLLBACK\tNOTE")
	for _, s := range st.Steps {
		attempts, waited := "-", "-"
		if s.Attempts > 0 {
			attempts = fmt.Sprint(s.Attempts)
		}
		if s.Waited > 0 {
			waited = s.Waited.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Action, s.State, attempts, waited, dash(s.Rollback), stepNote(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next := nextStep(st); next != "" {
		fmt.Fprintf(w, "\n%s\n", next)
	}
	return nil
}

// stepNote is the most useful thing to say about a step in one line.
func stepNote(s runner.StepStatus) string {
	var notes []string
	switch {
	case s.RejectedBy != "":
		n := "rejected by " + s.RejectedBy
		if s.Reason != "" {
			n += ": " + s.Reason
		}
		notes = append(notes, n)
	case s.ApprovedBy != "":
		notes = append(notes, "approved by "+s.ApprovedBy)
	case s.Approval && s.State == runner.StatePending:
		notes = append(notes, "needs approval")
	}
	if s.Error != "" && s.State != runner.StateDone && s.State != runner.StateSkipped {
		notes = append(notes, s.Error)
	}
	if s.RollbackErr != "" {
		notes = append(notes, "rollback: "+s.RollbackErr)
	}
	return strings.Join(notes, "; ")
}

// nextStep suggests the command that moves the run on.
func nextStep(st *runner.RunStatus) string {
	switch st.Status {
	case runner.StatusInterrupted, runner.StatusPaused:
		return fmt.Sprintf("Continue with: fleetplan resume %s   (or undo it: fleetplan rollback %s)", st.ID, st.ID)
	case runner.StatusAwaitingApproval:
		var gates []string
		for _, s := range st.Steps {
			switch s.State {
			case runner.StateAwaitingApproval:
				gates = append(gates, s.ID)
			case runner.StateApproved, runner.StateRejected:
				return "Decision recorded; continue with: fleetplan resume " + st.ID
			}
		}
		if len(gates) > 0 {
			return fmt.Sprintf("Waiting for: fleetplan approve %s %s   (or: fleetplan reject %s %s --reason ...)", st.ID, gates[0], st.ID, gates[0])
		}
	case runner.StatusRollbackFailed:
		return "Fix the cause, then retry with: fleetplan rollback " + st.ID
	case runner.StatusCancelled:
		return "Undo what it did with: fleetplan rollback " + st.ID
	case runner.StatusKept:
		return fmt.Sprintf("Production serves again. The parts the run made are kept for analysis; remove them with: fleetplan rollback %s   (re-applying the plan removes them first, too)", st.ID)
	}
	return ""
}
