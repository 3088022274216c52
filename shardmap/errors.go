package shardmap

import (
	"errors"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
)

// OfflineError reports a key whose mapping is offline: a move is copying its
// shardlet, so routing refuses it, as the library's data-dependent routing
// does. It is transient: retry with backoff (Retry, Router.InTx) and the key
// comes back online on its new shard when its batch has moved.
type OfflineError struct {
	ShardMap string         // the shard map's name
	Key      string         // the key, as plans write it
	Range    string         // the offline mapping's bounds, "[75000, 75100)"
	Shard    fleet.Location // the shard the offline mapping names
	Err      error          // wraps fleet.ResultMappingIsOffline
}

func (e *OfflineError) Error() string {
	return fmt.Sprintf("key %s of %s is offline: its mapping %s on %s is being moved; retry later", e.Key, e.ShardMap, e.Range, e.Shard)
}

func (e *OfflineError) Unwrap() error { return e.Err }

// IsTransient reports true: an offline key comes back online.
func (e *OfflineError) IsTransient() bool { return true }

// IsOffline reports whether err, or anything it wraps, says that a key's
// mapping is offline (an *OfflineError, or a store result 309 from a
// driver).
func IsOffline(err error) bool {
	var oe *OfflineError
	return errors.As(err, &oe) || errors.Is(err, fleet.ResultMappingIsOffline)
}

// ErrCommitOutcomeUnknown is wrapped by the error of a Commit that failed in
// Router.InTx: the transaction may or may not have been applied, so it is
// never retried.
var ErrCommitOutcomeUnknown = errors.New("the commit failed; whether it was applied is unknown")

// permanentError marks an error Retry must return at once, even when what it
// wraps is transient (a commit whose outcome is unknown).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }
