package prcomment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/planrender"
)

// Comment is one pull-request comment, in parts that each fit GitHub's
// limit. Key identifies it across runs (the target, or "errors"), so a
// workflow updates the comment it posted before instead of adding one.
type Comment struct {
	Key   string
	Parts []string
}

// Marker is the hidden first line of a part: a workflow finds the comment
// it posted before by it. It is the same for every run of one key and part.
func Marker(key string, part, parts int) string {
	return fmt.Sprintf("<!-- fleetplan:preview key=%s part=%d/%d -->\n", key, part, parts)
}

// MarkerPrefix is how every part of a key's comment starts, whatever its
// part number.
func MarkerPrefix(key string) string { return "<!-- fleetplan:preview key=" + key + " part=" }

// Comments builds one comment per target of groups, and one for problems
// that belong to no target (loadErrors: files that do not load), each split
// at limit bytes (Limit for GitHub).
func Comments(groups []*gitops.TargetPlans, loadErrors diag.List, limit int) []Comment {
	var out []Comment
	if len(loadErrors) > 0 {
		var b strings.Builder
		b.WriteString("## fleetplan: problems in the plan files\n\n")
		writeDiags(&b, loadErrors)
		out = append(out, split("errors", b.String(), limit))
	}
	names := map[string]int{}
	for _, g := range groups {
		names[g.Target]++
	}
	for _, g := range groups {
		key := g.Target
		if names[g.Target] > 1 && g.Config != nil {
			key += "@" + stableDir(g.Config.Dir)
		}
		out = append(out, split(key, targetComment(g), limit))
	}
	return out
}

// stableDir names a config folder the same on every machine and checkout:
// relative to the top of its git repository (else to the working folder),
// with slashes, so a marker keyed by it finds the comment a run elsewhere
// posted.
func stableDir(dir string) string {
	if repo, err := gitops.OpenRepo(context.Background(), dir); err == nil {
		if rel := repo.Rel(dir); rel != "" {
			return rel
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(dir)
}

func split(key, body string, limit int) Comment {
	parts := Split(body, limit, func(i, n int) string {
		h := Marker(key, i, n)
		if i > 1 {
			h += fmt.Sprintf("_(continued, part %d of %d)_\n\n", i, n)
		}
		return h
	})
	return Comment{Key: key, Parts: parts}
}

// targetComment is the comment of one target: a summary of its plans, then
// each plan (its changes, mermaid graph, estimates, guards, rollback
// branches and approval gates) with its text form in a collapsed details
// section, then what left the repository.
func targetComment(g *gitops.TargetPlans) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## fleetplan: target `%s`\n\n", g.Target)
	if g.Err != nil {
		fmt.Fprintf(&b, "**The target could not be opened; none of its %s was planned.**\n\n```text\n%s\n```\n\n", plural(len(g.Plans), "plan"), errorText(g.Err))
	}
	if len(g.Plans) > 0 {
		b.WriteString("| plan | kind | file | why | changes | estimated duration |\n|---|---|---|---|---|---|\n")
		for _, p := range g.Plans {
			changes, est := "**could not be planned**", "-"
			if p.Graph != nil {
				changes, est = planrender.SummaryLine(p.Graph), duration(p.Graph.Total().Duration)
				if !gitops.Changed(p.Graph) {
					changes = "no changes"
				}
			}
			if p.NotPlanned {
				changes = "not planned: " + p.Doc.Kind + " plans are not planned yet"
			}
			if g.Err != nil {
				changes = "not planned"
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s |\n", cell(p.Doc.Metadata.Name), p.Doc.Kind,
				cell(p.Doc.File), cell(dash(p.Why)), changes, est)
		}
		b.WriteString("\n")
	}
	for _, p := range g.Plans {
		switch {
		case g.Err != nil:
		case p.NotPlanned:
			fmt.Fprintf(&b, "### fleetplan: `%s` %s is not planned\n\nplan and apply do not take %s documents yet; `fleetplan validate` checks them.\n\n", cell(p.Doc.Metadata.Name), p.Doc.Kind, p.Doc.Kind)
		case p.Graph == nil:
			fmt.Fprintf(&b, "### fleetplan: `%s` %s could not be planned\n\n", cell(p.Doc.Metadata.Name), p.Doc.Kind)
			writeDiags(&b, p.Diags)
		default:
			var md strings.Builder
			_ = planrender.Markdown(&md, p.Graph)
			b.WriteString(md.String())
			if len(p.Diags) > 0 {
				b.WriteString("\n")
				writeDiags(&b, p.Diags)
			}
			if !p.Graph.Empty() {
				var txt strings.Builder
				_ = planrender.Text(&txt, p.Graph)
				fmt.Fprintf(&b, "\n<details><summary>Details: the plan of <code>%s</code> as text</summary>\n\n```text\n%s```\n\n</details>\n", cell(p.Doc.Metadata.Name), txt.String())
			}
			b.WriteString("\n")
		}
	}
	if len(g.Unmanaged) > 0 {
		b.WriteString("#### No longer managed\n\nThese plans left the repository. fleetplan stops managing what they describe and changes nothing of it: nothing is destroyed.\n\n")
		for _, u := range g.Unmanaged {
			fmt.Fprintf(&b, "- %s `%s` (`%s`): %s\n", u.Kind, cell(u.Name), cell(u.File), u.Why)
		}
	}
	return b.String()
}

func writeDiags(b *strings.Builder, d diag.List) {
	b.WriteString("```text\n")
	var s strings.Builder
	_ = diag.Write(&s, d, "text")
	b.WriteString(strings.ReplaceAll(s.String(), "```", "'''"))
	b.WriteString("```\n\n")
}

func errorText(err error) string {
	s := err.Error()
	if le, ok := err.(*diag.ListError); ok {
		var w strings.Builder
		_ = diag.Write(&w, le.List, "text")
		s = strings.TrimSuffix(w.String(), "\n")
	}
	return strings.ReplaceAll(s, "```", "'''")
}

// duration is an estimate for the summary table, to the second: each
// plan's own section has it to the millisecond.
func duration(d time.Duration) string {
	if d < time.Second {
		return "< 1s"
	}
	return d.Round(time.Second).String()
}

func cell(s string) string { return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// WriteDir writes every part of comments to dir, one file each, in order:
// comment-001.md, comment-002.md, ... Files of an earlier run are removed
// first, so the folder holds exactly this run's comments.
func WriteDir(dir string, comments []Comment) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "comment-*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	n := 0
	for _, c := range comments {
		for _, p := range c.Parts {
			n++
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("comment-%03d.md", n)), []byte(p), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
