package planrender

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// instanceSlot is where the timeline puts one instance operation.
type instanceSlot struct {
	step                       *stepgraph.Step
	in                         stepspec.InstanceChange
	plannedAt, start, end, p95 time.Time
}

// instanceTimeline reads the timeline the planner put in the steps of an
// InstanceChange graph; nil for other graphs.
func instanceTimeline(g *stepgraph.Graph) []instanceSlot {
	var out []instanceSlot
	for _, s := range g.Steps {
		if s.Action != stepspec.InstanceChangeName {
			continue
		}
		b, _ := json.Marshal(s.With)
		var in struct {
			stepspec.InstanceChange
			Typical      string `json:"typical"`
			P95          string `json:"p95"`
			TableTypical string `json:"tableTypical"`
			Unavailable  string `json:"unavailable"`
		}
		if json.Unmarshal(b, &in) != nil {
			continue
		}
		slot := instanceSlot{step: s, in: in.InstanceChange}
		slot.plannedAt, _ = time.Parse(time.RFC3339, in.PlannedAt)
		slot.start, _ = time.Parse(time.RFC3339, in.Start)
		slot.end, _ = time.Parse(time.RFC3339, in.End)
		slot.p95, _ = time.Parse(time.RFC3339, in.P95End)
		out = append(out, slot)
	}
	return out
}

// instanceOnFailure is what a failed InstanceChange run does: the runner
// stops starting steps and lets running ones end, and an instance
// operation has no compensation (steps/instance.Change.Rollback).
const instanceOnFailure = "no further operation starts and operations already running finish; " +
	"the instance whose operation failed keeps its old configuration, and instances already changed keep " +
	"their new one (an instance operation cannot be rolled back)."

// instanceOnly reports whether every step of g is an instance operation
// without a rollback branch, so a failure undoes nothing.
func instanceOnly(g *stepgraph.Graph) bool {
	for _, s := range g.Steps {
		if s.Action != stepspec.InstanceChangeName || s.Rollback != nil {
			return false
		}
	}
	return len(g.Steps) > 0
}

// fleetTotal is when the last operation ends, typical and p95, from the
// moment the plan was made.
func fleetTotal(slots []instanceSlot) (typ, p95 time.Duration) {
	for _, s := range slots {
		typ = max(typ, s.end.Sub(s.plannedAt))
		p95 = max(p95, s.p95.Sub(s.plannedAt))
	}
	return typ, p95
}

func stamp(t time.Time) string { return t.UTC().Format("Mon 2006-01-02 15:04 UTC") }

func writeInstanceTimelineText(b *strings.Builder, g *stepgraph.Graph) {
	slots := instanceTimeline(g)
	if len(slots) == 0 {
		return
	}
	typ, p95 := fleetTotal(slots)
	fmt.Fprintf(b, "\nTimeline (planned at %s; at most %d at once", stamp(slots[0].plannedAt), max(g.Parallel, 1))
	if len(slots[0].in.Window.Days) > 0 {
		b.WriteString(", inside the window")
	}
	b.WriteString("):\n")
	for _, s := range slots {
		fmt.Fprintf(b, "  %-16s %-17s starts %s, ends ~%s (p95 %s)\n", s.in.Instance, s.in.Operation, stamp(s.start), stamp(s.end), stamp(s.p95))
	}
	fmt.Fprintf(b, "Fleet total: typical %s, p95 %s from now.\n", stepgraph.RoundDuration(typ), stepgraph.RoundDuration(p95))
}

func writeInstanceTimelineMarkdown(b *strings.Builder, g *stepgraph.Graph) {
	slots := instanceTimeline(g)
	if len(slots) == 0 {
		return
	}
	typ, p95 := fleetTotal(slots)
	fmt.Fprintf(b, "#### Timeline\n\nFleet total: typical **%s**, p95 **%s** from %s; at most %d at once.\n\n", stepgraph.RoundDuration(typ), stepgraph.RoundDuration(p95),
		stamp(slots[0].plannedAt), max(g.Parallel, 1))
	b.WriteString("```mermaid\ngantt\n  dateFormat YYYY-MM-DDTHH:mm\n  axisFormat %a %H:%M\n")
	for _, s := range slots {
		fmt.Fprintf(b, "  section %s\n", mermaidText(s.in.Instance))
		fmt.Fprintf(b, "  %s (typical) :%s, %s, %s\n", mermaidText(s.in.Operation), s.step.ID, s.start.UTC().Format("2006-01-02T15:04"), s.end.UTC().Format("2006-01-02T15:04"))
		if s.p95.After(s.end) {
			fmt.Fprintf(b, "  up to p95 :crit, %s, %s\n", s.end.UTC().Format("2006-01-02T15:04"), s.p95.UTC().Format("2006-01-02T15:04"))
		}
	}
	b.WriteString("```\n\n")
}
