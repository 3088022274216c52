package fleet

import (
	"context"
	"fmt"
	"strings"
)

// Read-write endpoint failover policies of a failover group.
const (
	// FailoverAutomatic: the service fails the group over by itself after
	// the grace period when the primary is down (losing what had not
	// replicated).
	FailoverAutomatic = "automatic"
	// FailoverManual: only an operator (or a plan) fails the group over.
	FailoverManual = "manual"
)

// FailoverGroup is a failover group: databases of a primary server
// geo-replicated to a partner server, which fail over together so that the
// partner becomes the primary of all of them at once, and a read-write
// listener that follows the primary.
type FailoverGroup struct {
	Name string `json:"name"`
	// Primary is the server whose databases take writes now; Secondary is
	// the partner server, whose databases are their geo-secondaries.
	Primary         string `json:"primary"`
	Secondary       string `json:"secondary"`
	PrimaryRegion   string `json:"primaryRegion,omitempty"`
	SecondaryRegion string `json:"secondaryRegion,omitempty"`
	// Databases are the names of the group's databases (the same on both
	// servers), sorted.
	Databases []string `json:"databases"`
	// ReadWritePolicy is FailoverAutomatic or FailoverManual; GraceMinutes
	// is how long an automatic policy waits before it fails over with data
	// loss.
	ReadWritePolicy string `json:"readWritePolicy"`
	GraceMinutes    int    `json:"graceMinutes,omitempty"`
	// State is the group's replication: healthy when every database's
	// secondary is in continuous replication (caught up), else seeding or
	// catching-up.
	State LinkState `json:"state"`
}

// FailoverRequest asks for a failover of a group.
type FailoverRequest struct {
	Group string
	// Server is the server that becomes the primary (the group's secondary
	// now).
	Server string
	// Forced fails over now, without waiting for the secondary to receive
	// what the primary has: transactions not replicated yet are lost. It is
	// refused unless AllowDataLoss says so too.
	Forced, AllowDataLoss bool
	// ClientRequestID names the request across restarts (run and step):
	// an operation begun under it is re-attached to, never started again.
	ClientRequestID string
}

// FailoverGroupManager is implemented by control planes that have failover
// groups. Errors are *Error values wrapping ErrNotFound (no such group or
// server), ErrConflict (a planned failover while the group is not healthy)
// and ErrInvalidArgument (a forced failover without AllowDataLoss).
type FailoverGroupManager interface {
	// FailoverGroups lists the failover groups of server, or of every
	// server of the fleet when server is "" (each group once), by name.
	FailoverGroups(ctx context.Context, server string) ([]FailoverGroup, error)
	// FailoverGroup returns one group of server (either of its servers);
	// ErrNotFound when there is none of that name.
	FailoverGroup(ctx context.Context, server, name string) (FailoverGroup, error)
	// Failover makes req.Server the primary of the group and returns when
	// it is. A planned failover is refused unless the group is healthy;
	// the new primary first receives everything the old one has, so
	// nothing is lost. A forced one switches at once. A group whose
	// primary is req.Server already is left as is. An operation begun
	// for req.ClientRequestID (before a restart, its resume token in the
	// run's checkpoints) is followed to its end instead of starting
	// another.
	Failover(ctx context.Context, req FailoverRequest) (FailoverGroup, error)
}

// CheckFailover is what every driver refuses before it fails g over for
// req: a forced failover without AllowDataLoss, a server that is not one of
// the group's, and a planned failover while the group is not healthy. A
// group whose primary is req.Server already passes (there is nothing to
// do).
func CheckFailover(op string, g FailoverGroup, req FailoverRequest) error {
	target := "failover group " + g.Name
	switch {
	case req.Forced && !req.AllowDataLoss:
		return &Error{Op: op, Target: target, Err: fmt.Errorf("%w: a forced failover loses the transactions not replicated yet, and allowDataLoss is not set", ErrInvalidArgument),
			Hint: "set allowDataLoss: true to accept the loss, or use a planned failover, which loses nothing"}
	case strings.EqualFold(g.Primary, req.Server):
		return nil
	case !strings.EqualFold(g.Secondary, req.Server):
		return &Error{Op: op, Target: target, Err: fmt.Errorf("%w: server %s is not in the group (%s is its primary, %s its secondary)", ErrInvalidArgument, req.Server, g.Primary, g.Secondary),
			Hint: "name the group's secondary server as the one that becomes the primary"}
	case !req.Forced && g.State != LinkHealthy:
		return &Error{Op: op, Target: target, Err: fmt.Errorf("%w: the group is %s; a planned failover needs every secondary on %s caught up", ErrConflict, g.State, g.Secondary),
			Hint: "wait until the group's replication is healthy (a guard on live.failoverGroups, or database.wait-seeded for each database) and retry; a forced failover (mode: forced, allowDataLoss: true) does not wait and loses what has not replicated"}
	}
	return nil
}
