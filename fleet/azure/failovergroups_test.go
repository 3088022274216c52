package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	sqlfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql/fake"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// fakeGroup is a failover group as the service keeps it; ARM shows it on
// both servers, each with its own role.
type fakeGroup struct {
	name, primary, secondary string
	dbs                      []string
	state                    string // replicationState: CATCH_UP, SEEDING, PENDING
}

func serverID(name string) string {
	return "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Sql/servers/" + name
}

// view is the group as server's GET shows it.
func (g *fakeGroup) view(s *service, server string) armsql.FailoverGroup {
	role, partner, partnerRole := armsql.FailoverGroupReplicationRolePrimary, g.secondary, armsql.FailoverGroupReplicationRoleSecondary
	if strings.EqualFold(server, g.secondary) {
		role, partner, partnerRole = armsql.FailoverGroupReplicationRoleSecondary, g.primary, armsql.FailoverGroupReplicationRolePrimary
	}
	var dbs []*string
	for _, d := range g.dbs {
		dbs = append(dbs, to.Ptr(dbID(server, d)))
	}
	return armsql.FailoverGroup{Name: to.Ptr(g.name), ID: to.Ptr(serverID(server) + "/failoverGroups/" + g.name), Location: to.Ptr(s.servers[strings.ToLower(server)]),
		Properties: &armsql.FailoverGroupProperties{
			PartnerServers: []*armsql.PartnerInfo{{ID: to.Ptr(serverID(partner)), Location: to.Ptr(s.servers[strings.ToLower(partner)]), ReplicationRole: to.Ptr(partnerRole)}},
			ReadWriteEndpoint: &armsql.FailoverGroupReadWriteEndpoint{FailoverPolicy: to.Ptr(armsql.ReadWriteEndpointFailoverPolicyAutomatic),
				FailoverWithDataLossGracePeriodMinutes: to.Ptr(int32(60))},
			Databases: dbs, ReplicationRole: to.Ptr(role), ReplicationState: to.Ptr(g.state)}}
}

// addGroup adds databases on primary with secondaries on secondary, in a
// group that is caught up.
func (s *service) addGroup(name, primary, secondary string, dbs ...string) {
	for _, d := range dbs {
		s.addDatabase(primary, d, "westeurope")
		s.addDatabase(secondary, d, "northeurope")
		s.link([2]string{primary, d}, [2]string{secondary, d}, armsql.ReplicationStateCATCHUP)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[name] = &fakeGroup{name: name, primary: primary, secondary: secondary, dbs: dbs, state: string(armsql.ReplicationStateCATCHUP)}
}

// member returns the group when server is one of its servers.
func (s *service) member(server, name string) (*fakeGroup, bool) {
	g, ok := s.groups[name]
	return g, ok && (strings.EqualFold(server, g.primary) || strings.EqualFold(server, g.secondary))
}

func (s *service) failoverGroupsServer() sqlfake.FailoverGroupsServer {
	// begin plays a failover asked of server: it becomes the primary.
	begin := func(api, server, name string) (*armsql.FailoverGroup, azfake.ErrorResponder, bool) {
		s.mu.Lock()
		if e, ok := s.errFor(api); ok {
			s.mu.Unlock()
			return nil, e, false
		}
		g, ok := s.member(server, name)
		if !ok {
			s.mu.Unlock()
			return nil, notFound(), false
		}
		s.begun[api]++
		v := g.view(s, server)
		op := &fakeOp{left: s.polls + 1, op: &armsql.ServerOperation{Name: to.Ptr("op-" + api), Properties: &armsql.ServerOperationProperties{
			Operation: to.Ptr("FailoverGroupFailover"), State: to.Ptr(armsql.ManagementOperationStateInProgress), StartTime: to.Ptr(time.Now().UTC())}}}
		if strings.EqualFold(server, g.secondary) {
			// The roles change when the operation ends (lroEnd).
			op.end = func() { g.primary, g.secondary = server, g.primary }
			v.Properties.ReplicationRole = to.Ptr(armsql.FailoverGroupReplicationRolePrimary)
		}
		s.ending = append(s.ending, op)
		s.serverOps[strings.ToLower(server)] = append(s.serverOps[strings.ToLower(server)], op)
		s.mu.Unlock()
		return &v, azfake.ErrorResponder{}, true
	}
	return sqlfake.FailoverGroupsServer{
		Get: func(_ context.Context, rg, server, name string, _ *armsql.FailoverGroupsClientGetOptions) (resp azfake.Responder[armsql.FailoverGroupsClientGetResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if e, ok := s.errFor("FailoverGroupsClient.Get"); ok {
				return resp, e
			}
			g, ok := s.member(server, name)
			if !ok {
				return resp, notFound()
			}
			resp.SetResponse(http.StatusOK, armsql.FailoverGroupsClientGetResponse{FailoverGroup: g.view(s, server)}, nil)
			return resp, errResp
		},
		NewListByServerPager: func(rg, server string, _ *armsql.FailoverGroupsClientListByServerOptions) (resp azfake.PagerResponder[armsql.FailoverGroupsClientListByServerResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if r, ok := s.errs["FailoverGroupsClient.NewListByServerPager"]; ok {
				resp.AddResponseError(r.status, r.code)
				return resp
			}
			var page armsql.FailoverGroupListResult
			for name := range s.groups {
				if g, ok := s.member(server, name); ok {
					v := g.view(s, server)
					page.Value = append(page.Value, &v)
				}
			}
			resp.AddPage(http.StatusOK, armsql.FailoverGroupsClientListByServerResponse{FailoverGroupListResult: page}, nil)
			return resp
		},
		BeginFailover: func(_ context.Context, rg, server, name string, _ *armsql.FailoverGroupsClientBeginFailoverOptions) (resp azfake.PollerResponder[armsql.FailoverGroupsClientFailoverResponse], errResp azfake.ErrorResponder) {
			v, e, ok := begin("FailoverGroupsClient.BeginFailover", server, name)
			if !ok {
				return resp, e
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			return lro(s, armsql.FailoverGroupsClientFailoverResponse{FailoverGroup: *v}), errResp
		},
		BeginForceFailoverAllowDataLoss: func(_ context.Context, rg, server, name string, _ *armsql.FailoverGroupsClientBeginForceFailoverAllowDataLossOptions) (resp azfake.PollerResponder[armsql.FailoverGroupsClientForceFailoverAllowDataLossResponse], errResp azfake.ErrorResponder) {
			v, e, ok := begin("FailoverGroupsClient.BeginForceFailoverAllowDataLoss", server, name)
			if !ok {
				return resp, e
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			return lro(s, armsql.FailoverGroupsClientForceFailoverAllowDataLossResponse{FailoverGroup: *v}), errResp
		},
	}
}

// fakeOp is an operation of the service on a server, as ServerOperations
// lists it.
type fakeOp struct {
	op   *armsql.ServerOperation
	end  func() // what it changes when it ends
	left int    // lists of the server's operations before it ends by itself
	done bool
}

// finish ends the operation (s.mu held).
func (o *fakeOp) finish() {
	if o.done {
		return
	}
	o.done = true
	if o.end != nil {
		o.end()
	}
	o.op.Properties.State = to.Ptr(armsql.ManagementOperationStateSucceeded)
}

func (s *service) serverOperationsServer() sqlfake.ServerOperationsServer {
	return sqlfake.ServerOperationsServer{
		NewListByServerPager: func(rg, server string, _ *armsql.ServerOperationsClientListByServerOptions) (resp azfake.PagerResponder[armsql.ServerOperationsClientListByServerResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if r, ok := s.errs["ServerOperationsClient.NewListByServerPager"]; ok {
				resp.AddResponseError(r.status, r.code)
				return resp
			}
			var page armsql.ServerOperationListResult
			for _, op := range s.serverOps[strings.ToLower(server)] {
				if op.left--; op.left <= 0 {
					op.finish()
				}
				page.Value = append(page.Value, op.op)
			}
			resp.AddPage(http.StatusOK, armsql.ServerOperationsClientListByServerResponse{ServerOperationListResult: page}, nil)
			return resp
		},
	}
}

func (s *service) setGroupState(name string, state armsql.ReplicationState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[name].state = string(state)
}

const (
	sent             = "sent "
	apiFailover      = "FailoverGroupsClient.BeginFailover"
	apiForceFailover = "FailoverGroupsClient.BeginForceFailoverAllowDataLoss"
)

func TestFailoverGroupContract(t *testing.T) {
	fleettest.RunFailoverGroups(t, func(t *testing.T) fleettest.FailoverFixture {
		s := newService()
		s.addGroup("fog-app", "sql-1", "sql-2", "app", "orders")
		return fleettest.FailoverFixture{Manager: s.target(t), Group: "fog-app", Primary: "sql-1", Secondary: "sql-2", Databases: []string{"app", "orders"},
			Lag: func(*testing.T) { s.setGroupState("fog-app", armsql.ReplicationStateSEEDING) }}
	})
}

// The group as ARM shows it: roles from the server asked, partner, regions,
// databases and the read-write endpoint's policy.
func TestFailoverGroupRead(t *testing.T) {
	s := newService()
	s.addGroup("fog-app", "sql-1", "sql-2", "orders", "app")
	tgt := s.target(t)
	for _, server := range []string{"sql-1", "sql-2"} {
		g, err := tgt.FailoverGroup(context.Background(), server, "fog-app")
		if err != nil {
			t.Fatal(err)
		}
		want := fleet.FailoverGroup{Name: "fog-app", Primary: "sql-1", Secondary: "sql-2", PrimaryRegion: "westeurope", SecondaryRegion: "northeurope",
			Databases: []string{"app", "orders"}, ReadWritePolicy: fleet.FailoverAutomatic, GraceMinutes: 60, State: fleet.LinkHealthy}
		if g.Name != want.Name || g.Primary != want.Primary || g.Secondary != want.Secondary || g.PrimaryRegion != want.PrimaryRegion ||
			g.SecondaryRegion != want.SecondaryRegion || strings.Join(g.Databases, ",") != "app,orders" || g.ReadWritePolicy != want.ReadWritePolicy ||
			g.GraceMinutes != 60 || g.State != want.State {
			t.Fatalf("from %s: %+v\nwant %+v", server, g, want)
		}
	}
}

// A failover is polled through its in-progress responses to the end, its
// resume token checkpointed before the first poll.
func TestFailoverPollsToTheEnd(t *testing.T) {
	s := newService()
	s.polls = 3
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	journal := &memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), journal)
	g, err := s.target(t).Failover(ctx, fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", ClientRequestID: "run-1/switch-region"})
	if err != nil || g.Primary != "sql-2" {
		t.Fatalf("failover: %+v, %v", g, err)
	}
	id, ok := journal.Load(requestKeyPrefix + "run-1/switch-region")
	rec, _ := journal.Load(opKeyPrefix + id)
	if !ok || !strings.Contains(rec, `"token":`) || !strings.Contains(rec, kindFailover) {
		t.Fatalf("the failover's resume token was not checkpointed: %s", journal)
	}
	if s.begun[sent+apiFailover] != 1 || s.begun[sent+apiForceFailover] != 0 {
		t.Fatalf("sent %v; want one planned failover", s.begun)
	}
}

// The process stops while the failover runs; a new one, with the run's
// checkpoints, follows the same operation to its end and starts none.
func TestFailoverResumesAfterRestart(t *testing.T) {
	s := newService()
	s.polls = 3
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	journal := &memCheckpoints{}
	ctx, stop := context.WithCancel(fleet.WithCheckpoints(context.Background(), journal))
	tr := s.sqlTr
	s.sqlTr = &onPoll{next: tr, api: apiFailover, do: stop}
	req := fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", ClientRequestID: "run-2/switch-region"}
	if _, err := s.target(t).Failover(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("first session: %v; want it stopped", err)
	}
	if _, ok := journal.Load(requestKeyPrefix + req.ClientRequestID); !ok {
		t.Fatalf("nothing checkpointed before the first poll: %s", journal)
	}
	s.sqlTr = tr
	restarted := s.target(t)
	g, err := restarted.Failover(fleet.WithCheckpoints(context.Background(), journal), req)
	if err != nil || g.Primary != "sql-2" {
		t.Fatalf("resumed: %+v, %v", g, err)
	}
	if n := s.begun[sent+apiFailover]; n != 1 {
		t.Fatalf("%d failover requests sent; resuming must re-attach, not start another", n)
	}
}

func TestFailoverThrottled(t *testing.T) {
	s := newService()
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	th := &throttle{next: s.sqlTr, retryAfter: "1", api: apiFailover}
	th.n.Store(1)
	s.sqlTr = th
	logged := captureRetries(t)
	g, err := s.target(t).Failover(context.Background(), fleet.FailoverRequest{Group: "fog-app", Server: "sql-2"})
	if err != nil || g.Primary != "sql-2" {
		t.Fatalf("after a 429: %+v, %v", g, err)
	}
	waited := false
	for _, l := range logged() {
		waited = waited || strings.Contains(l, "Delay=1s")
	}
	if !waited || th.seen.Load() < 2 || s.begun[sent+apiFailover] != 1 {
		t.Fatalf("retry log %q, %d failover requests, %d begun: want one retry after Retry-After's 1s and one failover", logged(), th.seen.Load(), s.begun[sent+apiFailover])
	}
}

func TestFailoverErrors(t *testing.T) {
	cases := map[string]struct {
		req  fleet.FailoverRequest
		api  string // answers with 403
		want error
		hint string
	}{
		"missing role":             {fleet.FailoverRequest{Group: "fog-app", Server: "sql-2"}, apiFailover, fleet.ErrPermission, `"SQL Server Contributor"`},
		"missing role to read":     {fleet.FailoverRequest{Group: "fog-app", Server: "sql-2"}, "FailoverGroupsClient.Get", fleet.ErrPermission, `"Reader"`},
		"no such group":            {fleet.FailoverRequest{Group: "fog-other", Server: "sql-2"}, "", fleet.ErrNotFound, "check the group's"},
		"forced, no allowDataLoss": {fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", Forced: true}, "", fleet.ErrInvalidArgument, "allowDataLoss: true"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newService()
			s.addGroup("fog-app", "sql-1", "sql-2", "app")
			if tc.api != "" {
				s.errs[tc.api] = errorReply{http.StatusForbidden, "AuthorizationFailed"}
			}
			_, err := s.target(t).Failover(context.Background(), tc.req)
			var fe *fleet.Error
			if !errors.As(err, &fe) || !errors.Is(err, tc.want) || !strings.Contains(fe.Hint, tc.hint) {
				t.Fatalf("error %v (hint %q); want %v with a hint saying %s", err, fleet.HintOf(err), tc.want, tc.hint)
			}
			if s.groups["fog-app"].primary != "sql-1" || s.begun[sent+apiForceFailover] != 0 {
				t.Fatalf("a refused failover changed the group (%s primary, %v begun)", s.groups["fog-app"].primary, s.begun)
			}
		})
	}
}

// onPoll runs do before the first poll of an api's operation (a GET the
// poller sends), as a process that stops while the operation runs.
type onPoll struct {
	next policy.Transporter
	api  string
	do   func()
	once sync.Once
}

func (o *onPoll) Do(req *http.Request) (*http.Response, error) {
	if api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string); api == o.api && req.Method == http.MethodGet {
		o.once.Do(o.do)
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
	}
	return o.next.Do(req)
}

// lroEnd ends the failovers in flight when the poller is answered that its
// operation succeeded, so that until then ARM shows the old roles.
type lroEnd struct {
	next policy.Transporter
	s    *service
}

func (e *lroEnd) Do(req *http.Request) (*http.Response, error) {
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	if req.Method == http.MethodPost && (api == apiFailover || api == apiForceFailover) {
		// Counted here: the fake answers a request to the URL of an
		// operation it still tracks without asking the service.
		e.s.mu.Lock()
		e.s.begun[sent+api]++
		e.s.mu.Unlock()
	}
	resp, err := e.next.Do(req)
	if err == nil && req.Method == http.MethodGet && resp.StatusCode == http.StatusOK && (api == apiFailover || api == apiForceFailover) {
		e.s.mu.Lock()
		for _, op := range e.s.ending {
			op.finish()
		}
		e.s.ending = nil
		e.s.mu.Unlock()
	}
	return resp, err
}
