package plans

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans/expression"
)

// APIVersion is the only apiVersion plan documents may declare.
const APIVersion = "fleetplan/v1"

// The plan kinds fleetplan ships. Each registers its decoder (RegisterKind)
// from the file that decodes it; Kinds lists them.
const (
	KindShardLayout      = "ShardLayout"
	KindRollingUpgrade   = "RollingUpgrade"
	KindInstanceChange   = "InstanceChange"
	KindShardMapRecovery = "ShardMapRecovery"
	KindTemplate         = "Template"
)

// OnFailure values.
const (
	OnFailureRollback = "rollback" // default: undo completed steps in reverse order
	OnFailurePause    = "pause"    // stop and wait for an operator
)

// Set is everything loaded in one run: the config and every document.
type Set struct {
	// Config is the fleetplan.yaml shared by all documents; nil when documents
	// use different configs or none was found (see Document.Config).
	Config    *Config
	Documents []*Document
}

// Document is one validated plan document. Spec holds its kind's typed spec;
// each kind has an accessor (ShardLayout(), ...) that returns it, or nil for
// a document of another kind. It is plain data: no I/O happens after loading.
type Document struct {
	APIVersion string
	Kind       string
	Metadata   Metadata
	Pos        diag.Pos // start of the document
	File       string   // path of the file as given (joined with the folder walked)
	// Config is the fleetplan.yaml that applies to this document (nil for
	// templates and when none was found).
	Config *Config

	// Target is the spec.target of a runnable document, whatever its kind.
	Target string

	// Spec is what the kind's decoder (KindDef.Decode) built: a pointer to
	// the kind's spec struct (*ShardLayout, *Template, ...).
	Spec any

	// Steps are the expanded steps for kinds that run steps (from uses:/with:
	// or inline steps:). Interpolations that mention only params are resolved;
	// the others stay as "${{ ... }}" text for the runner (expression.Interpolate).
	Steps []*StepSpec
	// Params are the `with:` values after the template's defaults.
	Params map[string]any
	// ParamPos is where each `with:` value is written, by dotted path
	// ("primary.server"), for plan-time diagnostics about the values.
	ParamPos map[string]diag.Pos
	// Reads lists the files besides File that planning or applying the
	// document reads, as absolute paths in the order first met: the
	// templates it expands (uses:, nested ones included; not builtin ones),
	// its schemaFile, and the files its steps' inputs name when they are
	// known at load time. A change to any of them changes what the document
	// plans.
	Reads []string

	source *yaml.Node // the document as written, for Render
}

// Metadata names a document.
type Metadata struct {
	Name   string
	Labels map[string]string
}

// Key types of a shard map.
const (
	KeyInt32          = "int32"
	KeyInt64          = "int64"
	KeyGUID           = "guid"
	KeyBinary         = "binary"
	KeyDateTime       = "datetime"
	KeyTimeSpan       = "timespan"
	KeyDateTimeOffset = "datetimeoffset"
)

// Map types.
const (
	MapRange = "range"
	MapList  = "list"
)

// ShardLayout is the desired layout of one shard map.
type ShardLayout struct {
	Target   string
	ShardMap string
	MapType  string // MapRange (default) or MapList
	KeyType  string // one of the Key* constants
	Shards   []Shard
	Ranges   []Range // range maps only
	Points   []Point // list maps only
	Tables   Tables
	// SchemaFile is the resolved absolute path of the SQL applied to a new
	// shard's database before data arrives; empty when not set.
	SchemaFile        string
	DropRemovedShards bool
	Move              MoveSettings
	Guards            []Guard
	OnFailure         string
	// Positions of fields as written, for diagnostics that only the live
	// fleet can tell (the value's position; MapTypePos is zero when mapType
	// is not written).
	TargetPos, ShardMapPos, KeyTypePos, MapTypePos, SchemaFilePos diag.Pos
}

// Shard is one shard database. Name defaults to Database.
type Shard struct {
	Name, Server, Database string
	// CreateServer says the shard's server may be new (local driver only);
	// without it a server the fleet does not have is refused.
	CreateServer bool
	// Adopt allows a new shard to take over an existing database that holds
	// rows, as it is. Without it such a plan is refused.
	Adopt bool
	Pos   diag.Pos
	// ServerPos is the position of server:.
	ServerPos diag.Pos
}

// Range maps the half-open key interval [Low, High) to a shard.
type Range struct {
	Low  Key
	High *Key // nil means unbounded (+inf)
	// Shard is the name of a shard in ShardLayout.Shards.
	Shard string
	Pos   diag.Pos
}

// Point maps one key to a shard (list maps).
type Point struct {
	Key   Key
	Shard string
	Pos   diag.Pos
}

// Key is a sharding key as written and as a typed value.
type Key struct {
	Text string // as written in the plan
	// Value is typed by key type: int32, int64, [16]byte (guid, RFC 4122 byte
	// order), []byte (binary, trailing zero bytes removed), time.Time
	// (datetime, UTC), time.Duration (timespan), DateTimeOffset.
	Value any
}

// DateTimeOffset is a datetimeoffset key: an instant and the offset it was written with.
type DateTimeOffset struct {
	UTC    time.Time
	Offset time.Duration
}

// Tables says how each table takes part in data movement.
type Tables struct {
	Sharded   []ShardedTable
	Reference []string
	// ReferencePos holds the position of each Reference entry.
	ReferencePos []diag.Pos
	// Omitted marks a plan without `tables:`: the schema info already stored
	// in the shard map manager is used (and left as it is), as the
	// split-merge service does.
	Omitted bool
}

// ShardedTable is a table whose rows move with their sharding key.
type ShardedTable struct {
	Table string // "name" or "schema.name"
	Key   string // the sharding-key column
	// Pos and KeyPos are the positions of table: and key:.
	Pos, KeyPos diag.Pos
}

// MoveSettings tune data movement.
type MoveSettings struct {
	BatchSize int // shardlets per batch; default 100
	Parallel  int // batches moved at once; default 1
}

// Guard is a named boolean expression, compiled at load.
type Guard struct {
	Name    string
	Expr    string
	Pos     diag.Pos
	Program *expression.Program
}

// StepSpec is one step of a plan, after template expansion.
type StepSpec struct {
	ID     string // unique in the document; nested template steps are "<parent-id>.<id>"
	Action string // registry name, e.g. "database.set-read-only"
	With   map[string]any
	Needs  []string
	Guard  *Guard
	Wait   *WaitSpec
	Retry  *RetrySpec
	// Timeout bounds one attempt; zero means the action's default.
	Timeout  time.Duration
	Approval bool          // manual gate before the step runs
	Estimate time.Duration // duration hint for the preview; zero when not given
	Rollback *StepSpec     // compensating step; its ID is empty
	// KeepOnFailure (on a rollback) keeps what the step made when the run
	// fails by itself, for analysis: only an explicit rollback (or a
	// re-apply) runs this compensation.
	KeepOnFailure bool
	// Outputs maps output names to expressions evaluated after the step ran.
	Outputs map[string]string
	// Params are the template parameters in scope for this step's guard and
	// unresolved interpolations (the document's Params for top-level steps).
	Params map[string]any
	Pos    diag.Pos
	// ActionPos is where action: is written (the step's position when it is not).
	ActionPos diag.Pos
}

// WaitSpec polls a step's guard until it holds.
type WaitSpec struct {
	Timeout  time.Duration
	Interval time.Duration
}

// RetrySpec bounds retries of a step's transient errors; zero fields mean the
// runner's defaults.
type RetrySpec struct {
	Attempts int
	Initial  time.Duration
	Max      time.Duration
	Budget   time.Duration
}

// RollingUpgrade upgrades an application and its database with little downtime.
type RollingUpgrade struct {
	Target  string
	Desired UpgradeDesired
	// Uses is the template reference as written ("./x.yaml", "builtin:NAME"); empty with inline steps.
	Uses string
	// UsesPos is where uses: is written: plan-time problems of the
	// template's steps are reported there (zero with inline steps).
	UsesPos diag.Pos
	// DesiredPos is where desired: is written (zero when it is not).
	DesiredPos diag.Pos
	OnFailure  string
	// ReadOnlyEstimate is the expected read-only window, shown in previews; zero when not given.
	ReadOnlyEstimate time.Duration
}

// UpgradeDesired is what "done" looks like, observed live.
type UpgradeDesired struct {
	Endpoint string // traffic-manager endpoint that serves at the end
	Version  string // application version at the end
}

// InstanceChange changes properties of one or many managed instances.
type InstanceChange struct {
	Target      string
	Instances   InstanceSelector
	Desired     InstanceDesired
	MaxParallel int // default 1
	Window      *ChangeWindow
	OnFailure   string
	Uses        string
	// Canary is the instance changed first, alone ("" when none).
	Canary string
	// AllowLongRunningTransactions overrides the built-in guard that refuses
	// to change an instance while long-running transactions are active.
	AllowLongRunningTransactions bool
	// Positions for plan-time diagnostics: each listed name, the selector,
	// desired:, canary: and window: (zero when not written).
	NamePos                                       []diag.Pos
	SelectorPos, DesiredPos, CanaryPos, WindowPos diag.Pos
}

// InstanceSelector picks instances by name or by labels (exactly one is set).
type InstanceSelector struct {
	Names  []string
	Labels map[string]string
}

// InstanceDesired holds the desired properties; nil/empty fields are left alone.
type InstanceDesired struct {
	Tier              string // "GeneralPurpose", "BusinessCritical", "NextGenGeneralPurpose"
	VCores            int
	StorageGB         int
	Hardware          string
	ZoneRedundant     *bool
	LicenseType       string // "LicenseIncluded", "BasePrice"
	MaintenanceWindow string
	// Pool is the pool the instance belongs to; nil leaves membership
	// alone, "" takes it out of its pool.
	Pool *string
	// Present false deletes the instance; nil and true keep (or create) it.
	Present *bool
}

// ChangeWindow is when changes may start.
type ChangeWindow struct {
	Days     []time.Weekday
	Start    time.Duration // offset from midnight
	Duration time.Duration
	TimeZone string
	Location *time.Location
}

// Template is a reusable step list with typed parameters.
type Template struct {
	// Parameters is the JSON Schema that `with:` values must satisfy.
	Parameters map[string]any
	// Steps are the template's own steps, unexpanded (interpolations as written).
	Steps []*StepSpec
	// Outputs maps output names to expressions.
	Outputs map[string]string
}

// Config is a fleetplan.yaml file.
type Config struct {
	Path    string // absolute path of the file
	Dir     string // its folder: relative paths inside are relative to it
	Targets map[string]TargetSpec
	// AllowPaths are folders (absolute) that plans may name files in besides
	// Dir, the plan repository. Every other path a plan names is refused.
	AllowPaths []string
	// PlanSigningKey, when set, is the HMAC key that signs saved plans; apply
	// then refuses a saved plan without a valid signature.
	PlanSigningKey    *SecretRef
	PlanSigningKeyPos diag.Pos
}

// Target drivers.
const (
	DriverLocal     = "local"
	DriverSQLServer = "sqlserver"
	DriverAzure     = "azure"
)

// TargetSpec is one `targets:` entry.
type TargetSpec struct {
	Name, Driver string
	Path         string // local: absolute folder of the fleet
	Server       string // sqlserver
	Database     string // sqlserver
	Port         int    // sqlserver; zero means the default
	// Auth holds credentials; secrets are only references, resolved when the
	// target is opened.
	Auth    map[string]SecretRef
	AuthPos map[string]diag.Pos // where each Auth entry is written
	// RecoveryAuth holds the credentials only shard map recovery uses
	// (ShardMapRecovery runs), the same fields as Auth; nil when unset.
	RecoveryAuth    map[string]SecretRef
	RecoveryAuthPos map[string]diag.Pos
	PathPos         diag.Pos // where path is written
	// Options holds driver-specific settings (azure: subscription, resourceGroup).
	Options map[string]any
	Pos     diag.Pos
}
