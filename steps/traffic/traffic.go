package traffic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
)

// Action names.
const (
	AddEndpointName    = "traffic.add-endpoint"
	RemoveEndpointName = "traffic.remove-endpoint"
	SetStatusName      = "traffic.set-endpoint-status"
	SwitchName         = "traffic.switch-traffic"
)

func init() {
	steps.Register(AddEndpointName, AddEndpoint{})
	steps.Register(RemoveEndpointName, RemoveEndpoint{})
	steps.Register(SetStatusName, SetStatus{})
	steps.Register(SwitchName, Switch{})
}

const change = 5 * time.Second // a traffic-manager update

func endpointRef(profile, name string, changes bool) steps.Ref {
	return steps.Ref{Kind: steps.RefEndpoint, Name: profile + "/" + name, Changes: changes}
}

func literal(in steps.Inputs, keys ...string) bool {
	for _, k := range keys {
		s, ok := in[k].(string)
		if !ok || s == "" || strings.Contains(s, "${{") {
			return false
		}
	}
	return true
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
	ar := steps.ArgsOf(AddEndpointName, in)
	e := fleet.Endpoint{Profile: ar.String("profile"), Name: ar.String("endpoint"), Target: ar.String("target"),
		Online: ar.Bool("online", false), Priority: ar.Int("priority", 0)}
	return e, ar.Err()
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
	if err := steps.HitFault(AddEndpointName); err != nil {
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
	if !literal(in, "profile", "endpoint") {
		return steps.Anything()
	}
	return []steps.Ref{endpointRef(in["profile"].(string), in["endpoint"].(string), true)}
}

// RemoveEndpoint removes an endpoint from a profile.
//
// Inputs: profile, endpoint. Observe: the endpoint does not exist. Apply:
// removes it, refusing the serving endpoint; outputs the removed endpoint's
// target, priority and status (for a rollback branch that adds it back).
// Rollback: none of its own. Estimate: seconds.
type RemoveEndpoint struct{}

func removeArgs(in steps.Inputs) (string, string, error) {
	ar := steps.ArgsOf(RemoveEndpointName, in)
	p, n := ar.String("profile"), ar.String("endpoint")
	return p, n, ar.Err()
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
	if err := steps.HitFault(RemoveEndpointName); err != nil {
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
	if !literal(in, "profile", "endpoint") {
		return steps.Anything()
	}
	return []steps.Ref{endpointRef(in["profile"].(string), in["endpoint"].(string), true)}
}

// SetStatus takes an endpoint online or offline.
//
// Inputs: profile, endpoint, status (online or offline). Observe: the status
// is already as wanted. Apply: sets it. Rollback: the opposite status.
// Estimate: seconds.
type SetStatus struct{}

func statusArgs(in steps.Inputs) (string, string, bool, error) {
	ar := steps.ArgsOf(SetStatusName, in)
	p, n := ar.String("profile"), ar.String("endpoint")
	online := ar.OneOf("status", ar.String("status"), "online", "offline") == "online"
	return p, n, online, ar.Err()
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
	if err := steps.HitFault(SetStatusName); err != nil {
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
	if !literal(in, "profile", "endpoint") {
		return steps.Anything()
	}
	return []steps.Ref{endpointRef(in["profile"].(string), in["endpoint"].(string), true)}
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
	ar := steps.ArgsOf(SwitchName, in)
	profile, from, to = ar.String("profile"), ar.String("from"), ar.String("to")
	return profile, from, to, ar.Err()
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
			return &fleet.Error{Op: SwitchName, Target: profile,
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
	if err := steps.HitFault(SwitchName); err != nil {
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
		return &fleet.Error{Op: SwitchName, Target: slot.Database.String(),
			Err:  fmt.Errorf("refusing to %s: the %s driver cannot tell what was written to %s since the switch (%w)", what, env.Target.Driver(), slot.Database, fleet.ErrWritesSinceSwitch),
			Hint: "nothing was changed; `fleetplan rollback RUN --discard-writes-since-switch` switches back anyway and keeps the database"}
	}
	if !tracked || len(changes) == 0 {
		return nil
	}
	if !env.DiscardWritesSinceSwitch {
		return steps.LossError(SwitchName, env, what, slot.Database, changes, true)
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
	if !literal(in, "profile", "from", "to") {
		return steps.Anything()
	}
	p := in["profile"].(string)
	return []steps.Ref{endpointRef(p, in["from"].(string), true), endpointRef(p, in["to"].(string), true)}
}
