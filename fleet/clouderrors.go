package fleet

import "errors"

// Errors of a cloud management API (Azure Resource Manager). Drivers wrap
// them in *Error with a hint that says what to change.
var (
	// ErrPermission: the caller's identity may not do this (no role
	// assignment grants the action, or no credential could be had).
	ErrPermission = errors.New("permission denied")
	// ErrLocked: a resource lock on the resource, its group or its
	// subscription forbids the change.
	ErrLocked = errors.New("the resource is locked")
	// ErrQuota: the change would exceed a subscription or regional quota.
	ErrQuota = errors.New("quota exceeded")
)
