package azure

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/fleetplan/fleetplan/fleet"
)

// Failover groups of logical servers (armsql.FailoverGroupsClient): ARM
// shows a group on each of its two servers, with that server's role. A
// failover is asked of the server that becomes the primary.

var _ fleet.FailoverGroupManager = (*Target)(nil)

const (
	kindFailover      = "failoverGroup.failover"
	kindForceFailover = "failoverGroup.forceFailoverAllowDataLoss"
)

func groupTarget(server, name string) string {
	return "failover group " + name + " on server " + server
}

// groupOf converts a group as server sees it.
func groupOf(server string, g *armsql.FailoverGroup) fleet.FailoverGroup {
	out := fleet.FailoverGroup{Name: str(g.Name), ReadWritePolicy: fleet.FailoverManual, State: fleet.LinkSeeding}
	p := g.Properties
	if p == nil {
		return out
	}
	self, partner := server, ""
	selfRegion, partnerRegion := str(g.Location), ""
	if len(p.PartnerServers) > 0 && p.PartnerServers[0] != nil {
		partner, partnerRegion = lastSegment(str(p.PartnerServers[0].ID)), str(p.PartnerServers[0].Location)
	}
	if p.ReplicationRole != nil && *p.ReplicationRole == armsql.FailoverGroupReplicationRoleSecondary {
		out.Primary, out.Secondary, out.PrimaryRegion, out.SecondaryRegion = partner, self, partnerRegion, selfRegion
	} else {
		out.Primary, out.Secondary, out.PrimaryRegion, out.SecondaryRegion = self, partner, selfRegion, partnerRegion
	}
	for _, id := range p.Databases {
		out.Databases = append(out.Databases, lastSegment(str(id)))
	}
	sort.Strings(out.Databases)
	if rw := p.ReadWriteEndpoint; rw != nil {
		if rw.FailoverPolicy != nil && *rw.FailoverPolicy == armsql.ReadWriteEndpointFailoverPolicyAutomatic {
			out.ReadWritePolicy = fleet.FailoverAutomatic
		}
		out.GraceMinutes = int(i32(rw.FailoverWithDataLossGracePeriodMinutes))
	}
	if p.ReplicationState != nil {
		out.State = linkState((*armsql.ReplicationState)(p.ReplicationState))
	}
	return out
}

// FailoverGroups implements fleet.FailoverGroupManager: the groups of one
// server, or of every server of the resource group, each once.
func (t *Target) FailoverGroups(ctx context.Context, server string) ([]fleet.FailoverGroup, error) {
	servers, err := t.servers(ctx, server)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []fleet.FailoverGroup
	for _, s := range servers {
		gs, err := all(ctx, call{op: "list failover groups of", target: "server " + s, role: roleReader},
			t.sql.NewFailoverGroupsClient().NewListByServerPager(t.cfg.ResourceGroup, s, nil),
			func(p armsql.FailoverGroupsClientListByServerResponse) []*armsql.FailoverGroup { return p.Value })
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			fg := groupOf(s, g)
			if k := strings.ToLower(fg.Name); !seen[k] {
				seen[k] = true
				out = append(out, fg)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FailoverGroup implements fleet.FailoverGroupManager.
func (t *Target) FailoverGroup(ctx context.Context, server, name string) (fleet.FailoverGroup, error) {
	got, err := t.sql.NewFailoverGroupsClient().Get(ctx, t.cfg.ResourceGroup, server, name, nil)
	if isNotFound(err) {
		return fleet.FailoverGroup{}, &fleet.Error{Op: "read", Target: groupTarget(server, name), Err: fmt.Errorf("%w: server %s has no failover group %s", fleet.ErrNotFound, server, name),
			Hint: "check the group's and the server's names (the server's name, not its FQDN) and the target's resource group"}
	}
	if err != nil {
		return fleet.FailoverGroup{}, call{op: "read", target: groupTarget(server, name), role: roleReader}.wrap(err)
	}
	return groupOf(server, &got.FailoverGroup), nil
}

// Failover implements fleet.FailoverGroupManager with FailoverGroups'
// BeginFailover (planned) or BeginForceFailoverAllowDataLoss (forced), on
// req.Server. A failover is sent at most once per client request id: an
// intent is checkpointed before the request (with the group's primary),
// then the operation's resume token before it is polled. A second call
// with that id (a resumed step, another process) follows the same
// operation to its end; one that finds only the intent (the process
// stopped between the request and the token's checkpoint) reads the group
// and the servers' operations instead of sending again (recoverFailover).
func (t *Target) Failover(ctx context.Context, req fleet.FailoverRequest) (fleet.FailoverGroup, error) {
	op, kind := "planned failover", kindFailover
	if req.Forced {
		op, kind = "forced failover", kindForceFailover
	}
	c := call{op: op, target: groupTarget(req.Server, req.Group), role: roleServer}
	if rec, ok, err := t.ops.pending(ctx, req.ClientRequestID); err != nil {
		return fleet.FailoverGroup{}, &fleet.Error{Op: "resume " + op, Target: c.target, Err: err}
	} else if ok {
		g, done, err := t.recoverFailover(ctx, req, rec)
		if err != nil || done {
			return g, err
		}
	} else if id, ok := t.ops.byRequest(ctx, req.ClientRequestID); ok {
		l, err := t.ops.attach(ctx, id, t.resume)
		if err != nil {
			return fleet.FailoverGroup{}, call{op: "resume " + op, target: c.target}.wrap(err)
		}
		if l != nil {
			if err := t.wait(ctx, c, l); err != nil {
				return fleet.FailoverGroup{}, err
			}
			return t.FailoverGroup(ctx, req.Server, req.Group)
		}
	}
	if req.Forced && !req.AllowDataLoss {
		// Refused before anything is read: the request itself is wrong.
		return fleet.FailoverGroup{}, fleet.CheckFailover(op, fleet.FailoverGroup{Name: req.Group}, req)
	}
	g, err := t.FailoverGroup(ctx, req.Server, req.Group)
	if err != nil {
		return g, err
	}
	if err := fleet.CheckFailover(op, g, req); err != nil || strings.EqualFold(g.Primary, req.Server) {
		return g, err
	}
	rec, err := t.ops.intend(ctx, kind, op, req.Server+"/"+req.Group, req.ClientRequestID, g.Primary)
	if err != nil {
		return g, &fleet.Error{Op: c.op, Target: c.target, Err: err, Hint: "nothing was sent to Azure; the step can be retried"}
	}
	fgs := t.sql.NewFailoverGroupsClient()
	var p poller
	if req.Forced {
		p, err = wrapPoller(fgs.BeginForceFailoverAllowDataLoss(ctx, t.cfg.ResourceGroup, req.Server, req.Group, nil))
	} else {
		p, err = wrapPoller(fgs.BeginFailover(ctx, t.cfg.ResourceGroup, req.Server, req.Group, nil))
	}
	if err != nil {
		// The intent stays: whether the request reached Azure is read
		// from the group when the step runs again.
		return g, c.wrap(err)
	}
	l, err := t.ops.begun(ctx, rec, p)
	if err != nil {
		return g, &fleet.Error{Op: c.op, Target: c.target, Err: err,
			Hint: "the failover was started in Azure but its resume token could not be recorded; resuming reads the group and does not send it again"}
	}
	if err := t.wait(ctx, c, l); err != nil {
		return g, err
	}
	return t.FailoverGroup(ctx, req.Server, req.Group)
}

// recoverFailover resumes a failover of which only the intent was
// checkpointed. When the group's primary is req.Server the failover
// happened: it is done (and recorded so). When an operation runs on either
// server of the group, started since the intent, it is taken for the
// failover and waited for, and the group read again. Otherwise the request
// never reached Azure, or ended without switching the roles: done is false
// and the caller sends it (once more at most, under a new intent).
func (t *Target) recoverFailover(ctx context.Context, req fleet.FailoverRequest, rec record) (g fleet.FailoverGroup, done bool, err error) {
	for ended := false; ; {
		g, err = t.FailoverGroup(ctx, req.Server, req.Group)
		if err != nil {
			return g, false, err
		}
		if strings.EqualFold(g.Primary, req.Server) {
			if err := t.ops.settled(ctx, rec); err != nil {
				return g, false, &fleet.Error{Op: "resume failover", Target: groupTarget(req.Server, req.Group), Err: err}
			}
			return g, true, nil
		}
		if ended {
			return g, false, nil
		}
		busy, err := t.serverOperation(ctx, rec.Started, req.Server, g.Primary)
		if err != nil {
			return g, false, err
		}
		if busy == nil {
			// Read the group once more: an operation may have ended
			// between the two readings.
			ended = true
			continue
		}
		if err := fleet.Sleep(ctx, t.cfg.PollInterval); err != nil {
			return g, false, err
		}
	}
}

// serverOperation returns an operation in flight on one of servers
// (ServerOperations.ListByServer) that started no earlier than a minute
// before since; nil when there is none.
func (t *Target) serverOperation(ctx context.Context, since time.Time, servers ...string) (*armsql.ServerOperation, error) {
	for _, s := range servers {
		if s == "" {
			continue
		}
		ops, err := all(ctx, call{op: "list operations of", target: "server " + s, role: roleReader},
			t.sql.NewServerOperationsClient().NewListByServerPager(t.cfg.ResourceGroup, s, nil),
			func(p armsql.ServerOperationsClientListByServerResponse) []*armsql.ServerOperation { return p.Value })
		if err != nil {
			return nil, err
		}
		for _, op := range ops {
			p := op.Properties
			if p == nil || p.State == nil {
				continue
			}
			switch *p.State {
			case armsql.ManagementOperationStatePending, armsql.ManagementOperationStateInProgress, armsql.ManagementOperationStateCancelInProgress:
			default:
				continue
			}
			if p.StartTime == nil || !p.StartTime.Before(since.Add(-time.Minute)) {
				return op, nil
			}
		}
	}
	return nil, nil
}
