package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// groupOps are the failover-group and elastic-pool operations of the
// driver, each run on a fresh service with a caught-up group fog-app
// (sql-1 primary) and a pool on sql-1, by the API its first request names.
var groupOps = map[string]struct {
	api   string
	write bool // it changes something (a lock or a quota can refuse it)
	role  string
	run   func(ctx context.Context, s *service, tgt *Target) error
}{
	"list groups": {"FailoverGroupsClient.NewListByServerPager", false, roleReader, func(ctx context.Context, s *service, tgt *Target) error {
		_, err := tgt.FailoverGroups(ctx, "")
		return err
	}},
	"read group": {"FailoverGroupsClient.Get", false, roleReader, func(ctx context.Context, s *service, tgt *Target) error {
		_, err := tgt.FailoverGroup(ctx, "sql-2", "fog-app")
		return err
	}},
	"planned failover": {apiFailover, true, roleServer, func(ctx context.Context, s *service, tgt *Target) error {
		_, err := tgt.Failover(ctx, fleet.FailoverRequest{Group: "fog-app", Server: "sql-2"})
		return err
	}},
	"forced failover": {apiForceFailover, true, roleServer, func(ctx context.Context, s *service, tgt *Target) error {
		_, err := tgt.Failover(ctx, fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", Forced: true, AllowDataLoss: true})
		return err
	}},
	// A step resumed with only the failover's intent reads the servers'
	// operations before it sends anything.
	"resumed failover": {"ServerOperationsClient.NewListByServerPager", false, roleReader, func(ctx context.Context, s *service, tgt *Target) error {
		journal := &memCheckpoints{}
		ctx = fleet.WithCheckpoints(ctx, journal)
		if _, err := tgt.ops.intend(ctx, kindFailover, "planned failover", "sql-2/fog-app", "run-e/switch", "sql-1"); err != nil {
			return err
		}
		_, err := tgt.Failover(ctx, fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", ClientRequestID: "run-e/switch"})
		return err
	}},
	"list pools": {"ElasticPoolsClient.NewListByServerPager", false, roleReader, func(ctx context.Context, s *service, tgt *Target) error {
		_, err := tgt.ElasticPools(ctx, "sql-1")
		return err
	}},
}

func groupService() *service {
	s := newService()
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	s.addPool("sql-1", "pool-tenants", 8, "tenant_a")
	return s
}

// ARM's errors for the failover-group and pool operations map to the
// typed fleet errors with the hints the instance operations give: the
// missing role named, a resource lock, a quota; and nothing is failed over.
func TestFailoverGroupAndPoolErrorsMapToFleetErrors(t *testing.T) {
	answers := map[string]struct {
		status int
		code   string
		write  bool // only for operations that change something
		want   error
		hint   string // "" : the operation's role
	}{
		"missing role":  {http.StatusForbidden, "AuthorizationFailed", false, fleet.ErrPermission, ""},
		"linked role":   {http.StatusForbidden, "LinkedAuthorizationFailed", false, fleet.ErrPermission, ""},
		"resource lock": {http.StatusConflict, "ScopeLocked", true, fleet.ErrLocked, "resource lock"},
		"quota":         {http.StatusBadRequest, "SubscriptionQuotaExceeded", true, fleet.ErrQuota, "quota increase"},
		"not found":     {http.StatusNotFound, "ResourceNotFound", false, fleet.ErrNotFound, "check"},
	}
	for opName, op := range groupOps {
		for name, a := range answers {
			if a.write && !op.write {
				continue
			}
			t.Run(opName+"/"+name, func(t *testing.T) {
				s := groupService()
				s.errs[op.api] = errorReply{a.status, a.code}
				err := op.run(context.Background(), s, s.target(t))
				var fe *fleet.Error
				if !errors.As(err, &fe) || !errors.Is(err, a.want) || fleet.IsTransient(err) {
					t.Fatalf("error %v (%T); want a non-transient *fleet.Error matching %v", err, err, a.want)
				}
				hint := a.hint
				if hint == "" {
					hint = `"` + op.role + `"`
				}
				if !strings.Contains(fe.Hint, hint) {
					t.Fatalf("hint %q; want it to say %s", fe.Hint, hint)
				}
				// A missing group is named in the message instead of ARM's code.
				if !strings.Contains(err.Error(), a.code) && a.want != fleet.ErrNotFound || strings.Contains(err.Error(), "https://") {
					t.Fatalf("message %q should name the ARM code and no URL", err)
				}
				if s.groups["fog-app"].primary != "sql-1" || s.begun[apiFailover]+s.begun[apiForceFailover] != 0 {
					t.Fatalf("a refused operation failed the group over (%s primary, %v)", s.groups["fog-app"].primary, s.begun)
				}
			})
		}
	}
}

// A 429 with Retry-After on each of these operations' first request (and
// on a failover's poll) is waited out as Retry-After says, then the
// operation goes on; a failover is still sent once.
func TestFailoverGroupAndPoolThrottling(t *testing.T) {
	type throttled struct{ api, method string }
	cases := map[string]throttled{}
	for name, op := range groupOps {
		cases[name] = throttled{api: op.api}
	}
	cases["planned failover's poll"] = throttled{apiFailover, http.MethodGet}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := groupService()
			th := &throttle{next: s.sqlTr, retryAfter: "1", api: tc.api, method: tc.method}
			th.n.Store(1)
			s.sqlTr = th
			logged := captureRetries(t)
			op := groupOps[strings.TrimSuffix(name, "'s poll")]
			if err := op.run(context.Background(), s, s.target(t)); err != nil {
				t.Fatalf("after a 429: %v", err)
			}
			waited := false
			for _, l := range logged() {
				waited = waited || strings.Contains(l, "Delay=1s")
			}
			if !waited || th.seen.Load() < 2 {
				t.Fatalf("retry log %q, %d requests of %s: want a retry after Retry-After's 1s", logged(), th.seen.Load(), tc.api)
			}
			if op.write && s.begun[sent+apiFailover]+s.begun[sent+apiForceFailover] != 1 {
				t.Fatalf("failover requests sent: %v; want one", s.begun)
			}
		})
	}
}
