package planrender

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// instanceSlot is where the timeline puts one instance operation.
type instanceSlot struct {
	step                       *stepgraph.Step
	in                         stepspec.InstanceChange
	plannedAt, start, end, p95 time.Time
	unavailable                time.Duration // the failover's bound; zero when the operation does not fail over
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
		slot.unavailable, _ = time.ParseDuration(in.Unavailable)
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

// instanceTotal is the fleet total of an InstanceChange plan: when the
// last operation ends, typical and p95, counted from the moment the plan
// was made and respecting maxParallel, the canary and the window; and the
// downtime, each instance's failover bound, added up and the longest.
type instanceTotal struct {
	Operations int       `json:"operations"`
	PlannedAt  time.Time `json:"plannedAt"`
	// Typical and P95 run from PlannedAt to TypicalEnd and P95End.
	Typical    jsonDuration `json:"typical"`
	P95        jsonDuration `json:"p95"`
	TypicalEnd time.Time    `json:"typicalEnd"`
	P95End     time.Time    `json:"p95End"`
	// Downtime is the instances' failover bounds added up (each instance is
	// unavailable once, for at most its bound); LongestDowntime is the
	// longest of them; DowntimeInstances counts the instances that fail over.
	Downtime          jsonDuration `json:"downtime"`
	LongestDowntime   jsonDuration `json:"longestDowntime"`
	DowntimeInstances int          `json:"downtimeInstances"`
}

func fleetTotal(slots []instanceSlot) instanceTotal {
	t := instanceTotal{Operations: len(slots)}
	for _, s := range slots {
		t.PlannedAt = s.plannedAt
		if s.end.After(t.TypicalEnd) {
			t.TypicalEnd = s.end
		}
		if s.p95.After(t.P95End) {
			t.P95End = s.p95
		}
		if s.unavailable > 0 {
			t.Downtime += jsonDuration(s.unavailable)
			t.LongestDowntime = max(t.LongestDowntime, jsonDuration(s.unavailable))
			t.DowntimeInstances++
		}
	}
	t.Typical = jsonDuration(t.TypicalEnd.Sub(t.PlannedAt))
	t.P95 = jsonDuration(t.P95End.Sub(t.PlannedAt))
	return t
}

// downtimeText says what the total's downtime is, for the text and markdown previews.
func (t instanceTotal) downtimeText() string {
	switch t.DowntimeInstances {
	case 0:
		return "no instance fails over"
	case 1:
		return fmt.Sprintf("downtime up to %s on 1 instance", estimate.Human(time.Duration(t.Downtime)))
	}
	return fmt.Sprintf("downtime up to %s on each of %d instances (%s in all)", estimate.Human(time.Duration(t.LongestDowntime)),
		t.DowntimeInstances, estimate.Human(time.Duration(t.Downtime)))
}

// jsonDuration is a duration in JSON as Go writes it ("3m46s"), the way a
// step's with: writes its typical and p95.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Round(time.Second).String())
}

// graphJSON is a graph as JSON, with the fleet total of an InstanceChange plan.
type graphJSON struct {
	*stepgraph.Graph
	FleetTotal *instanceTotal `json:"fleetTotal,omitempty"`
}

func withFleetTotal(g *stepgraph.Graph) any {
	slots := instanceTimeline(g)
	if len(slots) == 0 {
		return g
	}
	t := fleetTotal(slots)
	return graphJSON{Graph: g, FleetTotal: &t}
}

func stamp(t time.Time) string { return t.UTC().Format("Mon 2006-01-02 15:04 UTC") }

func writeInstanceTimelineText(b *strings.Builder, g *stepgraph.Graph) {
	slots := instanceTimeline(g)
	if len(slots) == 0 {
		return
	}
	total := fleetTotal(slots)
	fmt.Fprintf(b, "\nTimeline (planned at %s; at most %d at once", stamp(slots[0].plannedAt), max(g.Parallel, 1))
	if len(slots[0].in.Window.Days) > 0 {
		b.WriteString(", inside the window")
	}
	b.WriteString("):\n")
	for _, s := range slots {
		fmt.Fprintf(b, "  %-16s %-17s starts %s, ends ~%s (p95 %s)\n", s.in.Instance, s.in.Operation, stamp(s.start), stamp(s.end), stamp(s.p95))
	}
	fmt.Fprintf(b, "Fleet total: typical %s, p95 %s from now; %s.\n", estimate.Human(time.Duration(total.Typical)),
		estimate.Human(time.Duration(total.P95)), total.downtimeText())
}

func writeInstanceTimelineMarkdown(b *strings.Builder, g *stepgraph.Graph) {
	slots := instanceTimeline(g)
	if len(slots) == 0 {
		return
	}
	total := fleetTotal(slots)
	fmt.Fprintf(b, "#### Timeline\n\nFleet total: typical **%s**, p95 **%s** from %s; at most %d at once; %s.\n\n", estimate.Human(time.Duration(total.Typical)),
		estimate.Human(time.Duration(total.P95)), stamp(slots[0].plannedAt), max(g.Parallel, 1), total.downtimeText())
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
