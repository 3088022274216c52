package azure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/fleetplan/fleetplan/fleet"
)

// Tiers and hardware as plans write them, and as armsql's SKUs spell them:
// the SKU name is the tier's prefix and the hardware family (GP_Gen5,
// BC_G8IM, ...).
var (
	tierPrefix = map[string]string{"GeneralPurpose": "GP", "BusinessCritical": "BC"}
	families   = map[string]string{"Gen5": "Gen5", "PremiumSeries": "G8IM", "PremiumSeriesMemoryOptimized": "G8IH"}
)

func hardwareOf(family string) string {
	for hw, f := range families {
		if strings.EqualFold(f, family) {
			return hw
		}
	}
	return family
}

// sku builds the SKU for a tier and hardware.
func sku(tier, hardware string) (*armsql.SKU, error) {
	prefix, ok := tierPrefix[tier]
	if !ok {
		if tier == "NextGenGeneralPurpose" {
			return nil, fmt.Errorf("%w: tier NextGenGeneralPurpose is not in the managed-instance API armsql v1.2.0 speaks (2021-05-01-preview)", fleet.ErrInvalidArgument)
		}
		return nil, fmt.Errorf("%w: unknown tier %q (want GeneralPurpose or BusinessCritical)", fleet.ErrInvalidArgument, tier)
	}
	family, ok := families[hardware]
	if !ok {
		return nil, fmt.Errorf("%w: unknown hardware %q (want Gen5, PremiumSeries or PremiumSeriesMemoryOptimized)", fleet.ErrInvalidArgument, hardware)
	}
	return &armsql.SKU{Name: to.Ptr(prefix + "_" + family), Tier: to.Ptr(tier), Family: to.Ptr(family)}, nil
}

// lastSegment is a resource id's name ("" for "").
func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndexByte(id, '/')+1:]
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func i32(p *int32) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// instanceOf converts armsql's view of an instance.
func instanceOf(mi *armsql.ManagedInstance) fleet.ManagedInstance {
	out := fleet.ManagedInstance{Name: str(mi.Name)}
	if mi.SKU != nil {
		out.Tier = str(mi.SKU.Tier)
		out.Hardware = hardwareOf(str(mi.SKU.Family))
	}
	if p := mi.Properties; p != nil {
		out.VCores = i32(p.VCores)
		out.StorageGB = i32(p.StorageSizeInGB)
		out.ZoneRedundant = p.ZoneRedundant != nil && *p.ZoneRedundant
		if p.LicenseType != nil {
			out.LicenseType = string(*p.LicenseType)
		}
		out.MaintenanceWindow = lastSegment(str(p.MaintenanceConfigurationID))
		out.Pool = lastSegment(str(p.InstancePoolID))
		out.Subnet = str(p.SubnetID)
	}
	for k, v := range mi.Tags {
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		out.Labels[k] = str(v)
	}
	return out
}

func (t *Target) instanceCall(op, name string) call {
	return call{op: op, target: "managed instance " + name, role: roleInstance, inFlight: true}
}

// ManagedInstances implements fleet.InstanceManager: the resource group's
// instances with their databases and the operation in flight, if any.
func (t *Target) ManagedInstances(ctx context.Context) ([]fleet.ManagedInstance, error) {
	c := call{op: "list managed instances", target: t.rg(), role: roleReader}
	list, err := all(ctx, c, t.sql.NewManagedInstancesClient().NewListByResourceGroupPager(t.cfg.ResourceGroup, nil),
		func(p armsql.ManagedInstancesClientListByResourceGroupResponse) []*armsql.ManagedInstance {
			return p.Value
		})
	if err != nil {
		return nil, err
	}
	var out []fleet.ManagedInstance
	for _, mi := range list {
		out = append(out, instanceOf(mi))
	}
	for i := range out {
		dbs, err := t.instanceDatabases(ctx, out[i].Name)
		if err != nil {
			return nil, err
		}
		out[i].Databases = dbs
		if op, err := t.runningOperation(ctx, out[i].Name); err != nil {
			return nil, err
		} else if op != nil {
			out[i].Operation = t.operationID(ctx, out[i].Name, op)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// instanceDatabases lists an instance's databases. ARM does not report
// their size (that is the data plane's), so SizeGB stays 0.
func (t *Target) instanceDatabases(ctx context.Context, instance string) ([]fleet.InstanceDatabase, error) {
	c := call{op: "list databases", target: "managed instance " + instance, role: roleReader}
	list, err := all(ctx, c, t.sql.NewManagedDatabasesClient().NewListByInstancePager(t.cfg.ResourceGroup, instance, nil),
		func(p armsql.ManagedDatabasesClientListByInstanceResponse) []*armsql.ManagedDatabase { return p.Value })
	if err != nil {
		return nil, err
	}
	var out []fleet.InstanceDatabase
	for _, db := range list {
		out = append(out, fleet.InstanceDatabase{Name: str(db.Name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// armOperations lists the service's operations on an instance, newest first.
func (t *Target) armOperations(ctx context.Context, instance string) ([]*armsql.ManagedInstanceOperation, error) {
	c := call{op: "list operations", target: "managed instance " + instance, role: roleReader}
	out, err := all(ctx, c, t.sql.NewManagedInstanceOperationsClient().NewListByManagedInstancePager(t.cfg.ResourceGroup, instance, nil),
		func(p armsql.ManagedInstanceOperationsClientListByManagedInstanceResponse) []*armsql.ManagedInstanceOperation {
			return p.Value
		})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return startOf(out[i]).After(startOf(out[j])) })
	return out, nil
}

func startOf(op *armsql.ManagedInstanceOperation) time.Time {
	if op.Properties == nil || op.Properties.StartTime == nil {
		return time.Time{}
	}
	return *op.Properties.StartTime
}

func armState(op *armsql.ManagedInstanceOperation) armsql.ManagementOperationState {
	if op.Properties == nil || op.Properties.State == nil {
		return ""
	}
	return *op.Properties.State
}

func running(op *armsql.ManagedInstanceOperation) bool {
	switch armState(op) {
	case armsql.ManagementOperationStateInProgress, armsql.ManagementOperationStatePending, armsql.ManagementOperationStateCancelInProgress:
		return true
	}
	return false
}

// runningOperation returns the service's operation in flight on an
// instance; nil when none.
func (t *Target) runningOperation(ctx context.Context, instance string) (*armsql.ManagedInstanceOperation, error) {
	ops, err := t.armOperations(ctx, instance)
	if err != nil {
		return nil, err
	}
	for _, op := range ops {
		if running(op) {
			return op, nil
		}
	}
	return nil, nil
}

// operationID is the id fleetplan knows an ARM operation by: the one of
// the operation this process follows, else the service's own.
func (t *Target) operationID(ctx context.Context, instance string, op *armsql.ManagedInstanceOperation) string {
	t.ops.mu.Lock()
	followed := maps.Clone(t.ops.byID)
	t.ops.mu.Unlock()
	for id, l := range followed { // l.mu after ops.mu, never both: save takes ops.mu under l.mu
		l.mu.Lock()
		mine := strings.EqualFold(l.rec.Resource, instance) && l.rec.ARMOp != "" && l.rec.ARMOp == str(op.Name)
		l.mu.Unlock()
		if mine {
			return id
		}
	}
	return str(op.Name)
}

// InstancePools implements fleet.InstanceManager.
func (t *Target) InstancePools(ctx context.Context) ([]fleet.InstancePool, error) {
	c := call{op: "list instance pools", target: t.rg(), role: roleReader}
	list, err := all(ctx, c, t.sql.NewInstancePoolsClient().NewListByResourceGroupPager(t.cfg.ResourceGroup, nil),
		func(p armsql.InstancePoolsClientListByResourceGroupResponse) []*armsql.InstancePool { return p.Value })
	if err != nil {
		return nil, err
	}
	var out []fleet.InstancePool
	for _, p := range list {
		ip := fleet.InstancePool{Name: str(p.Name)}
		if p.SKU != nil {
			ip.Tier, ip.Hardware = str(p.SKU.Tier), hardwareOf(str(p.SKU.Family))
		}
		if p.Properties != nil {
			ip.Subnet, ip.VCores = str(p.Properties.SubnetID), i32(p.Properties.VCores)
		}
		out = append(out, ip)
	}
	if len(out) > 0 {
		all, err := t.ManagedInstances(ctx)
		if err != nil {
			return nil, err
		}
		for i := range out {
			for _, mi := range all {
				if strings.EqualFold(mi.Pool, out[i].Name) {
					out[i].Instances = append(out[i].Instances, mi.Name)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// poolID is an instance pool's resource id.
func (t *Target) poolID(pool string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Sql/instancePools/%s", t.cfg.Subscription, t.cfg.ResourceGroup, pool)
}

// maintenanceID is the public maintenance configuration a window names
// (SQL_WestEurope_MI_1, ...), unless it is a resource id already.
func (t *Target) maintenanceID(window string) string {
	if strings.HasPrefix(window, "/") {
		return window
	}
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Maintenance/publicMaintenanceConfigurations/%s", t.cfg.Subscription, window)
}

// properties sets the properties s names on p.
func (t *Target) properties(p *armsql.ManagedInstanceProperties, s fleet.InstanceSettings) {
	if s.VCores > 0 {
		p.VCores = to.Ptr(int32(s.VCores))
	}
	if s.StorageGB > 0 {
		p.StorageSizeInGB = to.Ptr(int32(s.StorageGB))
	}
	if s.ZoneRedundant != nil {
		p.ZoneRedundant = to.Ptr(*s.ZoneRedundant)
	}
	if s.LicenseType != "" {
		p.LicenseType = to.Ptr(armsql.ManagedInstanceLicenseType(s.LicenseType))
	}
	if s.MaintenanceWindow != "" {
		p.MaintenanceConfigurationID = to.Ptr(t.maintenanceID(s.MaintenanceWindow))
	}
	if s.PoolSet {
		if s.Pool == "" {
			// An explicit null takes the instance out of its pool.
			p.InstancePoolID = azcore.NullValue[*string]()
		} else {
			p.InstancePoolID = to.Ptr(t.poolID(s.Pool))
		}
	}
}

func tags(base, labels map[string]string) map[string]*string {
	if labels == nil {
		return nil
	}
	out := map[string]*string{}
	for _, k := range slices.Sorted(maps.Keys(base)) {
		out[k] = to.Ptr(base[k])
	}
	for k, v := range labels {
		out[k] = to.Ptr(v)
	}
	return out
}

// BeginInstanceOperation implements fleet.InstanceManager. It starts the
// ARM operation, checkpoints its resume token and returns at once. A second
// call with the same client request id returns the first one's operation.
func (t *Target) BeginInstanceOperation(ctx context.Context, req fleet.InstanceRequest) (fleet.InstanceOperation, error) {
	if op, found, err := t.FindInstanceOperation(ctx, req.ClientRequestID); err != nil || found {
		return op, err
	}
	c := t.instanceCall(req.Type, req.Instance)
	mis := t.sql.NewManagedInstancesClient()
	cur, err := mis.Get(ctx, t.cfg.ResourceGroup, req.Instance, nil)
	exists := err == nil
	if err != nil && !isNotFound(err) {
		return fleet.InstanceOperation{}, c.wrap(err)
	}
	invalid := func(err error, hint string) (fleet.InstanceOperation, error) {
		return fleet.InstanceOperation{}, &fleet.Error{Op: c.op, Target: c.target, Err: err, Hint: hint}
	}
	switch {
	case req.Type == fleet.InstanceCreate && exists:
		return invalid(fmt.Errorf("%w: the instance exists already", fleet.ErrConflict), "pick another name, or change the existing instance with an update")
	case req.Type != fleet.InstanceCreate && !exists:
		return invalid(fmt.Errorf("%w: no managed instance %s in resource group %s", fleet.ErrNotFound, req.Instance, t.cfg.ResourceGroup), "check the instance name and the target's resource group")
	}
	if exists {
		if op, err := t.runningOperation(ctx, req.Instance); err != nil {
			return fleet.InstanceOperation{}, err
		} else if op != nil {
			return invalid(fmt.Errorf("%w: %s (%s) since %s", fleet.ErrOperationInFlight, str(op.Properties.OperationFriendlyName), str(op.Name), startOf(op).Format(time.RFC3339)),
				"the service takes one operation at a time per instance; wait for it to end (or cancel it), then resume")
		}
	}
	kind, ok := instanceKinds[req.Type]
	if !ok {
		return invalid(fmt.Errorf("%w: unknown operation %q", fleet.ErrInvalidArgument, req.Type), "use create, update, delete, move-into-pool or move-out-of-pool")
	}
	rec, err := t.ops.intend(ctx, kind, req.Type, req.Instance, req.ClientRequestID, "")
	if err != nil {
		return invalid(err, "nothing was sent to Azure; the step can be retried")
	}
	var p poller
	s := req.Settings
	switch req.Type {
	case fleet.InstanceCreate:
		mi, err := t.createRequest(req)
		if err != nil {
			return invalid(err, "an instance create names its subnet (resource id), tier, hardware, vCores and storage; the target names its location and auth.user/auth.password for the administrator")
		}
		p, err = wrapPoller(mis.BeginCreateOrUpdate(ctx, t.cfg.ResourceGroup, req.Instance, mi, nil))
		if err != nil {
			return fleet.InstanceOperation{}, c.wrap(err)
		}
	case fleet.InstanceDelete:
		p, err = wrapPoller(mis.BeginDelete(ctx, t.cfg.ResourceGroup, req.Instance, nil))
		if err != nil {
			return fleet.InstanceOperation{}, c.wrap(err)
		}
	case fleet.InstanceUpdate, fleet.InstanceMoveIntoPool, fleet.InstanceMoveOutOfPool:
		upd := armsql.ManagedInstanceUpdate{Properties: &armsql.ManagedInstanceProperties{}}
		if req.Type == fleet.InstanceMoveOutOfPool {
			s.Pool, s.PoolSet = "", true
		}
		if req.Type == fleet.InstanceMoveIntoPool && s.Pool == "" {
			return invalid(fmt.Errorf("%w: move-into-pool names no pool", fleet.ErrInvalidArgument), "set settings.pool")
		}
		t.properties(upd.Properties, s)
		if s.Tier != "" || s.Hardware != "" {
			have := instanceOf(&cur.ManagedInstance)
			tier, hw := cmpOr(s.Tier, have.Tier), cmpOr(s.Hardware, have.Hardware)
			if upd.SKU, err = sku(tier, hw); err != nil {
				return invalid(err, "change tier and hardware to values the service offers")
			}
		}
		upd.Tags = tags(instanceOf(&cur.ManagedInstance).Labels, s.Labels)
		p, err = wrapPoller(mis.BeginUpdate(ctx, t.cfg.ResourceGroup, req.Instance, upd, nil))
		if err != nil {
			return fleet.InstanceOperation{}, c.wrap(err)
		}
	default:
		return invalid(fmt.Errorf("%w: unknown operation %q", fleet.ErrInvalidArgument, req.Type), "use create, update, delete, move-into-pool or move-out-of-pool")
	}
	l, err := t.ops.begun(ctx, rec, p)
	if err != nil {
		return fleet.InstanceOperation{}, &fleet.Error{Op: c.op, Target: c.target, Err: err,
			Hint: "the operation was started in Azure but its resume token could not be recorded; resuming follows it through the service's operation record (`az sql mi op list`) and sends nothing again"}
	}
	return t.status(ctx, l)
}

// instanceKinds is the SDK call each instance operation type begins.
var instanceKinds = map[string]string{fleet.InstanceCreate: kindInstanceCreate, fleet.InstanceDelete: kindInstanceDelete,
	fleet.InstanceUpdate: kindInstanceUpdate, fleet.InstanceMoveIntoPool: kindInstanceUpdate, fleet.InstanceMoveOutOfPool: kindInstanceUpdate}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// createRequest builds the body of an instance create.
func (t *Target) createRequest(req fleet.InstanceRequest) (armsql.ManagedInstance, error) {
	s := req.Settings
	var missing []string
	for _, f := range []struct{ name, v string }{{"location (target option)", t.cfg.Location}, {"subnet", s.Subnet}, {"tier", s.Tier}, {"hardware", s.Hardware},
		{"auth.user", t.cfg.AdminLogin}, {"auth.password", t.cfg.AdminPassword}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if s.VCores == 0 {
		missing = append(missing, "vCores")
	}
	if s.StorageGB == 0 {
		missing = append(missing, "storageGB")
	}
	if len(missing) > 0 {
		return armsql.ManagedInstance{}, fmt.Errorf("%w: an instance create needs %s", fleet.ErrInvalidArgument, strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(s.Subnet, "/subscriptions/") {
		return armsql.ManagedInstance{}, fmt.Errorf("%w: subnet %q is not a subnet resource id (/subscriptions/.../subnets/NAME)", fleet.ErrInvalidArgument, s.Subnet)
	}
	k, err := sku(s.Tier, s.Hardware)
	if err != nil {
		return armsql.ManagedInstance{}, err
	}
	p := &armsql.ManagedInstanceProperties{SubnetID: to.Ptr(s.Subnet), AdministratorLogin: to.Ptr(t.cfg.AdminLogin), AdministratorLoginPassword: to.Ptr(t.cfg.AdminPassword)}
	t.properties(p, s)
	if s.Pool == "" {
		p.InstancePoolID = nil
	}
	return armsql.ManagedInstance{Location: to.Ptr(t.cfg.Location), SKU: k, Properties: p, Tags: tags(nil, s.Labels)}, nil
}

// resume rebuilds the poller of a checkpointed operation from its token.
func (t *Target) resume(rec record) (poller, error) {
	if rec.Follow == followARMOperation {
		return &armPoller{t: t, instance: rec.Resource, id: rec.ARMOp}, nil
	}
	mis := t.sql.NewManagedInstancesClient()
	ctx := context.Background() // resuming from a token sends no request
	switch rec.Kind {
	case kindInstanceCreate:
		return wrapPoller(mis.BeginCreateOrUpdate(ctx, t.cfg.ResourceGroup, rec.Resource, armsql.ManagedInstance{}, &armsql.ManagedInstancesClientBeginCreateOrUpdateOptions{ResumeToken: rec.Token}))
	case kindInstanceUpdate:
		return wrapPoller(mis.BeginUpdate(ctx, t.cfg.ResourceGroup, rec.Resource, armsql.ManagedInstanceUpdate{}, &armsql.ManagedInstancesClientBeginUpdateOptions{ResumeToken: rec.Token}))
	case kindInstanceDelete:
		return wrapPoller(mis.BeginDelete(ctx, t.cfg.ResourceGroup, rec.Resource, &armsql.ManagedInstancesClientBeginDeleteOptions{ResumeToken: rec.Token}))
	case kindSecondaryCreate:
		loc := parseLocation(rec.Resource)
		return wrapPoller(t.sql.NewDatabasesClient().BeginCreateOrUpdate(ctx, t.cfg.ResourceGroup, loc.Server, loc.Database, armsql.Database{}, &armsql.DatabasesClientBeginCreateOrUpdateOptions{ResumeToken: rec.Token}))
	case kindFailover:
		loc := parseLocation(rec.Resource) // server/group
		return wrapPoller(t.sql.NewFailoverGroupsClient().BeginFailover(ctx, t.cfg.ResourceGroup, loc.Server, loc.Database, &armsql.FailoverGroupsClientBeginFailoverOptions{ResumeToken: rec.Token}))
	case kindForceFailover:
		loc := parseLocation(rec.Resource)
		return wrapPoller(t.sql.NewFailoverGroupsClient().BeginForceFailoverAllowDataLoss(ctx, t.cfg.ResourceGroup, loc.Server, loc.Database, &armsql.FailoverGroupsClientBeginForceFailoverAllowDataLossOptions{ResumeToken: rec.Token}))
	case kindDatabaseDelete:
		loc := parseLocation(rec.Resource)
		return wrapPoller(t.sql.NewDatabasesClient().BeginDelete(ctx, t.cfg.ResourceGroup, loc.Server, loc.Database, &armsql.DatabasesClientBeginDeleteOptions{ResumeToken: rec.Token}))
	}
	return nil, fmt.Errorf("checkpointed operation %s has unknown kind %q", rec.ID, rec.Kind)
}

// InstanceOperation implements fleet.InstanceManager: the operation as of
// now, re-attached from its checkpointed resume token after a restart.
func (t *Target) InstanceOperation(ctx context.Context, id string) (fleet.InstanceOperation, error) {
	l, err := t.ops.attach(ctx, id, t.resume)
	if err != nil {
		return fleet.InstanceOperation{}, call{op: "resume operation", target: id}.wrap(err)
	}
	if l == nil {
		return fleet.InstanceOperation{}, &fleet.Error{Op: "read operation", Target: id, Err: fmt.Errorf("%w: no operation %s was started by this run", fleet.ErrNotFound, id),
			Hint: "the operation's resume token is kept in the run journal; a run that did not start it cannot follow it"}
	}
	c := t.instanceCall("follow "+l.rec.Type, l.rec.Resource)
	if err := t.ops.refresh(ctx, l, t.cfg.PollInterval); err != nil {
		return fleet.InstanceOperation{}, c.wrap(err)
	}
	return t.status(ctx, l)
}

// status reports an operation, with the phases and progress the service's
// operation record shows when it can be read.
func (t *Target) status(ctx context.Context, l *live) (fleet.InstanceOperation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	op := fleet.InstanceOperation{ID: l.rec.ID, Instance: l.rec.Resource, Type: l.rec.Type, State: l.state,
		Phases: []string{"InProgress"}, Phase: "InProgress", Started: l.rec.Started}
	if l.err != nil {
		op.Error = call{op: l.rec.Type, target: l.rec.Resource, role: roleInstance}.wrap(l.err).Error()
	}
	if arm := t.armOperation(ctx, l, false); arm != nil && arm.Properties != nil {
		ap := arm.Properties
		op.PercentDone = i32(ap.PercentComplete)
		if steps := ap.OperationSteps; steps != nil && len(steps.StepsList) > 0 {
			list := slices.Clone(steps.StepsList)
			sort.SliceStable(list, func(i, j int) bool { return i32(list[i].Order) < i32(list[j].Order) })
			op.Phases = op.Phases[:0]
			for _, s := range list {
				op.Phases = append(op.Phases, str(s.Name))
			}
			op.PhaseIndex = min(max(i32(steps.CurrentStep)-1, 0), len(op.Phases)-1)
			op.Phase = op.Phases[op.PhaseIndex]
		}
		if armState(arm) == armsql.ManagementOperationStateCancelInProgress || armState(arm) == armsql.ManagementOperationStateCancelled {
			op.CancelRequested = true
		}
		if arm.Properties.StartTime != nil {
			op.Started = *arm.Properties.StartTime
		}
	}
	if op.State == fleet.OpSucceeded {
		op.PercentDone = 100
		op.PhaseIndex = len(op.Phases) - 1
		op.Phase = op.Phases[op.PhaseIndex]
	}
	op.Elapsed = time.Since(op.Started)
	return op, nil
}

// armOperation finds the service's record of an operation (l.mu held):
// the one it found before, else the newest on the instance that started no
// earlier than a minute before Begin returned. It is read again at most
// every PollInterval unless fresh. The record only adds phases and
// progress, so when it cannot be read the status goes without.
func (t *Target) armOperation(ctx context.Context, l *live, fresh bool) *armsql.ManagedInstanceOperation {
	if !strings.HasPrefix(l.rec.Kind, "managedInstance.") {
		return nil
	}
	if !fresh && !l.armAt.IsZero() && time.Since(l.armAt) < t.cfg.PollInterval {
		return l.arm
	}
	l.armAt = time.Now()
	if l.rec.ARMOp != "" {
		got, err := t.sql.NewManagedInstanceOperationsClient().Get(ctx, t.cfg.ResourceGroup, l.rec.Resource, l.rec.ARMOp, nil)
		if err == nil {
			l.arm = &got.ManagedInstanceOperation
		}
		return l.arm
	}
	ops, err := t.armOperations(ctx, l.rec.Resource)
	if err != nil {
		return nil
	}
	for _, op := range ops {
		if !startOf(op).Before(l.rec.Started.Add(-time.Minute)) {
			l.rec.ARMOp = str(op.Name)
			_ = t.ops.save(ctx, l.rec) // a cache of what can be found again
			l.arm = op
			return op
		}
	}
	return nil
}

// FindInstanceOperation implements fleet.InstanceManager: the operation a
// client request id started, found through the run's checkpoints.
func (t *Target) FindInstanceOperation(ctx context.Context, clientRequestID string) (fleet.InstanceOperation, bool, error) {
	if rec, ok, err := t.ops.pending(ctx, clientRequestID); err != nil {
		return fleet.InstanceOperation{}, false, &fleet.Error{Op: "find operation", Target: clientRequestID, Err: err}
	} else if ok {
		return t.adoptInstanceOperation(ctx, rec)
	}
	id, ok := t.ops.byRequest(ctx, clientRequestID)
	if !ok {
		return fleet.InstanceOperation{}, false, nil
	}
	op, err := t.InstanceOperation(ctx, id)
	if err != nil {
		return op, false, err
	}
	return op, true, nil
}

// adoptInstanceOperation resumes an instance operation of which only the
// intent was checkpointed (the process stopped between Begin and the
// resume token's checkpoint): the service's operation record on the
// instance that started since the intent is taken for it, and followed
// through ManagedInstanceOperations.Get. With no such record the request
// never reached Azure (found is false; Begin sends it, once the instance
// has no operation in flight).
func (t *Target) adoptInstanceOperation(ctx context.Context, rec record) (fleet.InstanceOperation, bool, error) {
	ops, err := t.armOperations(ctx, rec.Resource)
	if errors.Is(err, fleet.ErrNotFound) {
		return fleet.InstanceOperation{}, false, nil
	}
	if err != nil {
		return fleet.InstanceOperation{}, false, err
	}
	var mine *armsql.ManagedInstanceOperation
	for _, op := range ops { // newest first: the oldest since the intent is the one it began
		if !startOf(op).Before(rec.Started.Add(-time.Minute)) {
			mine = op
		}
	}
	if mine == nil {
		return fleet.InstanceOperation{}, false, nil
	}
	rec.Pending, rec.Follow, rec.ARMOp = false, followARMOperation, str(mine.Name)
	if err := t.ops.save(ctx, rec); err != nil {
		return fleet.InstanceOperation{}, false, &fleet.Error{Op: "follow " + rec.Type, Target: "managed instance " + rec.Resource, Err: err}
	}
	op, err := t.InstanceOperation(ctx, rec.ID)
	return op, err == nil, err
}

// followARMOperation: a record followed through the service's operation
// record (ARMOp) rather than a poller's resume token.
const followARMOperation = "armOperation"

// armPoller follows an instance operation through the service's record of
// it (ManagedInstanceOperations.Get), for an operation whose resume token
// was never checkpointed.
type armPoller struct {
	t            *Target
	instance, id string
	op           *armsql.ManagedInstanceOperation
}

func (p *armPoller) Done() bool {
	switch armState(p.opOrNil()) {
	case armsql.ManagementOperationStateSucceeded, armsql.ManagementOperationStateFailed, armsql.ManagementOperationStateCancelled:
		return true
	}
	return false
}

func (p *armPoller) opOrNil() *armsql.ManagedInstanceOperation {
	if p.op == nil {
		return &armsql.ManagedInstanceOperation{}
	}
	return p.op
}

func (p *armPoller) Poll(ctx context.Context) (*http.Response, error) {
	got, err := p.t.sql.NewManagedInstanceOperationsClient().Get(ctx, p.t.cfg.ResourceGroup, p.instance, p.id, nil)
	if err != nil {
		return nil, err
	}
	p.op = &got.ManagedInstanceOperation
	return nil, nil
}

func (p *armPoller) Result(context.Context) error {
	op := p.opOrNil()
	switch armState(op) {
	case armsql.ManagementOperationStateSucceeded:
		return nil
	case armsql.ManagementOperationStateCancelled:
		return &azcore.ResponseError{ErrorCode: "OperationCancelled", StatusCode: http.StatusOK}
	}
	desc := "no description"
	if op.Properties != nil && op.Properties.ErrorDescription != nil {
		desc = *op.Properties.ErrorDescription
	}
	return fmt.Errorf("the service's operation %s ended %s: %s", p.id, armState(op), desc)
}

func (p *armPoller) ResumeToken() (string, error) { return "", nil }

// CancelInstanceOperation implements fleet.InstanceManager through the
// service's cancel of managed-instance operations, which it allows until
// the operation is past its failover (IsCancellable).
func (t *Target) CancelInstanceOperation(ctx context.Context, id string) error {
	l, err := t.ops.attach(ctx, id, t.resume)
	if err != nil {
		return call{op: "cancel operation", target: id}.wrap(err)
	}
	if l == nil {
		return &fleet.Error{Op: "cancel operation", Target: id, Err: fmt.Errorf("%w: no operation %s was started by this run", fleet.ErrNotFound, id)}
	}
	c := t.instanceCall("cancel "+l.rec.Type, l.rec.Resource)
	c.inFlight = false
	l.mu.Lock()
	ended := l.state
	l.mu.Unlock()
	switch {
	case ended == fleet.OpCancelled:
		return nil
	case ended.Ended():
		return &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: operation %s ended (%s)", fleet.ErrCannotCancel, id, ended)}
	}
	l.mu.Lock()
	arm := t.armOperation(ctx, l, true)
	l.mu.Unlock()
	if arm == nil || arm.Properties == nil {
		return &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: the service shows no record of operation %s to cancel", fleet.ErrCannotCancel, id),
			Hint: "look for it with `az sql mi op list` and cancel it there"}
	}
	if armState(arm) == armsql.ManagementOperationStateCancelInProgress || armState(arm) == armsql.ManagementOperationStateCancelled {
		return nil
	}
	if arm.Properties.IsCancellable != nil && !*arm.Properties.IsCancellable {
		return &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: the service no longer accepts a cancel of %s (%s)", fleet.ErrCannotCancel, id, str(arm.Properties.OperationFriendlyName)),
			Hint: "it is past its failover; let it finish"}
	}
	_, err = t.sql.NewManagedInstanceOperationsClient().Cancel(ctx, t.cfg.ResourceGroup, l.rec.Resource, str(arm.Name), nil)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == 409 {
			return &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: %v", fleet.ErrCannotCancel, c.wrap(err)), Hint: "it is past its failover; let it finish"}
		}
		return c.wrap(err)
	}
	return nil
}

// parseLocation reads "server/database" back.
func parseLocation(s string) fleet.Location {
	server, db, _ := strings.Cut(s, "/")
	return fleet.Location{Server: server, Database: db}
}
