package livestate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

// Evaluator checks guards and resolves `${{ }}` inputs with expr-lang against
// the live state of the target, observed afresh for every guard.
type Evaluator struct {
	Target fleet.Target
	Params map[string]any
}

var _ runner.Evaluator = (*Evaluator)(nil)

// env builds the expression environment for one evaluation. The step states
// and the live state are read only when the expression refers to them: a
// plan may hold thousands of steps, and observing the fleet costs queries.
func (e *Evaluator) env(ctx context.Context, step *stepgraph.Step, st runner.State, needSteps, needLive bool) (*expression.Env, error) {
	info := st.Run()
	params := e.Params
	if step.Params != nil {
		params = step.Params
	}
	env := &expression.Env{Params: params, Steps: map[string]expression.StepState{},
		Run: expression.Run{ID: info.ID, Target: info.Target, Plan: info.Plan, Attempt: info.Session}}
	if needSteps {
		for _, id := range st.StepIDs() {
			status, outputs, _ := st.Step(id)
			env.Steps[id] = expression.StepState{Status: status, Outputs: outputs}
		}
	}
	if needLive {
		live, err := ObserveLive(ctx, e.Target)
		if err != nil {
			return nil, err
		}
		env.Live = *live
	}
	return env, nil
}

// Guard implements runner.Evaluator.
func (e *Evaluator) Guard(ctx context.Context, step *stepgraph.Step, st runner.State) (bool, string, error) {
	if step.Guard == nil || step.Guard.Expr == "" {
		return true, "", nil
	}
	prog, err := expression.Compile(step.Guard.Expr, expression.Bool)
	if err != nil {
		return false, "", exprFailed(step, step.Guard.Pos, "guard", err)
	}
	env, err := e.env(ctx, step, st, prog.References("steps"), prog.References("live"))
	if err != nil {
		return false, "", err
	}
	ok, err := prog.EvalBool(env)
	if err != nil {
		return false, "", exprFailed(step, step.Guard.Pos, "guard", err)
	}
	if ok {
		return true, "", nil
	}
	return false, describe(prog, env), nil
}

// describe lists the values of the roots an expression read, so a failed
// guard shows what it saw.
func describe(p *expression.Program, env *expression.Env) string {
	var parts []string
	if p.References("live") {
		var shards []string
		for _, s := range env.Live.Shards {
			shards = append(shards, fmt.Sprintf("%s(online=%t, mappings=%d, rows=%d)", s.Name, s.Online, s.Mappings, s.Rows))
		}
		if len(shards) > 0 {
			parts = append(parts, "live.shards = ["+strings.Join(shards, ", ")+"]")
			parts = append(parts, fmt.Sprintf("live.pendingOperations = %d", env.Live.PendingOperations))
		}
		if len(env.Live.Differences) > 0 {
			var ds []string
			for _, d := range env.Live.Differences {
				ds = append(ds, fmt.Sprintf("%s %s/%s: %s", d.Kind, d.Server, d.Database, d.Detail))
			}
			parts = append(parts, "live.differences = ["+strings.Join(ds, "; ")+"]")
		}
		var links, endpoints []string
		for _, l := range env.Live.Links {
			links = append(links, fmt.Sprintf("%s->%s(%s, lag %.0fs)", l.Primary, l.Secondary, l.State, l.LagSeconds))
		}
		for _, e := range env.Live.Endpoints {
			endpoints = append(endpoints, fmt.Sprintf("%s/%s(online=%t, priority=%d, serving=%t)", e.Profile, e.Name, e.Online, e.Priority, e.Serving))
		}
		if len(links) > 0 {
			parts = append(parts, "live.links = ["+strings.Join(links, ", ")+"]")
		}
		if len(endpoints) > 0 {
			parts = append(parts, "live.endpoints = ["+strings.Join(endpoints, ", ")+"]")
		}
	}
	if p.References("steps") {
		ids := make([]string, 0, len(env.Steps))
		for id := range env.Steps {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("steps[%q] = {status: %s, outputs: %v}", id, env.Steps[id].Status, env.Steps[id].Outputs))
		}
	}
	if p.References("params") {
		parts = append(parts, fmt.Sprintf("params = %v", env.Params))
	}
	if p.References("run") {
		parts = append(parts, fmt.Sprintf("run = %+v", env.Run))
	}
	return strings.Join(parts, "; ")
}

// Inputs implements runner.Evaluator.
func (e *Evaluator) Inputs(ctx context.Context, step *stepgraph.Step, st runner.State) (steps.Inputs, error) {
	interpolated, needSteps, needLive := false, false, false
	walkStrings(step.With, func(s string) {
		if expression.HasInterpolation(s) {
			interpolated = true
			needSteps = needSteps || strings.Contains(s, "steps")
			needLive = needLive || strings.Contains(s, "live")
		}
	})
	if !interpolated {
		return steps.Inputs(maps.Clone(step.With)), nil
	}
	env, err := e.env(ctx, step, st, needSteps, needLive)
	if err != nil {
		return nil, err
	}
	out, err := expression.Interpolate(map[string]any(step.With), env)
	if err != nil {
		return nil, exprFailed(step, diag.Pos{}, "inputs", err)
	}
	m, _ := out.(map[string]any)
	return steps.Inputs(m), nil
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// ObserveLive renders the target's live state for expressions.
func ObserveLive(ctx context.Context, target fleet.Target) (*expression.Live, error) {
	live := &expression.Live{}
	if cp, ok := target.(fleet.ControlPlane); ok {
		if err := observeControlPlane(ctx, cp, live); err != nil {
			return nil, err
		}
	}
	obs, ok := target.(fleet.Observer)
	if !ok {
		return live, nil
	}
	layout, err := obs.Observe(ctx, "")
	if errors.Is(err, fleet.ErrNotFound) {
		return live, nil // no shard maps in this fleet
	}
	if err != nil {
		return nil, err
	}
	for _, m := range layout.Maps {
		live.PendingOperations += len(m.Pending)
		for _, d := range m.Differences {
			ld := expression.LiveDifference{ShardMap: m.Map.Name, Shard: d.Shard.Database, Server: d.Shard.Server,
				Database: d.Shard.Database, Kind: d.Kind, Detail: d.Detail, Token: d.Token}
			if d.Min != nil {
				ld.Low, ld.High = shardkey.FormatBound(m.Map.KeyType, d.Min), shardkey.FormatBound(m.Map.KeyType, d.Max)
			}
			live.Differences = append(live.Differences, ld)
		}
		for _, p := range m.Pending {
			live.Differences = append(live.Differences, expression.LiveDifference{ShardMap: m.Map.Name, Kind: "PendingOperation",
				Detail: fmt.Sprintf("operation %s (%s) is pending in OperationsLogGlobal", p.ID, p.Name)})
		}
		perShard := map[string]int{}
		for _, mp := range m.Mappings {
			perShard[mp.ShardID.String()]++
			live.Mappings = append(live.Mappings, expression.LiveMapping{
				Low: shardkey.FormatBound(m.Map.KeyType, mp.Min), High: shardkey.FormatBound(m.Map.KeyType, mp.Max),
				Shard: mp.Location.Database, Online: mp.Online, Locked: mp.LockOwner != [16]byte{}})
		}
		for _, s := range m.Shards {
			var rows int64
			for _, t := range m.Tables.Sharded {
				rows += s.RowCounts[t.Table]
			}
			live.Shards = append(live.Shards, expression.LiveShard{Name: s.Shard.Location.Database, Server: s.Shard.Location.Server,
				Database: s.Shard.Location.Database, Online: s.Exists && s.Shard.Status == fleet.ShardOnline,
				Mappings: perShard[s.Shard.ID.String()], Rows: rows})
		}
	}
	return live, nil
}

// observeControlPlane fills the databases, links, endpoints, slots,
// failover groups and elastic pools of live.
func observeControlPlane(ctx context.Context, cp fleet.ControlPlane, live *expression.Live) error {
	if admin, ok := cp.(fleet.DatabaseAdmin); ok {
		dbs, err := admin.Databases(ctx)
		if err != nil {
			return err
		}
		for _, loc := range dbs {
			info, err := cp.Database(ctx, loc)
			if errors.Is(err, fleet.ErrNoDatabase) {
				continue
			}
			if err != nil {
				return err
			}
			live.Databases = append(live.Databases, expression.LiveDatabase{Server: info.Server, Name: info.Database,
				Role: string(info.Role), ReadOnly: !info.Writable(), SizeBytes: info.SizeBytes})
		}
	}
	links, err := cp.Links(ctx)
	if err != nil {
		return err
	}
	for _, l := range links {
		live.Links = append(live.Links, expression.LiveLink{Primary: l.Primary.String(), Secondary: l.Secondary.String(),
			State: string(l.State), LagSeconds: l.LagSeconds})
	}
	profiles, err := cp.Profiles(ctx)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		for _, e := range p.Endpoints {
			live.Endpoints = append(live.Endpoints, expression.LiveEndpoint{Profile: p.Name, Name: e.Name, Online: e.Online,
				Priority: e.Priority, Serving: e.Name == p.Serving})
		}
	}
	slots, err := cp.Slots(ctx)
	if err != nil {
		return err
	}
	for _, s := range slots {
		live.Slots = append(live.Slots, expression.LiveSlot{Name: s.Name, Version: s.Version, Server: s.Database.Server, Database: s.Database.Database})
	}
	if m, ok := cp.(fleet.FailoverGroupManager); ok {
		gs, err := m.FailoverGroups(ctx, "")
		if err != nil {
			return err
		}
		for _, g := range gs {
			live.FailoverGroups = append(live.FailoverGroups, expression.LiveFailoverGroup{Name: g.Name, Primary: g.Primary, Secondary: g.Secondary,
				Databases: g.Databases, State: string(g.State), ReadWritePolicy: g.ReadWritePolicy})
		}
	}
	if r, ok := cp.(fleet.ElasticPoolReader); ok {
		pools, err := r.ElasticPools(ctx, "")
		if err != nil {
			return err
		}
		for _, p := range pools {
			live.ElasticPools = append(live.ElasticPools, expression.LiveElasticPool{Server: p.Server, Name: p.Name, SKU: p.SKU, Capacity: p.Capacity, Databases: p.Databases})
		}
	}
	return nil
}

// ExprError is an expression of a step that failed while the run evaluated
// it (a budget, a missing value), placed where the plan writes it.
type ExprError struct {
	Pos  diag.Pos
	Step string
	What string // "guard", "inputs"
	Err  error
}

func (e *ExprError) Error() string { return e.Diagnostic().String() }

// Diagnostic is the error as a diagnostic at its position, with a hint.
func (e *ExprError) Diagnostic() diag.Diagnostic {
	hint := expression.HintOf(e.Err)
	if hint == "" {
		hint = "the expression runs when the step does, against live, params, steps and run; check the values it reads (`fleetplan status RUN` shows the step)"
	}
	return diag.Diagnostic{Pos: e.Pos, Message: fmt.Sprintf("step %q %s: %v", e.Step, e.What, e.Err), Hint: hint}
}

func (e *ExprError) Unwrap() error { return e.Err }

// exprFailed places an expression error of step: inside the expression's
// text when the plan file still holds it at (or after) at, else at the step.
func exprFailed(step *stepgraph.Step, at diag.Pos, what string, err error) error {
	return placeExprError(step.ID, step.Pos, at, what, err)
}

func placeExprError(id string, stepPos, at diag.Pos, what string, err error) error {
	if at.Line == 0 {
		at = stepPos
	}
	pos := at
	var ee *expression.Error
	if errors.As(err, &ee) {
		pos = plans.ExprPos(at, ee.Text, ee.Line, ee.Column)
	}
	return &ExprError{Pos: pos, Step: id, What: what, Err: err}
}
