package elasticdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// ErrOperationLocked is what Executor.LockOperation returns when another
// owner holds the operation's lock for longer than the wait.
var ErrOperationLocked = errors.New("the operation's lock is held by another owner")

// DefaultPendingWait is how long a writer that meets another operation's
// pending rows waits for that operation's lock before it gives up: the
// library's sp_getapplock @LockTimeout (60000 ms, SqlStoreConnection).
const DefaultPendingWait = 60 * time.Second

type pendingWaitKey struct{}

// WithPendingWait returns a context in which a writer that meets another
// operation waits at most d for that operation's lock (0: does not wait).
func WithPendingWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, pendingWaitKey{}, d)
}

func pendingWait(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(pendingWaitKey{}).(time.Duration); ok {
		return d
	}
	return DefaultPendingWait
}

// OperationRunningError says that a write met an operation whose owner is
// still running it (it holds the operation's lock), so the operation was
// left alone. It matches fleet.ResultPendingOperation.
type OperationRunningError struct {
	ID   uuid.UUID
	Code int // 0 when the log row was not read
}

func (e *OperationRunningError) Error() string {
	name := "operation"
	if e.Code != 0 {
		name = fleet.OperationName(e.Code) + " operation"
	}
	return fmt.Sprintf("%v: %s %s is still running (its owner holds its lock)", fleet.ResultPendingOperation, name, e.ID)
}

// Unwrap makes the error match fleet.ResultPendingOperation.
func (e *OperationRunningError) Unwrap() error { return fleet.ResultPendingOperation }

// pendingConflict is result 52 with the operation that holds the row, as
// the library's Begin procedures return it with that operation's log row
// (spGetOperationLogEntryGlobalHelper).
type pendingConflict struct{ id uuid.UUID }

func (c *pendingConflict) Error() string {
	return fmt.Sprintf("%v: operation %s", fleet.ResultPendingOperation, c.id)
}

func (c *pendingConflict) Unwrap() error { return fleet.ResultPendingOperation }

// conflictErr is result 52 of operation what on target, naming the
// operation that holds the row.
func conflictErr(what, target string, holder uuid.UUID) error {
	return &fleet.Error{Op: what, Target: target, Err: &pendingConflict{holder}, Hint: retryHint}
}

// maxConflicts bounds how many other operations one Run undoes before it
// gives up with result 52 (each undo is followed by a retry of GSM begin).
const maxConflicts = 16

// beginResolving is GSM begin, undoing any operation it meets that has no
// live owner and trying again, as the library's StoreOperation does on 52.
func beginResolving(ctx context.Context, ex Executor, op *Operation, data string) error {
	for tries := 0; ; tries++ {
		err := gsmBegin(ctx, ex, op, data)
		var c *pendingConflict
		if !errors.As(err, &c) || c.id == op.ID || tries == maxConflicts {
			return err
		}
		if _, err := ResolvePending(ctx, ex, err); err != nil {
			return err
		}
	}
}

// ResolvePending is what a writer does with an error of its own change that
// is result 52 naming the operation holding the row (LockOwnerChange's, or
// GSM begin's): undo that operation if its owner is gone, and report true
// so the caller reads the row again and retries. Otherwise it returns false
// and an error: err itself when it is not such a conflict (nil stays nil),
// an *OperationRunningError when the owner keeps the lock past the wait.
func ResolvePending(ctx context.Context, ex Executor, err error) (bool, error) {
	var c *pendingConflict
	if !errors.As(err, &c) {
		return false, err
	}
	// Undone by us, or ended on its own meanwhile: either way, try again.
	if _, uerr := undoUnowned(ctx, ex, c.id, pendingWait(ctx)); uerr != nil {
		return false, uerr
	}
	return true, nil
}

// undoUnowned undoes pending operation id, but only once it holds the
// operation's lock, waiting at most wait for it: an *OperationRunningError
// when the owner keeps it. The log row is read again under the lock, so an
// operation that ended meanwhile is left alone (false).
func undoUnowned(ctx context.Context, ex Executor, id uuid.UUID, wait time.Duration) (bool, error) {
	release, err := ex.LockOperation(ctx, id, wait)
	if errors.Is(err, ErrOperationLocked) {
		code := 0
		if r, rerr := logRow(ctx, ex, id); rerr == nil && r != nil {
			code = r.Code
		}
		return false, &fleet.Error{Op: "undo pending operation", Target: id.String(), Err: &OperationRunningError{ID: id, Code: code}, Transient: true,
			Hint: "another client (fleetplan, or an application using the Elastic Database library) is running this operation on the same shard map; " +
				"it is not undone while its owner runs it: wait for it to finish and retry"}
	}
	if err != nil {
		return false, err
	}
	defer release()
	r, err := logRow(ctx, ex, id)
	if err != nil || r == nil {
		return false, err
	}
	op, err := ParseLogRow(*r)
	if err != nil {
		return false, &fleet.Error{Op: "recover pending operation", Target: r.ID.String(),
			Err:  fmt.Errorf("%w: cannot read OperationsLogGlobal.Data of operation code %d: %v", fleet.ResultUnexpectedStoreError, r.Code, err),
			Hint: "inspect the row in __ShardManagement_OperationsLogGlobal; fleetplan will not guess how to undo it"}
	}
	if err := Undo(ctx, ex, op); err != nil {
		return false, err
	}
	return true, nil
}

// logRows reads OperationsLogGlobal, oldest first.
func logRows(ctx context.Context, ex Executor) ([]LogRow, error) {
	var rows []LogRow
	err := ex.GSM(ctx, "read operations log", func(tx GSMTx) error {
		var err error
		rows, err = tx.LogRows(ctx)
		return err
	})
	return rows, err
}

// logRow reads one row of OperationsLogGlobal, or nil.
func logRow(ctx context.Context, ex Executor, id uuid.UUID) (*LogRow, error) {
	rows, err := logRows(ctx, ex)
	for _, r := range rows {
		if r.ID == id {
			return &r, err
		}
	}
	return nil, err
}

// UndoPending undoes every pending operation whose owner is gone, before a
// change that writes without the protocol (the RecoveryManager's replace
// operations, which must not run beside a pending operation). A running
// operation is waited for (WithPendingWait), then refused with its
// *OperationRunningError.
func UndoPending(ctx context.Context, ex Executor) error {
	pending, err := logRows(ctx, ex)
	if err != nil {
		return err
	}
	for _, r := range pending {
		if _, err := undoUnowned(ctx, ex, r.ID, pendingWait(ctx)); err != nil {
			return err
		}
	}
	return nil
}
