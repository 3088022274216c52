package views

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// DriftReport is what drift found: every plan planned against its target.
type DriftReport struct {
	Groups []*gitops.TargetPlans
	Load   diag.List // problems loading the plan files
	// LastRun is the newest run of each plan, when it ran.
	LastRun map[*gitops.Planned]*gitops.LastRun
}

// Drift states of a plan.
const (
	driftInSync  = "in-sync"
	driftDrifted = "drifted"
	driftError   = "error"
	// driftNotPlanned: a kind plan does not take yet; drift cannot tell.
	driftNotPlanned = "not-planned"
)

func driftOf(g *gitops.TargetPlans, p *gitops.Planned) string {
	switch {
	case p.NotPlanned && g.Err == nil:
		return driftNotPlanned
	case g.Err != nil || p.Graph == nil:
		return driftError
	case gitops.Changed(p.Graph):
		return driftDrifted
	}
	return driftInSync
}

// Drift prints the report in format and returns the exit status: 1 when a
// file did not load or a plan could not be made, else 2 when any plan
// drifted, else 0.
func (v *View) Drift(r *DriftReport, format string) error {
	w := bufio.NewWriter(v.Out)
	counts := map[string]int{}
	for _, g := range r.Groups {
		for _, p := range g.Plans {
			counts[driftOf(g, p)]++
		}
	}
	var err error
	switch format {
	case JSON:
		err = v.driftJSON(w, r)
	case Markdown:
		v.repoDiags(&RepoPlan{Groups: r.Groups, Load: r.Load})
		driftMarkdown(w, r, counts)
	default:
		v.repoDiags(&RepoPlan{Groups: r.Groups, Load: r.Load})
		driftText(w, r, counts)
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	switch {
	case r.Load.HasErrors() || counts[driftError] > 0:
		return &ExitError{Code: 1}
	case counts[driftDrifted] > 0:
		return &ExitError{Code: 2}
	}
	return nil
}

func driftHeadline(r *DriftReport, counts map[string]int) string {
	n := counts[driftInSync] + counts[driftDrifted] + counts[driftError] + counts[driftNotPlanned]
	if n == 0 {
		return "No plan documents found."
	}
	s := fmt.Sprintf("%s on %s: %d in sync, %d drifted", Plural(n, "plan"), Plural(len(r.Groups), "target"), counts[driftInSync], counts[driftDrifted])
	if counts[driftError] > 0 {
		s += fmt.Sprintf(", %d could not be planned", counts[driftError])
	}
	if counts[driftNotPlanned] > 0 {
		s += fmt.Sprintf(", %d of a kind not planned yet", counts[driftNotPlanned])
	}
	return s + "."
}

// lastRunNote says what the newest run of a drifted plan was, when that
// explains the drift.
func lastRunNote(l *gitops.LastRun) string {
	if l == nil {
		return "never applied"
	}
	switch l.Status {
	case runner.StatusDone:
		return "applied by run " + l.ID + "; the fleet changed since"
	case runner.StatusRolledBack, runner.StatusCancelled, runner.StatusKept:
		return fmt.Sprintf("run %s ended %s: the fleet is kept as that left it (watch does not re-apply it)", l.ID, l.Status)
	}
	return fmt.Sprintf("run %s is %s", l.ID, l.Status)
}

func driftText(w *bufio.Writer, r *DriftReport, counts map[string]int) {
	fmt.Fprintf(w, "Drift: %s\n", driftHeadline(r, counts))
	for _, g := range r.Groups {
		if len(g.Plans) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n== target %q", g.Target)
		if g.Config != nil {
			fmt.Fprintf(w, " (%s)", displayPath(g.Config.Path))
		}
		fmt.Fprintln(w, " ==")
		if g.Err != nil {
			fmt.Fprintln(w, "The target could not be opened (see the error above).")
		}
		for _, p := range g.Plans {
			st := driftOf(g, p)
			fmt.Fprintf(w, "  %-8s %s %q (%s)", st, p.Doc.Kind, p.Doc.Metadata.Name, p.Doc.File)
			if st == driftDrifted {
				fmt.Fprintf(w, ": %s; %s\n", planrender.SummaryLine(p.Graph), lastRunNote(r.LastRun[p]))
				writeChangeLines(w, p.Graph, "      ", false)
				continue
			}
			fmt.Fprintln(w)
		}
	}
}

// writeChangeLines lists what a drifted plan would change: its object
// changes, or else its steps.
func writeChangeLines(w *bufio.Writer, g *stepgraph.Graph, indent string, diff bool) {
	if len(g.Changes) > 0 {
		for _, c := range g.Changes {
			fmt.Fprintf(w, "%s%s %s", indent, symbolOf(c.Op, diff), c.Object)
			if c.Detail != "" {
				fmt.Fprintf(w, "  (%s)", c.Detail)
			}
			fmt.Fprintln(w)
		}
		return
	}
	for _, s := range g.Order() {
		fmt.Fprintf(w, "%sstep %s (%s) would run\n", indent, s.ID, s.Action)
	}
}

// symbolOf marks a change as plan does (+ ~ > -), or in a diff block the
// way it colours the line (+ ! -).
func symbolOf(op stepgraph.ChangeOp, diff bool) string {
	switch {
	case op == stepgraph.Create:
		return "+"
	case op == stepgraph.Delete:
		return "-"
	case diff:
		return "!"
	case op == stepgraph.Move:
		return ">"
	}
	return "~"
}

func driftMarkdown(w *bufio.Writer, r *DriftReport, counts map[string]int) {
	fmt.Fprintf(w, "## fleetplan drift\n\n%s\n", driftHeadline(r, counts))
	for _, g := range r.Groups {
		if len(g.Plans) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### target `%s`\n\n", g.Target)
		if g.Err != nil {
			fmt.Fprintf(w, "**The target could not be opened:** %s\n\n", mdText(g.Err.Error()))
		}
		fmt.Fprintln(w, "| plan | kind | file | status | what differs |\n|---|---|---|---|---|")
		for _, p := range g.Plans {
			st, what := driftOf(g, p), ""
			switch st {
			case driftDrifted:
				what = planrender.SummaryLine(p.Graph) + "; " + lastRunNote(r.LastRun[p])
			case driftError:
				what = "could not be planned"
			case driftNotPlanned:
				what = p.Doc.Kind + " plans are not planned yet"
			}
			fmt.Fprintf(w, "| `%s` | %s | `%s` | %s | %s |\n", mdText(p.Doc.Metadata.Name), p.Doc.Kind, mdText(p.Doc.File), st, mdText(what))
		}
		for _, p := range g.Plans {
			if driftOf(g, p) != driftDrifted {
				continue
			}
			fmt.Fprintf(w, "\n<details><summary>What <code>%s</code> would change</summary>\n\n```diff\n", mdText(p.Doc.Metadata.Name))
			writeChangeLines(w, p.Graph, "", true)
			fmt.Fprintln(w, "```\n\n</details>")
		}
	}
}

func mdText(s string) string { return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s) }

type driftJSON struct {
	FormatVersion int               `json:"formatVersion"`
	InSync        bool              `json:"inSync"`
	Targets       []driftTargetJSON `json:"targets"`
	Diagnostics   []diag.Diagnostic `json:"diagnostics"`
}

type driftTargetJSON struct {
	Target string          `json:"target"`
	Config string          `json:"config,omitempty"`
	Error  string          `json:"error,omitempty"`
	Plans  []driftPlanJSON `json:"plans"`
}

type driftPlanJSON struct {
	File        string             `json:"file"`
	Kind        string             `json:"kind"`
	Name        string             `json:"name"`
	Status      string             `json:"status"`
	Summary     string             `json:"summary,omitempty"`
	Changes     []stepgraph.Change `json:"changes,omitempty"`
	Steps       []string           `json:"steps,omitempty"`
	LastRun     *gitops.LastRun    `json:"lastRun,omitempty"`
	Diagnostics []diag.Diagnostic  `json:"diagnostics,omitempty"`
}

func (v *View) driftJSON(w *bufio.Writer, r *DriftReport) error {
	out := driftJSON{FormatVersion: 1, InSync: !r.Load.HasErrors(), Targets: []driftTargetJSON{}, Diagnostics: diagsJSON(r.Load)}
	for _, g := range r.Groups {
		t := driftTargetJSON{Target: g.Target, Plans: []driftPlanJSON{}}
		if g.Config != nil {
			t.Config = displayPath(g.Config.Path)
		}
		if g.Err != nil {
			t.Error = g.Err.Error()
		}
		for _, p := range g.Plans {
			pj := driftPlanJSON{File: p.Doc.File, Kind: p.Doc.Kind, Name: p.Doc.Metadata.Name, Status: driftOf(g, p), LastRun: r.LastRun[p]}
			if len(p.Diags) > 0 {
				pj.Diagnostics = diagsJSON(p.Diags)
			}
			if pj.Status == driftDrifted || pj.Status == driftError {
				out.InSync = false
			}
			if pj.Status == driftDrifted {
				pj.Summary, pj.Changes = planrender.SummaryLine(p.Graph), p.Graph.Changes
				for _, s := range p.Graph.Order() {
					pj.Steps = append(pj.Steps, s.ID)
				}
			}
			t.Plans = append(t.Plans, pj)
		}
		out.Targets = append(out.Targets, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
