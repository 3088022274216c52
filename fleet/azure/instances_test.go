package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/fleetplan/fleetplan/fleet"
)

func TestRegistered(t *testing.T) {
	found := false
	for _, d := range fleet.Drivers() {
		found = found || d == DriverName
	}
	if !found {
		t.Fatalf("driver %q is not registered: %v", DriverName, fleet.Drivers())
	}
	_, err := fleet.Open(context.Background(), fleet.TargetConfig{Name: "prod", Driver: "azure", Options: map[string]string{"subscription": testSub}})
	if !errors.Is(err, fleet.ErrInvalidArgument) || !strings.Contains(err.Error(), "resourceGroup") || fleet.HintOf(err) == "" {
		t.Fatalf("open without a resource group: %v (hint %q)", err, fleet.HintOf(err))
	}
	_, err = fleet.Open(context.Background(), fleet.TargetConfig{Name: "prod", Driver: "azure",
		Options: map[string]string{"subscription": testSub, "resourceGroup": testRG, "auth.clientSecret": plantedSecret}})
	if !errors.Is(err, fleet.ErrInvalidArgument) || strings.Contains(err.Error()+fleet.HintOf(err), plantedSecret) {
		t.Fatalf("a client secret without tenant and client id: %v", err)
	}
}

// follow polls an operation to its end, as the instance step does.
func follow(t *testing.T, ctx context.Context, im fleet.InstanceManager, op fleet.InstanceOperation) fleet.InstanceOperation {
	t.Helper()
	for i := 0; !op.State.Ended(); i++ {
		if i > 50 {
			t.Fatalf("operation %s never ended: %+v", op.ID, op)
		}
		var err error
		if op, err = im.InstanceOperation(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
	}
	return op
}

func TestInstanceUpdatePollsToTheEnd(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	s.databases["mi-prod"] = []string{"orders", "billing"}
	tgt := s.target(t)
	ctx := context.Background()

	mis, err := tgt.ManagedInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mis) != 1 || mis[0].Tier != "GeneralPurpose" || mis[0].Hardware != "Gen5" || mis[0].VCores != 8 || len(mis[0].Databases) != 2 || mis[0].Operation != "" {
		t.Fatalf("instances %+v", mis)
	}
	op, err := tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate,
		Settings: fleet.InstanceSettings{VCores: 16, Hardware: "PremiumSeries"}, ClientRequestID: "run-1/scale"})
	if err != nil {
		t.Fatal(err)
	}
	if op.State != fleet.OpInProgress || op.Instance != "mi-prod" || op.Type != fleet.InstanceUpdate {
		t.Fatalf("begun %+v", op)
	}
	again, err := tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate,
		Settings: fleet.InstanceSettings{VCores: 16}, ClientRequestID: "run-1/scale"})
	if err != nil || again.ID != op.ID || s.begun["update"] != 1 {
		t.Fatalf("a second Begin with the same client request id: %+v, %v (%d updates sent)", again, err, s.begun["update"])
	}
	done := follow(t, ctx, tgt, op)
	if done.State != fleet.OpSucceeded || done.PercentDone != 100 {
		t.Fatalf("ended %+v", done)
	}
	u := s.updates[0]
	if u.Properties == nil || *u.Properties.VCores != 16 || u.SKU == nil || *u.SKU.Name != "GP_G8IM" || *u.SKU.Family != "G8IM" || *u.SKU.Tier != "GeneralPurpose" {
		t.Fatalf("update sent %+v sku %+v", u.Properties, u.SKU)
	}
}

func TestInstanceOperationResumesAfterRestart(t *testing.T) {
	s := newService()
	s.polls = 3
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	journal := &memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), journal)

	first := s.target(t)
	op, err := first.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate,
		Settings: fleet.InstanceSettings{StorageGB: 512}, ClientRequestID: "run-7/grow"})
	if err != nil {
		t.Fatal(err)
	}
	if op, err = first.InstanceOperation(ctx, op.ID); err != nil || op.State != fleet.OpInProgress {
		t.Fatalf("first poll: %+v, %v", op, err)
	}
	rec, ok := journal.Load(opKeyPrefix + op.ID)
	if !ok || !strings.Contains(rec, `"token":`) {
		t.Fatalf("the resume token was not checkpointed: %s", journal)
	}

	// The process dies; a new one opens the target and resumes the run
	// with the journal's checkpoints.
	restarted := s.target(t)
	found, ok, err := restarted.FindInstanceOperation(ctx, "run-7/grow")
	if err != nil || !ok || found.ID != op.ID {
		t.Fatalf("after a restart, Find = %+v, %v, %v; want operation %s", found, ok, err, op.ID)
	}
	done := follow(t, ctx, restarted, found)
	if done.State != fleet.OpSucceeded {
		t.Fatalf("resumed operation ended %+v", done)
	}
	if s.begun["update"] != 1 {
		t.Fatalf("%d updates sent; resuming must not start another", s.begun["update"])
	}
	// Without the journal, a restarted process cannot know the operation.
	if _, ok, _ := s.target(t).FindInstanceOperation(context.Background(), "run-7/grow"); ok {
		t.Fatal("an operation was found without the run's checkpoints")
	}
}

func TestInstanceOperationFailsAndIsCancelled(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "BusinessCritical", "Gen5", 8, 256)
	s.addInstance("mi-dr", "BusinessCritical", "Gen5", 8, 256)
	tgt := s.target(t)
	ctx := context.Background()

	s.failStatus, s.failCode = http.StatusBadRequest, "ManagedInstanceUpdateFailed"
	op, err := tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 4}})
	if err != nil {
		t.Fatal(err)
	}
	done := follow(t, ctx, tgt, op)
	if done.State != fleet.OpFailed || !strings.Contains(done.Error, "ManagedInstanceUpdateFailed") {
		t.Fatalf("failed operation %+v", done)
	}

	// (The fake keeps a failed operation's poller for its path, so the
	// next operation goes to another instance.)
	s.failStatus, s.failCode = http.StatusConflict, "OperationCancelled"
	op, err = tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-dr", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}})
	if err != nil {
		t.Fatal(err)
	}
	s.addOperation("mi-dr", "4f7c1e3a-0000-0000-0000-000000000001", armsql.ManagementOperationStateInProgress, true, 2, 6)
	if err := tgt.CancelInstanceOperation(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	if len(s.cancelled) != 1 || s.cancelled[0] != "4f7c1e3a-0000-0000-0000-000000000001" {
		t.Fatalf("cancelled %v", s.cancelled)
	}
	done = follow(t, ctx, tgt, op)
	if done.State != fleet.OpCancelled || !done.CancelRequested || len(done.Phases) != 6 {
		t.Fatalf("cancelled operation %+v", done)
	}
}

func TestCancelRefusedPastFailover(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	tgt := s.target(t)
	ctx := context.Background()
	op, err := tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}})
	if err != nil {
		t.Fatal(err)
	}
	s.addOperation("mi-prod", "op-late", armsql.ManagementOperationStateInProgress, false, 5, 6)
	got, err := tgt.InstanceOperation(ctx, op.ID)
	if err != nil || got.Phase != "Preparing failover and failover" || got.PhaseIndex != 4 || got.PercentDone != 83 {
		t.Fatalf("status %+v, %v", got, err)
	}
	err = tgt.CancelInstanceOperation(ctx, op.ID)
	if !errors.Is(err, fleet.ErrCannotCancel) || len(s.cancelled) != 0 {
		t.Fatalf("cancel past the failover: %v (cancels sent %v)", err, s.cancelled)
	}
}

func TestBeginRefusesWhileAnotherOperationRuns(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	s.addOperation("mi-prod", "someone-elses", armsql.ManagementOperationStateInProgress, true, 1, 6)
	tgt := s.target(t)
	mis, err := tgt.ManagedInstances(context.Background())
	if err != nil || mis[0].Operation != "someone-elses" {
		t.Fatalf("instances %+v, %v", mis, err)
	}
	_, err = tgt.BeginInstanceOperation(context.Background(), fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}})
	if !errors.Is(err, fleet.ErrOperationInFlight) || s.begun["update"] != 0 {
		t.Fatalf("Begin while an operation runs: %v", err)
	}
	_, err = tgt.BeginInstanceOperation(context.Background(), fleet.InstanceRequest{Instance: "mi-nope", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}})
	if !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("Begin on a missing instance: %v", err)
	}
}

func TestPoolMovesAndCreate(t *testing.T) {
	s := newService()
	s.addInstance("mi-a", "GeneralPurpose", "Gen5", 8, 256)
	s.pools["pool-1"] = &armsql.InstancePool{Name: to.Ptr("pool-1"), SKU: &armsql.SKU{Tier: to.Ptr("GeneralPurpose"), Family: to.Ptr("Gen5")},
		Properties: &armsql.InstancePoolProperties{VCores: to.Ptr(int32(16)), SubnetID: to.Ptr("/subscriptions/x/subnets/pool")}}
	s.instances["mi-a"].Properties.InstancePoolID = to.Ptr("/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Sql/instancePools/pool-1")
	rec := &recorder{next: s.sqlTr}
	s.sqlTr = rec
	tgt := s.target(t)
	ctx := context.Background()
	pools, err := tgt.InstancePools(ctx)
	if err != nil || len(pools) != 1 || pools[0].VCores != 16 || len(pools[0].Instances) != 1 || pools[0].Instances[0] != "mi-a" {
		t.Fatalf("pools %+v, %v", pools, err)
	}
	op, err := tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceMoveOutOfPool})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ctx, tgt, op)
	// The body holds an explicit null, the way out of a pool.
	if b := rec.bodies["ManagedInstancesClient.BeginUpdate"]; len(b) != 1 || !strings.Contains(b[0], `"instancePoolId":null`) {
		t.Fatalf("move out of pool sent %q", b)
	}
	op, err = tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-a", Type: fleet.InstanceMoveIntoPool, Settings: fleet.InstanceSettings{Pool: "pool-1", PoolSet: true}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ctx, tgt, op)
	if id := str(s.updates[1].Properties.InstancePoolID); !strings.HasSuffix(id, "/instancePools/pool-1") {
		t.Fatalf("move into pool sent pool %q", id)
	}

	// A create without a subnet is refused before anything is sent.
	_, err = tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-new", Type: fleet.InstanceCreate,
		Settings: fleet.InstanceSettings{Tier: "GeneralPurpose", Hardware: "Gen5", VCores: 8, StorageGB: 256}})
	if !errors.Is(err, fleet.ErrInvalidArgument) || s.begun["create"] != 0 || !strings.Contains(err.Error(), "subnet") {
		t.Fatalf("create without subnet: %v", err)
	}
	sub := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/mi"
	op, err = tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-new", Type: fleet.InstanceCreate,
		Settings: fleet.InstanceSettings{Tier: "BusinessCritical", Hardware: "Gen5", VCores: 8, StorageGB: 256, Subnet: sub}})
	if err != nil {
		t.Fatal(err)
	}
	if done := follow(t, ctx, tgt, op); done.State != fleet.OpSucceeded {
		t.Fatalf("create %+v", done)
	}
	c := s.creates[0]
	if *c.Location != "westeurope" || *c.SKU.Name != "BC_Gen5" || *c.Properties.AdministratorLoginPassword != plantedSecret || *c.Properties.SubnetID != sub {
		t.Fatalf("create sent %+v", c)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	s := newService()
	journal := &memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), journal)
	tgt := s.target(t)
	sub := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/mi"
	req := fleet.InstanceRequest{Instance: "mi-new", Type: fleet.InstanceCreate, ClientRequestID: "run-9/create",
		Settings: fleet.InstanceSettings{Tier: "GeneralPurpose", Hardware: "Gen5", VCores: 8, StorageGB: 256, Subnet: sub}}
	var outputs []string
	s.errs["ManagedInstancesClient.BeginCreateOrUpdate"] = errorReply{http.StatusBadRequest, "InvalidLoginPassword"}
	_, err := tgt.BeginInstanceOperation(ctx, req)
	outputs = append(outputs, err.Error(), fleet.HintOf(err))
	delete(s.errs, "ManagedInstancesClient.BeginCreateOrUpdate")
	op, err := tgt.BeginInstanceOperation(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	done := follow(t, ctx, tgt, op)
	outputs = append(outputs, journal.String(), done.Error, done.ID)
	if len(s.creates) != 1 || *s.creates[0].Properties.AdministratorLoginPassword != plantedSecret {
		t.Fatal("the administrator password did not reach the create request")
	}
	for _, o := range outputs {
		if strings.Contains(o, plantedSecret) {
			t.Fatalf("the secret shows in %q", o)
		}
	}
}

// However often the step asks, ARM is asked at most every PollInterval.
func TestStatusIsPaced(t *testing.T) {
	s := newService()
	s.polls = 3
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	s.addOperation("mi-prod", "op-1", armsql.ManagementOperationStateSucceeded, false, 6, 6)
	var lists int
	s.onOperations = func() { lists++ }
	tgt, err := New(Config{Name: "paced", Subscription: testSub, ResourceGroup: testRG, Credential: s.target(t).cfg.Credential,
		SQLTransport: s.sqlTr, TrafficTransport: s.tmTr, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	op, err := tgt.BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}})
	if err != nil {
		t.Fatal(err)
	}
	before := lists
	for range 20 {
		if _, err := tgt.InstanceOperation(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
	}
	if lists != before {
		t.Fatalf("%d operation reads for 20 status calls within one poll interval", lists-before)
	}
}
