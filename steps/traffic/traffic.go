package traffic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() {
	steps.Register(stepspec.AddEndpointName, AddEndpoint{})
	steps.Register(stepspec.RemoveEndpointName, RemoveEndpoint{})
	steps.Register(stepspec.SetStatusName, SetStatus{})
	steps.Register(stepspec.SwitchName, Switch{})
}

// The compiler holds each action to the interfaces the runner and the
// planner look for.
var (
	_ steps.Action      = AddEndpoint{}
	_ steps.Referrer    = AddEndpoint{}
	_ steps.Action      = RemoveEndpoint{}
	_ steps.Referrer    = RemoveEndpoint{}
	_ steps.Action      = SetStatus{}
	_ steps.Referrer    = SetStatus{}
	_ steps.Action      = Switch{}
	_ steps.Referrer    = Switch{}
	_ steps.LossChecker = Switch{}
)

var (
	_ steps.Action      = AddEndpoint{}
	_ steps.Referrer    = AddEndpoint{}
	_ steps.Action      = RemoveEndpoint{}
	_ steps.Referrer    = RemoveEndpoint{}
	_ steps.Action      = SetStatus{}
	_ steps.Referrer    = SetStatus{}
	_ steps.Action      = Switch{}
	_ steps.LossChecker = Switch{}
	_ steps.Referrer    = Switch{}
)

const change = 5 * time.Second // a traffic-manager update

func endpointRef(profile, name string, changes bool) steps.Ref {
	return steps.Ref{Kind: steps.RefEndpoint, Name: profile + "/" + name, Changes: changes}
}

// endpointRefs names the one endpoint a step changes, or Anything while
// its name is not known.
func endpointRefs(e stepspec.Endpoint) []steps.Ref {
	if !steps.Literal(e.Profile, e.Endpoint) {
		return steps.Anything()
	}
	return []steps.Ref{endpointRef(e.Profile, e.Endpoint, true)}
}

// find returns an endpoint of a profile; ok is false when the profile or the
// endpoint does not exist.
func find(ctx context.Context, cp fleet.ControlPlane, profile, name string) (fleet.Profile, fleet.Endpoint, bool, error) {
	p, err := cp.Profile(ctx, profile)
	if errors.Is(err, fleet.ErrNotFound) {
		return p, fleet.Endpoint{}, false, nil
	}
	if err != nil {
		return p, fleet.Endpoint{}, false, err
	}
	for _, e := range p.Endpoints {
		if strings.EqualFold(e.Name, name) {
			return p, e, true, nil
		}
	}
	return p, fleet.Endpoint{}, false, nil
}

// AddEndpoint adds an endpoint to a traffic-manager profile (creating the
// profile with priority routing when new).
//
// Inputs: profile, endpoint, target (the app slot it sends traffic to),
// online (default false), priority (default: after every other endpoint).
// Observe: the endpoint exists with that target. Apply: adds it; outputs its
// priority. Rollback: removes it unless it serves. Estimate: seconds.
type AddEndpoint struct{}

func addArgs(in steps.Inputs) (fleet.Endpoint, error) {
	spec, err := steps.ParseSpec[stepspec.AddEndpoint](in)
	e := fleet.Endpoint{Profile: spec.Profile, Name: spec.Endpoint.Endpoint, Target: spec.Target, Online: spec.Online, Priority: spec.Priority}
	return e, err
}

// Observe implements steps.Action.
func (AddEndpoint) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	want, cp, err := steps.Prepare(env, in, addArgs)
	if err != nil {
		return false, err
	}
	_, e, ok, err := find(ctx, cp, want.Profile, want.Name)
	return ok && strings.EqualFold(e.Target, want.Target), err
}

// Apply implements steps.Action.
func (AddEndpoint) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	want, cp, err := steps.Prepare(env, in, addArgs)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.AddEndpointName); err != nil {
		return nil, err
	}
	e, err := cp.AddEndpoint(ctx, want)
	if err != nil {
		return nil, err
	}
	env.Logf("endpoint %s/%s -> slot %s, priority %d, online %t", e.Profile, e.Name, e.Target, e.Priority, e.Online)
	return steps.Outputs{"priority": e.Priority, "online": e.Online}, nil
}

// Rollback implements steps.Action.
func (AddEndpoint) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	want, cp, err := steps.Prepare(env, in, addArgs)
	if err != nil {
		return err
	}
	return cp.RemoveEndpoint(ctx, want.Profile, want.Name)
}

// Estimate implements steps.Action.
func (AddEndpoint) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: change, Basis: "a traffic-manager update"}
}

// Refs implements steps.Referrer.
func (AddEndpoint) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.AddEndpoint](in)
	return endpointRefs(spec.Endpoint)
}

// RemoveEndpoint removes an endpoint from a profile.
//
// Inputs: profile, endpoint. Observe: the endpoint does not exist. Apply:
// removes it, refusing the serving endpoint; outputs the removed endpoint's
// target, priority and status (for a rollback branch that adds it back).
// Rollback: none of its own. Estimate: seconds.
type RemoveEndpoint struct{}

func removeArgs(in steps.Inputs) (string, string, error) {
	spec, err := steps.ParseSpec[stepspec.RemoveEndpoint](in)
	return spec.Profile, spec.Endpoint.Endpoint, err
}

// Observe implements steps.Action.
func (RemoveEndpoint) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	profile, name, err := removeArgs(in)
	if err != nil {
		return false, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return false, err
	}
	_, _, ok, err := find(ctx, cp, profile, name)
	return !ok && err == nil, err
}

// Apply implements steps.Action.
func (RemoveEndpoint) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	profile, name, err := removeArgs(in)
	if err != nil {
		return nil, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.RemoveEndpointName); err != nil {
		return nil, err
	}
	_, e, ok, err := find(ctx, cp, profile, name)
	if err != nil {
		return nil, err
	}
	if err := cp.RemoveEndpoint(ctx, profile, name); err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	env.Logf("removed endpoint %s/%s (slot %s)", profile, name, e.Target)
	return steps.Outputs{"target": e.Target, "priority": e.Priority, "online": e.Online}, nil
}

// Rollback implements steps.Action.
func (RemoveEndpoint) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}

// Estimate implements steps.Action.
func (RemoveEndpoint) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: change, Basis: "a traffic-manager update"}
}

// Refs implements steps.Referrer.
func (RemoveEndpoint) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.RemoveEndpoint](in)
	return endpointRefs(spec.Endpoint)
}

// SetStatus takes an endpoint online or offline.
//
// Inputs: profile, endpoint, status (online or offline). Observe: the status
// is already as wanted. Apply: sets it. Rollback: the opposite status.
// Estimate: seconds.
type SetStatus struct{}

func statusArgs(in steps.Inputs) (string, string, bool, error) {
	spec, ar := steps.Parse[stepspec.SetStatus](in)
	online := ar.OneOf("status", spec.Status, "online", "offline") == "online"
	return spec.Profile, spec.Endpoint.Endpoint, online, ar.Err()
}

// Observe implements steps.Action.
func (SetStatus) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	profile, name, online, err := statusArgs(in)
	if err != nil {
		return false, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return false, err
	}
	_, e, ok, err := find(ctx, cp, profile, name)
	return ok && e.Online == online, err
}

func setStatus(ctx context.Context, env *steps.Env, profile, name string, online bool) error {
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return err
	}
	if err := cp.SetEndpointStatus(ctx, profile, name, online); err != nil {
		return err
	}
	env.Logf("endpoint %s/%s is %s", profile, name, map[bool]string{true: "online", false: "offline"}[online])
	return nil
}

// Apply implements steps.Action.
func (SetStatus) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	profile, name, online, err := statusArgs(in)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.SetStatusName); err != nil {
		return nil, err
	}
	return steps.Outputs{"online": online}, setStatus(ctx, env, profile, name, online)
}

// Rollback implements steps.Action.
func (SetStatus) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	profile, name, online, err := statusArgs(in)
	if err != nil {
		return err
	}
	return setStatus(ctx, env, profile, name, !online)
}

// Estimate implements steps.Action.
func (SetStatus) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: change, Basis: "a traffic-manager update"}
}

// Refs implements steps.Referrer.
func (SetStatus) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.SetStatus](in)
	return endpointRefs(spec.Endpoint)
}

// Switch moves a profile's traffic from one endpoint to another.
//
// Inputs: profile, from, to. Observe: `to` serves and `from` is offline (or
// gone). Apply: in one change, `to` goes online with `from`'s priority and
// `from` goes offline; refused, with the reason, when `to`'s app slot or
// database no longer exists. Rollback: switches back the same way (refused
// the same way when the old parts are gone). Estimate: seconds.
type Switch struct{}

func switchArgs(in steps.Inputs) (profile, from, to string, err error) {
	spec, err := steps.ParseSpec[stepspec.Switch](in)
	return spec.Profile, spec.From, spec.To, err
}

func switched(ctx context.Context, cp fleet.ControlPlane, profile, from, to string) (bool, error) {
	p, err := cp.Profile(ctx, profile)
	if errors.Is(err, fleet.ErrNotFound) {
		return false, nil
	}
	if err != nil || !strings.EqualFold(p.Serving, to) {
		return false, err
	}
	for _, e := range p.Endpoints {
		if strings.EqualFold(e.Name, from) && e.Online {
			return false, nil
		}
	}
	return true, nil
}

// Observe implements steps.Action.
func (Switch) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	profile, from, to, err := switchArgs(in)
	if err != nil {
		return false, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return false, err
	}
	return switched(ctx, cp, profile, from, to)
}

func doSwitch(ctx context.Context, env *steps.Env, profile, from, to string) error {
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return err
	}
	if err := cp.SwitchTraffic(ctx, profile, from, to); err != nil {
		var fe *fleet.Error
		if errors.As(err, &fe) && (errors.Is(err, fleet.ErrConflict) || errors.Is(err, fleet.ErrNotFound)) {
			return &fleet.Error{Op: stepspec.SwitchName, Target: profile,
				Err:  fmt.Errorf("refusing to switch traffic from %s to %s: %w", from, to, fe.Err),
				Hint: fmt.Sprintf("%s keeps serving; the parts %s needs must exist before traffic can move there", from, to)}
		}
		return err
	}
	env.Logf("traffic of %s: %s -> %s", profile, from, to)
	return nil
}

// Apply implements steps.Action. Run as a compensating step, it first
// checks that leaving `from` loses no writes (see CheckApply).
func (Switch) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	profile, from, to, err := switchArgs(in)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.SwitchName); err != nil {
		return nil, err
	}
	if env.Undo {
		if err := checkLeaving(ctx, env, profile, from, to); err != nil {
			return nil, err
		}
	}
	if err := doSwitch(ctx, env, profile, from, to); err != nil {
		return nil, err
	}
	return steps.Outputs{"serving": to}, nil
}

// Rollback implements steps.Action.
func (Switch) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	profile, from, to, err := switchArgs(in)
	if err != nil {
		return err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return err
	}
	if ok, err := switched(ctx, cp, profile, to, from); err != nil || ok {
		return err
	}
	if err := checkLeaving(ctx, env, profile, to, from); err != nil {
		return err
	}
	return doSwitch(ctx, env, profile, to, from)
}

// CheckApply implements steps.LossChecker: a switch run as a rollback
// branch leaves `from`, whose database may hold writes made since traffic
// reached it.
func (Switch) CheckApply(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	profile, from, to, err := switchArgs(in)
	if err != nil {
		return err
	}
	return checkLeaving(ctx, env, profile, from, to)
}

// CheckRollback implements steps.LossChecker: undoing a switch leaves `to`.
func (Switch) CheckRollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	profile, from, to, err := switchArgs(in)
	if err != nil {
		return err
	}
	return checkLeaving(ctx, env, profile, to, from)
}

// checkLeaving refuses to move a profile's traffic from `leaving` back to
// `back` when the database behind `leaving` holds writes made since traffic
// switched to it, unless the run was told to discard them. Traffic that
// does not reach `leaving` (already switched back, or never there) loses
// nothing.
func checkLeaving(ctx context.Context, env *steps.Env, profile, leaving, back string) error {
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return err
	}
	if done, err := switched(ctx, cp, profile, leaving, back); err != nil || done {
		return err
	}
	p, e, ok, err := find(ctx, cp, profile, leaving)
	if err != nil || !ok || !strings.EqualFold(p.Serving, leaving) {
		return err
	}
	slot, err := cp.Slot(ctx, e.Target)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	changes, tracked, err := steps.WritesSinceSwitch(ctx, env, slot.Database)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("switch traffic of %s back from %s to %s", profile, leaving, back)
	if _, can := env.Target.(fleet.WriteTracker); !can && !env.DiscardWritesSinceSwitch {
		return &fleet.Error{Op: stepspec.SwitchName, Target: slot.Database.String(),
			Err:  fmt.Errorf("refusing to %s: the %s driver cannot tell what was written to %s since the switch (%w)", what, env.Target.Driver(), slot.Database, fleet.ErrWritesSinceSwitch),
			Hint: "nothing was changed; `fleetplan rollback RUN --discard-writes-since-switch` switches back anyway and keeps the database"}
	}
	if !tracked || len(changes) == 0 {
		return nil
	}
	if !env.DiscardWritesSinceSwitch {
		return steps.LossError(stepspec.SwitchName, env, what, slot.Database, changes, true)
	}
	env.Logf("switching back although %s holds writes made since the switch (%s changed); the database is kept, not dropped", slot.Database, steps.Plural(len(changes), "table"))
	return nil
}

// Estimate implements steps.Action.
func (Switch) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: change, Basis: "a traffic-manager update"}
}

// Refs implements steps.Referrer.
func (Switch) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.Switch](in)
	if !steps.Literal(spec.Profile, spec.From, spec.To) {
		return steps.Anything()
	}
	return []steps.Ref{endpointRef(spec.Profile, spec.From, true), endpointRef(spec.Profile, spec.To, true)}
}
