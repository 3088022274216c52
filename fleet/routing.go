package fleet

import (
	"context"
	"database/sql"
)

// ShardConnector is implemented by drivers whose shard databases an
// application can reach through data-dependent routing (package shardmap):
// the driver hands out connections to a shard's database and checks, inside
// the application's own transaction, that the shard's local shard map (LSM)
// still holds a mapping online, as the library's OpenConnectionForKey does
// with spValidateShardMappingLocal.
type ShardConnector interface {
	// ShardDB returns the driver's connection pool for a shard's database.
	// The pool belongs to the target and is closed by Target.Close; callers
	// must not close it. ErrNoDatabase when the database does not exist.
	// Transient errors (IsTransient) are worth retrying.
	ShardDB(ctx context.Context, loc Location) (*sql.DB, error)
	// BeginRoutedTx begins a transaction on conn (a connection of
	// ShardDB(loc)) and checks inside it that the local shard map of the
	// shard at loc holds the mapping mp of map m (same id and bounds) online.
	// The answer holds until the transaction ends: the driver begins the
	// transaction so that a concurrent change of that LSM row either waits
	// for it to end or makes it fail, so a transaction that validated never
	// commits a write to a shard that no longer holds the key. When the check
	// fails the transaction is rolled back and the error is *Error wrapping
	// ResultMappingDoesNotExist (the mapping changed or moved: look it up
	// again in the global shard map) or ResultMappingIsOffline (a move holds
	// the key: retry later). Other errors are classified like every driver
	// error (IsTransient for a busy database).
	BeginRoutedTx(ctx context.Context, conn *sql.Conn, opts *sql.TxOptions, m ShardMap, loc Location, mp Mapping) (*sql.Tx, error)
}
