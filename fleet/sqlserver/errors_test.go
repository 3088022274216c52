package sqlserver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	mssql "github.com/microsoft/go-mssqldb"
)

// sqlErr is what go-mssqldb returns for a batch whose errors were nums, in
// order: the last one in the fields, every one in All.
func sqlErr(nums ...int32) error {
	all := make([]mssql.Error, len(nums))
	for i, n := range nums {
		all[i] = mssql.Error{Number: n, Class: 16, Message: fmt.Sprintf("message %d", n)}
	}
	last := all[len(all)-1]
	last.All = all
	return last
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		err       error
		transient bool
		code      int
		class     error
	}{
		"40613 database not available":       {sqlErr(40613), true, 40613, nil},
		"40197 service error":                {sqlErr(40197), true, 40197, nil},
		"40501 service busy":                 {sqlErr(40501), true, 40501, nil},
		"49918 not enough resources":         {sqlErr(49918), true, 49918, nil},
		"49919 too many create or update":    {sqlErr(49919), true, 49919, nil},
		"49920 too many operations":          {sqlErr(49920), true, 49920, nil},
		"10928 resource limit":               {sqlErr(10928), true, 10928, nil},
		"10929 resource limit (min)":         {sqlErr(10929), true, 10929, nil},
		"4060 cannot open database":          {sqlErr(4060), true, 4060, nil},
		"4221 read-secondary login":          {sqlErr(4221), true, 4221, nil},
		"transient first, another last":      {sqlErr(40613, 18456), true, 40613, nil},
		"transient last behind a statement":  {sqlErr(3621, 40501), true, 40501, nil},
		"fatal server error without numbers": {fmt.Errorf("exec: %w", mssql.ServerError{}), false, 0, nil},
		"deadlock victim":                    {sqlErr(1205), true, 1205, fleet.ErrBusy},
		"lock timeout":                       {sqlErr(1222), true, 1222, fleet.ErrBusy},
		"duplicate key":                      {sqlErr(2627, 3621), false, 2627, fleet.ErrConstraint},
		"duplicate index row":                {sqlErr(2601), false, 2601, fleet.ErrConstraint},
		"read-only database":                 {sqlErr(3906), false, 3906, fleet.ErrReadOnly},
		"no database":                        {sqlErr(911), false, 911, fleet.ErrNoDatabase},
		"login failed":                       {sqlErr(18456), false, 18456, nil},
		"number decides, not text":           {mssql.Error{Number: 50000, Message: "error 40613: Database is not currently available"}, false, 50000, nil},
		"connection reset":                   {&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true, 0, nil},
		"connection refused":                 {&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true, 0, nil},
		"broken pipe":                        {fmt.Errorf("write: %w", syscall.EPIPE), true, 0, nil},
		"network timeout":                    {&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, true, 0, nil},
		"server closed the stream":           {fmt.Errorf("reading: %w", io.EOF), true, 0, nil},
		"bad connection":                     {driver.ErrBadConn, true, 0, nil},
		"cancelled by the caller":            {context.Canceled, false, 0, nil},
		"a plain error":                      {errors.New("something else"), false, 0, nil},
		"an error with 40613 in its text":    {errors.New("mssql: 40613"), false, 0, nil},
		"invalid TDS stream":                 {mssql.StreamError{InnerError: errors.New("bad token")}, true, 0, nil},
		"transient among constraint entries": {sqlErr(2627, 40613), true, 40613, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := newRedactor().wrap("copy batch", "sql-1/db", tc.err)
			var fe *fleet.Error
			if !errors.As(err, &fe) {
				t.Fatalf("not a *fleet.Error: %T", err)
			}
			if got := fleet.IsTransient(err); got != tc.transient {
				t.Errorf("IsTransient = %v, want %v", got, tc.transient)
			}
			if fe.Code != tc.code {
				t.Errorf("Code = %d, want %d", fe.Code, tc.code)
			}
			if tc.class != nil && !errors.Is(err, tc.class) {
				t.Errorf("want errors.Is %v: %v", tc.class, err)
			}
			if !errors.Is(err, tc.err) && !errors.As(err, new(mssql.Error)) {
				t.Errorf("the original error is lost: %v", err)
			}
		})
	}
}

func TestFailoverCodesWaitOut(t *testing.T) {
	for _, n := range []int32{40613, 4060, 4221, 40197} {
		if err := newRedactor().wrap("open", "x", sqlErr(n)); !fleet.IsFailover(err) {
			t.Errorf("%d is not seen as a failover", n)
		}
	}
}

func TestWrapRedactsSecrets(t *testing.T) {
	r := newRedactor(plantedSecret)
	inner := mssql.Error{Number: 18456, Message: "Login failed; connection string was password=" + plantedSecret + " and Pl%40nted%3BS3cret%2F%3D%3F%26%25"}
	err := r.wrap("open", "sql-1/smm", fmt.Errorf("connect: %w", inner))
	assertNoSecret(t, "error", err.Error())
	assertNoSecret(t, "error %+v", fmt.Sprintf("%+v", err))
	if !strings.Contains(err.Error(), "[secret]") {
		t.Errorf("the secret is not masked: %v", err)
	}
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 18456 {
		t.Errorf("errors.As lost the mssql.Error")
	}
}
