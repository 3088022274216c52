package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/prcomment"
	"github.com/fleetplan/fleetplan/runhistory"
)

func init() { commands = append(commands, newPlanCmd) }

func newPlanCmd(a *app) *cobra.Command {
	var format, out, changedSince, commentDir string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan PLAN|DIR...",
		Short: "Show what apply would change: the step graph diffed against the live fleet",
		Long: `plan loads a plan file, observes its target and prints the ordered step graph
that apply would run, with guards, rollback branches and estimates. Nothing changes.

Given folders (or several files), plan plans every plan document in them, grouped
per target. --changed-since REV plans only the documents whose file, template, SQL
file or fleetplan.yaml changed since REV (compared with where HEAD's history meets
REV's, working tree included), and lists plan documents that left the repository
as "no longer managed": fleetplan never destroys what a deleted plan described.
--format markdown prints one pull-request comment per target, split at GitHub's
65,535 characters; --comment-dir writes each part to a file of its own.`,
		Example: `  fleetplan plan examples/shards/split.yaml
  fleetplan plan examples/shards/split.yaml --format markdown > comment.md
  fleetplan plan examples/shards/split.yaml --out split.plan && fleetplan apply split.plan
  fleetplan plan examples/
  fleetplan plan . --changed-since origin/main --format markdown --comment-dir comments`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if changedSince != "" || commentDir != "" || len(args) > 1 || isDir(args[0]) {
				if out != "" {
					return usageErr("--"+flagOut+" saves the plan of one file", "plan a single plan file to save its plan: fleetplan plan FILE --out FILE.plan")
				}
				if commentDir != "" && format != formatMarkdown {
					return usageErr("--"+flagCommentDir+" writes markdown comments", "add --format markdown")
				}
				return a.planRepo(cmd, args, format, changedSince, commentDir, detailed)
			}
			ctx := cmd.Context()
			doc, diags := engine.LoadDocument(args[0], a.configPath)
			if diags.HasErrors() {
				return diags.Err()
			}
			a.view.Warn(diags)
			target, err := a.openTargetFor(ctx, doc.Config, engine.TargetOf(doc), engine.ModeFor(doc.Kind))
			if err != nil {
				return err
			}
			defer target.Close()
			g, diags := engine.Plan(ctx, doc, target, runhistory.PlanOptions(runhistory.StateDir(doc.Config), target.Name()))
			if diags.HasErrors() {
				return diags.Err()
			}
			a.view.Warn(diags)
			if err := a.view.Plan(g, format); err != nil {
				return err
			}
			if out != "" {
				if err := engine.SavePlan(out, doc.Config, g); err != nil {
					return err
				}
				a.view.Saved(out, format)
			}
			return a.view.Changes(g, detailed)
		},
	}
	addFormatFlag(cmd, &format, formatText, formatMarkdown, formatJSON).also = []string{"md"}
	cmd.Flags().StringVar(&out, flagOut, "", "save the plan (with the live-state fingerprint) to this file")
	cmd.Flags().BoolVar(&detailed, flagDetailedExitcode, false, "exit 0 for no changes, 2 for changes, 1 for errors")
	cmd.Flags().StringVar(&changedSince, flagChangedSince, "", "plan only the documents changed since this git revision (their file, a template or SQL file they read, their fleetplan.yaml)")
	cmd.Flags().StringVar(&commentDir, flagCommentDir, "", "with --format markdown: write each comment part to a file in this folder (comment-001.md, ...)")
	return cmd
}

// planRepo plans every document under paths, or with changedSince those a
// change since that revision touches.
func (a *app) planRepo(cmd *cobra.Command, paths []string, format, changedSince, commentDir string, detailed bool) error {
	ctx := cmd.Context()
	set, diags := engine.LoadOptions(a.configPath).Load(paths...)
	docs := set.Documents
	why := map[*plans.Document]string{}
	r := &views.RepoPlan{Load: diags}
	var unmanaged []gitops.Unmanaged
	if changedSince != "" {
		repo, err := gitops.OpenRepo(ctx, dirOf(paths[0]))
		if err != nil {
			return err
		}
		cs, err := repo.Changes(ctx, changedSince)
		if err != nil {
			return err
		}
		sel, err := gitops.Select(ctx, repo, cs, paths, docs)
		if err != nil {
			return err
		}
		r.Changes, docs, why, unmanaged = cs, sel.Docs, sel.Why, sel.Unmanaged
	}
	r.Groups = gitops.Group(docs, why, unmanaged)
	gitops.PlanAll(ctx, r.Groups, a.openTarget)
	if format == formatMarkdown || format == "md" {
		r.Comments = prcomment.Comments(r.Groups, r.Load, prcomment.Limit)
		if commentDir != "" {
			if err := prcomment.WriteDir(commentDir, r.Comments); err != nil {
				return err
			}
		}
		format = formatMarkdown
	}
	return a.view.PlanRepo(r, format, detailed)
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// dirOf is the folder git is asked about for a path named on the command line.
func dirOf(path string) string {
	if isDir(path) {
		return path
	}
	return filepath.Dir(path)
}
