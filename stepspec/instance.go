package stepspec

import "time"

// Managed-instance actions.
const InstanceChangeName = "instance.change"

var _ = declare(InstanceChange{})

// InstanceSettings are the properties an instance operation sets; empty
// fields are left as they are.
type InstanceSettings struct {
	Tier              string `json:"tier,omitempty" yaml:"tier,omitempty"`
	VCores            int    `json:"vCores,omitempty" yaml:"vCores,omitempty"`
	StorageGB         int    `json:"storageGB,omitempty" yaml:"storageGB,omitempty"`
	Hardware          string `json:"hardware,omitempty" yaml:"hardware,omitempty"`
	ZoneRedundant     string `json:"zoneRedundant,omitempty" yaml:"zoneRedundant,omitempty"` // "true", "false" or "" (leave)
	LicenseType       string `json:"licenseType,omitempty" yaml:"licenseType,omitempty"`
	MaintenanceWindow string `json:"maintenanceWindow,omitempty" yaml:"maintenanceWindow,omitempty"`
	Pool              string `json:"pool,omitempty" yaml:"pool,omitempty"`
}

// ChangeWindow is a recurring change window.
type ChangeWindow struct {
	Days     []string `json:"days" yaml:"days"`
	Start    string   `json:"start" yaml:"start"` // HH:MM
	Duration string   `json:"duration" yaml:"duration"`
	TimeZone string   `json:"timeZone" yaml:"timeZone"`
}

// InstanceChange runs one operation on one managed instance: it waits for
// the change window, refuses while long-running transactions are active
// (unless allowed), starts the operation once, and polls it to the end.
type InstanceChange struct {
	Instance  string           `json:"instance" yaml:"instance" input:"required"`
	Operation string           `json:"operation" yaml:"operation" input:"required"` // create, update, delete, move-into-pool, move-out-of-pool
	Settings  InstanceSettings `json:"settings" yaml:"settings"`
	// Typical and P95 are the estimate; an operation whose P95 does not
	// fit in what is left of the window is not started.
	Typical time.Duration `json:"typical" yaml:"typical"`
	P95     time.Duration `json:"p95" yaml:"p95"`
	// TableTypical is the table's typical before measured runs were
	// blended in: later runs compare what they measure with it.
	TableTypical time.Duration `json:"tableTypical,omitempty" yaml:"tableTypical,omitempty"`
	// Unavailable is the failover's bound; zero when the operation does not
	// fail over (then long-running transactions are no concern).
	Unavailable                  time.Duration `json:"unavailable,omitempty" yaml:"unavailable,omitempty"`
	Window                       ChangeWindow  `json:"window,omitempty" yaml:"window,omitempty"` // no days: no window
	AllowLongRunningTransactions bool          `json:"allowLongRunningTransactions,omitempty" yaml:"allowLongRunningTransactions,omitempty"`
	// Start and End are where the preview's timeline puts the operation
	// (typical durations, RFC 3339), and P95End its end at the 95th
	// percentile; PlannedAt is the fleet time the plan was made.
	PlannedAt string `json:"plannedAt,omitempty" yaml:"plannedAt,omitempty"`
	Start     string `json:"start,omitempty" yaml:"start,omitempty"`
	End       string `json:"end,omitempty" yaml:"end,omitempty"`
	P95End    string `json:"p95End,omitempty" yaml:"p95End,omitempty"`
}

// Action implements Spec.
func (InstanceChange) Action() string { return InstanceChangeName }
