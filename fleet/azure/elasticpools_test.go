package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	sqlfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql/fake"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/livestate"
)

func (s *service) elasticPoolsServer() sqlfake.ElasticPoolsServer {
	return sqlfake.ElasticPoolsServer{
		NewListByServerPager: func(rg, server string, _ *armsql.ElasticPoolsClientListByServerOptions) (resp azfake.PagerResponder[armsql.ElasticPoolsClientListByServerResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if r, ok := s.errs["ElasticPoolsClient.NewListByServerPager"]; ok {
				resp.AddResponseError(r.status, r.code)
				return resp
			}
			resp.AddPage(http.StatusOK, armsql.ElasticPoolsClientListByServerResponse{ElasticPoolListResult: armsql.ElasticPoolListResult{Value: s.epools[strings.ToLower(server)]}}, nil)
			return resp
		},
	}
}

// addPool adds an elastic pool to server and puts databases (of the
// server) into it, as their elasticPoolId says.
func (s *service) addPool(server, name string, vcores int32, dbs ...string) {
	id := serverID(server) + "/elasticPools/" + name
	for _, d := range dbs {
		s.addDatabase(server, d, "westeurope")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servers[strings.ToLower(server)] = "westeurope"
	for _, d := range dbs {
		s.dbs[key(server, d)].Properties.ElasticPoolID = to.Ptr(id)
	}
	s.epools[strings.ToLower(server)] = append(s.epools[strings.ToLower(server)], &armsql.ElasticPool{Name: to.Ptr(name), ID: to.Ptr(id), Location: to.Ptr("westeurope"),
		SKU:        &armsql.SKU{Name: to.Ptr("GP_Gen5"), Tier: to.Ptr("GeneralPurpose"), Capacity: to.Ptr(vcores)},
		Properties: &armsql.ElasticPoolProperties{MaxSizeBytes: to.Ptr(int64(512 << 30)), State: to.Ptr(armsql.ElasticPoolStateReady)}})
}

func TestElasticPoolsAndTheirDatabases(t *testing.T) {
	s := newService()
	s.addPool("sql-1", "pool-tenants", 8, "tenant_a", "tenant_b")
	s.addPool("sql-2", "pool-small", 2)
	s.addDatabase("sql-1", "catalog", "westeurope") // a single database, in no pool
	pools, err := s.target(t).ElasticPools(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.ElasticPool{
		{Server: "sql-1", Name: "pool-tenants", Region: "westeurope", SKU: "GP_Gen5", Tier: "GeneralPurpose", Capacity: 8, MaxSizeBytes: 512 << 30, State: "Ready", Databases: []string{"tenant_a", "tenant_b"}},
		{Server: "sql-2", Name: "pool-small", Region: "westeurope", SKU: "GP_Gen5", Tier: "GeneralPurpose", Capacity: 2, MaxSizeBytes: 512 << 30, State: "Ready"},
	}
	if len(pools) != len(want) {
		t.Fatalf("pools %+v; want %+v", pools, want)
	}
	for i := range want {
		g, w := pools[i], want[i]
		if g.Server != w.Server || g.Name != w.Name || g.SKU != w.SKU || g.Capacity != w.Capacity || g.MaxSizeBytes != w.MaxSizeBytes ||
			g.State != w.State || strings.Join(g.Databases, ",") != strings.Join(w.Databases, ",") {
			t.Fatalf("pool %d: %+v; want %+v", i, g, w)
		}
	}
	if one, err := s.target(t).ElasticPools(context.Background(), "sql-2"); err != nil || len(one) != 1 || one[0].Name != "pool-small" {
		t.Fatalf("pools of sql-2: %+v, %v", one, err)
	}
}

func TestElasticPoolsNeedReader(t *testing.T) {
	s := newService()
	s.addPool("sql-1", "pool-tenants", 8, "tenant_a")
	s.errs["ElasticPoolsClient.NewListByServerPager"] = errorReply{http.StatusForbidden, "AuthorizationFailed"}
	_, err := s.target(t).ElasticPools(context.Background(), "")
	if !errors.Is(err, fleet.ErrPermission) || !strings.Contains(fleet.HintOf(err), `"Reader"`) {
		t.Fatalf("error %v (hint %q); want ErrPermission naming Reader", err, fleet.HintOf(err))
	}
}

// Pools and failover groups show in the live state that guards read.
func TestLiveStateHasPoolsAndGroups(t *testing.T) {
	s := newService()
	s.addPool("sql-1", "pool-tenants", 8, "tenant_a")
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	live, err := livestate.ObserveLive(context.Background(), s.target(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(live.ElasticPools) != 1 || live.ElasticPools[0].Name != "pool-tenants" || strings.Join(live.ElasticPools[0].Databases, ",") != "tenant_a" {
		t.Fatalf("live pools %+v", live.ElasticPools)
	}
	if len(live.FailoverGroups) != 1 || live.FailoverGroups[0].Primary != "sql-1" || live.FailoverGroups[0].State != "healthy" {
		t.Fatalf("live failover groups %+v", live.FailoverGroups)
	}
}
