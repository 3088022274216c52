package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() { steps.Register(stepspec.FailoverGroupName, FailoverGroup{}) }

var (
	_ steps.Action       = FailoverGroup{}
	_ steps.Referrer     = FailoverGroup{}
	_ steps.Irreversible = FailoverGroup{}
)

// FailoverGroup fails a failover group over, so that every database of the
// group takes writes on the other server at once: a planned region switch,
// or the database side of a rolling upgrade across regions.
//
// Inputs: group; server (the server that becomes the primary, the group's
// secondary now); mode (planned, the default: refused until the group's
// replication is healthy, and nothing is lost; or forced: at once, losing
// what has not replicated, which needs allowDataLoss: true). Observe: the
// server is the group's primary. Apply: fails over and waits for the end;
// a resumed run re-attaches to the operation it started. Rollback: a
// planned failover fails back (planned) to the server that was primary; a
// forced one cannot be undone (a point of no return: what it lost is
// gone). Estimate: a minute.
type FailoverGroup struct{}

type failoverArgs struct {
	group, server string
	forced        bool
	allowDataLoss bool
}

func failoverGroupArgs(in steps.Inputs) (failoverArgs, error) {
	spec, ar := steps.Parse[stepspec.FailoverGroup](in)
	mode := ar.OneOf("mode", spec.Mode, stepspec.FailoverPlanned, stepspec.FailoverForced)
	a := failoverArgs{group: spec.Group, server: spec.Server, forced: mode == stepspec.FailoverForced, allowDataLoss: spec.AllowDataLoss}
	if err := ar.Err(); err != nil {
		return a, err
	}
	if a.forced && !a.allowDataLoss {
		return a, &fleet.Error{Op: stepspec.FailoverGroupName, Target: "failover group " + a.group,
			Err:  fmt.Errorf("%w: mode: forced loses the transactions the secondary has not received, and allowDataLoss is not true", fleet.ErrInvalidArgument),
			Hint: "add allowDataLoss: true to accept the loss, or drop mode: forced for a planned failover, which loses nothing"}
	}
	return a, nil
}

func groups(env *steps.Env) (fleet.FailoverGroupManager, error) {
	m, ok := env.Target.(fleet.FailoverGroupManager)
	if !ok {
		return nil, &fleet.Error{Op: stepspec.FailoverGroupName, Target: env.Target.Name(),
			Err:  fmt.Errorf("%w: the %s driver has no failover groups", fleet.ErrInvalidArgument, env.Target.Driver()),
			Hint: "run this step against a target whose driver manages failover groups (azure, local)"}
	}
	return m, nil
}

func prepareFailover(env *steps.Env, in steps.Inputs) (failoverArgs, fleet.FailoverGroupManager, error) {
	a, err := failoverGroupArgs(in)
	if err != nil {
		return a, nil, err
	}
	m, err := groups(env)
	return a, m, err
}

// Observe implements steps.Action.
func (FailoverGroup) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	a, m, err := prepareFailover(env, in)
	if err != nil {
		return false, err
	}
	g, err := m.FailoverGroup(ctx, a.server, a.group)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(g.Primary, a.server), nil
}

// Apply implements steps.Action.
func (FailoverGroup) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	a, m, err := prepareFailover(env, in)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.FailoverGroupName); err != nil {
		return nil, err
	}
	return failover(ctx, env, m, fleet.FailoverRequest{Group: a.group, Server: a.server, Forced: a.forced, AllowDataLoss: a.allowDataLoss,
		ClientRequestID: env.RunID + "/" + env.StepID})
}

func failover(ctx context.Context, env *steps.Env, m fleet.FailoverGroupManager, req fleet.FailoverRequest) (steps.Outputs, error) {
	g, err := m.Failover(ctx, req)
	if err != nil {
		return nil, err
	}
	how := "planned"
	if req.Forced {
		how = "forced"
	}
	env.Logf("failover group %s: %s is the primary (%s failover), %s the secondary: %s", g.Name, g.Primary, how, g.Secondary, strings.Join(g.Databases, ", "))
	return steps.Outputs{"primary": g.Primary, "secondary": g.Secondary, "state": string(g.State)}, nil
}

// Rollback implements steps.Action: a planned failover back to the group's
// other server, when the step's server is the primary. A forced failover
// has no rollback.
func (FailoverGroup) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	a, m, err := prepareFailover(env, in)
	if err != nil {
		return err
	}
	if a.forced {
		return steps.ErrNoRollback
	}
	g, err := m.FailoverGroup(ctx, a.server, a.group)
	if err != nil {
		return err
	}
	if !strings.EqualFold(g.Primary, a.server) {
		return nil // it did not fail over, or failed back already
	}
	_, err = failover(ctx, env, m, fleet.FailoverRequest{Group: a.group, Server: g.Secondary, ClientRequestID: env.RunID + "/" + env.StepID + "/back"})
	return err
}

// Removed implements steps.Irreversible: a forced failover lost what had
// not replicated; a planned one lost nothing and can be failed back.
func (FailoverGroup) Removed(in steps.Inputs) string {
	a, err := failoverGroupArgs(in)
	switch {
	case err == nil && !a.forced:
		return ""
	case err == nil:
		return fmt.Sprintf("forced failover group %s over to %s, losing the transactions that had not replicated", a.group, a.server)
	}
	return "forced a failover group over"
}

// Estimate implements steps.Action.
func (FailoverGroup) Estimate(in steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: time.Minute, Basis: "a failover group switches its databases' roles within a minute or two once they are caught up"}
}

// Refs implements steps.Referrer: the group, named by the server.
func (FailoverGroup) Refs(in steps.Inputs) []steps.Ref {
	a, _ := failoverGroupArgs(in)
	if !steps.Literal(a.group, a.server) {
		return steps.Anything()
	}
	return []steps.Ref{{Kind: steps.RefFailoverGroup, Name: a.group, Changes: true}}
}
