package fleet

import (
	"errors"
	"fmt"
)

// ErrNotFound matches (with errors.Is) every "does not exist" result: shard
// map, shard, mapping, no mapping for a key, schema info.
var ErrNotFound = errors.New("not found")

// StoreResult is a shard map store result code, numbered as the Elastic
// Database library's stored procedures number them. Every code other than
// ResultSuccess is an error value itself, so callers test with
// errors.Is(err, fleet.ResultMappingNotOffline). Drivers wrap it in *Error.
type StoreResult int

// Store result codes (ELASTICDB.md §1.3).
const (
	ResultSuccess                StoreResult = 1
	ResultMissingParameters      StoreResult = 50
	ResultStoreVersionMismatch   StoreResult = 51
	ResultPendingOperation       StoreResult = 52
	ResultUnexpectedStoreError   StoreResult = 53
	ResultShardMapExists         StoreResult = 101
	ResultShardMapDoesNotExist   StoreResult = 102
	ResultShardMapHasShards      StoreResult = 103
	ResultShardExists            StoreResult = 201
	ResultShardDoesNotExist      StoreResult = 202
	ResultShardHasMappings       StoreResult = 203
	ResultShardVersionMismatch   StoreResult = 204
	ResultShardLocationExists    StoreResult = 205
	ResultMappingDoesNotExist    StoreResult = 301
	ResultMappingRangeMapped     StoreResult = 302
	ResultMappingPointMapped     StoreResult = 303
	ResultMappingNotFoundForKey  StoreResult = 304
	ResultUnableToKillSessions   StoreResult = 305
	ResultMappingNotOffline      StoreResult = 306
	ResultMappingLockOwnerIDDiff StoreResult = 307
	ResultMappingAlreadyLocked   StoreResult = 308
	ResultMappingIsOffline       StoreResult = 309
	ResultSchemaInfoNameMissing  StoreResult = 401
	ResultSchemaInfoNameConflict StoreResult = 402
)

var storeResultText = map[StoreResult]string{
	ResultSuccess:                "success",
	ResultMissingParameters:      "missing parameters",
	ResultStoreVersionMismatch:   "store version mismatch",
	ResultPendingOperation:       "another operation is pending on the shard",
	ResultUnexpectedStoreError:   "unexpected store error",
	ResultShardMapExists:         "shard map name already exists",
	ResultShardMapDoesNotExist:   "shard map does not exist",
	ResultShardMapHasShards:      "shard map still has shards",
	ResultShardExists:            "shard already exists",
	ResultShardDoesNotExist:      "shard does not exist",
	ResultShardHasMappings:       "shard still has mappings",
	ResultShardVersionMismatch:   "shard version mismatch",
	ResultShardLocationExists:    "location is already a shard of this map",
	ResultMappingDoesNotExist:    "mapping does not exist",
	ResultMappingRangeMapped:     "range already mapped",
	ResultMappingPointMapped:     "point already mapped",
	ResultMappingNotFoundForKey:  "no mapping for key",
	ResultUnableToKillSessions:   "unable to kill sessions",
	ResultMappingNotOffline:      "mapping is not offline",
	ResultMappingLockOwnerIDDiff: "mapping lock owner mismatch",
	ResultMappingAlreadyLocked:   "mapping is already locked",
	ResultMappingIsOffline:       "mapping is offline",
	ResultSchemaInfoNameMissing:  "schema info does not exist",
	ResultSchemaInfoNameConflict: "schema info already exists",
}

func (r StoreResult) Error() string {
	if s, ok := storeResultText[r]; ok {
		return fmt.Sprintf("%s (store result %d)", s, int(r))
	}
	return fmt.Sprintf("store result %d", int(r))
}

// Is makes every not-found result match ErrNotFound.
func (r StoreResult) Is(target error) bool {
	if target == ErrNotFound {
		switch r {
		case ResultShardMapDoesNotExist, ResultShardDoesNotExist, ResultMappingDoesNotExist,
			ResultMappingNotFoundForKey, ResultSchemaInfoNameMissing:
			return true
		}
	}
	return false
}

// ResultOf returns the StoreResult in err's chain, or ResultSuccess when err is
// nil and ResultUnexpectedStoreError when it holds none.
func ResultOf(err error) StoreResult {
	if err == nil {
		return ResultSuccess
	}
	var r StoreResult
	if errors.As(err, &r) {
		return r
	}
	return ResultUnexpectedStoreError
}

// Errors a driver returns when opening a fleet that it cannot use. Each is
// wrapped in *Error with a hint.
var (
	ErrNotAFleet       = errors.New("not a fleet")
	ErrNotADatabase    = errors.New("not a database file")
	ErrStoreVersion    = errors.New("unsupported shard map store version")
	ErrCorruptMappings = errors.New("corrupt mapping set")
	// ErrNoDatabase: the database named by a location does not exist.
	ErrNoDatabase = errors.New("database does not exist")
	// ErrDatabaseExists: a database that was to be created is already there.
	ErrDatabaseExists = errors.New("database already exists")
	// ErrTargetNotEmpty: a move's target holds rows in the range it was to
	// receive that the move did not copy.
	ErrTargetNotEmpty = errors.New("target range is not empty")
)
