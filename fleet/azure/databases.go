package azure

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/fleetplan/fleetplan/fleet"
)

// Databases and geo-replication through ARM: a fleet Location is a logical
// server (its name, not its FQDN) and a database of the target's resource
// group. What ARM does not manage — a database's READ_ONLY setting, scripts
// — is the data plane's, served by the sqlserver driver.

var _ fleet.ControlPlane = (*Target)(nil)

const kindDatabaseDelete = "database.delete"
const kindSecondaryCreate = "database.createSecondary"

func dbTarget(loc fleet.Location) string { return "database " + loc.String() }

// dataPlane refuses what only T-SQL can do.
func dataPlane(op string, loc fleet.Location, what string) error {
	return &fleet.Error{Op: op, Target: dbTarget(loc), Err: fmt.Errorf("%w: %s is T-SQL, which the azure driver does not send", fleet.ErrInvalidArgument, what),
		Hint: "run this step against a sqlserver target (driver: sqlserver) for the same server; the azure driver changes only what Azure Resource Manager manages"}
}

// links lists a database's replication links; found is false when the
// database does not exist.
func (t *Target) dbLinks(ctx context.Context, loc fleet.Location) ([]*armsql.ReplicationLink, error) {
	return all(ctx, call{op: "list replication links of", target: dbTarget(loc), role: roleReader},
		t.sql.NewReplicationLinksClient().NewListByDatabasePager(t.cfg.ResourceGroup, loc.Server, loc.Database, nil),
		func(p armsql.ReplicationLinksClientListByDatabaseResponse) []*armsql.ReplicationLink { return p.Value })
}

func isSecondaryRole(r *armsql.ReplicationRole) bool {
	return r != nil && (*r == armsql.ReplicationRoleSecondary || *r == armsql.ReplicationRoleNonReadableSecondary)
}

func linkState(s *armsql.ReplicationState) fleet.LinkState {
	if s == nil {
		return fleet.LinkSeeding
	}
	switch *s {
	case armsql.ReplicationStateCATCHUP:
		// ARM's CATCH_UP is continuous replication: the secondary is
		// transactionally consistent and kept in step.
		return fleet.LinkHealthy
	case armsql.ReplicationStateSUSPENDED:
		return fleet.LinkCatchingUp
	}
	return fleet.LinkSeeding
}

// linkOf converts a link seen from loc's side.
func linkOf(loc fleet.Location, l *armsql.ReplicationLink) fleet.Link {
	out := fleet.Link{ID: str(l.Name)}
	p := l.Properties
	if p == nil {
		return out
	}
	partner := fleet.Location{Server: str(p.PartnerServer), Database: str(p.PartnerDatabase)}
	if isSecondaryRole(p.Role) {
		out.Primary, out.Secondary = partner, loc
	} else {
		out.Primary, out.Secondary = loc, partner
	}
	out.State, out.PercentDone = linkState(p.ReplicationState), i32(p.PercentComplete)
	if out.State == fleet.LinkHealthy {
		out.PercentDone = 100
	}
	if p.StartTime != nil {
		out.Created = *p.StartTime
	}
	return out
}

// Database implements fleet.ControlPlane. ARM reports the region, the
// geo-replication role and the origin; the READ_ONLY setting and the used
// size are the data plane's and read as false and 0.
func (t *Target) Database(ctx context.Context, loc fleet.Location) (fleet.DatabaseInfo, error) {
	got, err := t.sql.NewDatabasesClient().Get(ctx, t.cfg.ResourceGroup, loc.Server, loc.Database, nil)
	if isNotFound(err) {
		return fleet.DatabaseInfo{}, &fleet.Error{Op: "read", Target: dbTarget(loc), Err: fmt.Errorf("%w: %s", fleet.ErrNoDatabase, loc),
			Hint: "check the server and database names (the server's name, not its FQDN) and the target's resource group"}
	}
	if err != nil {
		return fleet.DatabaseInfo{}, call{op: "read", target: dbTarget(loc), role: roleReader}.wrap(err)
	}
	info := fleet.DatabaseInfo{Location: loc, Region: str(got.Location), Role: fleet.RoleStandalone}
	links, err := t.dbLinks(ctx, loc)
	if err != nil {
		return fleet.DatabaseInfo{}, err
	}
	for _, l := range links {
		if l.Properties == nil {
			continue
		}
		if isSecondaryRole(l.Properties.Role) {
			info.Role = fleet.RoleSecondary
			info.Origin = linkOf(loc, l).Primary
		} else if info.Role == fleet.RoleStandalone {
			info.Role = fleet.RolePrimary
		}
	}
	if info.Origin == (fleet.Location{}) && got.Properties != nil && got.Properties.SourceDatabaseID != nil {
		src := str(got.Properties.SourceDatabaseID)
		if i := strings.Index(strings.ToLower(src), "/servers/"); i >= 0 {
			parts := strings.Split(src[i+1:], "/")
			if len(parts) >= 4 {
				info.Origin = fleet.Location{Server: parts[1], Database: parts[3]}
			}
		}
	}
	return info, nil
}

// SetReadOnly implements fleet.ControlPlane: ALTER DATABASE ... SET
// READ_ONLY is T-SQL.
func (t *Target) SetReadOnly(_ context.Context, loc fleet.Location, _ bool) error {
	return dataPlane("set read-only", loc, "ALTER DATABASE ... SET READ_ONLY / READ_WRITE")
}

// RunScript implements fleet.ControlPlane: scripts are T-SQL.
func (t *Target) RunScript(_ context.Context, loc fleet.Location, _ string) (bool, error) {
	return false, dataPlane("run script", loc, "a script")
}

// ScriptApplied implements fleet.ControlPlane: scripts are T-SQL.
func (t *Target) ScriptApplied(_ context.Context, loc fleet.Location, _ string) (bool, error) {
	return false, dataPlane("check script", loc, "a script's record")
}

// Links implements fleet.ControlPlane: every link of every server in the
// resource group, each once (from its primary's side).
func (t *Target) Links(ctx context.Context) ([]fleet.Link, error) {
	servers, err := all(ctx, call{op: "list servers", target: t.rg(), role: roleReader},
		t.sql.NewServersClient().NewListByResourceGroupPager(t.cfg.ResourceGroup, nil),
		func(p armsql.ServersClientListByResourceGroupResponse) []*armsql.Server { return p.Value })
	if err != nil {
		return nil, err
	}
	var out []fleet.Link
	for _, s := range servers {
		links, err := all(ctx, call{op: "list replication links", target: "server " + str(s.Name), role: roleReader},
			t.sql.NewReplicationLinksClient().NewListByServerPager(t.cfg.ResourceGroup, str(s.Name), nil),
			func(p armsql.ReplicationLinksClientListByServerResponse) []*armsql.ReplicationLink { return p.Value })
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if l.Properties == nil || isSecondaryRole(l.Properties.Role) {
				continue
			}
			db := lastSegment(strings.Split(str(l.ID), "/replicationLinks/")[0])
			out = append(out, linkOf(fleet.Location{Server: str(s.Name), Database: db}, l))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Secondary.String() < out[j].Secondary.String() })
	return out, nil
}

// LinkTo implements fleet.ControlPlane. A create of the secondary this
// process began and that failed is reported as its error.
func (t *Target) LinkTo(ctx context.Context, loc fleet.Location) (fleet.Link, error) {
	if err := t.secondaryFailed(ctx, loc); err != nil {
		return fleet.Link{}, err
	}
	links, err := t.dbLinks(ctx, loc)
	if err != nil && !errors.Is(err, fleet.ErrNotFound) {
		return fleet.Link{}, err
	}
	for _, l := range links {
		if l.Properties != nil && isSecondaryRole(l.Properties.Role) {
			return linkOf(loc, l), nil
		}
	}
	return fleet.Link{}, notFoundErr("read link", dbTarget(loc), "no replication link has "+loc.String()+" as its secondary")
}

// secondaryFailed reports the failure of a secondary's create that this
// process follows, polling it once.
func (t *Target) secondaryFailed(ctx context.Context, loc fleet.Location) error {
	id, ok := t.ops.byRequest(ctx, "secondary/"+strings.ToLower(loc.String()))
	if !ok {
		return nil
	}
	l, err := t.ops.attach(ctx, id, t.resume)
	if err != nil || l == nil {
		return err
	}
	c := call{op: "create geo-secondary", target: dbTarget(loc), role: roleDatabase}
	if err := t.ops.refresh(ctx, l, t.cfg.PollInterval); err != nil {
		return c.wrap(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == fleet.OpFailed || l.state == fleet.OpCancelled {
		return c.wrap(l.err)
	}
	return nil
}

// CreateSecondary implements fleet.ControlPlane with a database created in
// mode Secondary (SecondaryType Geo) on the partner server, which must
// exist: creating a logical server takes an administrator, which fleetplan
// does not hold. Azure names a geo-secondary like its primary. The create
// runs long (it seeds); its resume token is checkpointed and the link is
// returned at once, seeding.
func (t *Target) CreateSecondary(ctx context.Context, primary, secondary fleet.Location, region string) (fleet.Link, error) {
	c := call{op: "create geo-secondary", target: dbTarget(secondary), role: roleDatabase}
	if !strings.EqualFold(primary.Database, secondary.Database) {
		return fleet.Link{}, &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: a geo-secondary has its primary's name (%s), not %s", fleet.ErrInvalidArgument, primary.Database, secondary.Database),
			Hint: "name the secondary like the primary, on another server"}
	}
	src, err := t.sql.NewDatabasesClient().Get(ctx, t.cfg.ResourceGroup, primary.Server, primary.Database, nil)
	if isNotFound(err) {
		return fleet.Link{}, &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: primary %s", fleet.ErrNoDatabase, primary), Hint: "check the primary's server and database names"}
	}
	if err != nil {
		return fleet.Link{}, c.wrap(err)
	}
	if link, err := t.LinkTo(ctx, secondary); err == nil {
		if !link.Primary.Equal(primary) {
			return fleet.Link{}, &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: %s is a secondary of %s", fleet.ErrConflict, secondary, link.Primary),
				Hint: "pick another partner server"}
		}
		return link, nil
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return fleet.Link{}, err
	}
	if _, err := t.sql.NewDatabasesClient().Get(ctx, t.cfg.ResourceGroup, secondary.Server, secondary.Database, nil); err == nil {
		return fleet.Link{}, &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: a database %s exists that is not a secondary of %s", fleet.ErrConflict, secondary, primary),
			Hint: "remove it, or pick another partner server"}
	} else if !isNotFound(err) {
		return fleet.Link{}, c.wrap(err)
	}
	srv, err := t.sql.NewServersClient().Get(ctx, t.cfg.ResourceGroup, secondary.Server, nil)
	if isNotFound(err) {
		return fleet.Link{}, &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: partner server %s", fleet.ErrNotFound, secondary.Server),
			Hint: "create the partner server first (az sql server create); it needs an administrator, which fleetplan does not create"}
	}
	if err != nil {
		return fleet.Link{}, c.wrap(err)
	}
	if region == "" {
		region = str(srv.Location)
	}
	db := armsql.Database{Location: to.Ptr(region), SKU: src.SKU, Properties: &armsql.DatabaseProperties{
		CreateMode: to.Ptr(armsql.CreateModeSecondary), SecondaryType: to.Ptr(armsql.SecondaryTypeGeo), SourceDatabaseID: src.ID}}
	p, err := wrapPoller(t.sql.NewDatabasesClient().BeginCreateOrUpdate(ctx, t.cfg.ResourceGroup, secondary.Server, secondary.Database, db, nil))
	if err != nil {
		return fleet.Link{}, c.wrap(err)
	}
	if _, err := t.ops.start(ctx, kindSecondaryCreate, "create-secondary", secondary.String(), "secondary/"+strings.ToLower(secondary.String()), p); err != nil {
		return fleet.Link{}, &fleet.Error{Op: c.op, Target: c.target, Err: err, Hint: "the create was started in Azure but could not be recorded; resume finds the secondary by its link"}
	}
	return fleet.Link{Primary: primary, Secondary: secondary, State: fleet.LinkSeeding, Created: time.Now().UTC()}, nil
}

// Disconnect implements fleet.ControlPlane by deleting the replication
// link (ARM's termination is forced). So that nothing is lost it refuses a
// link that is not in continuous replication yet; the plan makes the
// primary read-only first, as the rolling upgrade does.
func (t *Target) Disconnect(ctx context.Context, secondary fleet.Location) error {
	c := call{op: "disconnect", target: dbTarget(secondary), role: roleDatabase}
	link, err := t.LinkTo(ctx, secondary)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if link.State != fleet.LinkHealthy {
		return &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: the link is %s (%d%%)", fleet.ErrConflict, link.State, link.PercentDone),
			Hint: "wait until it is seeded (wait-seeded) before disconnecting"}
	}
	_, err = t.sql.NewReplicationLinksClient().Delete(ctx, t.cfg.ResourceGroup, secondary.Server, secondary.Database, link.ID, nil)
	if isNotFound(err) {
		return nil
	}
	return c.wrap(err)
}

// RemoveDatabase implements fleet.ControlPlane. It refuses a database that
// still has secondaries and waits for the delete to end (its resume token
// checkpointed like every long-running operation's).
func (t *Target) RemoveDatabase(ctx context.Context, loc fleet.Location) error {
	c := call{op: "remove", target: dbTarget(loc), role: roleDatabase}
	links, err := t.dbLinks(ctx, loc)
	if err != nil && !errors.Is(err, fleet.ErrNotFound) {
		return err
	}
	for _, l := range links {
		if l.Properties != nil && !isSecondaryRole(l.Properties.Role) {
			return &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: %s still has a secondary (%s/%s)", fleet.ErrConflict, loc, str(l.Properties.PartnerServer), str(l.Properties.PartnerDatabase)),
				Hint: "disconnect or remove the secondary first"}
		}
	}
	p, err := wrapPoller(t.sql.NewDatabasesClient().BeginDelete(ctx, t.cfg.ResourceGroup, loc.Server, loc.Database, nil))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return c.wrap(err)
	}
	l, err := t.ops.start(ctx, kindDatabaseDelete, "delete", loc.String(), "", p)
	if err != nil {
		return &fleet.Error{Op: c.op, Target: c.target, Err: err}
	}
	return t.wait(ctx, c, l)
}

// wait follows an operation to its end, asking every PollInterval.
func (t *Target) wait(ctx context.Context, c call, l *live) error {
	for {
		if err := t.ops.refresh(ctx, l, t.cfg.PollInterval); err != nil {
			return c.wrap(err)
		}
		l.mu.Lock()
		state, opErr := l.state, l.err
		l.mu.Unlock()
		if state.Ended() {
			return c.wrap(opErr)
		}
		if err := fleet.Sleep(ctx, t.cfg.PollInterval); err != nil {
			return err
		}
	}
}

// Slots implements fleet.ControlPlane: app slots (App Service) are outside
// what this driver manages, so it lists none.
func (t *Target) Slots(context.Context) ([]fleet.Slot, error) { return nil, nil }

// Slot implements fleet.ControlPlane.
func (t *Target) Slot(_ context.Context, name string) (fleet.Slot, error) {
	return fleet.Slot{}, &fleet.Error{Op: "read slot", Target: name, Err: fmt.Errorf("%w: the azure driver manages no app slots", fleet.ErrNotFound),
		Hint: "deploy the application with its own pipeline; the azure driver moves traffic and databases"}
}

// DeploySlot implements fleet.ControlPlane by refusing.
func (t *Target) DeploySlot(_ context.Context, s fleet.Slot) error {
	return &fleet.Error{Op: "deploy slot", Target: s.Name, Err: fmt.Errorf("%w: the azure driver does not deploy applications", fleet.ErrInvalidArgument),
		Hint: "deploy the application with its own pipeline; the azure driver moves traffic and databases"}
}

// RemoveSlot implements fleet.ControlPlane by refusing.
func (t *Target) RemoveSlot(_ context.Context, name string) error {
	return &fleet.Error{Op: "remove slot", Target: name, Err: fmt.Errorf("%w: the azure driver does not deploy applications", fleet.ErrInvalidArgument),
		Hint: "remove the slot with the application's own pipeline"}
}
