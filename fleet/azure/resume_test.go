package azure

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	_ "github.com/fleetplan/fleetplan/steps/instance"
	"github.com/fleetplan/fleetplan/stepspec"
)

// A run that applies an InstanceChange is stopped while the ARM operation
// runs; `resume` in a new process (a new driver on the same Azure) finds the
// operation through the resume token in the run journal and follows it to
// its end. The operation is started once.
func TestRunResumesTheOperationFromTheJournal(t *testing.T) {
	s := newService()
	s.polls = 4
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	spec := stepspec.InstanceChange{Instance: "mi-prod", Operation: fleet.InstanceUpdate, Settings: stepspec.InstanceSettings{VCores: 16}}
	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: "InstanceChange", Plan: "scale", Target: "azure-test",
		Steps: []*stepgraph.Step{{ID: "scale-mi-prod", Action: stepspec.InstanceChangeName, With: stepspec.With(spec)}}}
	dir := t.TempDir()

	ctx, stop := context.WithCancel(context.Background())
	var once sync.Once
	s.onOperations = func() {
		s.mu.Lock()
		begun := s.begun["update"] > 0
		s.mu.Unlock()
		if begun {
			once.Do(stop) // the process is stopped once the operation runs
		}
	}
	res, err := runner.Start(ctx, g, runner.Options{Dir: dir, Target: s.target(t)})
	if res.Status != runner.StatusInterrupted {
		t.Fatalf("first session: %v %+v", err, res)
	}
	journal, err := os.ReadFile(filepath.Join(dir, "runs", res.RunID, "journal.jsonl"))
	if err != nil || !strings.Contains(string(journal), `"type":"step-checkpoint"`) || !strings.Contains(string(journal), "token") {
		t.Fatalf("the journal holds no resume token (%v):\n%s", err, journal)
	}

	s.onOperations = nil
	res, err = runner.Resume(context.Background(), res.RunID, runner.Options{Dir: dir, Target: s.target(t)})
	if err != nil || res.Status != runner.StatusDone {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if s.begun["update"] != 1 {
		t.Fatalf("%d updates sent; the resumed run must re-attach, not start another", s.begun["update"])
	}
}
