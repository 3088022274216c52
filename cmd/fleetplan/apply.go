package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/planfile"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
)

func init() { commands = append(commands, newApplyCmd) }

func newApplyCmd(a *app) *cobra.Command {
	var autoApprove, requireClean, ignoreWindow bool
	var output string
	cmd := &cobra.Command{
		Use:   "apply PLAN|SAVED-PLAN",
		Short: "Plan and run the step graph, with a checkpoint after every step",
		Long: `apply plans a plan file (or takes a plan saved with plan --out, refusing it if
the fleet changed since), shows it, asks for confirmation on a terminal, and runs it.
Every transition is journaled under .fleetplan/runs/<run-id>/ beside fleetplan.yaml;
after a crash, fleetplan resume finishes the run.`,
		Example: `  fleetplan apply examples/shards/split.yaml --auto-approve
  fleetplan plan examples/shards/split.yaml --out split.plan && fleetplan apply split.plan --auto-approve
  fleetplan apply examples/shards/split.yaml --auto-approve --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			command := "fleetplan apply " + args[0]
			if requireClean {
				if err := a.requireClean(cmd, args[0]); err != nil {
					return err
				}
			}
			doc, g, target, lease, err := a.planOrSaved(cmd, args[0], command)
			if err != nil {
				return err
			}
			defer target.Close()
			defer lease.Release()
			prov, err := gitops.ProvenanceOf(ctx, doc)
			if err != nil {
				return err
			}
			if err := engine.CheckPaths(g, doc.Config.Roots()); err != nil {
				return err
			}
			if err := a.view.ApplyPlan(g, output); err != nil {
				return err
			}
			if g.Empty() {
				return nil
			}
			if !autoApprove {
				if err := a.confirm(len(g.Steps)); err != nil {
					return err
				}
			}
			sink, finish := a.view.Events(output)
			defer finish()
			res, err := startRun(ctx, doc, g, target, lease, prov, sink, command, ignoreWindow, func(kept string) { a.view.RemovingKept(kept, output) })
			finish()
			return a.view.RunResult(res, err, output)
		},
	}
	cmd.Flags().BoolVar(&autoApprove, flagAutoApprove, false, "run without asking for confirmation (required without a terminal)")
	cmd.Flags().BoolVar(&ignoreWindow, flagIgnoreWindow, false, "start instance operations outside their change windows (the journal says so)")
	addOutputFlag(cmd, &output)
	cmd.Flags().BoolVar(&requireClean, flagRequireClean, false, "refuse unless the plan's git working tree is clean, so what runs is exactly a commit")
	return cmd
}

// requireClean refuses a plan (or a saved plan's source) whose git working
// tree has uncommitted changes, before anything is planned or locked.
func (a *app) requireClean(cmd *cobra.Command, path string) error {
	saved, isSaved, err := planfile.Read(path)
	if err != nil {
		return err
	}
	if isSaved {
		path = saved.Graph.Source
	}
	dir := path
	if !isDir(dir) {
		dir = filepath.Dir(dir)
	}
	stateDir := ""
	if a.configPath != "" {
		stateDir = filepath.Join(filepath.Dir(a.configPath), runner.StateDirName)
	} else if cfg, ok := plans.FindConfig(dir); ok {
		stateDir = filepath.Join(filepath.Dir(cfg), runner.StateDirName)
	}
	return gitops.RequireClean(cmd.Context(), dir, stateDir)
}

// planOrSaved returns the graph to run: a saved plan after checking it is
// still fresh, or a new plan of a plan file. Both happen under the fleet's
// lock, taken first and held in the returned lease until the run is over,
// so no other run changes the fleet between what apply shows and what it
// runs.
func (a *app) planOrSaved(cmd *cobra.Command, path, command string) (*plans.Document, *stepgraph.Graph, fleet.Target, *runner.Lease, error) {
	ctx := cmd.Context()
	saved, isSaved, err := planfile.Read(path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	source := path
	configPath := a.configPath
	if isSaved {
		source = saved.Graph.Source
		if configPath == "" {
			configPath = saved.Config
		}
	}
	doc, diags := engine.LoadDocument(source, configPath)
	if diags.HasErrors() {
		return nil, nil, nil, nil, diags.Err()
	}
	a.view.Warn(diags)
	if isSaved {
		if err := engine.VerifySaved(saved, path, doc.Config); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	target, err := a.openTargetFor(ctx, doc.Config, engine.TargetOf(doc), engine.ModeFor(doc.Kind))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	graph := func() (*stepgraph.Graph, diag.List, error) {
		if isSaved {
			return saved.Graph, nil, engine.CheckFresh(ctx, saved.Graph, doc, target)
		}
		return planGraph(ctx, doc, target)
	}
	g, lease, err := lockAndPlan(ctx, doc, target, command, graph, a.view.Warn, nil)
	if err != nil {
		target.Close()
		return nil, nil, nil, nil, err
	}
	return doc, g, target, lease, nil
}

// planGraph plans a document against its opened target.
func planGraph(ctx context.Context, doc *plans.Document, target fleet.Target) (*stepgraph.Graph, diag.List, error) {
	g, diags := engine.Plan(ctx, doc, target, runhistory.PlanOptions(runhistory.StateDir(doc.Config), target.Name()))
	if diags.HasErrors() {
		return nil, nil, diags.Err()
	}
	return g, diags, nil
}

// lockAndPlan makes the graph to run under the fleet's lock: once without
// the lock, so a plan refused for what it says, or one with nothing to do,
// changes nothing (no lock or run folder is written; the lease is nil);
// then under the lock, which is the graph shown and run. locked, when not
// nil, is asked first once the lock is held: an error gives the lock back.
func lockAndPlan(ctx context.Context, doc *plans.Document, target fleet.Target, command string,
	graph func() (*stepgraph.Graph, diag.List, error), warn func(diag.List), locked func() error) (*stepgraph.Graph, *runner.Lease, error) {
	if g, diags, err := graph(); err != nil {
		return nil, nil, err
	} else if g.Empty() {
		warn(diags) // nothing to run, nothing to lock
		return g, nil, nil
	}
	lease, err := runner.Reserve(ctx, engine.RunOptions(doc.Config, target, nil, command))
	if err != nil {
		return nil, nil, err
	}
	if locked != nil {
		if err := locked(); err != nil {
			lease.Release()
			return nil, nil, err
		}
	}
	g, diags, err := graph()
	if err != nil {
		lease.Release()
		return nil, nil, err
	}
	warn(diags)
	return g, lease, nil
}

// startRun runs a graph planned under lease (see lockAndPlan): what a failed
// run kept for analysis goes first (removing says which), as the new run
// makes those parts afresh, then the graph runs as the reserved run.
func startRun(ctx context.Context, doc *plans.Document, g *stepgraph.Graph, target fleet.Target, lease *runner.Lease,
	prov *runner.Provenance, sink runner.EventSink, command string, ignoreWindow bool, removing func(kept string)) (*runner.Result, error) {
	opt := engine.RunOptions(doc.Config, target, sink, command)
	opt.Lease = lease
	opt.Provenance = prov
	opt.IgnoreWindow = ignoreWindow
	for _, kept := range g.RemoveKept {
		removing(kept)
		if res, err := runner.Rollback(ctx, kept, opt); err != nil {
			return res, err
		}
	}
	return runner.Start(ctx, g, opt)
}

// confirm asks on a terminal; without one it refuses.
func (a *app) confirm(steps int) error {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &fleet.Error{Op: "apply", Err: errors.New("refusing to apply without confirmation: no terminal to ask on"),
			Hint: "review the plan above and pass --" + flagAutoApprove}
	}
	a.view.Confirm(steps)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("apply cancelled")
	}
	return nil
}
