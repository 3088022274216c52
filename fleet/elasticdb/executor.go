package elasticdb

import (
	"context"
	"errors"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// Executor is what a driver gives the protocol: transactions on the global
// shard map and on the local shard map of a shard's database, each a set of
// plain row statements (the library's stored procedures are composed from
// them here, once, for every driver), and a hook at each phase boundary.
//
// Errors: a driver returns its database's errors from the row statements
// as they are; GSM and LSM wrap any error that is not yet a *fleet.Error
// into one named what (classified by the driver's error codes). Errors the
// protocol makes are *fleet.Error already and pass through unchanged.
type Executor interface {
	// GSM runs fn in one transaction of the global shard map: committed
	// when fn returns nil, rolled back otherwise.
	GSM(ctx context.Context, what string, fn func(GSMTx) error) error
	// LSM runs fn in one transaction of the local shard map of the database
	// at loc, and says what it found there (fn runs only when the state is
	// LSMReady). See LSMOpen for a missing database or LSM.
	LSM(ctx context.Context, what string, loc fleet.Location, open LSMOpen, fn func(LSMTx) error) (LSMState, error)
	// Checkpoint is called when an operation passes one of the Crash*
	// points; an error stops the operation there (ErrSimulatedCrash without
	// rolling it back, as a killed process would leave it).
	Checkpoint(op *Operation, point string) error
	// LockOperation takes the application lock of operation id: the
	// library's sp_getapplock(@Resource = id, 'Exclusive', 'Session'), or
	// the driver's equivalent. It excludes every other owner, in this
	// process or another, until release is called or the holder dies. It
	// waits at most wait (0: one try), then fails with ErrOperationLocked.
	// Run holds the lock of its own operation from before GSM begin to
	// after GSM end; a writer undoes another operation only while holding
	// that operation's lock, so a live owner's operation is never undone.
	LockOperation(ctx context.Context, id uuid.UUID, wait time.Duration) (release func(), err error)
}

// LSMOpen says what LSM does when the database or its LSM is missing.
type LSMOpen struct {
	// IfExists: a database that does not exist is LSMNoDatabase (else the
	// driver's error for opening a missing database).
	IfExists bool
	// Deploy: a database without an LSM gets one (the library's
	// CreateShardMapManagerLocal), then fn runs; else it is LSMNotDeployed.
	Deploy bool
}

// LSMState is what LSM found at a location.
type LSMState int

// States of a shard's database.
const (
	LSMReady LSMState = iota
	LSMNoDatabase
	LSMNotDeployed
)

// The phase boundaries of a multi-database operation, where Checkpoint is
// called (and where a killed writer leaves the operation pending).
const (
	CrashAfterGSMBegin  = "gsm-begin"  // log row and pending GSM rows committed
	CrashAfterLSMSource = "lsm-source" // source shard's LSM committed
	CrashAfterLSMTarget = "lsm-target" // target shard's LSM committed, GSM end not run
)

// ErrSimulatedCrash stops an operation dead at a Checkpoint, as a killed
// process would: Run leaves it pending for the next writer to roll back.
var ErrSimulatedCrash = errors.New("simulated crash")

// LogRow is a row of OperationsLogGlobal.
type LogRow struct {
	ID             uuid.UUID
	Code           int
	Data           string // the request XML
	UndoStartState int
	// The source's and the target's shard versions before the operation
	// (mapping operations only).
	ShardVersionRemoves, ShardVersionAdds *uuid.UUID
}

// GSMShard is a row of ShardsGlobal.
type GSMShard struct {
	ShardRow
	Readable    bool
	OperationID *uuid.UUID // the operation that holds the row, if any
}

// GSMMapping is a row of ShardMappingsGlobal.
type GSMMapping struct {
	MappingRow
	ShardID     uuid.UUID
	Readable    bool
	OperationID *uuid.UUID
}

// GSMTx is one transaction of the global shard map. Rows are found whether
// readable or not; the protocol decides what a pending row means.
type GSMTx interface {
	// LogRows returns every pending operation, oldest first.
	LogRows(ctx context.Context) ([]LogRow, error)
	InsertLog(ctx context.Context, r LogRow) error
	SetUndoStartState(ctx context.Context, id uuid.UUID, state int) error
	DeleteLog(ctx context.Context, id uuid.UUID) error

	// Shard returns the shard row with this id, or nil.
	Shard(ctx context.Context, id uuid.UUID) (*GSMShard, error)
	// ShardAt returns a shard row of the map at loc, or nil.
	ShardAt(ctx context.Context, mapID uuid.UUID, loc fleet.Location) (*GSMShard, error)
	// ShardsOfOperation returns the shard rows that operation op holds.
	ShardsOfOperation(ctx context.Context, op uuid.UUID) ([]GSMShard, error)
	InsertShard(ctx context.Context, s GSMShard) error
	// UpdateShard rewrites the row with s.ID: version, status, readable and
	// operation id.
	UpdateShard(ctx context.Context, s GSMShard) error
	DeleteShard(ctx context.Context, id uuid.UUID) error
	// MappingCount counts the mapping rows (readable or not) on a shard.
	MappingCount(ctx context.Context, shardID uuid.UUID) (int, error)

	// Mapping returns the mapping row of the map with this id, or nil.
	Mapping(ctx context.Context, mapID, id uuid.UUID) (*GSMMapping, error)
	// MappingsOfOperation returns the mapping rows that operation op holds.
	MappingsOfOperation(ctx context.Context, op uuid.UUID) ([]GSMMapping, error)
	// MappingsOverlapping returns the mapping rows of m (readable or not)
	// that share a key with [min, max) (max nil = +infinity); on a list map,
	// the rows of point min.
	MappingsOverlapping(ctx context.Context, m fleet.ShardMap, min, max []byte) ([]GSMMapping, error)
	InsertMapping(ctx context.Context, mp GSMMapping) error
	// UpdateMapping rewrites the row with id old: its id (mapping ids change
	// on every update), shard, status, readable, lock owner and operation id.
	UpdateMapping(ctx context.Context, old uuid.UUID, mp GSMMapping) error
	DeleteMapping(ctx context.Context, id uuid.UUID) error
}

// LSMMap is a row of ShardMapsLocal.
type LSMMap struct {
	Map             fleet.ShardMap
	LastOperationID uuid.UUID
}

// LSMShard is a row of ShardsLocal.
type LSMShard struct {
	ShardRow
	LastOperationID uuid.UUID
}

// LSMMapping is a row of ShardMappingsLocal.
type LSMMapping struct {
	MappingRow
	ShardID         uuid.UUID
	LastOperationID uuid.UUID
}

// LSMTx is one transaction of a shard's local shard map.
type LSMTx interface {
	// Map returns the map's row, or nil.
	Map(ctx context.Context, mapID uuid.UUID) (*LSMMap, error)
	InsertMap(ctx context.Context, m LSMMap) error
	DeleteMap(ctx context.Context, mapID uuid.UUID) error

	// Shard returns the shard row with this id, or nil.
	Shard(ctx context.Context, id uuid.UUID) (*LSMShard, error)
	// ShardsOfMap returns the map's shard rows.
	ShardsOfMap(ctx context.Context, mapID uuid.UUID) ([]LSMShard, error)
	InsertShard(ctx context.Context, s LSMShard) error
	// UpdateShard rewrites the row with s.ID: version, status, location and
	// last operation id.
	UpdateShard(ctx context.Context, s LSMShard) error
	DeleteShard(ctx context.Context, id uuid.UUID) error

	// Mapping returns the mapping row with this id, or nil.
	Mapping(ctx context.Context, id uuid.UUID) (*LSMMapping, error)
	// MappingsOfShard returns the shard's mapping rows in key order.
	MappingsOfShard(ctx context.Context, shardID uuid.UUID) ([]LSMMapping, error)
	// MappingOverlapping returns a mapping row of m that shares a key with
	// [min, max) (on a list map: holds point min), or nil.
	MappingOverlapping(ctx context.Context, m fleet.ShardMap, min, max []byte) (*LSMMapping, error)
	InsertMapping(ctx context.Context, mp LSMMapping) error
	DeleteMapping(ctx context.Context, id uuid.UUID) error
}
