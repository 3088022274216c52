package stepspec

import "time"

// Database actions.
const (
	CreateSecondaryName = "database.create-secondary"
	WaitSeededName      = "database.wait-seeded"
	SetReadOnlyName     = "database.set-read-only"
	SetReadWriteName    = "database.set-read-write"
	DisconnectName      = "database.disconnect-secondary"
	RunScriptName       = "database.run-sql-script"
	DropName            = "database.drop-database"
)

var _ = declare(CreateSecondary{}, WaitSeeded{}, SetReadOnly{}, SetReadWrite{}, Disconnect{}, RunScript{}, Drop{})

// CreateSecondary makes a geo-replicated secondary of the database on
// PartnerServer (as PartnerDatabase, default the same name).
type CreateSecondary struct {
	Location
	PartnerServer   string `json:"partnerServer" yaml:"partnerServer" input:"required"`
	PartnerDatabase string `json:"partnerDatabase,omitempty" yaml:"partnerDatabase,omitempty"`
	PartnerRegion   string `json:"partnerRegion,omitempty" yaml:"partnerRegion,omitempty"`
}

// WaitSeeded waits until a secondary has caught up with its primary.
type WaitSeeded struct {
	Location
	Timeout  time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty" input:"default=2h"`
	Interval time.Duration `json:"interval,omitempty" yaml:"interval,omitempty" input:"default=100ms"`
}

// SetReadOnly makes a database read-only.
type SetReadOnly struct{ Location }

// SetReadWrite makes a database read-write.
type SetReadWrite struct{ Location }

// Disconnect ends a secondary's link to its primary ("planned": after it
// caught up; "planned-termination" likewise, ending the link for good).
type Disconnect struct {
	Location
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty" input:"default=planned"`
}

// RunScript runs a SQL script in one transaction: File (relative to the
// plan's folder) or SQL inline, exactly one of them.
type RunScript struct {
	Location
	File string `json:"file,omitempty" yaml:"file,omitempty"`
	SQL  string `json:"sql,omitempty" yaml:"sql,omitempty"`
	// Estimate is how long the script runs, for previews.
	Estimate time.Duration `json:"estimate,omitempty" yaml:"estimate,omitempty"`
}

// Drop drops a database.
type Drop struct{ Location }

// Action implements Spec.
func (CreateSecondary) Action() string { return CreateSecondaryName }

// Action implements Spec.
func (WaitSeeded) Action() string { return WaitSeededName }

// Action implements Spec.
func (SetReadOnly) Action() string { return SetReadOnlyName }

// Action implements Spec.
func (SetReadWrite) Action() string { return SetReadWriteName }

// Action implements Spec.
func (Disconnect) Action() string { return DisconnectName }

// Action implements Spec.
func (RunScript) Action() string { return RunScriptName }

// Action implements Spec.
func (Drop) Action() string { return DropName }
