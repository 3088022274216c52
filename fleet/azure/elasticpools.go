package azure

import (
	"context"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/fleetplan/fleetplan/fleet"
)

// Elastic pools (armsql.ElasticPoolsClient), read only: the pools of each
// server and, from the server's databases' elasticPoolId, which databases
// are in them.

var _ fleet.ElasticPoolReader = (*Target)(nil)

// servers names the servers to read: server, or every server of the
// resource group when it is "".
func (t *Target) servers(ctx context.Context, server string) ([]string, error) {
	if server != "" {
		return []string{server}, nil
	}
	list, err := all(ctx, call{op: "list servers of", target: t.rg(), role: roleReader},
		t.sql.NewServersClient().NewListByResourceGroupPager(t.cfg.ResourceGroup, nil),
		func(p armsql.ServersClientListByResourceGroupResponse) []*armsql.Server { return p.Value })
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, str(s.Name))
	}
	sort.Strings(out)
	return out, nil
}

// ElasticPools implements fleet.ElasticPoolReader.
func (t *Target) ElasticPools(ctx context.Context, server string) ([]fleet.ElasticPool, error) {
	servers, err := t.servers(ctx, server)
	if err != nil {
		return nil, err
	}
	var out []fleet.ElasticPool
	for _, s := range servers {
		pools, err := all(ctx, call{op: "list elastic pools of", target: "server " + s, role: roleReader},
			t.sql.NewElasticPoolsClient().NewListByServerPager(t.cfg.ResourceGroup, s, nil),
			func(p armsql.ElasticPoolsClientListByServerResponse) []*armsql.ElasticPool { return p.Value })
		if err != nil {
			return nil, err
		}
		if len(pools) == 0 {
			continue
		}
		dbs, err := all(ctx, call{op: "list databases of", target: "server " + s, role: roleReader},
			t.sql.NewDatabasesClient().NewListByServerPager(t.cfg.ResourceGroup, s, nil),
			func(p armsql.DatabasesClientListByServerResponse) []*armsql.Database { return p.Value })
		if err != nil {
			return nil, err
		}
		members := map[string][]string{}
		for _, d := range dbs {
			if d.Properties != nil && d.Properties.ElasticPoolID != nil {
				k := strings.ToLower(lastSegment(*d.Properties.ElasticPoolID))
				members[k] = append(members[k], str(d.Name))
			}
		}
		for _, p := range pools {
			ep := fleet.ElasticPool{Server: s, Name: str(p.Name), Region: str(p.Location), Databases: members[strings.ToLower(str(p.Name))]}
			if p.SKU != nil {
				ep.SKU, ep.Tier, ep.Capacity = str(p.SKU.Name), str(p.SKU.Tier), int(i32(p.SKU.Capacity))
			}
			if pp := p.Properties; pp != nil {
				if pp.MaxSizeBytes != nil {
					ep.MaxSizeBytes = *pp.MaxSizeBytes
				}
				if pp.State != nil {
					ep.State = string(*pp.State)
				}
			}
			sort.Strings(ep.Databases)
			out = append(out, ep)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
