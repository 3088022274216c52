package livestate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// Actions whose production use opens and closes the read-only window.
const (
	actionFreeze = stepspec.SetReadOnlyName
	actionSwitch = stepspec.SwitchName
)

func init() { planner.RegisterKind(rollingUpgrade{}) }

// rollingUpgrade is the RollingUpgrade kind: the databases, app slots and
// endpoints the expanded steps name, as the step registry's actions report
// them, planned by planner.PlanRollingUpgrade.
type rollingUpgrade struct{}

var (
	_ planner.Kind      = rollingUpgrade{}
	_ planner.EndStater = rollingUpgrade{}
)

func (rollingUpgrade) Name() string { return plans.KindRollingUpgrade }

func (rollingUpgrade) Fingerprint(ctx context.Context, doc *plans.Document, target fleet.Target) (string, error) {
	return newUpgradeLive(doc, target).Fingerprint(ctx, doc.Steps)
}

// Plan observes what an upgrade's steps touch and plans it. Its options
// come from the runs of this plan (durations measured per step), not opt.
func (rollingUpgrade) Plan(ctx context.Context, doc *plans.Document, target fleet.Target, _ planner.Options) (*stepgraph.Graph, diag.List) {
	live := newUpgradeLive(doc, target)
	if diags := checkUpgradeNames(ctx, doc, live); diags.HasErrors() {
		return nil, diags
	}
	opt := planner.Options{}
	if doc.Config != nil {
		opt.Measured = runhistory.StepDurations(runhistory.StateDir(doc.Config), doc.Metadata.Name)
		if err := live.readKept(runhistory.StateDir(doc.Config)); err != nil {
			var diags diag.List
			diags.Errorf(doc.Pos, "read earlier runs: %v", err).WithHint("check that .fleetplan/runs beside fleetplan.yaml is readable; fleetplan runs lists the runs")
			return nil, diags
		}
	}
	g, diags := planner.PlanRollingUpgrade(ctx, doc, live, opt)
	if g != nil {
		if abs, err := filepath.Abs(g.Source); err == nil {
			g.Source = abs
		}
		for id := range live.usedKept {
			g.RemoveKept = append(g.RemoveKept, id)
		}
		sort.Strings(g.RemoveKept)
		for _, id := range g.RemoveKept {
			g.Warnings = append(g.Warnings, fmt.Sprintf("run %s kept %s for analysis after it failed; apply removes them first "+
				"(as `fleetplan rollback %s` does) and the steps below are planned without them", id, strings.Join(live.keptNames(id), ", "), id))
		}
		if doc.Config != nil && !g.Empty() && len(g.RemoveKept) == 0 && planner.RoundTrip(g, live.facts) && live.described(g) {
			endState := func(old *stepgraph.Graph) (string, error) { return rollingUpgrade{}.EndState(ctx, target, old) }
			if id := runhistory.FinishedUnchanged(runhistory.StateDir(doc.Config), g, endState); id != "" {
				g.Steps, g.Changes, g.ReadOnly = nil, nil, nil
				g.Warnings = append(g.Warnings, fmt.Sprintf("run %s applied this plan, and nothing its steps touch has changed since", id))
			}
		}
	}
	return g, diags
}

// readKept notes what earlier runs on the target keep for analysis: a new
// run that touches those objects removes them first, so its steps must not
// take them for their own effect.
func (u *upgradeLive) readKept(stateDir string) error {
	kept, err := runner.KeptSteps(stateDir, u.target.Name())
	if err != nil {
		return err
	}
	for id, ss := range kept {
		for _, s := range ss {
			a, err := steps.Lookup(s.Action)
			if err != nil {
				continue
			}
			refs, _ := steps.Touches(a, steps.Inputs(s.With))
			for _, ref := range refs {
				if ref.Changes {
					if u.kept == nil {
						u.kept = map[string]string{}
					}
					u.kept[refKey(ref)] = id
				}
			}
		}
	}
	return nil
}

// keptNames lists the objects run id keeps, sorted.
func (u *upgradeLive) keptNames(id string) []string {
	var out []string
	for k, run := range u.kept {
		if run == id {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// EndState describes the live state of everything a RollingUpgrade graph's
// steps (and their rollback branches) touch, as the fingerprint does. It is
// what runner.Options.EndState records at run-done.
func (rollingUpgrade) EndState(ctx context.Context, target fleet.Target, g *stepgraph.Graph) (string, error) {
	specs := make([]*plans.StepSpec, 0, len(g.Steps))
	for _, s := range g.Steps {
		sp := &plans.StepSpec{ID: s.ID, Action: s.Action, With: s.With, Params: s.Params}
		if b := s.Rollback; b != nil {
			sp.Rollback = &plans.StepSpec{Action: b.Action, With: b.With, Params: b.Params}
		}
		specs = append(specs, sp)
	}
	u := &upgradeLive{target: target}
	u.cp, _ = target.(fleet.ControlPlane)
	return u.Fingerprint(ctx, specs)
}

// described reports whether the fingerprint describes every object the
// steps of g touch (databases, slots, endpoints and failover groups; not
// shard maps).
func (u *upgradeLive) described(g *stepgraph.Graph) bool {
	for _, s := range g.Steps {
		for _, t := range u.facts[s.ID].Touches {
			kind, _, _ := strings.Cut(t.Object, " ")
			if kind != steps.RefDatabase && kind != steps.RefSlot && kind != steps.RefEndpoint && kind != steps.RefFailoverGroup {
				return false
			}
		}
	}
	return true
}

// upgradeLive implements planner.UpgradeLive with the step registry.
type upgradeLive struct {
	target  fleet.Target
	cp      fleet.ControlPlane // nil when the driver has none
	baseDir string
	roots   confine.Roots   // where step inputs may name files
	prod    map[string]bool // "kind name" of objects serving production now; nil until read
	// kept maps "kind name" of objects that failed runs keep for analysis to
	// the run; usedKept collects the runs whose objects the plan touches.
	kept     map[string]string
	usedKept map[string]bool
	facts    map[string]planner.StepFacts // what Facts reported, by step id
}

var _ planner.UpgradeLive = (*upgradeLive)(nil)

func newUpgradeLive(doc *plans.Document, target fleet.Target) *upgradeLive {
	u := &upgradeLive{target: target, facts: map[string]planner.StepFacts{}}
	u.cp, _ = target.(fleet.ControlPlane)
	if abs, err := filepath.Abs(doc.File); err == nil {
		u.baseDir = filepath.Dir(abs)
	}
	if doc.Config != nil {
		u.roots = doc.Config.Roots()
	}
	return u
}

// inputs resolves a step's `with:` as far as plan time allows: params (and
// live) interpolations. ok is false when some input depends on the run.
func (u *upgradeLive) inputs(ctx context.Context, with map[string]any, params map[string]any) (steps.Inputs, bool, error) {
	ok, needLive := true, false
	walkStrings(with, func(s string) {
		if !expression.HasInterpolation(s) {
			return
		}
		t, err := expression.CompileInterp(s)
		if err != nil {
			ok = false
			return
		}
		for _, r := range t.Refs() {
			switch r {
			case "live":
				needLive = true
			case "params":
			default:
				ok = false
			}
		}
	})
	if !ok {
		return steps.Inputs(with), false, nil
	}
	env := &expression.Env{Params: params}
	if needLive {
		l, err := ObserveLive(ctx, u.target)
		if err != nil {
			return nil, false, err
		}
		env.Live = *l
	}
	out, err := expression.Interpolate(map[string]any(with), env)
	if err != nil {
		return nil, false, err
	}
	m, _ := out.(map[string]any)
	return steps.Inputs(m), true, nil
}

// Facts implements planner.UpgradeLive.
func (u *upgradeLive) Facts(ctx context.Context, s *plans.StepSpec) (planner.StepFacts, error) {
	f, err := u.stepFacts(ctx, s)
	if err == nil && u.facts != nil {
		u.facts[s.ID] = f
	}
	return f, err
}

func (u *upgradeLive) stepFacts(ctx context.Context, s *plans.StepSpec) (planner.StepFacts, error) {
	var f planner.StepFacts
	action, err := steps.Lookup(s.Action)
	if err != nil {
		return f, err
	}
	in, resolved, err := u.inputs(ctx, s.With, s.Params)
	if err != nil {
		return f, placeExprError(s.ID, s.Pos, diag.Pos{}, "inputs", err)
	}
	env := &steps.Env{Target: u.target, StepID: s.ID, BaseDir: u.baseDir, Roots: u.roots}
	est := action.Estimate(in)
	if le, ok := action.(steps.LiveEstimator); ok && resolved {
		if e, err := le.EstimateLive(ctx, env, in); err == nil {
			est = e
		}
	}
	f.Estimate = stepgraph.Estimate{Duration: est.Duration, Unavailable: est.Unavailable, Rows: est.Rows, Basis: est.Basis}
	f.EstimateIsHint = est.Hint
	_, f.Gate = action.(steps.Gate)
	if ag, ok := action.(steps.ApprovalGate); ok {
		f.Approval = !resolved || ag.NeedsApproval(in)
	}
	if !resolved {
		return f, nil // inputs known only at run time: it may touch anything
	}
	if f.Live, err = action.Observe(ctx, env, in); err != nil {
		return f, err
	}
	refs, all := steps.Touches(action, in)
	f.TouchesKnown = !all
	if u.kept != nil {
		for _, ref := range refs {
			if run, kept := u.kept[refKey(ref)]; kept {
				// Removed before the run starts: not this plan's effect.
				f.Live = false
				if u.usedKept == nil {
					u.usedKept = map[string]bool{}
				}
				u.usedKept[run] = true
			}
		}
	}
	if len(refs) > 0 {
		prod, err := u.production(ctx)
		if err != nil {
			return f, err
		}
		for _, ref := range refs {
			f.Touches = append(f.Touches, planner.Touch{Object: refKey(ref), Changes: ref.Changes})
			if ref.Changes && prod[refKey(ref)] {
				f.Production = true
			}
		}
	}
	_, f.Irreversible = steps.IrreversibleWith(action, in)
	comp := action
	if s.Rollback != nil {
		if c, err := steps.Lookup(s.Rollback.Action); err == nil {
			comp = c
		}
	}
	_, f.RollbackChecksWrites = comp.(steps.LossChecker)
	f.ReadOnlyStarts = f.Production && s.Action == actionFreeze
	f.ReadOnlyEnds = f.Production && s.Action == actionSwitch
	return f, nil
}

func refKey(r steps.Ref) string { return r.Kind + " " + strings.ToLower(r.Name) }

// production lists what serves now: every profile's serving endpoint, its
// app slot and the slot's database.
func (u *upgradeLive) production(ctx context.Context) (map[string]bool, error) {
	if u.prod != nil || u.cp == nil {
		return u.prod, nil
	}
	u.prod = map[string]bool{}
	profiles, err := u.cp.Profiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if p.Serving == "" {
			continue
		}
		u.prod[refKey(steps.Ref{Kind: steps.RefEndpoint, Name: p.Name + "/" + p.Serving})] = true
		for _, e := range p.Endpoints {
			if !strings.EqualFold(e.Name, p.Serving) {
				continue
			}
			u.prod[refKey(steps.Ref{Kind: steps.RefSlot, Name: e.Target})] = true
			if s, err := u.cp.Slot(ctx, e.Target); err == nil {
				u.prod[refKey(steps.Ref{Kind: steps.RefDatabase, Name: s.Database.String()})] = true
			}
		}
	}
	// A failover group serves production when one of its databases does.
	if m, ok := u.target.(fleet.FailoverGroupManager); ok {
		gs, err := m.FailoverGroups(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			for _, db := range g.Databases {
				for _, server := range []string{g.Primary, g.Secondary} {
					if u.prod[refKey(steps.Ref{Kind: steps.RefDatabase, Name: server + "/" + db})] {
						u.prod[refKey(steps.Ref{Kind: steps.RefFailoverGroup, Name: g.Name})] = true
					}
				}
			}
		}
	}
	return u.prod, nil
}

// Desired implements planner.UpgradeLive.
func (u *upgradeLive) Desired(ctx context.Context, d plans.UpgradeDesired) (bool, string, error) {
	if u.cp == nil {
		return false, "", fmt.Errorf("the %s driver has no traffic manager to observe", u.target.Driver())
	}
	profiles, err := u.cp.Profiles(ctx)
	if err != nil {
		return false, "", err
	}
	var now []string
	reached := false
	for _, p := range profiles {
		has := d.Endpoint == ""
		for _, e := range p.Endpoints {
			has = has || strings.EqualFold(e.Name, d.Endpoint)
		}
		if !has {
			continue
		}
		if p.Serving == "" {
			now = append(now, fmt.Sprintf("nothing serves profile %s", p.Name))
			continue
		}
		version := ""
		for _, e := range p.Endpoints {
			if strings.EqualFold(e.Name, p.Serving) {
				if s, err := u.cp.Slot(ctx, e.Target); err == nil {
					version = s.Version
				}
			}
		}
		now = append(now, fmt.Sprintf("%s serves version %s (profile %s)", p.Serving, version, p.Name))
		if (d.Endpoint == "" || strings.EqualFold(p.Serving, d.Endpoint)) && (d.Version == "" || version == d.Version) {
			reached = true
		}
	}
	if len(now) == 0 {
		now = []string{fmt.Sprintf("no traffic-manager profile has an endpoint %s yet", d.Endpoint)}
	}
	return reached, strings.Join(now, "; "), nil
}

// Fingerprint implements planner.UpgradeLive: a hash of every database,
// slot and traffic-manager profile the steps (and their rollback branches)
// name, as the control plane reports them (seeding progress left out: it
// moves with time alone).
func (u *upgradeLive) Fingerprint(ctx context.Context, specs []*plans.StepSpec) (string, error) {
	objects := map[string]bool{}
	addRefs := func(action string, with, params map[string]any) error {
		a, err := steps.Lookup(action)
		if err != nil {
			return err
		}
		r, ok := a.(steps.Referrer)
		if !ok {
			return nil
		}
		in, resolved, err := u.inputs(ctx, with, params)
		if err != nil || !resolved {
			return err
		}
		for _, ref := range r.Refs(in) {
			if ref.Kind != steps.RefAnything {
				objects[refKey(ref)] = true
			}
		}
		return nil
	}
	for _, s := range specs {
		if err := addRefs(s.Action, s.With, s.Params); err != nil {
			return "", err
		}
		if s.Rollback != nil {
			if err := addRefs(s.Rollback.Action, s.Rollback.With, s.Rollback.Params); err != nil {
				return "", err
			}
		}
	}
	keys := make([]string, 0, len(objects))
	for k := range objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		state, err := u.describe(ctx, k)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s=%s\n", k, state)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// describe renders the state of one object for the fingerprint.
func (u *upgradeLive) describe(ctx context.Context, key string) (string, error) {
	if u.cp == nil {
		return "", nil
	}
	kind, name, _ := strings.Cut(key, " ")
	switch kind {
	case steps.RefDatabase:
		server, db, _ := strings.Cut(name, "/")
		info, err := u.cp.Database(ctx, fleet.Location{Server: server, Database: db})
		if errors.Is(err, fleet.ErrNoDatabase) {
			return "absent", nil
		}
		if err != nil {
			return "", err
		}
		link := ""
		if l, err := u.cp.LinkTo(ctx, info.Location); err == nil {
			link = l.Primary.String()
		}
		return fmt.Sprintf("ro=%t role=%s origin=%s link=%s", info.ReadOnly, info.Role, info.Origin, link), nil
	case steps.RefSlot:
		s, err := u.cp.Slot(ctx, name)
		if errors.Is(err, fleet.ErrNotFound) {
			return "absent", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("version=%s db=%s", s.Version, strings.ToLower(s.Database.String())), nil
	case steps.RefEndpoint:
		profile, _, _ := strings.Cut(name, "/")
		p, err := u.cp.Profile(ctx, profile)
		if errors.Is(err, fleet.ErrNotFound) {
			return "absent", nil
		}
		if err != nil {
			return "", err
		}
		var parts []string
		for _, e := range p.Endpoints {
			parts = append(parts, fmt.Sprintf("%s:%s:%t:%d", strings.ToLower(e.Name), strings.ToLower(e.Target), e.Online, e.Priority))
		}
		return strings.Join(parts, ","), nil
	case steps.RefFailoverGroup:
		m, ok := u.target.(fleet.FailoverGroupManager)
		if !ok {
			return "", nil
		}
		for _, g := range u.groups(ctx, m) {
			if strings.EqualFold(g.Name, name) {
				return fmt.Sprintf("primary=%s secondary=%s dbs=%s", strings.ToLower(g.Primary), strings.ToLower(g.Secondary), strings.ToLower(strings.Join(g.Databases, ","))), nil
			}
		}
		return "absent", nil
	}
	return "", nil
}

// groups lists the fleet's failover groups (none when they cannot be read:
// the step that needs one then says why).
func (u *upgradeLive) groups(ctx context.Context, m fleet.FailoverGroupManager) []fleet.FailoverGroup {
	gs, _ := m.FailoverGroups(ctx, "")
	return gs
}
