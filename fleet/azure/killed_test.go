package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/runner"
)

// killAtBegun stops the session at the next FaultBegun (right after a
// Begin request was answered, before the resume token is checkpointed) by
// calling stop, as a process killed there.
func killAtBegun(t *testing.T, stop func()) {
	t.Helper()
	old := begunHook
	var once sync.Once
	begunHook = func(ctx context.Context) error {
		fired := false
		once.Do(func() { fired = true; stop() })
		if fired {
			return context.Cause(ctx)
		}
		return nil
	}
	t.Cleanup(func() { begunHook = old })
}

// faultAtBegun plans an injected failure at FaultBegun through
// FLEETPLAN_FAULTS, as a user would.
func faultAtBegun(t *testing.T) {
	t.Cleanup(func() { _ = faults.Reload() }) // runs after the env is restored
	t.Setenv(faults.EnvSpec, FaultBegun+":hard:1")
	t.Setenv(faults.EnvIKnow, "yes")
	if err := faults.Reload(); err != nil {
		t.Fatal(err)
	}
}

// A session stops between the failover's Begin and the checkpoint of its
// resume token: only the intent is in the journal. The next session reads
// the group (and the servers' operations) and sends no second failover,
// whether the first is still running or has ended; the fake counts the
// requests it received.
func TestFailoverKilledBeforeCheckpointIsNotSentAgain(t *testing.T) {
	cases := map[string]struct {
		forced bool
		ended  bool // the failover ends before the second session reads the group
		fault  bool // the stop is FLEETPLAN_FAULTS' injected error, not a kill
	}{
		"planned, still running":           {},
		"planned, ended":                   {ended: true},
		"forced, still running":            {forced: true},
		"forced, ended":                    {forced: true, ended: true},
		"planned, fault point, running":    {fault: true},
		"forced, fault point, ended early": {forced: true, ended: true, fault: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newService()
			s.polls = 3
			s.addGroup("fog-app", "sql-1", "sql-2", "app")
			api := apiFailover
			if tc.forced {
				api = apiForceFailover
			}
			journal := &memCheckpoints{}
			req := fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", Forced: tc.forced, AllowDataLoss: tc.forced, ClientRequestID: "run-k/switch-region"}
			ctx, stop := context.WithCancel(fleet.WithCheckpoints(context.Background(), journal))
			defer stop()
			if tc.fault {
				faultAtBegun(t)
				if _, err := s.target(t).Failover(ctx, req); !errors.Is(err, faults.ErrInjected) {
					t.Fatalf("first session: %v; want the injected fault", err)
				}
				_ = faults.Reload()
				t.Setenv(faults.EnvSpec, "")
				_ = faults.Reload()
			} else {
				killAtBegun(t, stop)
				if _, err := s.target(t).Failover(ctx, req); !errors.Is(err, context.Canceled) {
					t.Fatalf("first session: %v; want it stopped", err)
				}
			}
			id, _ := journal.Load(requestKeyPrefix + req.ClientRequestID)
			if rec, _ := journal.Load(opKeyPrefix + id); !strings.Contains(rec, `"pending":true`) || !strings.Contains(rec, `"before":"sql-1"`) || strings.Contains(rec, `"token"`) {
				t.Fatalf("want only the intent checkpointed: %s", journal)
			}
			if tc.ended {
				s.mu.Lock()
				for _, op := range s.ending {
					op.finish()
				}
				s.mu.Unlock()
			}
			g, err := s.target(t).Failover(fleet.WithCheckpoints(context.Background(), journal), req)
			if err != nil || g.Primary != "sql-2" {
				t.Fatalf("resumed: %+v, %v", g, err)
			}
			if n, got := s.begun[sent+api], s.begun[api]; n != 1 || got != 1 || s.begun[sent+apiFailover]+s.begun[sent+apiForceFailover] != 1 {
				t.Fatalf("%d failover requests sent (%d received, %v); want exactly one", n, got, s.begun)
			}
			if rec, _ := journal.Load(opKeyPrefix + id); strings.Contains(rec, `"pending":true`) {
				t.Fatalf("the intent is still pending after the failover was found done: %s", rec)
			}
			// A third session finds the failover done and sends nothing.
			if _, err := s.target(t).Failover(fleet.WithCheckpoints(context.Background(), journal), req); err != nil || s.begun[sent+api] != 1 {
				t.Fatalf("third session: %v, sent %v", err, s.begun)
			}
		})
	}
}

// An intent whose request ARM refused does not block the step: the step
// run again finds the group unchanged and no operation on its servers, and
// sends the failover (the only one the service accepts).
func TestFailoverRefusedThenRetriedIsSent(t *testing.T) {
	s := newService()
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	s.errs[apiFailover] = errorReply{http.StatusConflict, "FailoverGroupBusy"}
	journal := &memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), journal)
	req := fleet.FailoverRequest{Group: "fog-app", Server: "sql-2", ClientRequestID: "run-r/switch-region"}
	if _, err := s.target(t).Failover(ctx, req); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("refused failover: %v", err)
	}
	delete(s.errs, apiFailover)
	g, err := s.target(t).Failover(ctx, req)
	if err != nil || g.Primary != "sql-2" || s.begun[apiFailover] != 1 || s.begun[sent+apiFailover] != 2 {
		t.Fatalf("retried: %+v, %v; begun %v (want one refused and one accepted request)", g, err, s.begun)
	}
}

// A run is stopped between the failover's Begin and the checkpoint of its
// resume token; `resume` in a new process finds the group still failing
// over, waits for it, and sends no second failover.
func TestRunKilledBeforeFailoverCheckpoint(t *testing.T) {
	s, g := regionSwitch()
	dir := t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	killAtBegun(t, stop)
	res, err := runner.Start(ctx, g, runner.Options{Dir: dir, Target: s.target(t)})
	if res.Status != runner.StatusInterrupted {
		t.Fatalf("first session: %v %+v", err, res)
	}
	res, err = runner.Resume(context.Background(), res.RunID, runner.Options{Dir: dir, Target: s.target(t)})
	if err != nil || res.Status != runner.StatusDone {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if n := s.begun[sent+apiFailover]; n != 1 || s.groups["fog-app"].primary != "sql-2" {
		t.Fatalf("%d failovers sent, primary %s; want exactly one", n, s.groups["fog-app"].primary)
	}
}

// A session stops between an instance update's Begin and the checkpoint
// of its resume token. The next session finds the intent, takes the
// service's operation record on the instance for the update and follows
// it to its end; no second update is sent. Before, it refused with the
// operation in flight and sent the update again once it had ended.
func TestInstanceUpdateKilledBeforeCheckpointIsFollowed(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	journal := &memCheckpoints{}
	ctx, stop := context.WithCancel(fleet.WithCheckpoints(context.Background(), journal))
	defer stop()
	killAtBegun(t, stop)
	req := fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}, ClientRequestID: "run-i/scale"}
	if _, err := s.target(t).BeginInstanceOperation(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("first session: %v; want it stopped", err)
	}
	// The service runs the update on its own and lists it.
	s.addOperation("mi-prod", "arm-op-1", armsql.ManagementOperationStateInProgress, true, 2, 6)

	ctx = fleet.WithCheckpoints(context.Background(), journal)
	tgt := s.target(t)
	op, found, err := tgt.FindInstanceOperation(ctx, req.ClientRequestID)
	if err != nil || !found || op.State != fleet.OpInProgress || op.Phase != "Virtual cluster resize/creation" {
		t.Fatalf("after a restart: %+v, %v, %v; want the service's operation, in progress", op, found, err)
	}
	if again, err := tgt.BeginInstanceOperation(ctx, req); err != nil || again.ID != op.ID {
		t.Fatalf("Begin again: %+v, %v; want the same operation", again, err)
	}
	s.mu.Lock()
	s.ops["mi-prod"][0].Properties.State = to.Ptr(armsql.ManagementOperationStateSucceeded)
	s.mu.Unlock()
	// A third process follows it from the journal.
	done, err := s.target(t).InstanceOperation(ctx, op.ID)
	if err != nil || done.State != fleet.OpSucceeded {
		t.Fatalf("followed: %+v, %v", done, err)
	}
	if s.begun["update"] != 1 {
		t.Fatalf("%d updates sent; want exactly one", s.begun["update"])
	}
}

// An intent with no operation of the service behind it (the request never
// reached Azure) does not block the step: Begin sends the update.
func TestInstanceIntentWithoutOperationIsSent(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	journal := &memCheckpoints{}
	ctx := fleet.WithCheckpoints(context.Background(), journal)
	tgt := s.target(t)
	if _, err := tgt.ops.intend(ctx, kindInstanceUpdate, fleet.InstanceUpdate, "mi-prod", "run-j/scale", ""); err != nil {
		t.Fatal(err)
	}
	op, err := s.target(t).BeginInstanceOperation(ctx, fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}, ClientRequestID: "run-j/scale"})
	if err != nil || s.begun["update"] != 1 || op.State != fleet.OpInProgress {
		t.Fatalf("Begin after a lone intent: %+v, %v; %d updates sent", op, err, s.begun["update"])
	}
}
