package azure

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	sqlfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql/fake"
	tmfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager/fake"
)

const (
	testSub = "00000000-0000-0000-0000-000000000001"
	testRG  = "rg-fleet"
)

// service is the test's Azure: state behind the SDK's fake servers
// (armsql/fake, armtrafficmanager/fake). The fakes dispatch each request of
// the real clients to these functions; long-running operations are played
// by the fakes' PollerResponder, which answers the given number of polls
// "in progress" before the terminal response.
type service struct {
	mu        sync.Mutex
	instances map[string]*armsql.ManagedInstance
	databases map[string][]string // instance -> database names
	pools     map[string]*armsql.InstancePool
	ops       map[string][]*armsql.ManagedInstanceOperation // instance -> the service's operation records
	cancelled []string
	// polls is how many polls an operation answers in progress.
	polls int
	// fail, when set, is the terminal error of the next operation.
	failStatus int
	failCode   string
	// errs returns an error for an API ("ManagedInstancesClient.Get") instead of serving it.
	errs map[string]errorReply
	// begun counts the operations started, by API.
	begun map[string]int
	// bodies are the last request bodies, by API.
	updates []armsql.ManagedInstanceUpdate
	creates []armsql.ManagedInstance

	servers map[string]string                    // server -> region
	dbs     map[string]*armsql.Database          // "server/db"
	links   map[string][]*armsql.ReplicationLink // "server/db" -> its links
	deleted []string
	// onOperations, when set, runs when an instance's operations are read.
	onOperations func()

	groups map[string]*fakeGroup            // failover groups by name
	epools map[string][]*armsql.ElasticPool // server -> its elastic pools
	// ending are the failovers in flight: they change the group once their
	// last poll is answered, or, when nobody polls, once the server's
	// operations were listed as many times as an operation answers polls
	// (the service goes on without the client).
	ending []*fakeOp
	// serverOps are the operations ServerOperations lists, by server.
	serverOps map[string][]*fakeOp

	tm *trafficService

	sqlSrv sqlfake.ServerFactory
	tmSrv  tmfake.ServerFactory
	// sqlTr and tmTr are the fakes' transports; a restarted driver gets
	// the same ones, as a restarted process talks to the same Azure.
	sqlTr, tmTr policy.Transporter
}

type errorReply struct {
	status int
	code   string
}

func newService() *service {
	s := &service{instances: map[string]*armsql.ManagedInstance{}, databases: map[string][]string{}, pools: map[string]*armsql.InstancePool{},
		ops: map[string][]*armsql.ManagedInstanceOperation{}, servers: map[string]string{}, dbs: map[string]*armsql.Database{},
		links: map[string][]*armsql.ReplicationLink{}, groups: map[string]*fakeGroup{}, epools: map[string][]*armsql.ElasticPool{}, serverOps: map[string][]*fakeOp{}, errs: map[string]errorReply{}, begun: map[string]int{}, polls: 2}
	s.tm = newTrafficService()
	s.sqlSrv = sqlfake.ServerFactory{
		ManagedInstancesServer:          s.managedInstancesServer(),
		ManagedDatabasesServer:          s.managedDatabasesServer(),
		ManagedInstanceOperationsServer: s.operationsServer(),
		InstancePoolsServer:             s.poolsServer(),
		ServersServer:                   s.serversServer(),
		DatabasesServer:                 s.databasesServer(),
		ReplicationLinksServer:          s.linksServer(),
		FailoverGroupsServer:            s.failoverGroupsServer(),
		ServerOperationsServer:          s.serverOperationsServer(),
		ElasticPoolsServer:              s.elasticPoolsServer(),
	}
	s.tmSrv = s.tm.factory()
	s.sqlTr = &lroEnd{next: sqlfake.NewServerFactoryTransport(&s.sqlSrv), s: s}
	s.tmTr = tmfake.NewServerFactoryTransport(&s.tmSrv)
	return s
}

// target opens a driver on the service, as a fresh process would.
func (s *service) target(t *testing.T) *Target {
	t.Helper()
	tgt, err := New(Config{Name: "azure-test", Subscription: testSub, ResourceGroup: testRG, Location: "westeurope",
		Credential: &azfake.TokenCredential{}, SQLTransport: s.sqlTr, TrafficTransport: s.tmTr, PollInterval: time.Nanosecond,
		AdminLogin: "fleetadmin", AdminPassword: plantedSecret})
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

// plantedSecret is searched for in every output a test sees.
const plantedSecret = "Pl4nted-S3cret-9f1c"

func (s *service) addInstance(name, tier, family string, vcores, storage int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances[strings.ToLower(name)] = &armsql.ManagedInstance{
		Name:     to.Ptr(name),
		ID:       to.Ptr("/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Sql/managedInstances/" + name),
		Location: to.Ptr("westeurope"),
		SKU:      &armsql.SKU{Name: to.Ptr(tierPrefix[tier] + "_" + family), Tier: to.Ptr(tier), Family: to.Ptr(family)},
		Properties: &armsql.ManagedInstanceProperties{VCores: to.Ptr(vcores), StorageSizeInGB: to.Ptr(storage),
			SubnetID:    to.Ptr("/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/mi"),
			LicenseType: to.Ptr(armsql.ManagedInstanceLicenseTypeLicenseIncluded), ZoneRedundant: to.Ptr(false)},
	}
}

func (s *service) errFor(api string) (azfake.ErrorResponder, bool) {
	var e azfake.ErrorResponder
	r, ok := s.errs[api]
	if ok {
		e.SetResponseError(r.status, r.code)
	}
	return e, ok
}

func notFound() azfake.ErrorResponder {
	var e azfake.ErrorResponder
	e.SetResponseError(http.StatusNotFound, "ResourceNotFound")
	return e
}

// lro plays an operation: polls answers in progress, then result or the
// planned failure.
func lro[T any](s *service, result T) azfake.PollerResponder[T] {
	var p azfake.PollerResponder[T]
	for range s.polls {
		p.AddNonTerminalResponse(http.StatusAccepted, nil)
	}
	if s.failStatus != 0 {
		p.SetTerminalError(s.failStatus, s.failCode)
		s.failStatus, s.failCode = 0, ""
		return p
	}
	p.SetTerminalResponse(http.StatusOK, result, nil)
	return p
}

func (s *service) managedInstancesServer() sqlfake.ManagedInstancesServer {
	return sqlfake.ManagedInstancesServer{
		Get: func(_ context.Context, rg, name string, _ *armsql.ManagedInstancesClientGetOptions) (resp azfake.Responder[armsql.ManagedInstancesClientGetResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if e, ok := s.errFor("ManagedInstancesClient.Get"); ok {
				return resp, e
			}
			mi, ok := s.instances[strings.ToLower(name)]
			if !ok || rg != testRG {
				return resp, notFound()
			}
			resp.SetResponse(http.StatusOK, armsql.ManagedInstancesClientGetResponse{ManagedInstance: *mi}, nil)
			return resp, errResp
		},
		NewListByResourceGroupPager: func(rg string, _ *armsql.ManagedInstancesClientListByResourceGroupOptions) (resp azfake.PagerResponder[armsql.ManagedInstancesClientListByResourceGroupResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if r, ok := s.errs["ManagedInstancesClient.NewListByResourceGroupPager"]; ok {
				resp.AddResponseError(r.status, r.code)
				return resp
			}
			var page armsql.ManagedInstanceListResult
			for _, mi := range s.instances {
				page.Value = append(page.Value, mi)
			}
			resp.AddPage(http.StatusOK, armsql.ManagedInstancesClientListByResourceGroupResponse{ManagedInstanceListResult: page}, nil)
			return resp
		},
		BeginUpdate: func(_ context.Context, rg, name string, upd armsql.ManagedInstanceUpdate, _ *armsql.ManagedInstancesClientBeginUpdateOptions) (resp azfake.PollerResponder[armsql.ManagedInstancesClientUpdateResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if e, ok := s.errFor("ManagedInstancesClient.BeginUpdate"); ok {
				return resp, e
			}
			mi, ok := s.instances[strings.ToLower(name)]
			if !ok {
				return resp, notFound()
			}
			s.begun["update"]++
			s.updates = append(s.updates, upd)
			next := *mi
			p := *mi.Properties
			if upd.Properties != nil && upd.Properties.VCores != nil {
				p.VCores = upd.Properties.VCores
			}
			if upd.Properties != nil && upd.Properties.StorageSizeInGB != nil {
				p.StorageSizeInGB = upd.Properties.StorageSizeInGB
			}
			if upd.SKU != nil {
				next.SKU = upd.SKU
			}
			next.Properties = &p
			resp = lro(s, armsql.ManagedInstancesClientUpdateResponse{ManagedInstance: next})
			return resp, errResp
		},
		BeginCreateOrUpdate: func(_ context.Context, rg, name string, mi armsql.ManagedInstance, _ *armsql.ManagedInstancesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armsql.ManagedInstancesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if e, ok := s.errFor("ManagedInstancesClient.BeginCreateOrUpdate"); ok {
				return resp, e
			}
			s.begun["create"]++
			s.creates = append(s.creates, mi)
			mi.Name = to.Ptr(name)
			resp = lro(s, armsql.ManagedInstancesClientCreateOrUpdateResponse{ManagedInstance: mi})
			return resp, errResp
		},
		BeginDelete: func(_ context.Context, rg, name string, _ *armsql.ManagedInstancesClientBeginDeleteOptions) (resp azfake.PollerResponder[armsql.ManagedInstancesClientDeleteResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.begun["delete"]++
			resp = lro(s, armsql.ManagedInstancesClientDeleteResponse{})
			return resp, errResp
		},
	}
}

func (s *service) managedDatabasesServer() sqlfake.ManagedDatabasesServer {
	return sqlfake.ManagedDatabasesServer{
		NewListByInstancePager: func(rg, instance string, _ *armsql.ManagedDatabasesClientListByInstanceOptions) (resp azfake.PagerResponder[armsql.ManagedDatabasesClientListByInstanceResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var page armsql.ManagedDatabaseListResult
			for _, n := range s.databases[strings.ToLower(instance)] {
				page.Value = append(page.Value, &armsql.ManagedDatabase{Name: to.Ptr(n)})
			}
			resp.AddPage(http.StatusOK, armsql.ManagedDatabasesClientListByInstanceResponse{ManagedDatabaseListResult: page}, nil)
			return resp
		},
	}
}

func (s *service) operationsServer() sqlfake.ManagedInstanceOperationsServer {
	return sqlfake.ManagedInstanceOperationsServer{
		NewListByManagedInstancePager: func(rg, instance string, _ *armsql.ManagedInstanceOperationsClientListByManagedInstanceOptions) (resp azfake.PagerResponder[armsql.ManagedInstanceOperationsClientListByManagedInstanceResponse]) {
			if s.onOperations != nil {
				s.onOperations()
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			resp.AddPage(http.StatusOK, armsql.ManagedInstanceOperationsClientListByManagedInstanceResponse{
				ManagedInstanceOperationListResult: armsql.ManagedInstanceOperationListResult{Value: s.ops[strings.ToLower(instance)]}}, nil)
			return resp
		},
		Get: func(_ context.Context, rg, instance, id string, _ *armsql.ManagedInstanceOperationsClientGetOptions) (resp azfake.Responder[armsql.ManagedInstanceOperationsClientGetResponse], errResp azfake.ErrorResponder) {
			if s.onOperations != nil {
				s.onOperations()
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, op := range s.ops[strings.ToLower(instance)] {
				if str(op.Name) == id {
					resp.SetResponse(http.StatusOK, armsql.ManagedInstanceOperationsClientGetResponse{ManagedInstanceOperation: *op}, nil)
					return resp, errResp
				}
			}
			return resp, notFound()
		},
		Cancel: func(_ context.Context, rg, instance, id string, _ *armsql.ManagedInstanceOperationsClientCancelOptions) (resp azfake.Responder[armsql.ManagedInstanceOperationsClientCancelResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.cancelled = append(s.cancelled, id)
			for _, op := range s.ops[strings.ToLower(instance)] {
				if str(op.Name) == id {
					op.Properties.State = to.Ptr(armsql.ManagementOperationStateCancelInProgress)
				}
			}
			resp.SetResponse(http.StatusOK, armsql.ManagedInstanceOperationsClientCancelResponse{}, nil)
			return resp, errResp
		},
	}
}

func (s *service) poolsServer() sqlfake.InstancePoolsServer {
	return sqlfake.InstancePoolsServer{
		NewListByResourceGroupPager: func(rg string, _ *armsql.InstancePoolsClientListByResourceGroupOptions) (resp azfake.PagerResponder[armsql.InstancePoolsClientListByResourceGroupResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var page armsql.InstancePoolListResult
			for _, p := range s.pools {
				page.Value = append(page.Value, p)
			}
			resp.AddPage(http.StatusOK, armsql.InstancePoolsClientListByResourceGroupResponse{InstancePoolListResult: page}, nil)
			return resp
		},
	}
}

// addOperation records a service-side operation on an instance, as ARM
// lists them (az sql mi op list).
func (s *service) addOperation(instance, id string, state armsql.ManagementOperationState, cancellable bool, step, of int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	steps := []*armsql.UpsertManagedServerOperationStep{}
	for i, n := range []string{"Request validation", "Virtual cluster resize/creation", "New SQL instance startup", "Seeding database files", "Preparing failover and failover", "Old SQL instance cleanup"}[:of] {
		steps = append(steps, &armsql.UpsertManagedServerOperationStep{Name: to.Ptr(n), Order: to.Ptr(int32(i + 1))})
	}
	s.ops[strings.ToLower(instance)] = append(s.ops[strings.ToLower(instance)], &armsql.ManagedInstanceOperation{
		Name: to.Ptr(id),
		Properties: &armsql.ManagedInstanceOperationProperties{State: to.Ptr(state), IsCancellable: to.Ptr(cancellable),
			StartTime: to.Ptr(time.Now().UTC()), PercentComplete: to.Ptr(int32(100 * step / max(of, 1))), OperationFriendlyName: to.Ptr("UPDATE MANAGED SERVER"),
			OperationSteps: &armsql.ManagedInstanceOperationSteps{CurrentStep: to.Ptr(int32(step)), StepsList: steps}},
	})
}

// throttle answers the first n requests with 429 and Retry-After, as ARM
// does when a subscription's request budget is spent, and hands the others
// to the fake server behind it. (The SDK's fakes cannot answer 429
// themselves: their error responses are marked non-retriable, so the retry
// policy would never see them.)
type throttle struct {
	next       policy.Transporter
	n          atomic.Int32
	retryAfter string
	seen       atomic.Int32
	// api, when set, is the only API throttled ("FailoverGroupsClient.BeginFailover"); seen counts its requests.
	api string
	// method, when set, is the only method throttled (GET: an operation's polls).
	method string
}

func (th *throttle) Do(req *http.Request) (*http.Response, error) {
	if api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string); th.api != "" && api != th.api || th.method != "" && req.Method != th.method {
		return th.next.Do(req)
	}
	th.seen.Add(1)
	if th.n.Add(-1) >= 0 {
		body := `{"error":{"code":"TooManyRequests","message":"The request is being throttled."}}`
		h := http.Header{"Retry-After": {th.retryAfter}, "Content-Type": {"application/json"}, "X-Ms-Error-Code": {"TooManyRequests"}}
		return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests", Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	}
	return th.next.Do(req)
}

// recorder keeps the raw body of every request it passes on, by API, for
// what a decoded body cannot show (an explicit null).
type recorder struct {
	next   policy.Transporter
	mu     sync.Mutex
	bodies map[string][]string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(b)))
		api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
		r.mu.Lock()
		if r.bodies == nil {
			r.bodies = map[string][]string{}
		}
		r.bodies[api] = append(r.bodies[api], string(b))
		r.mu.Unlock()
	}
	return r.next.Do(req)
}

// memCheckpoints is a run journal's checkpoints: what Save stored survives
// a restart (journal), as a JSON document the test can search.
type memCheckpoints struct {
	mu      sync.Mutex
	journal map[string]string
}

func (m *memCheckpoints) Save(_ context.Context, k, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.journal == nil {
		m.journal = map[string]string{}
	}
	m.journal[k] = v
	return nil
}

func (m *memCheckpoints) Load(k string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.journal[k]
	return v, ok
}

func (m *memCheckpoints) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := json.Marshal(m.journal)
	return string(b)
}

func key(server, db string) string { return strings.ToLower(server + "/" + db) }

func dbID(server, db string) string {
	return "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Sql/servers/" + server + "/databases/" + db
}

func (s *service) addDatabase(server, db, region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servers[strings.ToLower(server)] = region
	s.dbs[key(server, db)] = &armsql.Database{Name: to.Ptr(db), ID: to.Ptr(dbID(server, db)), Location: to.Ptr(region),
		SKU: &armsql.SKU{Name: to.Ptr("GP_Gen5_2")}, Properties: &armsql.DatabaseProperties{}}
}

// link adds a replication link, listed on both sides as ARM does.
func (s *service) link(primary, secondary [2]string, state armsql.ReplicationState) {
	id := "link-" + secondary[0]
	mk := func(self, partner [2]string, role, partnerRole armsql.ReplicationRole) *armsql.ReplicationLink {
		return &armsql.ReplicationLink{Name: to.Ptr(id), ID: to.Ptr(dbID(self[0], self[1]) + "/replicationLinks/" + id),
			Properties: &armsql.ReplicationLinkProperties{Role: to.Ptr(role), PartnerRole: to.Ptr(partnerRole), PartnerServer: to.Ptr(partner[0]),
				PartnerDatabase: to.Ptr(partner[1]), ReplicationState: to.Ptr(state), PercentComplete: to.Ptr(int32(40)), StartTime: to.Ptr(time.Now().UTC())}}
	}
	s.links[key(primary[0], primary[1])] = append(s.links[key(primary[0], primary[1])], mk(primary, secondary, armsql.ReplicationRolePrimary, armsql.ReplicationRoleSecondary))
	s.links[key(secondary[0], secondary[1])] = append(s.links[key(secondary[0], secondary[1])], mk(secondary, primary, armsql.ReplicationRoleSecondary, armsql.ReplicationRolePrimary))
}

func (s *service) setLinkState(state armsql.ReplicationState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ls := range s.links {
		for _, l := range ls {
			l.Properties.ReplicationState = to.Ptr(state)
		}
	}
}

func (s *service) serversServer() sqlfake.ServersServer {
	return sqlfake.ServersServer{
		Get: func(_ context.Context, rg, name string, _ *armsql.ServersClientGetOptions) (resp azfake.Responder[armsql.ServersClientGetResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			region, ok := s.servers[strings.ToLower(name)]
			if !ok {
				return resp, notFound()
			}
			resp.SetResponse(http.StatusOK, armsql.ServersClientGetResponse{Server: armsql.Server{Name: to.Ptr(name), Location: to.Ptr(region)}}, nil)
			return resp, errResp
		},
		NewListByResourceGroupPager: func(rg string, _ *armsql.ServersClientListByResourceGroupOptions) (resp azfake.PagerResponder[armsql.ServersClientListByResourceGroupResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var page armsql.ServerListResult
			for n, region := range s.servers {
				page.Value = append(page.Value, &armsql.Server{Name: to.Ptr(n), Location: to.Ptr(region)})
			}
			resp.AddPage(http.StatusOK, armsql.ServersClientListByResourceGroupResponse{ServerListResult: page}, nil)
			return resp
		},
	}
}

func (s *service) databasesServer() sqlfake.DatabasesServer {
	return sqlfake.DatabasesServer{
		Get: func(_ context.Context, rg, server, db string, _ *armsql.DatabasesClientGetOptions) (resp azfake.Responder[armsql.DatabasesClientGetResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			d, ok := s.dbs[key(server, db)]
			if !ok {
				return resp, notFound()
			}
			resp.SetResponse(http.StatusOK, armsql.DatabasesClientGetResponse{Database: *d}, nil)
			return resp, errResp
		},
		BeginCreateOrUpdate: func(_ context.Context, rg, server, db string, d armsql.Database, _ *armsql.DatabasesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armsql.DatabasesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.begun["database"]++
			d.Name, d.ID = to.Ptr(db), to.Ptr(dbID(server, db))
			s.dbs[key(server, db)] = &d
			if d.Properties != nil && d.Properties.CreateMode != nil && *d.Properties.CreateMode == armsql.CreateModeSecondary {
				src := strings.Split(*d.Properties.SourceDatabaseID, "/")
				s.mu.Unlock()
				s.link([2]string{src[8], src[10]}, [2]string{server, db}, armsql.ReplicationStateSEEDING)
				s.mu.Lock()
			}
			resp = lro(s, armsql.DatabasesClientCreateOrUpdateResponse{Database: d})
			return resp, errResp
		},
		NewListByServerPager: func(rg, server string, _ *armsql.DatabasesClientListByServerOptions) (resp azfake.PagerResponder[armsql.DatabasesClientListByServerResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var page armsql.DatabaseListResult
			for k, d := range s.dbs {
				if strings.HasPrefix(k, strings.ToLower(server)+"/") {
					page.Value = append(page.Value, d)
				}
			}
			resp.AddPage(http.StatusOK, armsql.DatabasesClientListByServerResponse{DatabaseListResult: page}, nil)
			return resp
		},
		BeginDelete: func(_ context.Context, rg, server, db string, _ *armsql.DatabasesClientBeginDeleteOptions) (resp azfake.PollerResponder[armsql.DatabasesClientDeleteResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.dbs[key(server, db)]; !ok {
				return resp, notFound()
			}
			delete(s.dbs, key(server, db))
			s.deleted = append(s.deleted, key(server, db))
			resp = lro(s, armsql.DatabasesClientDeleteResponse{})
			return resp, errResp
		},
	}
}

func (s *service) linksServer() sqlfake.ReplicationLinksServer {
	return sqlfake.ReplicationLinksServer{
		NewListByDatabasePager: func(rg, server, db string, _ *armsql.ReplicationLinksClientListByDatabaseOptions) (resp azfake.PagerResponder[armsql.ReplicationLinksClientListByDatabaseResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			resp.AddPage(http.StatusOK, armsql.ReplicationLinksClientListByDatabaseResponse{ReplicationLinkListResult: armsql.ReplicationLinkListResult{Value: s.links[key(server, db)]}}, nil)
			return resp
		},
		NewListByServerPager: func(rg, server string, _ *armsql.ReplicationLinksClientListByServerOptions) (resp azfake.PagerResponder[armsql.ReplicationLinksClientListByServerResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var page armsql.ReplicationLinkListResult
			for k, ls := range s.links {
				if strings.HasPrefix(k, strings.ToLower(server)+"/") {
					page.Value = append(page.Value, ls...)
				}
			}
			resp.AddPage(http.StatusOK, armsql.ReplicationLinksClientListByServerResponse{ReplicationLinkListResult: page}, nil)
			return resp
		},
		Delete: func(_ context.Context, rg, server, db, id string, _ *armsql.ReplicationLinksClientDeleteOptions) (resp azfake.Responder[armsql.ReplicationLinksClientDeleteResponse], errResp azfake.ErrorResponder) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for k, ls := range s.links {
				var keep []*armsql.ReplicationLink
				for _, l := range ls {
					if str(l.Name) != id {
						keep = append(keep, l)
					}
				}
				s.links[k] = keep
			}
			resp.SetResponse(http.StatusOK, armsql.ReplicationLinksClientDeleteResponse{}, nil)
			return resp, errResp
		},
	}
}
