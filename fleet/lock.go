package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Locker serialises the runs that change one fleet. The lock belongs to the
// fleet itself, not to the plan repository or the name a fleetplan.yaml gives
// the target: two checkouts, or two target names for the same fleet, take the
// same lock. The local driver holds a kernel file lock inside the fleet
// directory; a SQL Server driver holds sp_getapplock in the shard map manager
// database on a pinned session.
//
// Contract:
//   - LockFleet never waits for another holder: it returns at once, with the
//     lock or with an error.
//   - The lock is exclusive across processes and hosts that reach the fleet,
//     and within one process (a second LockFleet on the same fleet fails
//     until the first is released).
//   - It is released by release() (idempotent) or when the holding process
//     dies, so a killed run never keeps the fleet locked.
//   - Errors: *Error wrapping *FleetLockedError (errors.As) when another
//     holder has the lock, naming that holder when it left its details;
//     any other error means the lock state could not be read, and the caller
//     must not change the fleet.
type Locker interface {
	LockFleet(ctx context.Context, h LockHolder) (release func(), err error)
}

// LockHolder describes who holds a lock: the run, its process, and the state
// folder (the plan repository's .fleetplan) it runs from.
type LockHolder struct {
	PID      int       `json:"pid"`
	Run      string    `json:"run"`
	Host     string    `json:"host"`
	Command  string    `json:"command,omitempty"`
	StateDir string    `json:"stateDir,omitempty"`
	Since    time.Time `json:"since"`
}

func (h *LockHolder) String() string {
	if h == nil {
		return "another fleetplan process"
	}
	s := fmt.Sprintf("run %s (pid %d on %s, since %s", h.Run, h.PID, h.Host, h.Since.Local().Format(time.RFC3339))
	if h.StateDir != "" {
		s += ", from " + h.StateDir
	}
	return s + ")"
}

// FleetLockedError says that another run holds the fleet's lock.
type FleetLockedError struct {
	Fleet  string      // the fleet (a directory, a server/database)
	Holder *LockHolder // nil when the holder left no details
}

func (e *FleetLockedError) Error() string {
	return fmt.Sprintf("fleet %s is locked by %s", e.Fleet, e.Holder.String())
}

// ErrMappingLocked matches (errors.Is) a refused change of a shard map
// mapping that another owner has locked (the library's LockOwnerId). The
// store's error names the owner; see MappingLockedError.
var ErrMappingLocked = errors.New("mapping is locked by another owner")

// MappingLockedError is a change refused because the mapping's lock belongs
// to another owner. It wraps ResultMappingLockOwnerIDDiff (or
// ResultMappingAlreadyLocked) and matches ErrMappingLocked.
type MappingLockedError struct {
	Mapping string    // the mapping's range, as text
	Owner   uuid.UUID // who holds the lock
	Result  StoreResult
}

func (e *MappingLockedError) Error() string {
	return fmt.Sprintf("mapping %s is locked by owner %s (%v)", e.Mapping, e.Owner, e.Result)
}

// Is matches ErrMappingLocked.
func (e *MappingLockedError) Is(target error) bool { return target == ErrMappingLocked }

// Unwrap returns the store result.
func (e *MappingLockedError) Unwrap() error { return e.Result }

// runLockNamespace scopes the mapping-lock owners fleetplan derives from run ids.
var runLockNamespace = uuid.MustParse("8f0c6f0e-5a43-4d0b-9d3e-1f6b2b7c9a51")

// RunLockOwner is the mapping lock owner (LockOwnerId) of a fleetplan run: a
// name-based UUID of the run id, so a resumed run, in any process, presents
// the same owner as the process that took the locks.
func RunLockOwner(runID string) uuid.UUID {
	return uuid.NewSHA1(runLockNamespace, []byte("fleetplan run "+runID))
}
