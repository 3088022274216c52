package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/gitops"
	"github.com/fleetplan/fleetplan/planrender"
	"github.com/fleetplan/fleetplan/prcomment"
)

// RepoPlan is what plan DIR... found: the plans of a repository grouped per
// target, what could not be loaded, and with --changed-since what changed.
type RepoPlan struct {
	Groups  []*gitops.TargetPlans
	Load    diag.List         // problems loading the plan files
	Changes *gitops.ChangeSet // nil without --changed-since
	// Comments are the markdown comments (--format markdown).
	Comments []prcomment.Comment
}

// PlanRepo prints the plans of a repository in format, and returns the
// exit status: 1 when a file did not load or a plan could not be made (the
// plans that could are shown all the same), with detailed 2 when a plan
// changes anything.
func (v *View) PlanRepo(r *RepoPlan, format string, detailed bool) error {
	w := bufio.NewWriter(v.Out)
	var err error
	switch format {
	case JSON:
		err = v.repoJSON(w, r)
	case Markdown:
		v.repoDiags(r)
		for i, c := range r.Comments {
			for j, p := range c.Parts {
				if i+j > 0 {
					fmt.Fprint(w, "\n")
				}
				fmt.Fprint(w, p)
			}
		}
	default:
		v.repoDiags(r)
		err = repoText(w, r)
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if r.Load.HasErrors() || gitops.Errors(r.Groups) {
		return &ExitError{Code: 1}
	}
	if detailed && gitops.Changes(r.Groups) {
		return &ExitError{Code: 2}
	}
	return nil
}

// repoDiags prints on stderr what did not load and why a plan or target
// failed, each at its position.
func (v *View) repoDiags(r *RepoPlan) {
	v.Warn(r.Load)
	for _, g := range r.Groups {
		if g.Err != nil {
			var le *diag.ListError
			if errors.As(g.Err, &le) {
				v.Warn(le.List)
			} else {
				fmt.Fprintf(v.Err, "error: target %q: %v\n", g.Target, g.Err)
				if hint := fleet.HintOf(g.Err); hint != "" {
					fmt.Fprintf(v.Err, "hint: %s\n", hint)
				}
			}
		}
		for _, p := range g.Plans {
			v.Warn(p.Diags)
		}
	}
}

func repoText(w *bufio.Writer, r *RepoPlan) error {
	if cs := r.Changes; cs != nil {
		n := 0
		for _, g := range r.Groups {
			n += len(g.Plans)
		}
		fmt.Fprintf(w, "Changed since %s (merge base %s): %s, %s to plan.\n", cs.Rev, shortCommit(cs.Base), Plural(len(cs.Files), "file"), Plural(n, "plan"))
		if len(r.Groups) == 0 {
			fmt.Fprintf(w, "\nNo plan changed since %s.\n", cs.Rev)
		}
	} else if len(r.Groups) == 0 {
		fmt.Fprintln(w, "No plan documents found.")
	}
	for _, g := range r.Groups {
		fmt.Fprintf(w, "\n== target %q", g.Target)
		if g.Config != nil {
			fmt.Fprintf(w, " (%s)", displayPath(g.Config.Path))
		}
		fmt.Fprintf(w, ": %s ==\n", Plural(len(g.Plans), "plan"))
		if g.Err != nil {
			fmt.Fprintln(w, "\nThe target could not be opened (see the error above); none of its plans was made.")
		}
		for _, p := range g.Plans {
			fmt.Fprintf(w, "\n-- %s", p.Doc.File)
			if p.Why != "" {
				fmt.Fprintf(w, ": %s", p.Why)
			}
			fmt.Fprintln(w)
			switch {
			case g.Err != nil:
			case p.NotPlanned:
				fmt.Fprintf(w, "%s %q is not planned: plan and apply do not take %s documents yet (validate checks them).\n", p.Doc.Kind, p.Doc.Metadata.Name, p.Doc.Kind)
			case p.Graph == nil:
				fmt.Fprintf(w, "%s %q could not be planned (see the errors above).\n", p.Doc.Kind, p.Doc.Metadata.Name)
			default:
				if err := planrender.Text(w, p.Graph); err != nil {
					return err
				}
			}
		}
		if len(g.Unmanaged) > 0 {
			fmt.Fprintln(w, "\nNo longer managed (fleetplan changes nothing they describe; nothing is destroyed):")
			for _, u := range g.Unmanaged {
				fmt.Fprintf(w, "  - %s %q (%s): %s\n", u.Kind, u.Name, u.File, u.Why)
			}
		}
	}
	return nil
}

type repoJSON struct {
	FormatVersion int               `json:"formatVersion"`
	ChangedSince  *changedJSON      `json:"changedSince,omitempty"`
	Targets       []targetJSON      `json:"targets"`
	Diagnostics   []diag.Diagnostic `json:"diagnostics"`
}

type changedJSON struct {
	Rev   string              `json:"rev"`
	Base  string              `json:"base"`
	Files []gitops.FileChange `json:"files"`
}

type targetJSON struct {
	Target          string             `json:"target"`
	Config          string             `json:"config,omitempty"`
	Error           string             `json:"error,omitempty"`
	Plans           []plannedJSON      `json:"plans"`
	NoLongerManaged []gitops.Unmanaged `json:"noLongerManaged,omitempty"`
}

type plannedJSON struct {
	File        string            `json:"file"`
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Why         string            `json:"why,omitempty"`
	NotPlanned  bool              `json:"notPlanned,omitempty"` // a kind plan does not take yet
	Graph       json.RawMessage   `json:"graph,omitempty"`
	Diagnostics []diag.Diagnostic `json:"diagnostics,omitempty"`
}

func diagsJSON(l diag.List) []diag.Diagnostic { return append([]diag.Diagnostic{}, l...) }

func (v *View) repoJSON(w *bufio.Writer, r *RepoPlan) error {
	out := repoJSON{FormatVersion: 1, Targets: []targetJSON{}, Diagnostics: diagsJSON(r.Load)}
	if cs := r.Changes; cs != nil {
		out.ChangedSince = &changedJSON{Rev: cs.Rev, Base: cs.Base, Files: append([]gitops.FileChange{}, cs.Files...)}
	}
	for _, g := range r.Groups {
		t := targetJSON{Target: g.Target, Plans: []plannedJSON{}, NoLongerManaged: g.Unmanaged}
		if g.Config != nil {
			t.Config = displayPath(g.Config.Path)
		}
		if g.Err != nil {
			t.Error = g.Err.Error()
		}
		for _, p := range g.Plans {
			pj := plannedJSON{File: p.Doc.File, Kind: p.Doc.Kind, Name: p.Doc.Metadata.Name, Why: p.Why, NotPlanned: p.NotPlanned}
			if len(p.Diags) > 0 {
				pj.Diagnostics = diagsJSON(p.Diags)
			}
			if p.Graph != nil {
				var b bytes.Buffer
				if err := planrender.JSON(&b, p.Graph); err != nil {
					return err
				}
				pj.Graph = json.RawMessage(b.Bytes())
			}
			t.Plans = append(t.Plans, pj)
		}
		out.Targets = append(out.Targets, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// displayPath names a file relative to the working folder when below it.
func displayPath(abs string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return abs
}
