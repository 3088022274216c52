package planrender

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fleetplan/fleetplan/stepgraph"
)

// Formats the renderers understand.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// Render writes g in the given format.
func Render(w io.Writer, g *stepgraph.Graph, format string) error {
	switch format {
	case "", FormatText:
		return Text(w, g)
	case FormatMarkdown, "md":
		return Markdown(w, g)
	case FormatJSON:
		return JSON(w, g)
	}
	return fmt.Errorf("unknown format %q (want text, markdown or json)", format)
}

// JSON writes the graph as stable, versioned JSON.
func JSON(w io.Writer, g *stepgraph.Graph) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(withFleetTotal(g))
}

// SummaryLine counts a plan's changes: "0 to create, 1 to change, 1 to
// move, 0 to delete".
func SummaryLine(g *stepgraph.Graph) string { return summaryLine(g) }

func summaryLine(g *stepgraph.Graph) string {
	c := g.Counts()
	return fmt.Sprintf("%d to create, %d to change, %d to move, %d to delete", c[stepgraph.Create], c[stepgraph.Update], c[stepgraph.Move], c[stepgraph.Delete])
}

// Text writes a readable diff with symbols and counts.
func Text(w io.Writer, g *stepgraph.Graph) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q on target %q\n", g.Kind, g.Plan, g.Target)
	if g.Credentials != "" {
		fmt.Fprintf(&b, "Recovery steps connect with: %s\n", g.Credentials)
	}
	for _, warn := range g.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	if g.Empty() {
		b.WriteString("\nNo changes. The live fleet matches the plan.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(g.Changes) > 0 {
		b.WriteString("\n")
	}
	for _, c := range g.Changes {
		fmt.Fprintf(&b, "  %s %s", symbol(c.Op), c.Object)
		if c.Detail != "" {
			fmt.Fprintf(&b, "  (%s)", c.Detail)
		}
		b.WriteString("\n")
		for _, l := range c.Lines {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	fmt.Fprintf(&b, "\nSteps (%d):\n", len(g.Steps))
	order := g.Order()
	// A layout of 100,000 ranges is as many steps: plain writes into a
	// buffer sized for them, and each distinct estimate formatted once.
	b.Grow(len(order) * 160)
	estimates := map[stepgraph.Estimate]string{}
	var num [20]byte
	for i, s := range order {
		n := strconv.AppendInt(num[:0], int64(i+1), 10)
		b.WriteString("  ")
		writeSpaces(&b, 2-len(n))
		b.Write(n)
		b.WriteString(". ")
		b.WriteString(s.ID)
		writeSpaces(&b, 32-utf8.RuneCountInString(s.ID))
		b.WriteByte(' ')
		b.WriteString(s.Action)
		key := s.Estimate
		key.Basis = ""
		est, ok := estimates[key]
		if !ok {
			est = formatEstimate(key)
			estimates[key] = est
		}
		if est != "" {
			b.WriteString("  [")
			b.WriteString(est)
			b.WriteByte(']')
		}
		b.WriteByte('\n')
		if s.Title != "" {
			b.WriteString("      ")
			b.WriteString(s.Title)
			b.WriteByte('\n')
		}
		if len(s.Needs) > 0 {
			b.WriteString("      needs: ")
			for j, n := range s.Needs {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(n)
			}
			b.WriteByte('\n')
		}
		if s.Guard != nil {
			b.WriteString("      guard: ")
			b.WriteString(guardText(s.Guard))
			b.WriteByte('\n')
		}
		if s.Approval {
			b.WriteString("      approval: required before this step\n")
		}
		if s.Production {
			b.WriteString("      touches production\n")
		}
		if s.LiveAtPlan != "" {
			b.WriteString("      live now, may still run: ")
			b.WriteString(s.LiveAtPlan)
			b.WriteString("; observed again right before it runs\n")
		}
		if s.Rollback != nil {
			b.WriteString("      rollback: ")
			b.WriteString(s.Rollback.Action)
			b.WriteByte('\n')
		}
	}
	writeSafetyText(&b, g, order)
	writeInstanceTimelineText(&b, g)
	t := stepgraph.TotalOf(order)
	fmt.Fprintf(&b, "\nPlan: %s.\n", summaryLine(g))
	fmt.Fprintf(&b, "Estimated duration: %s", stepgraph.RoundDuration(t.Duration))
	if t.Rows > 0 {
		fmt.Fprintf(&b, ", %s rows to move", stepgraph.Thousands(t.Rows))
	}
	if t.Unavailable > 0 {
		fmt.Fprintf(&b, "; no key is offline or read-only for longer than ~%s", stepgraph.RoundDuration(t.Unavailable))
	}
	b.WriteString(".\n")
	switch {
	case instanceOnly(g) && g.OnFailure == "pause":
		b.WriteString("On failure: pause (resume with `fleetplan resume`); nothing is rolled back; " + instanceOnFailure + "\n")
	case g.OnFailure == "pause":
		b.WriteString("On failure: pause (resume with `fleetplan resume`).\n")
	case instanceOnly(g):
		b.WriteString("On failure: nothing is rolled back; " + instanceOnFailure + "\n")
	default:
		b.WriteString("On failure: roll back completed steps in reverse order.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown writes a pull-request comment: summary table, mermaid graph,
// estimates, guards and rollback branches.
func Markdown(w io.Writer, g *stepgraph.Graph) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### fleetplan: `%s` %s on `%s`\n\n", g.Plan, g.Kind, g.Target)
	if g.Credentials != "" {
		fmt.Fprintf(&b, "Recovery steps connect with: %s\n\n", g.Credentials)
	}
	for _, warn := range g.Warnings {
		fmt.Fprintf(&b, "> **Warning:** %s\n\n", warn)
	}
	if g.Empty() {
		b.WriteString("**No changes.** The live fleet matches the plan.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	order := g.Order()
	t := stepgraph.TotalOf(order)
	b.WriteString("| | count |\n|---|---:|\n")
	c := g.Counts()
	for _, op := range []stepgraph.ChangeOp{stepgraph.Create, stepgraph.Update, stepgraph.Move, stepgraph.Delete} {
		fmt.Fprintf(&b, "| %s %s | %d |\n", symbol(op), op, c[op])
	}
	fmt.Fprintf(&b, "| steps | %d |\n| estimated duration | %s |\n", len(g.Steps), stepgraph.RoundDuration(t.Duration))
	if t.Rows > 0 {
		fmt.Fprintf(&b, "| rows to move | %s |\n", stepgraph.Thousands(t.Rows))
	}
	if t.Unavailable > 0 {
		fmt.Fprintf(&b, "| longest offline / read-only window | %s |\n", stepgraph.RoundDuration(t.Unavailable))
	}
	if w := g.ReadOnly; w != nil {
		fmt.Fprintf(&b, "| production read-only | ~%s%s |\n", stepgraph.RoundDuration(w.Duration), approvalsNote(w))
	}
	if p := stepgraph.IDs(order, stepgraph.TouchesProduction); len(p) > 0 {
		fmt.Fprintf(&b, "| steps touching production | %d |\n", len(p))
	}
	if a := stepgraph.IDs(order, stepgraph.NeedsApproval); len(a) > 0 {
		fmt.Fprintf(&b, "| approval gates | %d |\n", len(a))
	}
	if len(g.Changes) > 0 {
		b.WriteString("\n#### Changes\n\n```diff\n")
	} else {
		// Nothing to diff (the steps are the plan): no empty block.
		b.WriteString("\n")
	}
	for _, ch := range g.Changes {
		sym := symbol(ch.Op)
		if sym == ">" || sym == "~" {
			sym = "!"
		}
		fmt.Fprintf(&b, "%s %s", sym, ch.Object)
		if ch.Detail != "" {
			fmt.Fprintf(&b, "  (%s)", ch.Detail)
		}
		b.WriteString("\n")
		for _, l := range ch.Lines {
			// A diff block colours a line by its first character.
			sym, rest, _ := strings.Cut(l, " ")
			if sym == "~" {
				sym = "!"
			}
			fmt.Fprintf(&b, "%s     %s\n", sym, rest)
		}
	}
	if len(g.Changes) > 0 {
		b.WriteString("```\n\n")
	}
	writeInstanceTimelineMarkdown(&b, g)
	b.WriteString("#### Step graph\n\n```mermaid\nflowchart TD\n")
	ids := map[string]string{}
	for i, s := range g.Steps {
		ids[s.ID] = fmt.Sprintf("s%d", i+1)
	}
	for _, s := range g.Steps {
		shape := `["%s<br/><small>%s</small>"]`
		if s.Approval {
			shape = `{{"%s<br/><small>%s</small>"}}`
		}
		fmt.Fprintf(&b, "  %s"+shape+"\n", ids[s.ID], mermaidText(s.ID), mermaidText(s.Action))
	}
	for _, s := range g.Steps {
		for _, n := range s.Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", ids[n], ids[s.ID])
		}
		if s.Rollback != nil {
			fmt.Fprintf(&b, "  %s -. rollback .-> %s_rb[\"%s\"]\n", ids[s.ID], ids[s.ID], mermaidText(s.Rollback.Action))
		}
	}
	b.WriteString("```\n\n#### Steps\n\n| # | step | action | needs | estimate | guard | rollback |\n|---:|---|---|---|---|---|---|\n")
	for i, s := range order {
		guard, rb := "", ""
		if s.Guard != nil {
			guard = "`" + mdCell(guardText(s.Guard)) + "`"
		}
		if s.Rollback != nil {
			rb = "`" + s.Rollback.Action + "`"
		}
		if s.Approval {
			guard = strings.TrimSpace(guard + " approval")
		}
		id := "`" + s.ID + "`"
		if s.LiveAtPlan != "" {
			id += " (live now, may still run)"
		}
		fmt.Fprintf(&b, "| %d | %s | `%s` | %s | %s | %s | %s |\n", i+1, id, s.Action,
			mdCell(strings.Join(s.Needs, ", ")), mdCell(formatEstimate(s.Estimate)), guard, rb)
	}
	if live := stepgraph.IDs(order, stepgraph.IsLiveAtPlan); len(live) > 0 {
		b.WriteString("\n#### Live now, may still run\n\nTheir effect is live now, but a step before them changes what they touch; each is observed again right before it runs and skipped if still live:\n\n")
		for _, id := range live {
			fmt.Fprintf(&b, "- `%s`: %s\n", id, mdCell(g.Step(id).LiveAtPlan))
		}
	}
	writeSafetyMarkdown(&b, g, order)
	switch {
	case instanceOnly(g) && g.OnFailure == "pause":
		b.WriteString("\nOn failure the run **pauses** (`fleetplan resume` continues it) and **nothing is rolled back**: " + instanceOnFailure + "\n")
	case g.OnFailure == "pause":
		b.WriteString("\nOn failure the run **pauses**; `fleetplan resume` continues it.\n")
	case instanceOnly(g):
		b.WriteString("\nOn failure, **nothing is rolled back**: " + instanceOnFailure + "\n")
	default:
		b.WriteString("\nOn failure, completed steps are **rolled back** in reverse order.\n")
	}
	if g.Fingerprint != "" {
		fmt.Fprintf(&b, "\n<sub>live state fingerprint `%s`</sub>\n", g.Fingerprint)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func guardText(gd *stepgraph.Guard) string {
	if gd.Name != "" {
		return gd.Name + ": " + gd.Expr
	}
	return gd.Expr
}

func formatEstimate(e stepgraph.Estimate) string {
	var parts []string
	if e.Duration > 0 {
		parts = append(parts, "~"+stepgraph.RoundDuration(e.Duration))
	}
	if e.Rows > 0 {
		parts = append(parts, stepgraph.Thousands(e.Rows)+" rows")
	}
	if e.Unavailable > 0 {
		parts = append(parts, stepgraph.RoundDuration(e.Unavailable)+" unavailable")
	}
	return strings.Join(parts, ", ")
}

func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// writeSpaces pads with n spaces (none when n <= 0).
func writeSpaces(b *strings.Builder, n int) {
	const spaces = "                                "
	for n > 0 {
		k := min(n, len(spaces))
		b.WriteString(spaces[:k])
		n -= k
	}
}

// hasSafety reports whether a graph has the upgrade safety facts previews
// show: a read-only window, production steps or approval gates.
func hasSafety(g *stepgraph.Graph, order []*stepgraph.Step) bool {
	if g.ReadOnly != nil {
		return true
	}
	for _, s := range order {
		if s.Production || s.Approval {
			return true
		}
	}
	return false
}

func approvalsNote(w *stepgraph.ReadOnlyWindow) string {
	if len(w.Approvals) == 0 {
		return ""
	}
	return " + time to approve " + strings.Join(w.Approvals, ", ")
}

// writeSafetyText writes the read-only window, the production steps, the
// approval gates and the rollback branch.
func writeSafetyText(b *strings.Builder, g *stepgraph.Graph, order []*stepgraph.Step) {
	if !hasSafety(g, order) {
		return
	}
	b.WriteString("\n")
	if w := g.ReadOnly; w != nil {
		fmt.Fprintf(b, "Read-only window: ~%s%s", stepgraph.RoundDuration(w.Duration), approvalsNote(w))
		if w.From != "" && w.To != "" {
			fmt.Fprintf(b, ", from step %s until step %s", w.From, w.To)
		}
		if w.Basis != "" {
			fmt.Fprintf(b, " (%s)", w.Basis)
		}
		b.WriteString(".\n")
	}
	if p := stepgraph.IDs(order, stepgraph.TouchesProduction); len(p) > 0 {
		fmt.Fprintf(b, "Touches production: %s.\n", strings.Join(p, ", "))
	}
	if a := stepgraph.IDs(order, stepgraph.NeedsApproval); len(a) > 0 {
		fmt.Fprintf(b, "Approval gates: %s (fleetplan approve RUN STEP, or reject).\n", strings.Join(a, ", "))
	}
	if len(g.Rollbacks) > 0 {
		b.WriteString("Rollback, in the order it runs (steps kept for analysis stay until `fleetplan rollback RUN` or a re-apply):\n")
		for _, st := range g.Rollbacks {
			if st.After == "" {
				fmt.Fprintf(b, "  If a step fails, %s.\n", st.Why)
			} else {
				fmt.Fprintf(b, "  After step %s (point of no return): %s.\n", st.After, st.Why)
			}
			for _, r := range st.Steps {
				fmt.Fprintf(b, "    %s\n", r)
			}
		}
	}
}

func writeSafetyMarkdown(b *strings.Builder, g *stepgraph.Graph, order []*stepgraph.Step) {
	if !hasSafety(g, order) {
		return
	}
	if w := g.ReadOnly; w != nil {
		fmt.Fprintf(b, "\n#### Read-only window\n\nProduction is read-only for **~%s**%s", stepgraph.RoundDuration(w.Duration), approvalsNote(w))
		if w.From != "" && w.To != "" {
			fmt.Fprintf(b, ", from step `%s` until step `%s`", w.From, w.To)
		}
		if w.Basis != "" {
			fmt.Fprintf(b, " (%s)", w.Basis)
		}
		b.WriteString(".\n")
	}
	if p := stepgraph.IDs(order, stepgraph.TouchesProduction); len(p) > 0 {
		b.WriteString("\n#### Touches production\n\n")
		for _, id := range p {
			fmt.Fprintf(b, "- `%s` (`%s`)\n", id, g.Step(id).Action)
		}
	}
	if a := stepgraph.IDs(order, stepgraph.NeedsApproval); len(a) > 0 {
		b.WriteString("\n#### Approval gates\n\n")
		for _, id := range a {
			fmt.Fprintf(b, "- `%s`: the run stops here until `fleetplan approve RUN %s` (or `reject`)\n", id, id)
		}
	}
	if len(g.Rollbacks) > 0 {
		b.WriteString("\n#### Rollback\n")
		for _, st := range g.Rollbacks {
			if st.After == "" {
				fmt.Fprintf(b, "\nIf a step fails, %s; these run in this order:\n\n", st.Why)
			} else {
				fmt.Fprintf(b, "\nAfter step `%s` (point of no return), %s:\n\n", st.After, st.Why)
			}
			for _, r := range st.Steps {
				fmt.Fprintf(b, "1. %s\n", r)
			}
		}
	}
}

// symbol is the one-character marker of a change in the text and markdown views.
func symbol(o stepgraph.ChangeOp) string {
	switch o {
	case stepgraph.Create:
		return "+"
	case stepgraph.Delete:
		return "-"
	case stepgraph.Move:
		return ">"
	}
	return "~"
}
