package fleet

import (
	"context"
	"errors"
	"time"
)

// Managed-instance errors. Drivers wrap them in *Error with a hint.
var (
	// ErrOperationFailed is an instance operation the service ended in
	// failure; the instance keeps the configuration it had before.
	ErrOperationFailed = errors.New("the instance operation failed")
	// ErrCannotCancel is a cancel the operation no longer accepts (it is
	// past its failover, or it ended).
	ErrCannotCancel = errors.New("the operation can no longer be cancelled")
	// ErrOperationInFlight is a new operation on an instance that already
	// runs one; the service takes one at a time.
	ErrOperationInFlight = errors.New("another operation is in flight on the instance")
)

// ManagedInstance is the control-plane view of one managed instance.
type ManagedInstance struct {
	Name              string             `json:"name"`
	Tier              string             `json:"tier"` // GeneralPurpose, BusinessCritical, NextGenGeneralPurpose
	VCores            int                `json:"vCores"`
	StorageGB         int                `json:"storageGB"`
	Hardware          string             `json:"hardware"`
	ZoneRedundant     bool               `json:"zoneRedundant"`
	LicenseType       string             `json:"licenseType"`
	MaintenanceWindow string             `json:"maintenanceWindow"`
	Pool              string             `json:"pool,omitempty"` // "" when not in a pool
	Subnet            string             `json:"subnet"`
	Labels            map[string]string  `json:"labels,omitempty"`
	Databases         []InstanceDatabase `json:"databases,omitempty"`
	// LongRunning names the long-running transactions active now (imports,
	// index rebuilds): a failover would cancel them.
	LongRunning []string `json:"longRunning,omitempty"`
	// Operation is the id of the operation in flight; "" when none.
	Operation string `json:"operation,omitempty"`
}

// InstanceDatabase is one database of a managed instance and its size.
type InstanceDatabase struct {
	Name   string  `json:"name"`
	SizeGB float64 `json:"sizeGB"`
}

// InstancePool is a pool of managed instances sharing one VM group.
type InstancePool struct {
	Name      string   `json:"name"`
	Subnet    string   `json:"subnet"`
	Tier      string   `json:"tier"`
	Hardware  string   `json:"hardware"`
	VCores    int      `json:"vCores"`
	Instances []string `json:"instances,omitempty"`
}

// InstanceSettings are the properties an operation sets; zero values are
// left as they are, except Pool, which is set when PoolSet is.
type InstanceSettings struct {
	Tier              string            `json:"tier,omitempty"`
	VCores            int               `json:"vCores,omitempty"`
	StorageGB         int               `json:"storageGB,omitempty"`
	Hardware          string            `json:"hardware,omitempty"`
	ZoneRedundant     *bool             `json:"zoneRedundant,omitempty"`
	LicenseType       string            `json:"licenseType,omitempty"`
	MaintenanceWindow string            `json:"maintenanceWindow,omitempty"`
	Pool              string            `json:"pool,omitempty"`
	PoolSet           bool              `json:"poolSet,omitempty"`
	Subnet            string            `json:"subnet,omitempty"` // create only
	Labels            map[string]string `json:"labels,omitempty"`
}

// Instance operation types.
const (
	InstanceCreate        = "create"
	InstanceUpdate        = "update"
	InstanceDelete        = "delete"
	InstanceMoveIntoPool  = "move-into-pool"
	InstanceMoveOutOfPool = "move-out-of-pool"
)

// InstanceOpState is where an instance operation is in its life.
type InstanceOpState string

// Operation states.
const (
	OpInProgress InstanceOpState = "InProgress"
	OpSucceeded  InstanceOpState = "Succeeded"
	OpFailed     InstanceOpState = "Failed"
	OpCancelled  InstanceOpState = "Cancelled"
)

// Ended reports whether the operation is over.
func (s InstanceOpState) Ended() bool { return s != OpInProgress }

// InstanceRequest asks for one operation on one instance.
type InstanceRequest struct {
	Instance string           `json:"instance"`
	Type     string           `json:"type"`
	Settings InstanceSettings `json:"settings"`
	// ClientRequestID makes Begin idempotent: a second Begin with the same
	// id returns the first one's operation instead of starting another.
	ClientRequestID string `json:"clientRequestId"`
}

// InstanceOperation is a long-running operation as of now.
type InstanceOperation struct {
	ID       string          `json:"id"`
	Instance string          `json:"instance"`
	Type     string          `json:"type"`
	State    InstanceOpState `json:"state"`
	Phases   []string        `json:"phases"`
	// Phase is the phase running now (the last one once succeeded, the one
	// it stopped in once failed or cancelled); PhaseIndex is its index.
	Phase       string `json:"phase"`
	PhaseIndex  int    `json:"phaseIndex"`
	PercentDone int    `json:"percentDone"`
	Error       string `json:"error,omitempty"`
	// CancelRequested is set once a cancel was asked for.
	CancelRequested bool      `json:"cancelRequested,omitempty"`
	Started         time.Time `json:"started"`
	// Elapsed is the modelled (unscaled) time since the start, up to the
	// end once the operation ended.
	Elapsed time.Duration `json:"elapsed"`
}

// InstanceManager is implemented by fleets with managed instances and
// instance pools. Operations are long-running: Begin starts one and returns
// at once; Operation reports where it is. Begin is idempotent per
// ClientRequestID. A failed or cancelled operation leaves the instance on
// the configuration it had before.
type InstanceManager interface {
	// ManagedInstances lists the instances, sorted by name.
	ManagedInstances(ctx context.Context) ([]ManagedInstance, error)
	// InstancePools lists the pools, sorted by name.
	InstancePools(ctx context.Context) ([]InstancePool, error)
	// BeginInstanceOperation starts an operation (ErrOperationInFlight when
	// the instance runs another one, ErrNotFound for a missing instance or
	// pool, ErrInvalidArgument for a request the service refuses).
	BeginInstanceOperation(ctx context.Context, req InstanceRequest) (InstanceOperation, error)
	// InstanceOperation returns an operation as of now; ErrNotFound when
	// there is none with that id.
	InstanceOperation(ctx context.Context, id string) (InstanceOperation, error)
	// FindInstanceOperation returns the operation Begin started for a
	// client request id; found is false when there is none.
	FindInstanceOperation(ctx context.Context, clientRequestID string) (op InstanceOperation, found bool, err error)
	// CancelInstanceOperation asks an operation to cancel. The service
	// allows it until the failover; after that it is ErrCannotCancel.
	// Cancelling a cancelled operation is a no-op.
	CancelInstanceOperation(ctx context.Context, id string) error
}

// Clock is implemented by fleets whose time is modelled (local): change
// windows are read and waited for on the fleet's clock.
type Clock interface {
	// Now is the fleet's time.
	Now(ctx context.Context) (time.Time, error)
	// SleepUntil waits until the fleet's clock reads t (or ctx ends).
	SleepUntil(ctx context.Context, t time.Time) error
}
