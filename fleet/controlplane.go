package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Control-plane errors. Drivers wrap them in *Error with a hint.
var (
	// ErrReadOnly is a write to a database that is read-only: set read-only,
	// or a geo-secondary (secondaries take changes only from their primary).
	ErrReadOnly = errors.New("database is read-only")
	// ErrConflict is an object that exists but is not what the caller asked
	// for (a database at the secondary's place that is not a copy of the
	// primary, a slot that serves traffic, ...). Retrying does not help.
	ErrConflict = errors.New("conflicts with the live state")
)

// DatabaseRole is a database's part in geo-replication.
type DatabaseRole string

// Database roles.
const (
	RoleStandalone DatabaseRole = "standalone" // no replication link
	RolePrimary    DatabaseRole = "primary"    // source of at least one link
	RoleSecondary  DatabaseRole = "secondary"  // partner of a link (and maybe the primary of a chained one)
)

// DatabaseInfo is the control-plane view of one database.
type DatabaseInfo struct {
	Location
	Region string `json:"region"`
	// ReadOnly is the database's own read-only setting. A secondary refuses
	// writes whatever this says; see Writable.
	ReadOnly  bool         `json:"readOnly"`
	Role      DatabaseRole `json:"role"`
	SizeBytes int64        `json:"sizeBytes"`
	// Origin is the database this one was copied from as a geo-secondary
	// (kept after the link is disconnected); zero when it was created empty.
	Origin Location `json:"origin,omitzero"`
	// Stale marks a copy whose origin could take writes after the copy was
	// disconnected from it: the copy may miss them, so it is no longer a
	// current copy of its origin (a new secondary must be made instead).
	Stale bool `json:"stale,omitempty"`
}

// Writable reports whether writes through fleet connections succeed.
func (d DatabaseInfo) Writable() bool { return !d.ReadOnly && d.Role != RoleSecondary }

// LinkState is where a geo-replication link is in its life.
type LinkState string

// Link states, in order: seeding copies the database, catching-up replays
// what changed meanwhile, healthy replicates continuously.
const (
	LinkSeeding    LinkState = "seeding"
	LinkCatchingUp LinkState = "catching-up"
	LinkHealthy    LinkState = "healthy"
)

// Link is a geo-replication link from a primary to a secondary.
type Link struct {
	ID        string    `json:"id"`
	Primary   Location  `json:"primary"`
	Secondary Location  `json:"secondary"`
	State     LinkState `json:"state"`
	// PercentDone is the seeding progress (100 once seeded).
	PercentDone int `json:"percentDone"`
	// LagSeconds is how far the secondary trails the primary, in (unscaled)
	// seconds of the modelled service: remaining seeding plus catch-up.
	LagSeconds float64   `json:"lagSeconds"`
	SizeBytes  int64     `json:"sizeBytes"`
	Created    time.Time `json:"created"`
	// SeededAt and HealthyAt are when seeding ends and the link turns healthy.
	SeededAt  time.Time `json:"seededAt"`
	HealthyAt time.Time `json:"healthyAt"`
}

// Endpoint is one endpoint of a traffic-manager profile.
type Endpoint struct {
	Profile string `json:"profile"`
	Name    string `json:"name"`
	// Target is the app slot the endpoint sends traffic to.
	Target   string `json:"target"`
	Online   bool   `json:"online"`
	Priority int    `json:"priority"` // lower serves first (priority routing)
}

// Profile is a traffic-manager profile with priority routing.
type Profile struct {
	Name      string     `json:"name"`
	Endpoints []Endpoint `json:"endpoints"` // by priority, then name
	// Serving is the endpoint that receives traffic: the online endpoint with
	// the lowest priority whose slot and database exist; "" when none does.
	Serving string `json:"serving"`
}

// Slot is an application deployment slot.
type Slot struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Database Location `json:"database"` // the database the app points at
	State    string   `json:"state"`    // "running"
}

// ControlPlane is the fleet's service management: databases with roles and
// read-only settings, geo-replication links, traffic-manager profiles and
// application slots. The local driver implements it on its catalog; cloud
// drivers map it to their management APIs.
//
// Every mutating method is idempotent: calling it again after a crash or a
// success finishes the job or does nothing. Errors are *Error values;
// ErrNoDatabase, ErrNotFound, ErrReadOnly and ErrConflict are wrapped so
// callers can test them with errors.Is.
type ControlPlane interface {
	// Database describes one database; ErrNoDatabase when it does not exist.
	Database(ctx context.Context, loc Location) (DatabaseInfo, error)
	// SetReadOnly sets a database's own read-only setting. Existing
	// connections of this process are closed so no write slips through.
	SetReadOnly(ctx context.Context, loc Location, readOnly bool) error
	// CreateSecondary creates secondary as a geo-replica of primary: a
	// consistent copy taken while primary may be written, and a link that
	// seeds for a time modelled from the database size. The secondary's
	// server is created in region when new (region "" means the primary's).
	// A secondary that already is a copy of primary is left as is; any other
	// database at that place is ErrConflict.
	CreateSecondary(ctx context.Context, primary, secondary Location, region string) (Link, error)
	// Links lists every link with its state as of now.
	Links(ctx context.Context) ([]Link, error)
	// LinkTo returns the link whose secondary is loc; ErrNotFound when none.
	LinkTo(ctx context.Context, loc Location) (Link, error)
	// Disconnect ends the link of secondary in planned-termination mode: the
	// secondary first receives everything the primary has, then becomes an
	// independent database with the primary's read-only setting. A database
	// without a link that was copied from a primary is already disconnected.
	Disconnect(ctx context.Context, secondary Location) error
	// RunScript runs a SQL script in one transaction and records it by
	// digest inside the database, so running the same script again does
	// nothing. Writes then replicate to the database's secondaries.
	RunScript(ctx context.Context, loc Location, script string) (applied bool, err error)
	// ScriptApplied reports whether a script with this content ran in loc
	// and its changes reached loc's secondaries.
	ScriptApplied(ctx context.Context, loc Location, script string) (bool, error)
	// RemoveDatabase drops a database and its link to its primary. It
	// refuses a database that still has secondaries or that an app slot
	// points at (ErrConflict). For a database the fleet does not list, it
	// removes what an interrupted CreateSecondary left at its place.
	RemoveDatabase(ctx context.Context, loc Location) error

	// Profiles lists the traffic-manager profiles.
	Profiles(ctx context.Context) ([]Profile, error)
	// Profile returns one profile; ErrNotFound when missing.
	Profile(ctx context.Context, name string) (Profile, error)
	// AddEndpoint adds an endpoint (and its profile when new). An endpoint of
	// that name with the same target is left as is (its status and priority
	// are not changed); one with another target is ErrConflict. Priority 0
	// picks one after every existing endpoint.
	AddEndpoint(ctx context.Context, e Endpoint) (Endpoint, error)
	// SetEndpointStatus takes an endpoint online or offline.
	SetEndpointStatus(ctx context.Context, profile, name string, online bool) error
	// SwitchTraffic makes `to` the serving endpoint of the profile and takes
	// `from` offline, in one transaction: `to` takes `from`'s priority when
	// that is lower. It refuses when `to`'s slot or database is missing, and
	// when another endpoint would still serve.
	SwitchTraffic(ctx context.Context, profile, from, to string) error
	// RemoveEndpoint removes an endpoint; it refuses the serving one.
	RemoveEndpoint(ctx context.Context, profile, name string) error

	// Slots lists the app slots.
	Slots(ctx context.Context) ([]Slot, error)
	// Slot returns one slot; ErrNotFound when missing.
	Slot(ctx context.Context, name string) (Slot, error)
	// DeploySlot deploys a version pointing at a database (which must exist).
	DeploySlot(ctx context.Context, s Slot) error
	// RemoveSlot removes a slot; it refuses one that serves traffic.
	RemoveSlot(ctx context.Context, name string) error
}

// ErrWritesSinceSwitch is a compensating action refused because it would
// lose data written to a database after traffic moved to it (switching
// traffic back, or dropping the database). The caller may allow it
// explicitly; the database is then kept, never dropped.
var ErrWritesSinceSwitch = errors.New("the database holds writes made since traffic switched to it")

// TableChange is how one table of a database differs from where it stood
// when traffic switched to the database.
type TableChange struct {
	Table string `json:"table"`
	// RowsThen and RowsNow are the row counts; -1 when the table did not
	// exist then (or does not now).
	RowsThen int64 `json:"rowsThen"`
	RowsNow  int64 `json:"rowsNow"`
}

// String says what changed: "accounts: 1000 -> 1001 rows (+1)".
func (c TableChange) String() string {
	switch {
	case c.RowsThen < 0:
		return fmt.Sprintf("%s: new table, %d rows", c.Table, c.RowsNow)
	case c.RowsNow < 0:
		return fmt.Sprintf("%s: dropped, had %d rows", c.Table, c.RowsThen)
	case c.RowsThen == c.RowsNow:
		return fmt.Sprintf("%s: %d rows, contents changed (same count)", c.Table, c.RowsNow)
	}
	return fmt.Sprintf("%s: %d -> %d rows (%+d)", c.Table, c.RowsThen, c.RowsNow, c.RowsNow-c.RowsThen)
}

// WriteTracker is implemented by control planes that can tell what was
// written to a database since traffic last switched to it. SwitchTraffic
// records where the database behind the new serving endpoint stands, in the
// same change as the switch: row counts and checksums per table on the local
// driver, a change-tracking version where the service has one.
type WriteTracker interface {
	// WritesSinceSwitch compares loc now with where it stood when traffic
	// last switched to it: one entry per table that differs, none when
	// nothing was written. tracked is false when traffic never switched to
	// loc (or the database was created again since).
	WritesSinceSwitch(ctx context.Context, loc Location) (changes []TableChange, tracked bool, err error)
}

// DatabaseKeeper is implemented by control planes that can set a database
// aside instead of dropping it: it gets a new name on the same server, keeps
// its data, and no longer takes part in replication or serves an app.
type DatabaseKeeper interface {
	// KeepDatabase renames loc to `as` (a database name on loc's server) and
	// says where the data now lies ("contoso-2/contoso-kept-X, file ...").
	// It refuses a database that still has links or app slots (ErrConflict),
	// and a name that is taken. Keeping a database already kept as `as` is a
	// no-op.
	KeepDatabase(ctx context.Context, loc Location, as string) (where string, err error)
}
