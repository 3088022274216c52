package azure

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	_ "github.com/fleetplan/fleetplan/steps/database"
	"github.com/fleetplan/fleetplan/stepspec"
)

// A run that fails a group over is stopped while the failover runs; resume
// in a new process follows the same operation (its resume token in the run
// journal) and starts no other. Rolling the run back fails the group back.
func TestRunResumesTheFailoverAndRollsBack(t *testing.T) {
	s, g := regionSwitch()
	dir := t.TempDir()

	ctx, stop := context.WithCancel(context.Background())
	tr := s.sqlTr
	s.sqlTr = &onPoll{next: tr, api: apiFailover, do: stop}
	res, err := runner.Start(ctx, g, runner.Options{Dir: dir, Target: s.target(t)})
	if res.Status != runner.StatusInterrupted {
		t.Fatalf("first session: %v %+v", err, res)
	}
	s.sqlTr = tr
	res, err = runner.Resume(context.Background(), res.RunID, runner.Options{Dir: dir, Target: s.target(t)})
	if err != nil || res.Status != runner.StatusDone {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if n := s.begun[sent+apiFailover]; n != 1 || s.groups["fog-app"].primary != "sql-2" {
		t.Fatalf("%d failovers sent, primary %s; the resumed run must re-attach to the one it started", n, s.groups["fog-app"].primary)
	}
	// A planned failover is no point of no return: the rollback fails back.
	res, err = runner.Rollback(context.Background(), res.RunID, runner.Options{Dir: dir, Target: s.target(t)})
	if err != nil || res.Status != runner.StatusRolledBack || s.groups["fog-app"].primary != "sql-1" {
		t.Fatalf("rollback: %v %+v; primary %s", err, res, s.groups["fog-app"].primary)
	}
}

// regionSwitch is a service with a caught-up group fog-app (sql-1 primary,
// polled three times per operation) and a run that fails it over to sql-2.
func regionSwitch() (*service, *stepgraph.Graph) {
	s := newService()
	s.polls = 3
	s.addGroup("fog-app", "sql-1", "sql-2", "app", "orders")
	spec := stepspec.FailoverGroup{Group: "fog-app", Server: "sql-2"}
	return s, &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: "RollingUpgrade", Plan: "region-switch", Target: "azure-test",
		Steps: []*stepgraph.Step{{ID: "switch-region", Action: stepspec.FailoverGroupName, With: stepspec.With(spec)}}}
}

// A forced failover is a point of no return: a rollback across it is
// refused before anything changes.
func TestForcedFailoverIsNotRolledBack(t *testing.T) {
	s := newService()
	s.addGroup("fog-app", "sql-1", "sql-2", "app")
	spec := stepspec.FailoverGroup{Group: "fog-app", Server: "sql-2", Mode: stepspec.FailoverForced, AllowDataLoss: true}
	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: "RollingUpgrade", Plan: "region-down", Target: "azure-test",
		Steps: []*stepgraph.Step{{ID: "force-region", Action: stepspec.FailoverGroupName, With: stepspec.With(spec), NoUndo: true}}}
	dir := t.TempDir()
	res, err := runner.Start(context.Background(), g, runner.Options{Dir: dir, Target: s.target(t)})
	if err != nil || res.Status != runner.StatusDone || s.begun[sent+apiForceFailover] != 1 {
		t.Fatalf("forced failover run: %v %+v, sent %v", err, res, s.begun)
	}
	_, err = runner.Rollback(context.Background(), res.RunID, runner.Options{Dir: dir, Target: s.target(t)})
	if err == nil || !strings.Contains(err.Error(), "cannot be undone") || s.groups["fog-app"].primary != "sql-2" || s.begun[sent+apiFailover] != 0 {
		t.Fatalf("rollback across a forced failover: %v; primary %s, sent %v", err, s.groups["fog-app"].primary, s.begun)
	}
}
