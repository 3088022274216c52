package fleet

import (
	"errors"
	"fmt"
)

// Error is a typed error from a driver or an action. It answers the operator's
// questions: what was being done (Op), where (Target), can it be retried
// (IsTransient) and what to do about it (Hint).
type Error struct {
	Op     string // e.g. "copy batch", "open database"
	Target string // e.g. "sql-1/customers_0"
	Code   int    // SQL Server / Azure SQL error number when known (40613, ...), else 0
	Err    error
	Hint   string
	// Transient marks a retryable condition that has no SQL Server error
	// number (an SQLite lock wait that timed out, for example).
	Transient bool
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Target != "" {
		msg += " " + e.Target
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Code != 0 {
		msg += fmt.Sprintf(" (error %d)", e.Code)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// transientCodes are the Azure SQL error numbers that clients must retry
// (DOMAIN.md §3: reconfiguration during planned maintenance, throttling,
// connection loss).
var transientCodes = map[int]bool{
	40613: true, // database not currently available
	40197: true, // service error processing request
	40501: true, // service busy
	40540: true, // service encountered an error
	49918: true, // not enough resources to process the request
	49919: true, // too many create or update operations
	49920: true, // too many operations in progress
	10928: true, // resource limit reached
	10929: true, // resource limit reached (minimum guarantee)
	4060:  true, // cannot open database (during failover)
	4221:  true, // login to read-secondary failed during reconfiguration
	10053: true, // transport-level error: connection aborted
	10054: true, // transport-level error: connection reset
	10060: true, // transport-level error: connection timed out
	233:   true, // no process on the other end of the pipe
	64:    true, // specified network name no longer available
}

// IsTransientCode reports whether a SQL error number is one to retry with backoff.
func IsTransientCode(code int) bool { return transientCodes[code] }

// IsTransient reports whether the error is worth retrying with backoff.
func (e *Error) IsTransient() bool { return e.Transient || IsTransientCode(e.Code) }

// IsTransient reports whether err, or anything it wraps, is transient.
func IsTransient(err error) bool {
	var t interface{ IsTransient() bool }
	for err != nil {
		if errors.As(err, &t) && t.IsTransient() {
			return true
		}
		// errors.As stops at the first match; keep looking further down the chain.
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return false
}

// failoverCodes are the error numbers of a database that is unavailable
// while it fails over (planned maintenance, DOMAIN.md §3).
var failoverCodes = map[int]bool{40613: true, 4060: true, 4221: true, 40197: true, 40540: true}

// IsFailover reports whether err, or anything it wraps, says that a database
// is unavailable while it fails over (40613 and its kin): a wait of up to
// about 30 s, worth waiting out.
func IsFailover(err error) bool {
	var e *Error
	for err != nil {
		if !errors.As(err, &e) {
			return false
		}
		if failoverCodes[e.Code] {
			return true
		}
		err = e.Err
	}
	return false
}

// HintOf returns the first hint found in err's chain.
func HintOf(err error) string {
	var e *Error
	for err != nil {
		if errors.As(err, &e) {
			if e.Hint != "" {
				return e.Hint
			}
			err = e.Err
			continue
		}
		break
	}
	return ""
}
