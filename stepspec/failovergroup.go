package stepspec

// FailoverGroupName is the failover-group action.
const FailoverGroupName = "database.failover-group"

// Failover modes.
const (
	FailoverPlanned = "planned" // the new primary receives everything first; nothing is lost
	FailoverForced  = "forced"  // switch at once; what has not replicated is lost
)

var _ = declare(FailoverGroup{})

// FailoverGroup makes Server the primary of failover group Group. A forced
// failover needs AllowDataLoss: true.
type FailoverGroup struct {
	Group         string `json:"group" yaml:"group" input:"required"`
	Server        string `json:"server" yaml:"server" input:"required"`
	Mode          string `json:"mode,omitempty" yaml:"mode,omitempty" input:"default=planned"`
	AllowDataLoss bool   `json:"allowDataLoss,omitempty" yaml:"allowDataLoss,omitempty"`
}

// Action implements Spec.
func (FailoverGroup) Action() string { return FailoverGroupName }
