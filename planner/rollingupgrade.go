package planner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// StepFacts is what the planner learns about one step of a step-running plan
// from the live fleet. The zero value means: not live, nothing special.
type StepFacts struct {
	// Live reports that the step's effect is already there now, so the step
	// may be pruned: only when no step that could run before it changes what
	// it touches (see Touches). False when it could not be told (inputs known
	// only at run time).
	Live bool
	// Touches lists the fleet objects the step reads or changes, as its
	// action declares them from its inputs; the list is complete only when
	// TouchesKnown is set. Without it (the zero value) the step may touch
	// anything: its action cannot say, or its inputs are known only at run
	// time.
	Touches      []Touch
	TouchesKnown bool
	// Production marks a step that changes an object serving production now.
	Production bool
	// Gate marks an action that changes nothing and only holds the run.
	Gate bool
	// Approval marks a step a person must approve before it runs.
	Approval bool
	// Estimate is the action's own estimate.
	Estimate stepgraph.Estimate
	// EstimateIsHint says Estimate came from the plan (an input), so it wins
	// over durations measured in earlier runs.
	EstimateIsHint bool
	// ReadOnlyStarts marks the step that makes production read-only;
	// ReadOnlyEnds the step after which production is served elsewhere.
	ReadOnlyStarts, ReadOnlyEnds bool
	// Irreversible marks an action that cannot be undone (a drop);
	// RollbackChecksWrites a compensation (the step's rollback branch, or
	// its action's own rollback) that checks for writes since a switch.
	Irreversible, RollbackChecksWrites bool
}

// Touch is one fleet object a step reads or changes, named the same way by
// every action ("database sql-1/contoso", "endpoint contoso/contoso-2",
// "slot contoso-2", "shardmap customermap").
type Touch struct {
	Object  string
	Changes bool // false when the step only reads the object
}

// UpgradeLive answers what planning a RollingUpgrade needs from the fleet.
// The engine implements it with the step registry and the target; every
// method must leave the fleet unchanged.
type UpgradeLive interface {
	// Facts reports on one expanded step. An error fails planning at the step.
	Facts(ctx context.Context, s *plans.StepSpec) (StepFacts, error)
	// Desired reports whether the document's desired end is live, and says
	// what serves now ("contoso-1 serves version 1").
	Desired(ctx context.Context, d plans.UpgradeDesired) (reached bool, now string, err error)
	// Fingerprint identifies the live state of every object the steps name.
	Fingerprint(ctx context.Context, steps []*plans.StepSpec) (string, error)
}

// Measured is a step duration taken from an earlier run's journal.
type Measured struct {
	Duration time.Duration
	RunID    string
}

// PlanRollingUpgrade turns an upgrade document's expanded steps into a
// graph. A step whose effect is already live is pruned unless a step that
// could run before it changes what it touches: then it stays, marked
// LiveAtPlan, and the runner observes it again right before it would apply.
// Once the desired end is live, so is everything that led to a live step
// (when that step's effect cannot be the state from before the run). Gates
// whose dependents were all pruned go too, so a finished upgrade plans to
// nothing.
func PlanRollingUpgrade(ctx context.Context, doc *plans.Document, live UpgradeLive, opt Options) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	spec := doc.RollingUpgrade()
	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: doc.Kind, Plan: doc.Metadata.Name, Source: doc.File,
		Target: spec.Target, OnFailure: spec.OnFailure, Parallel: 4}
	if g.OnFailure == "" {
		g.OnFailure = plans.OnFailureRollback
	}
	byID := map[string]*plans.StepSpec{}
	facts := map[string]StepFacts{}
	for _, s := range doc.Steps {
		byID[s.ID] = s
		f, err := live.Facts(ctx, s)
		var located interface{ Diagnostic() diag.Diagnostic }
		if errors.As(err, &located) && located.Diagnostic().Pos.File == doc.File {
			diags.Add(located.Diagnostic()) // an error placed where the plan writes it
			continue
		}
		if err != nil {
			pos, from := s.Pos, ""
			if pos.File != doc.File {
				// A template's step: report it at the plan's uses:.
				pos, from = orPos(spec.UsesPos, doc.Pos), fmt.Sprintf(" (defined at %s)", s.Pos)
			}
			diags.Errorf(pos, "step %q (%s)%s: %v", s.ID, s.Action, from, err).WithHint("%s", cmp.Or(fleet.HintOf(err), "fix the step's inputs; `fleetplan validate` checks them against the action"))
			continue
		}
		facts[s.ID] = f
	}
	if diags.HasErrors() {
		return nil, diags
	}
	reached, now, err := live.Desired(ctx, spec.Desired)
	if err != nil {
		diags.Errorf(orPos(spec.DesiredPos, doc.Pos), "observe the desired end: %v", err).
			WithHint("the target's driver must report traffic-manager profiles and app slots for desired:")
		return nil, diags
	}
	if fp, err := live.Fingerprint(ctx, doc.Steps); err != nil {
		diags.Errorf(orPos(spec.UsesPos, doc.Pos), "fingerprint the live state: %v", err).
			WithHint("every database, slot and endpoint the steps name must be readable on the target")
		return nil, diags
	} else {
		g.Fingerprint = fp
	}
	if spec.Desired != (plans.UpgradeDesired{}) && !reached {
		g.Changes = append(g.Changes, stepgraph.Change{Op: stepgraph.Update, Object: desiredText(spec.Desired), Detail: "now: " + now})
	}

	pruned, liveKept := prune(doc.Steps, facts, reached)
	for _, s := range doc.Steps {
		if pruned[s.ID] {
			continue
		}
		st, d := buildStep(s, facts[s.ID], opt)
		st.LiveAtPlan = liveKept[s.ID]
		diags = append(diags, d...)
		st.Needs = keptNeeds(s, byID, pruned)
		g.Steps = append(g.Steps, st)
		if c, ok := failoverChange(s); ok && st.LiveAtPlan == "" {
			g.Changes = append(g.Changes, c)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	if len(g.Steps) == 0 {
		g.Changes = nil
		return g, diags
	}
	if reached && spec.Desired != (plans.UpgradeDesired{}) {
		g.Warnings = append(g.Warnings, "the desired end is already live ("+now+")")
	}
	g.ReadOnly = readOnlyWindow(g, facts, spec.ReadOnlyEstimate)
	g.Rollbacks = rollbackStages(g)
	return g, diags
}

// failoverChange is the change a failover-group step makes: the group's
// other server takes its writes. A step whose group is on its server
// already at plan time (kept, LiveAtPlan) is not counted.
func failoverChange(s *plans.StepSpec) (stepgraph.Change, bool) {
	var in stepspec.FailoverGroup
	if s.Action != in.Action() {
		return stepgraph.Change{}, false
	}
	get := func(field any) string {
		v, _ := s.With[stepspec.KeyOf(&in, field)].(string)
		return v
	}
	mode := cmp.Or(get(&in.Mode), stepspec.FieldOf(&in, &in.Mode).Default)
	detail := fmt.Sprintf("%s failover to %s", mode, get(&in.Server))
	if mode == stepspec.FailoverForced {
		detail += ", losing what has not replicated"
	}
	return stepgraph.Change{Op: stepgraph.Update, Object: "failover group " + get(&in.Group), Detail: detail}, true
}

func desiredText(d plans.UpgradeDesired) string {
	switch {
	case d.Endpoint != "" && d.Version != "":
		return fmt.Sprintf("endpoint %s serves version %s", d.Endpoint, d.Version)
	case d.Endpoint != "":
		return fmt.Sprintf("endpoint %s serves", d.Endpoint)
	}
	return "version " + d.Version + " serves"
}

// prune decides which steps need not run. liveKept says, for a step whose
// effect is live now but which stays in the graph, which earlier step
// changes what it touches.
//
// A live step is pruned only when no step that could run before it (any
// step but itself and those that need it, directly or not) and that stays
// in the graph changes an object the live step touches; otherwise that step
// could undo the effect before it is the live step's turn (a freeze before a
// thaw of the same database: the thaw is live only because the freeze has
// not run yet). Keeping a step costs little: the runner observes it again
// right before it would apply, and skips it if it is still live then.
func prune(specs []*plans.StepSpec, facts map[string]StepFacts, reached bool) (pruned map[string]bool, liveKept map[string]string) {
	byID := map[string]*plans.StepSpec{}
	dependents := map[string][]string{}
	for _, s := range specs {
		byID[s.ID] = s
	}
	for _, s := range specs {
		for _, n := range s.Needs {
			if byID[n] != nil {
				dependents[n] = append(dependents[n], s.ID)
			}
		}
	}
	// after lists the steps that run only after id (they need it, transitively).
	after := func(id string) map[string]bool {
		out := map[string]bool{}
		var walk func(string)
		walk = func(id string) {
			for _, d := range dependents[id] {
				if !out[d] {
					out[d] = true
					walk(d)
				}
			}
		}
		walk(id)
		return out
	}
	pruned = map[string]bool{}
	var live []string
	for _, s := range specs {
		if facts[s.ID].Live {
			pruned[s.ID] = true
			live = append(live, s.ID)
		}
	}
	done := map[string]bool{} // pruned because the desired end is live: fixed
	if reached {
		// The end is live: what led to a live step is done with, when that
		// step's effect cannot be the state from before the run (no step it
		// needs changes what it touches).
		for _, id := range live {
			before := ancestorSpecs(byID, id)
			evidence := true
			for a := range before {
				if _, hit := conflict(facts[a], facts[id]); hit {
					evidence = false
					break
				}
			}
			if evidence {
				for a := range before {
					pruned[a], done[a] = true, true
				}
			}
		}
	}
	liveKept = map[string]string{}
	later := map[string]map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, id := range live {
			if !pruned[id] || done[id] {
				continue
			}
			if later[id] == nil {
				later[id] = after(id)
			}
			for _, e := range specs {
				if e.ID == id || pruned[e.ID] || later[id][e.ID] {
					continue
				}
				if what, hit := conflict(facts[e.ID], facts[id]); hit {
					pruned[id], changed = false, true
					liveKept[id] = fmt.Sprintf("step %s %s before it", e.ID, what)
					break
				}
			}
		}
	}
	// Gates that hold nothing any more.
	for changed := true; changed; {
		changed = false
		for _, s := range specs {
			if pruned[s.ID] || !facts[s.ID].Gate || len(dependents[s.ID]) == 0 {
				continue
			}
			all := true
			for _, d := range dependents[s.ID] {
				all = all && pruned[d]
			}
			if all {
				pruned[s.ID], changed = true, true
			}
		}
	}
	return pruned, liveKept
}

// conflict reports whether step e, run first, may change something step s
// touches, and says what ("changes database sql-1/contoso").
func conflict(e, s StepFacts) (string, bool) {
	if s.TouchesKnown && len(s.Touches) == 0 {
		return "", false // s touches nothing in the fleet: nothing can undo it
	}
	if !e.TouchesKnown {
		return "may change anything", true
	}
	for _, t := range e.Touches {
		if !t.Changes {
			continue
		}
		if !s.TouchesKnown {
			return "changes " + t.Object, true
		}
		for _, u := range s.Touches {
			if u.Object == t.Object {
				return "changes " + t.Object, true
			}
		}
	}
	return "", false
}

// ancestorSpecs returns every step id needs, transitively (not id itself).
func ancestorSpecs(byID map[string]*plans.StepSpec, id string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		for _, n := range byID[id].Needs {
			if byID[n] != nil && !out[n] {
				out[n] = true
				walk(n)
			}
		}
	}
	walk(id)
	return out
}

// RoundTrip reports whether a graph ends where it began on everything it
// changes: every step whose effect is not live now changes only objects
// that a step after it, live now, changes too (freeze -> wait -> thaw while
// production is read-write). Such a graph never plans to nothing, finished
// or not; only an earlier run's record can tell. facts are the planner's,
// by step id; a step that cannot say what it touches is no round trip.
func RoundTrip(g *stepgraph.Graph, facts map[string]StepFacts) bool {
	dependents := map[string][]string{}
	for _, s := range g.Steps {
		for _, n := range s.Needs {
			dependents[n] = append(dependents[n], s.ID)
		}
	}
	// restoredBy[id] holds the objects that a live step which needs id
	// (transitively) changes; computed once per step, so a long chain of
	// steps costs time linear in its length.
	restoredBy := map[string]map[string]bool{}
	var restored func(id string) map[string]bool
	restored = func(id string) map[string]bool {
		if r, ok := restoredBy[id]; ok {
			return r
		}
		r := map[string]bool{}
		restoredBy[id] = r // a cycle (refused elsewhere) ends here
		for _, d := range dependents[id] {
			if f := facts[d]; f.Live {
				for _, u := range f.Touches {
					if u.Changes {
						r[u.Object] = true
					}
				}
			}
			for o := range restored(d) {
				r[o] = true
			}
		}
		return r
	}
	for _, s := range g.Steps {
		f := facts[s.ID]
		if !f.TouchesKnown {
			return false
		}
		if f.Live {
			continue
		}
		for _, t := range f.Touches {
			if t.Changes && !restored(s.ID)[t.Object] {
				return false
			}
		}
	}
	return true
}

// keptNeeds returns a step's needs with pruned steps replaced by their own
// (kept) needs, transitively.
func keptNeeds(s *plans.StepSpec, byID map[string]*plans.StepSpec, pruned map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	var add func(ids []string)
	add = func(ids []string) {
		for _, n := range ids {
			if seen[n] || byID[n] == nil {
				continue
			}
			seen[n] = true
			if pruned[n] {
				add(byID[n].Needs)
			} else {
				out = append(out, n)
			}
		}
	}
	add(s.Needs)
	return out
}

func buildStep(s *plans.StepSpec, f StepFacts, opt Options) (*stepgraph.Step, diag.List) {
	var diags diag.List
	st := &stepgraph.Step{ID: s.ID, Action: s.Action, With: maps.Clone(s.With), Approval: s.Approval || f.Approval,
		Timeout: s.Timeout, Production: f.Production, Pos: s.Pos}
	if s.Guard != nil {
		st.Guard = &stepgraph.Guard{Name: s.Guard.Name, Expr: s.Guard.Expr, Pos: s.Guard.Pos}
		if s.Wait != nil {
			st.Guard.Wait = &stepgraph.Wait{Timeout: s.Wait.Timeout, Interval: s.Wait.Interval}
		}
	}
	if s.Action == stepspec.WaitName {
		g, err := untilGuard(s)
		if err != nil {
			diags.Errorf(s.Pos, "step %q: %v", s.ID, err).WithHint("until: is an expression over live, params, steps and run, like a guard")
		} else {
			st.Guard = g
		}
	}
	if s.Retry != nil {
		st.Retry = &stepgraph.RetryPolicy{Attempts: s.Retry.Attempts, Initial: s.Retry.Initial, Max: s.Retry.Max, Budget: s.Retry.Budget}
	}
	if rb := s.Rollback; rb != nil {
		st.Rollback = &stepgraph.Step{Action: rb.Action, With: maps.Clone(rb.With), Timeout: rb.Timeout, KeepOnFailure: rb.KeepOnFailure}
		if rb.Retry != nil {
			st.Rollback.Retry = &stepgraph.RetryPolicy{Attempts: rb.Retry.Attempts, Initial: rb.Retry.Initial, Max: rb.Retry.Max, Budget: rb.Retry.Budget}
		}
	}
	if st.Rollback != nil {
		st.Rollback.ChecksWrites = f.RollbackChecksWrites
	}
	st.NoUndo = f.Irreversible && st.Rollback == nil
	if readsParams(st.Guard, st.With) {
		st.Params = s.Params
	}
	if st.Rollback != nil && readsParams(nil, st.Rollback.With) {
		st.Rollback.Params = s.Rollback.Params
	}
	st.Estimate = f.Estimate
	switch m, ok := opt.Measured[s.ID]; {
	case s.Estimate > 0:
		st.Estimate = stepgraph.Estimate{Duration: s.Estimate, Basis: "the plan's estimate"}
	case f.EstimateIsHint:
	case ok && m.Duration > 0:
		st.Estimate = stepgraph.Estimate{Duration: m.Duration, Basis: "measured in run " + m.RunID}
	}
	return st, diags
}

// untilGuard turns a generic.wait step's until/timeout/interval into its
// guard (and'ed with a guard the step has).
func untilGuard(s *plans.StepSpec) (*stepgraph.Guard, error) {
	var in stepspec.Wait
	until, _ := s.With[stepspec.KeyOf(&in, &in.Until)].(string)
	if strings.TrimSpace(until) == "" {
		return nil, fmt.Errorf("%s needs until: an expression to wait for", stepspec.WaitName)
	}
	if _, err := expression.Compile(until, expression.Bool); err != nil {
		return nil, fmt.Errorf("until: %v", err)
	}
	w := &stepgraph.Wait{}
	for _, d := range []struct {
		field, dst *time.Duration
	}{{&in.Timeout, &w.Timeout}, {&in.Interval, &w.Interval}} {
		f := stepspec.FieldOf(&in, d.field)
		*d.dst, _ = time.ParseDuration(f.Default)
		if v, ok := s.With[f.Key].(string); ok && v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x <= 0 {
				return nil, fmt.Errorf("%s: %q is not a duration like 30s or 5m", f.Key, v)
			}
			*d.dst = x
		}
	}
	g := &stepgraph.Guard{Name: "until", Expr: until, Wait: w}
	if s.Guard != nil {
		g.Expr = "(" + s.Guard.Expr + ") && (" + until + ")"
	}
	return g, nil
}

// readOnlyWindow sums the longest path of estimates from the step that
// freezes production to the step that moves traffic away.
func readOnlyWindow(g *stepgraph.Graph, facts map[string]StepFacts, hint time.Duration) *stepgraph.ReadOnlyWindow {
	var from, to string
	topo := g.Order()
	for _, s := range topo {
		if facts[s.ID].ReadOnlyStarts && from == "" {
			from = s.ID
		}
		if facts[s.ID].ReadOnlyEnds {
			to = s.ID
		}
	}
	if from == "" || to == "" {
		if hint > 0 {
			return &stepgraph.ReadOnlyWindow{Duration: hint, Basis: "the plan's readOnlyEstimate", From: from, To: to}
		}
		return nil
	}
	before := ancestors(g, to)
	on := map[string]bool{}
	for id := range before {
		if ancestors(g, id)[from] {
			on[id] = true
		}
	}
	if !on[to] {
		return nil
	}
	w := &stepgraph.ReadOnlyWindow{From: from, To: to}
	finish := map[string]time.Duration{}
	biggest := map[string]*stepgraph.Step{}
	for _, s := range topo {
		if !on[s.ID] || s.ID == from {
			continue
		}
		var start time.Duration
		via := ""
		for _, n := range s.Needs {
			if on[n] && (via == "" || finish[n] > start) {
				start, via = finish[n], n
			}
		}
		finish[s.ID] = start + s.Estimate.Duration
		big := biggest[via]
		if big == nil || s.Estimate.Duration > big.Estimate.Duration {
			big = s
		}
		biggest[s.ID] = big
		if s.Approval {
			w.Approvals = append(w.Approvals, s.ID)
		}
	}
	w.Duration = finish[to]
	if b := biggest[to]; b != nil {
		w.Basis = fmt.Sprintf("mostly step %s: %s", b.ID, b.Estimate.Basis)
	}
	if hint > 0 {
		w.Duration, w.Basis = hint, "the plan's readOnlyEstimate"
	}
	return w
}

// ancestors returns id and every step it needs, transitively.
func ancestors(g *stepgraph.Graph, id string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if out[id] {
			return
		}
		out[id] = true
		if s := g.Step(id); s != nil {
			for _, n := range s.Needs {
				walk(n)
			}
		}
	}
	walk(id)
	return out
}

// rollbackStages says, step by step, what a rollback would do before the
// first point of no return and after each one. Points of no return are the
// step that moves traffic away from production (from then on customers write
// to the new side) and production steps that cannot be undone. Production
// is restored first (the step that froze it is undone as soon as traffic is
// back on it); compensations that check for writes since the switch, and
// those a failed run keeps for analysis, say so.
func rollbackStages(g *stepgraph.Graph) []stepgraph.RollbackStage {
	topo := g.Order()
	var points []int
	switchAt := -1
	for i, s := range topo {
		switch {
		case g.ReadOnly != nil && s.ID == g.ReadOnly.To && g.ReadOnly.From != "":
			points, switchAt = append(points, i), i
		case s.Production && s.NoUndo:
			points = append(points, i)
		}
	}
	stage := func(upTo int, after *stepgraph.Step) stepgraph.RollbackStage {
		st := stepgraph.RollbackStage{Why: "production is made available again first, then what the run made is undone"}
		if after != nil {
			st.After = after.ID
			if after.NoUndo {
				st.Why = fmt.Sprintf("%s cannot be undone: a rollback refuses, with the reason, at the first compensation that needs what it removed", after.Action)
			} else {
				st.Why = "customers now write to the new side; a rollback first compares the database traffic would leave with where it stood " +
					"at the switch and, if it was written since, refuses naming the tables and changes nothing " +
					"(--discard-writes-since-switch goes on and keeps that database renamed, never dropped)"
			}
		}
		var ids []string
		for i := upTo; i >= 0; i-- {
			ids = append(ids, topo[i].ID)
		}
		if w := g.ReadOnly; w != nil && w.From != "" {
			ids = stepgraph.ProductionFirst(ids, w.From, w.To)
		}
		for _, id := range ids {
			s := g.Step(id)
			if s.Rollback == nil {
				continue
			}
			line := id + " -> " + s.Rollback.Action
			var notes []string
			if s.Rollback.ChecksWrites && after != nil && switchAt >= 0 && upTo >= switchAt {
				notes = append(notes, "checks for writes since the switch")
			}
			if s.Rollback.KeepOnFailure {
				notes = append(notes, "kept for analysis when the run fails by itself")
			}
			if len(notes) > 0 {
				line += " (" + strings.Join(notes, "; ") + ")"
			}
			st.Steps = append(st.Steps, line)
		}
		return st
	}
	first := len(topo) - 1
	if len(points) > 0 {
		first = points[0] - 1
	}
	var out []stepgraph.RollbackStage
	if st := stage(first, nil); len(st.Steps) > 0 {
		out = append(out, st)
	}
	for _, p := range points {
		out = append(out, stage(p, topo[p]))
	}
	return out
}

// readsParams reports whether a guard or an input left for run time reads
// `params`, so the step must carry them into the saved graph and the journal.
func readsParams(g *stepgraph.Guard, with map[string]any) bool {
	if g != nil && strings.Contains(g.Expr, "params") {
		return true
	}
	found := false
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			found = found || strings.Contains(x, "${{") && strings.Contains(x, "params")
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(with)
	return found
}
