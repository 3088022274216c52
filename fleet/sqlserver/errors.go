package sqlserver

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/secret"
	mssql "github.com/microsoft/go-mssqldb"
)

// SQL Server error numbers the driver gives a meaning beyond "transient".
const (
	errDeadlock         = 1205  // chosen as deadlock victim
	errLockTimeout      = 1222  // lock request time out period exceeded
	errDuplicateKey     = 2627  // violation of a PRIMARY KEY or UNIQUE constraint
	errDuplicateIndex   = 2601  // duplicate key row in a unique index
	errReadOnlyDatabase = 3906  // failed to update database because it is read-only
	errNoDatabase       = 911   // database does not exist
	errPermissionDenied = 229   // permission denied on object
	errLoginFailed      = 18456 // login failed
)

// sqlNumbers returns the numbers of every error SQL Server sent, first to
// last (mssql.Error.All, or the error itself when All is empty).
func sqlNumbers(err error) []int {
	var me mssql.Error
	if !errors.As(err, &me) {
		return nil
	}
	all := me.All
	if len(all) == 0 {
		all = []mssql.Error{me}
	}
	out := make([]int, 0, len(all))
	for _, e := range all {
		out = append(out, int(e.Number))
	}
	return out
}

// isConnectionLoss reports a dropped or reset connection, or a network
// timeout: errors without an SQL Server number that retrying can cure.
func isConnectionLoss(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	var se mssql.StreamError
	return errors.As(err, &se)
}

// classified is what classify found in an error chain.
type classified struct {
	code      int   // the number that decided, or the last one
	transient bool  // worth retrying
	class     error // fleet.ErrBusy, ErrConstraint, ErrReadOnly, ErrNoDatabase or nil
	hint      string
}

// classifyErr decides from the error numbers of every entry of
// mssql.Error.All, and from the error types of the network stack, never from
// message text.
func classifyErr(err error) classified {
	nums := sqlNumbers(err)
	var c classified
	if len(nums) > 0 {
		c.code = nums[len(nums)-1]
	}
	for _, n := range nums {
		switch {
		case fleet.IsTransientCode(n):
			c.code, c.transient = n, true
			c.hint = "a transient Azure SQL condition (failover, throttling, connection loss); fleetplan retries it with backoff"
			return c
		case n == errDeadlock || n == errLockTimeout:
			c.code, c.transient, c.class = n, true, fleet.ErrBusy
			c.hint = "another session held the rows; retrying is safe"
		}
	}
	if c.transient {
		return c
	}
	for _, n := range nums {
		switch n {
		case errDuplicateKey, errDuplicateIndex:
			c.code, c.class = n, fleet.ErrConstraint
		case errReadOnlyDatabase:
			c.code, c.class = n, fleet.ErrReadOnly
			c.hint = "the database is read-only (set read-only, or a geo-secondary); write to its primary or set it read-write"
		case errNoDatabase:
			c.code, c.class = n, fleet.ErrNoDatabase
		case errLoginFailed:
			c.code = n
			c.hint = "check auth.user and the secret it reads (auth.password), or the Entra ID identity's database user"
		case errPermissionDenied:
			c.code = n
			c.hint = "the login lacks a permission; docs/sqlserver.md lists what fleetplan needs"
		}
	}
	if len(nums) == 0 && isConnectionLoss(err) {
		c.transient = true
		c.hint = "the server could not be reached or the connection dropped: check server, port and firewall rules; a run retries this with backoff"
	}
	return c
}

// redactor masks a target's secrets, also in the escaped forms a DSN holds.
type redactor struct{ r secret.Redactor }

func newRedactor(secrets ...string) *redactor {
	red := &redactor{}
	for _, s := range secrets {
		red.r.Add(s)
		red.r.Add(url.QueryEscape(s))
		red.r.Add(url.PathEscape(s))
		red.r.Add(strings.TrimPrefix(url.UserPassword("u", s).String(), "u:"))
	}
	return red
}

func (r *redactor) String(s string) string {
	if r == nil {
		return s
	}
	return r.r.String(s)
}

// scrubbed is an error whose text has the target's secrets masked; errors.Is
// and errors.As still see the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// wrap turns a database error into a *fleet.Error: classified by number,
// its text redacted. A *fleet.Error passes through; a cancelled context is
// not transient (the caller stopped).
func (r *redactor) wrap(op, target string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fleet.Error
	if errors.As(err, &fe) && fe == err {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &fleet.Error{Op: op, Target: target, Err: &scrubbed{msg: r.String(err.Error()), err: err}}
	}
	c := classifyErr(err)
	inner := error(&scrubbed{msg: r.String(err.Error()), err: err})
	if c.class != nil {
		inner = &classedErr{class: c.class, scrubbed: inner.(*scrubbed)}
	}
	return &fleet.Error{Op: op, Target: target, Code: c.code, Err: inner, Hint: c.hint, Transient: c.transient}
}

// classedErr matches its class (errors.Is) and unwraps to the original.
type classedErr struct {
	class error
	*scrubbed
}

func (e *classedErr) Is(target error) bool { return target == e.class }
