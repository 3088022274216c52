package azure

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	tm "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
	"github.com/fleetplan/fleetplan/stepspec"
)

const (
	blue  = "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Web/sites/shop/slots/blue"
	green = "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Web/sites/shop/slots/green"
)

func TestTrafficEndpointsAndSwitch(t *testing.T) {
	s := newService()
	tgt := s.target(t)
	ctx := context.Background()

	e, err := tgt.AddEndpoint(ctx, fleet.Endpoint{Profile: "shop", Name: "v1", Target: blue, Online: true})
	if err != nil || e.Priority != 1 || !e.Online {
		t.Fatalf("first endpoint %+v, %v", e, err)
	}
	e2, err := tgt.AddEndpoint(ctx, fleet.Endpoint{Profile: "shop", Name: "v2", Target: green})
	if err != nil || e2.Priority != 2 || e2.Online {
		t.Fatalf("second endpoint %+v, %v", e2, err)
	}
	if again, err := tgt.AddEndpoint(ctx, fleet.Endpoint{Profile: "shop", Name: "v2", Target: green, Online: true}); err != nil || again.Online {
		t.Fatalf("adding the same endpoint again changed it: %+v, %v", again, err)
	}
	if _, err := tgt.AddEndpoint(ctx, fleet.Endpoint{Profile: "shop", Name: "v2", Target: blue}); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("same name, other target: %v", err)
	}
	p, err := tgt.Profile(ctx, "shop")
	if err != nil || p.Serving != "v1" || len(p.Endpoints) != 2 {
		t.Fatalf("profile %+v, %v", p, err)
	}
	if *s.tm.profiles["shop"].Properties.TrafficRoutingMethod != tm.TrafficRoutingMethodPriority {
		t.Fatal("a new profile does not route by priority")
	}
	if err := tgt.RemoveEndpoint(ctx, "shop", "v1"); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("removing the serving endpoint: %v", err)
	}

	// The switch is one write of the whole profile.
	puts := s.tm.puts
	if err := tgt.SwitchTraffic(ctx, "shop", "v1", "v2"); err != nil {
		t.Fatal(err)
	}
	p, _ = tgt.Profile(ctx, "shop")
	if p.Serving != "v2" || p.Endpoints[0].Name != "v2" || p.Endpoints[0].Priority != 1 || p.Endpoints[1].Online || s.tm.puts != puts+1 {
		t.Fatalf("after the switch %+v (%d writes)", p, s.tm.puts-puts)
	}
	if err := tgt.SwitchTraffic(ctx, "shop", "v1", "v2"); err != nil || s.tm.puts != puts+1 {
		t.Fatalf("switching again: %v, %d writes", err, s.tm.puts-puts)
	}
	// A target the probe rules out gets no traffic.
	s.tm.endpoint("shop", "v1").Properties.EndpointMonitorStatus = to.Ptr(tm.EndpointMonitorStatusDegraded)
	if err := tgt.SwitchTraffic(ctx, "shop", "v2", "v1"); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("switch to a degraded endpoint: %v", err)
	}
	if err := tgt.SetEndpointStatus(ctx, "shop", "v1", true); err != nil {
		t.Fatal(err)
	}
	if err := tgt.RemoveEndpoint(ctx, "shop", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := tgt.RemoveEndpoint(ctx, "shop", "v1"); err != nil {
		t.Fatalf("removing a removed endpoint: %v", err)
	}
	if _, err := tgt.Profile(ctx, "nope"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("missing profile: %v", err)
	}
}

// The traffic steps of a rolling upgrade run against the azure driver.
func TestTrafficStepsRunOnAzure(t *testing.T) {
	s := newService()
	tgt := s.target(t)
	ctx := context.Background()
	env := &steps.Env{Target: tgt, RunID: "r1", StepID: "s1"}
	apply := func(name string, spec stepspec.Spec) {
		t.Helper()
		a, err := steps.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		in := steps.Inputs(stepspec.With(spec))
		if live, err := a.Observe(ctx, env, in); err != nil || live {
			t.Fatalf("%s observe: %v, %v", name, live, err)
		}
		if _, err := a.Apply(ctx, env, in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if live, err := a.Observe(ctx, env, in); err != nil || !live {
			t.Fatalf("%s not live after apply: %v", name, err)
		}
	}
	apply(stepspec.AddEndpointName, stepspec.AddEndpoint{Endpoint: stepspec.Endpoint{Profile: "shop", Endpoint: "v1"}, Target: blue, Online: true})
	apply(stepspec.AddEndpointName, stepspec.AddEndpoint{Endpoint: stepspec.Endpoint{Profile: "shop", Endpoint: "v2"}, Target: green})
	apply(stepspec.SwitchName, stepspec.Switch{Profile: "shop", From: "v1", To: "v2"})
	if p, _ := tgt.Profile(ctx, "shop"); p.Serving != "v2" {
		t.Fatalf("serving %s", p.Serving)
	}
}

func TestGeoSecondaryLifecycle(t *testing.T) {
	s := newService()
	s.addDatabase("sql-prod", "shop", "westeurope")
	s.addDatabase("sql-stage", "other", "northeurope")
	journal := &memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), journal)
	tgt := s.target(t)
	prod, stage := fleet.Location{Server: "sql-prod", Database: "shop"}, fleet.Location{Server: "sql-stage", Database: "shop"}

	info, err := tgt.Database(ctx, prod)
	if err != nil || info.Region != "westeurope" || info.Role != fleet.RoleStandalone {
		t.Fatalf("database %+v, %v", info, err)
	}
	if _, err := tgt.Database(ctx, stage); !errors.Is(err, fleet.ErrNoDatabase) {
		t.Fatalf("missing database: %v", err)
	}
	if _, err := tgt.CreateSecondary(ctx, prod, fleet.Location{Server: "sql-stage", Database: "shop2"}, ""); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("a secondary with another name: %v", err)
	}
	if _, err := tgt.CreateSecondary(ctx, prod, fleet.Location{Server: "sql-none", Database: "shop"}, ""); !errors.Is(err, fleet.ErrNotFound) || !strings.Contains(fleet.HintOf(err), "server") {
		t.Fatalf("a secondary on a missing server: %v", err)
	}
	link, err := tgt.CreateSecondary(ctx, prod, stage, "")
	if err != nil || link.State != fleet.LinkSeeding {
		t.Fatalf("create secondary: %+v, %v", link, err)
	}
	if d := s.dbs[key("sql-stage", "shop")]; *d.Location != "northeurope" || *d.Properties.CreateMode != armsql.CreateModeSecondary || *d.Properties.SourceDatabaseID != dbID("sql-prod", "shop") {
		t.Fatalf("create sent %+v", d.Properties)
	}
	if !strings.Contains(journal.String(), "database.createSecondary") {
		t.Fatalf("the create's resume token is not checkpointed: %s", journal)
	}
	again, err := tgt.CreateSecondary(ctx, prod, stage, "")
	if err != nil || s.begun["database"] != 1 || !again.Primary.Equal(prod) {
		t.Fatalf("create again: %+v, %v (%d creates)", again, err, s.begun["database"])
	}
	if err := tgt.Disconnect(ctx, stage); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("disconnect while seeding: %v", err)
	}
	s.setLinkState(armsql.ReplicationStateCATCHUP)
	got, err := tgt.LinkTo(ctx, stage)
	if err != nil || got.State != fleet.LinkHealthy || got.PercentDone != 100 {
		t.Fatalf("link %+v, %v", got, err)
	}
	links, err := tgt.Links(ctx)
	if err != nil || len(links) != 1 || !links[0].Primary.Equal(prod) || !links[0].Secondary.Equal(stage) {
		t.Fatalf("links %+v, %v", links, err)
	}
	if info, _ := tgt.Database(ctx, stage); info.Role != fleet.RoleSecondary || !info.Origin.Equal(prod) || info.Writable() {
		t.Fatalf("secondary %+v", info)
	}
	if err := tgt.RemoveDatabase(ctx, prod); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("removing a primary with a secondary: %v", err)
	}
	if err := tgt.Disconnect(ctx, stage); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Disconnect(ctx, stage); err != nil {
		t.Fatalf("disconnect again: %v", err)
	}
	if err := tgt.RemoveDatabase(ctx, stage); err != nil || len(s.deleted) != 1 {
		t.Fatalf("remove: %v (%v)", err, s.deleted)
	}
	if err := tgt.RemoveDatabase(ctx, stage); err != nil {
		t.Fatalf("remove again: %v", err)
	}
	// What only T-SQL does is refused with a pointer to the sqlserver driver.
	if err := tgt.SetReadOnly(ctx, prod, true); !errors.Is(err, fleet.ErrInvalidArgument) || !strings.Contains(fleet.HintOf(err), "sqlserver") {
		t.Fatalf("set read-only: %v", err)
	}
}
