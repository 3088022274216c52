package planner

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Formats the renderers understand.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// Render writes g in the given format.
func Render(w io.Writer, g *Graph, format string) error {
	switch format {
	case "", FormatText:
		return RenderText(w, g)
	case FormatMarkdown, "md":
		return RenderMarkdown(w, g)
	case FormatJSON:
		return RenderJSON(w, g)
	}
	return fmt.Errorf("unknown format %q (want text, markdown or json)", format)
}

// RenderJSON writes the graph as stable, versioned JSON.
func RenderJSON(w io.Writer, g *Graph) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}

// Counts tallies changes by operation.
func (g *Graph) Counts() map[ChangeOp]int {
	m := map[ChangeOp]int{}
	for _, c := range g.Changes {
		m[c.Op]++
	}
	return m
}

// Total returns the duration along the critical path (steps run in parallel
// where their needs allow, so the sum of all steps would overstate it), the
// rows to move, and the longest window in which any data is unavailable.
func (g *Graph) Total() Estimate { return total(g.topo()) }

// total is Total over steps already in dependency order.
func total(order []*Step) Estimate {
	finish := make(map[string]time.Duration, len(order))
	var total Estimate
	for _, s := range order {
		var start time.Duration
		for _, n := range s.Needs {
			if finish[n] > start {
				start = finish[n]
			}
		}
		end := start + s.Estimate.Duration
		finish[s.ID] = end
		if end > total.Duration {
			total.Duration = end
		}
		total.Unavailable = max(total.Unavailable, s.Estimate.Unavailable)
		total.Rows += s.Estimate.Rows
	}
	return total
}

// topo returns the steps in dependency order, stable with respect to g.Steps:
// in passes over the steps still waiting, in their listed order, each step
// whose needs are all placed is placed next. Needs of unknown steps do not
// hold a step back. Needs are resolved to indices once, so a pass costs a
// slice lookup per need rather than a map lookup.
func (g *Graph) topo() []*Step {
	slot := make(map[string]int32, len(g.Steps)) // id -> first step with it
	own := make([]int32, len(g.Steps))           // step -> slot of its id
	for i, s := range g.Steps {
		j, dup := slot[s.ID]
		if !dup {
			j = int32(i)
			slot[s.ID] = j
		}
		own[i] = j
	}
	// needs[start[i]:start[i+1]] are the slots step i waits for.
	start := make([]int32, len(g.Steps)+1)
	var needs []int32
	for i, s := range g.Steps {
		for _, n := range s.Needs {
			if j, ok := slot[n]; ok {
				needs = append(needs, j)
			}
		}
		start[i+1] = int32(len(needs))
	}
	placed := make([]bool, len(g.Steps)) // by slot: a step with that id is placed
	out := make([]*Step, 0, len(g.Steps))
	waiting := make([]int32, len(g.Steps))
	for i := range waiting {
		waiting[i] = int32(i)
	}
	for len(waiting) > 0 {
		rest := waiting[:0]
		for _, i := range waiting {
			ready := true
			for _, j := range needs[start[i]:start[i+1]] {
				if !placed[j] {
					ready = false
					break
				}
			}
			if ready {
				placed[own[i]] = true
				out = append(out, g.Steps[i])
			} else {
				rest = append(rest, i)
			}
		}
		if len(rest) == len(waiting) { // a cycle: Validate reports it; render the rest as listed
			for _, i := range rest {
				out = append(out, g.Steps[i])
			}
			break
		}
		waiting = rest
	}
	return out
}

// stepIDs lists the ids of the steps of order that keep selects.
func stepIDs(order []*Step, keep func(*Step) bool) []string {
	var out []string
	for _, s := range order {
		if keep(s) {
			out = append(out, s.ID)
		}
	}
	return out
}

func summaryLine(g *Graph) string {
	c := g.Counts()
	return fmt.Sprintf("%d to create, %d to change, %d to move, %d to delete", c[Create], c[Update], c[Move], c[Delete])
}

// RenderText writes a readable diff with symbols and counts.
func RenderText(w io.Writer, g *Graph) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q on target %q\n", g.Kind, g.Plan, g.Target)
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
		fmt.Fprintf(&b, "  %s %s", c.Op.Symbol(), c.Object)
		if c.Detail != "" {
			fmt.Fprintf(&b, "  (%s)", c.Detail)
		}
		b.WriteString("\n")
		for _, l := range c.Lines {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	fmt.Fprintf(&b, "\nSteps (%d):\n", len(g.Steps))
	order := g.topo()
	// A layout of 100,000 ranges is as many steps: plain writes into a
	// buffer sized for them, and each distinct estimate formatted once.
	b.Grow(len(order) * 160)
	estimates := map[Estimate]string{}
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
	t := total(order)
	fmt.Fprintf(&b, "\nPlan: %s.\n", summaryLine(g))
	fmt.Fprintf(&b, "Estimated duration: %s", roundDuration(t.Duration))
	if t.Rows > 0 {
		fmt.Fprintf(&b, ", %s rows to move", thousands(t.Rows))
	}
	if t.Unavailable > 0 {
		fmt.Fprintf(&b, "; no key is offline or read-only for longer than ~%s", roundDuration(t.Unavailable))
	}
	b.WriteString(".\n")
	if g.OnFailure == "pause" {
		b.WriteString("On failure: pause (resume with `fleetplan resume`).\n")
	} else {
		b.WriteString("On failure: roll back completed steps in reverse order.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RenderMarkdown writes a pull-request comment: summary table, mermaid graph,
// estimates, guards and rollback branches.
func RenderMarkdown(w io.Writer, g *Graph) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### fleetplan: `%s` %s on `%s`\n\n", g.Plan, g.Kind, g.Target)
	for _, warn := range g.Warnings {
		fmt.Fprintf(&b, "> **Warning:** %s\n\n", warn)
	}
	if g.Empty() {
		b.WriteString("**No changes.** The live fleet matches the plan.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	order := g.topo()
	t := total(order)
	b.WriteString("| | count |\n|---|---:|\n")
	c := g.Counts()
	for _, op := range []ChangeOp{Create, Update, Move, Delete} {
		fmt.Fprintf(&b, "| %s %s | %d |\n", op.Symbol(), op, c[op])
	}
	fmt.Fprintf(&b, "| steps | %d |\n| estimated duration | %s |\n", len(g.Steps), roundDuration(t.Duration))
	if t.Rows > 0 {
		fmt.Fprintf(&b, "| rows to move | %s |\n", thousands(t.Rows))
	}
	if t.Unavailable > 0 {
		fmt.Fprintf(&b, "| longest offline / read-only window | %s |\n", roundDuration(t.Unavailable))
	}
	if w := g.ReadOnly; w != nil {
		fmt.Fprintf(&b, "| production read-only | ~%s%s |\n", roundDuration(w.Duration), approvalsNote(w))
	}
	if p := stepIDs(order, touchesProduction); len(p) > 0 {
		fmt.Fprintf(&b, "| steps touching production | %d |\n", len(p))
	}
	if a := stepIDs(order, needsApproval); len(a) > 0 {
		fmt.Fprintf(&b, "| approval gates | %d |\n", len(a))
	}
	b.WriteString("\n#### Changes\n\n```diff\n")
	for _, ch := range g.Changes {
		sym := ch.Op.Symbol()
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
	b.WriteString("```\n\n#### Step graph\n\n```mermaid\nflowchart TD\n")
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
	if live := stepIDs(order, liveAtPlan); len(live) > 0 {
		b.WriteString("\n#### Live now, may still run\n\nTheir effect is live now, but a step before them changes what they touch; each is observed again right before it runs and skipped if still live:\n\n")
		for _, id := range live {
			fmt.Fprintf(&b, "- `%s`: %s\n", id, mdCell(g.Step(id).LiveAtPlan))
		}
	}
	writeSafetyMarkdown(&b, g, order)
	if g.OnFailure == "pause" {
		b.WriteString("\nOn failure the run **pauses**; `fleetplan resume` continues it.\n")
	} else {
		b.WriteString("\nOn failure, completed steps are **rolled back** in reverse order.\n")
	}
	if g.Fingerprint != "" {
		fmt.Fprintf(&b, "\n<sub>live state fingerprint `%s`</sub>\n", g.Fingerprint)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func guardText(gd *Guard) string {
	if gd.Name != "" {
		return gd.Name + ": " + gd.Expr
	}
	return gd.Expr
}

func formatEstimate(e Estimate) string {
	var parts []string
	if e.Duration > 0 {
		parts = append(parts, "~"+roundDuration(e.Duration))
	}
	if e.Rows > 0 {
		parts = append(parts, thousands(e.Rows)+" rows")
	}
	if e.Unavailable > 0 {
		parts = append(parts, roundDuration(e.Unavailable)+" unavailable")
	}
	return strings.Join(parts, ", ")
}

func roundDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	r := strings.Join(out, ",")
	if neg {
		r = "-" + r
	}
	return r
}

func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// SortChanges orders changes for display: creates, updates, moves, deletes.
func SortChanges(cs []Change) {
	rank := map[ChangeOp]int{Create: 0, Update: 1, Move: 2, Delete: 3}
	sort.SliceStable(cs, func(i, j int) bool { return rank[cs[i].Op] < rank[cs[j].Op] })
}

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
func hasSafety(g *Graph, order []*Step) bool {
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

func approvalsNote(w *ReadOnlyWindow) string {
	if len(w.Approvals) == 0 {
		return ""
	}
	return " + time to approve " + strings.Join(w.Approvals, ", ")
}

// writeSafetyText writes the read-only window, the production steps, the
// approval gates and the rollback branch.
func writeSafetyText(b *strings.Builder, g *Graph, order []*Step) {
	if !hasSafety(g, order) {
		return
	}
	b.WriteString("\n")
	if w := g.ReadOnly; w != nil {
		fmt.Fprintf(b, "Read-only window: ~%s%s", roundDuration(w.Duration), approvalsNote(w))
		if w.From != "" && w.To != "" {
			fmt.Fprintf(b, ", from step %s until step %s", w.From, w.To)
		}
		if w.Basis != "" {
			fmt.Fprintf(b, " (%s)", w.Basis)
		}
		b.WriteString(".\n")
	}
	if p := stepIDs(order, touchesProduction); len(p) > 0 {
		fmt.Fprintf(b, "Touches production: %s.\n", strings.Join(p, ", "))
	}
	if a := stepIDs(order, needsApproval); len(a) > 0 {
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

func writeSafetyMarkdown(b *strings.Builder, g *Graph, order []*Step) {
	if !hasSafety(g, order) {
		return
	}
	if w := g.ReadOnly; w != nil {
		fmt.Fprintf(b, "\n#### Read-only window\n\nProduction is read-only for **~%s**%s", roundDuration(w.Duration), approvalsNote(w))
		if w.From != "" && w.To != "" {
			fmt.Fprintf(b, ", from step `%s` until step `%s`", w.From, w.To)
		}
		if w.Basis != "" {
			fmt.Fprintf(b, " (%s)", w.Basis)
		}
		b.WriteString(".\n")
	}
	if p := stepIDs(order, touchesProduction); len(p) > 0 {
		b.WriteString("\n#### Touches production\n\n")
		for _, id := range p {
			fmt.Fprintf(b, "- `%s` (`%s`)\n", id, g.Step(id).Action)
		}
	}
	if a := stepIDs(order, needsApproval); len(a) > 0 {
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
