package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/runner"
)

func init() {
	commands = append(commands, newResumeCmd, newRollbackCmd)
}

// continueRun opens the target of a journaled run and hands it to fn (the
// runner's Resume or Rollback).
func (a *app) continueRun(cmd *cobra.Command, runID, output, verb string,
	fn func(dir, runID string, opt runner.Options) (*runner.Result, error)) error {
	ctx := cmd.Context()
	cfg, err := engine.LoadConfig(a.configPath)
	if err != nil {
		return err
	}
	dir := runhistory.StateDir(cfg)
	if runID == "" {
		if runID, err = runner.NewestUnfinished(dir, ""); err != nil {
			return err
		}
	}
	st, err := runner.Status(dir, runID)
	if err != nil {
		return err
	}
	target, err := a.openTargetFor(ctx, cfg, st.Target, engine.ModeFor(st.Kind))
	if err != nil {
		return err
	}
	defer target.Close()
	sink, finish := a.view.Events(output)
	defer finish()
	opt := engine.RunOptions(cfg, target, sink, "fleetplan "+verb+" "+runID)
	res, err := fn(dir, runID, opt)
	finish()
	return a.view.RunResult(res, err, output)
}

func newResumeCmd(a *app) *cobra.Command {
	var output string
	var ignoreWindow bool
	cmd := &cobra.Command{
		Use:   "resume [RUN]",
		Short: "Finish an interrupted, paused or approved run from its journal",
		Long: `resume replays a run's journal and continues it: steps that finished are kept,
a step that started but did not finish runs again (actions are idempotent).
Without RUN it resumes the newest unfinished run.`,
		Example: `  fleetplan resume
  fleetplan resume 20261122T101500Z-ab12`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id string
			if len(args) == 1 {
				id = args[0]
			}
			return a.continueRun(cmd, id, output, "resume", func(_, runID string, opt runner.Options) (*runner.Result, error) {
				opt.IgnoreWindow = ignoreWindow
				return runner.Resume(cmd.Context(), runID, opt)
			})
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().BoolVar(&ignoreWindow, flagIgnoreWindow, false, "start instance operations outside their change windows (the journal says so)")
	return cmd
}

func newRollbackCmd(a *app) *cobra.Command {
	var output string
	var discard bool
	cmd := &cobra.Command{
		Use:   "rollback RUN",
		Short: "Undo a run: run the rollback branches of its completed steps in reverse order",
		Long: `rollback undoes a run: the rollback branches of its completed steps run newest
first. A rollback that was interrupted or failed can be run again; steps
already undone are not undone twice. It also finishes the removal of staging
parts that a failed upgrade kept for analysis.

Once traffic has switched to a new version, a rollback switches it back only
when that loses nothing: it compares the new version's database with where it
stood at the switch (row counts and checksums per table). If customers wrote
to it since, rollback refuses, names the tables that differ and by how many
rows, exits 1 and changes nothing. --discard-writes-since-switch switches back
anyway and keeps that database (renamed <name>-kept-RUN on its server, never
dropped) so its rows can be recovered by hand; the output says where it is.`,
		Example: `  fleetplan rollback 20261122T101500Z-ab12
  fleetplan rollback 20261122T101500Z-ab12 --discard-writes-since-switch`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.continueRun(cmd, args[0], output, "rollback", func(_, runID string, opt runner.Options) (*runner.Result, error) {
				opt.DiscardWritesSinceSwitch = discard
				return runner.Rollback(cmd.Context(), runID, opt)
			})
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().BoolVar(&discard, flagDiscardWrites, false,
		"switch traffic back even though the new version was written to since the switch; its database is kept (renamed, never dropped)")
	return cmd
}
