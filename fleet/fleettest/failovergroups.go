package fleettest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// FailoverFixture is a fleet with one healthy failover group, for
// RunFailoverGroups.
type FailoverFixture struct {
	Manager fleet.FailoverGroupManager
	// Group fails over from Primary to Secondary; Databases are its
	// databases, sorted.
	Group, Primary, Secondary string
	Databases                 []string
	// Lag makes the group's replication not healthy (a secondary behind).
	Lag func(t *testing.T)
}

// RunFailoverGroups holds a fleet.FailoverGroupManager to its contract:
// listing, planned failover and fail-back, idempotence, the refusals (a
// forced failover without AllowDataLoss, a planned one while lagging, a
// server outside the group), and a forced failover while lagging.
func RunFailoverGroups(t *testing.T, setup func(t *testing.T) FailoverFixture) {
	ctx := context.Background()
	get := func(t *testing.T, f FailoverFixture) fleet.FailoverGroup {
		t.Helper()
		g, err := f.Manager.FailoverGroup(ctx, f.Primary, f.Group)
		if err != nil {
			t.Fatalf("FailoverGroup(%s, %s): %v", f.Primary, f.Group, err)
		}
		return g
	}
	failover := func(t *testing.T, f FailoverFixture, server string, forced bool) fleet.FailoverGroup {
		t.Helper()
		g, err := f.Manager.Failover(ctx, fleet.FailoverRequest{Group: f.Group, Server: server, Forced: forced, AllowDataLoss: forced, ClientRequestID: t.Name() + "/" + server})
		if err != nil {
			t.Fatalf("failover to %s (forced %t): %v", server, forced, err)
		}
		if !strings.EqualFold(g.Primary, server) {
			t.Fatalf("failover to %s returned primary %s", server, g.Primary)
		}
		if now := get(t, f); !strings.EqualFold(now.Primary, server) || strings.EqualFold(now.Secondary, server) {
			t.Fatalf("after failover to %s the group reads primary %s, secondary %s", server, now.Primary, now.Secondary)
		}
		return g
	}
	refused := func(t *testing.T, f FailoverFixture, req fleet.FailoverRequest, want error) {
		t.Helper()
		_, err := f.Manager.Failover(ctx, req)
		var fe *fleet.Error
		if !errors.Is(err, want) || !errors.As(err, &fe) || fe.Hint == "" {
			t.Fatalf("Failover(%+v) = %v; want %v with a hint", req, err, want)
		}
		if g := get(t, f); !strings.EqualFold(g.Primary, f.Primary) {
			t.Fatalf("a refused failover changed the primary to %s", g.Primary)
		}
	}

	t.Run("ListsTheGroup", func(t *testing.T) {
		f := setup(t)
		for _, server := range []string{"", f.Primary, f.Secondary} {
			gs, err := f.Manager.FailoverGroups(ctx, server)
			if err != nil {
				t.Fatalf("FailoverGroups(%q): %v", server, err)
			}
			n := 0
			for _, g := range gs {
				if strings.EqualFold(g.Name, f.Group) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("FailoverGroups(%q) lists group %s %d times: %+v", server, f.Group, n, gs)
			}
		}
		g := get(t, f)
		if !strings.EqualFold(g.Primary, f.Primary) || !strings.EqualFold(g.Secondary, f.Secondary) || g.State != fleet.LinkHealthy ||
			!slices.EqualFunc(g.Databases, f.Databases, strings.EqualFold) || g.ReadWritePolicy == "" {
			t.Fatalf("group reads %+v; want primary %s, secondary %s, databases %v, healthy, a policy", g, f.Primary, f.Secondary, f.Databases)
		}
	})
	t.Run("MissingGroupIsNotFound", func(t *testing.T) {
		f := setup(t)
		if _, err := f.Manager.FailoverGroup(ctx, f.Primary, "no-such-group"); !errors.Is(err, fleet.ErrNotFound) {
			t.Fatalf("FailoverGroup of a missing group = %v; want ErrNotFound", err)
		}
		if _, err := f.Manager.Failover(ctx, fleet.FailoverRequest{Group: "no-such-group", Server: f.Secondary}); !errors.Is(err, fleet.ErrNotFound) {
			t.Fatalf("Failover of a missing group = %v; want ErrNotFound", err)
		}
	})
	t.Run("PlannedFailoverAndBack", func(t *testing.T) {
		f := setup(t)
		failover(t, f, f.Secondary, false)
		failover(t, f, f.Secondary, false) // again: nothing to do
		g := failover(t, f, f.Primary, false)
		if g.State != fleet.LinkHealthy {
			t.Fatalf("after a planned fail-back the group is %s", g.State)
		}
	})
	t.Run("ForcedNeedsAllowDataLoss", func(t *testing.T) {
		f := setup(t)
		refused(t, f, fleet.FailoverRequest{Group: f.Group, Server: f.Secondary, Forced: true}, fleet.ErrInvalidArgument)
	})
	t.Run("ServerOutsideTheGroup", func(t *testing.T) {
		f := setup(t)
		refused(t, f, fleet.FailoverRequest{Group: f.Group, Server: f.Primary + "-other"}, fleet.ErrNotFound)
	})
	t.Run("PlannedRefusedWhileLagging", func(t *testing.T) {
		f := setup(t)
		f.Lag(t)
		refused(t, f, fleet.FailoverRequest{Group: f.Group, Server: f.Secondary}, fleet.ErrConflict)
	})
	t.Run("ForcedWhileLagging", func(t *testing.T) {
		f := setup(t)
		f.Lag(t)
		failover(t, f, f.Secondary, true)
	})
}
