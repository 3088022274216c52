package gitops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/plans"
)

// Selection is the plan documents a change touches.
type Selection struct {
	// Docs are the documents to plan, in the order given.
	Docs []*plans.Document
	// Why says for each document why it is planned ("changed",
	// "uses tpl/up.yaml, which changed", ...).
	Why map[*plans.Document]string
	// Unmanaged are documents the base revision had and the working tree
	// no longer has: their file was deleted, or the document taken out.
	Unmanaged []Unmanaged
}

// Unmanaged is a plan document that is no longer in the repository.
// fleetplan changes nothing it described: taking a plan out of git stops
// managing what it describes, it never destroys it.
type Unmanaged struct {
	File   string `json:"file"` // path at the base revision, as git names it
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Target string `json:"target"`
	Why    string `json:"why"` // "its file was deleted", ...
}

// header is what identifies a plan document, read without validating it
// (the base revision's files are history, not input to plan).
type header struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Target string `yaml:"target"`
	} `yaml:"spec"`
}

func (h header) key() string { return identity(h.Kind, h.Metadata.Name, h.Spec.Target) }

// identity names a plan document across files: two files of one
// repository never hold the same kind and name for one target.
func identity(kind, name, target string) string { return kind + "\x00" + name + "\x00" + target }

// maxHeaderFile bounds what is read of one file to find its documents.
const maxHeaderFile = 8 << 20

// headers lists the plan documents (not templates) of a YAML file's
// content; ok is false when the file does not parse to its end.
func headers(data []byte) (out []header, ok bool) {
	if len(data) > maxHeaderFile {
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var h header
		err := dec.Decode(&h)
		if errors.Is(err, io.EOF) {
			return out, true
		}
		if err != nil && !isTypeError(err) {
			return out, false
		}
		if h.Kind != "" && h.Kind != plans.KindTemplate {
			out = append(out, h)
		}
	}
}

func isTypeError(err error) bool {
	var te *yaml.TypeError
	return errors.As(err, &te)
}

// isPlanFile reports whether a folder walk of the root holding gitPath
// (one of roots, else the repository) would load it as a plan file: YAML,
// not fleetplan.yaml, not in a hidden folder, not named by a .fleetplanignore.
func isPlanFile(repo *Repo, roots []string, gitPath string) bool {
	base := strings.ToLower(filepath.Base(gitPath))
	if base == "fleetplan.yaml" || base == "fleetplan.yml" {
		return false
	}
	for _, part := range strings.Split(filepath.ToSlash(filepath.Dir(gitPath)), "/") {
		if strings.HasPrefix(part, ".") && part != "." {
			return false // the loader skips hidden folders
		}
	}
	if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") {
		return false
	}
	abs := Normalize(repo.Abs(gitPath))
	root := Normalize(repo.Top)
	for _, r := range roots {
		if under(abs, []string{r}) && abs != r {
			root = r
			break
		}
	}
	return !plans.Ignored(root, abs)
}

// under reports whether abs lies in one of roots (files or folders).
func under(abs string, roots []string) bool {
	for _, r := range roots {
		if abs == r || strings.HasPrefix(abs, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// Select picks the documents of docs (all plan documents loaded from
// roots) that cs touches: their own file, a template, SQL or other file
// they read (plans.Document.Reads), or their fleetplan.yaml. It also lists
// the documents the base revision had under roots that are gone now.
func Select(ctx context.Context, repo *Repo, cs *ChangeSet, roots []string, docs []*plans.Document) (*Selection, error) {
	sel := &Selection{Why: map[*plans.Document]string{}}
	renamedFrom := map[string]string{}
	for _, f := range cs.Files {
		if f.Status == Renamed {
			renamedFrom[Normalize(repo.Abs(f.Path))] = f.From
		}
	}
	for _, d := range docs {
		if d.Kind == plans.KindTemplate {
			continue
		}
		file := Normalize(d.File)
		why := ""
		switch {
		case renamedFrom[file] != "":
			why = "renamed from " + renamedFrom[file]
		case cs.Touched(file):
			why = "changed"
		case d.Config != nil && cs.Touched(d.Config.Path):
			why = repo.Rel(d.Config.Path) + " changed"
		default:
			for _, r := range d.Reads {
				if cs.Touched(r) {
					why = "reads " + repo.Rel(r) + ", which changed"
					break
				}
			}
		}
		if why != "" {
			sel.Docs = append(sel.Docs, d)
			sel.Why[d] = why
		}
	}
	normRoots := make([]string, len(roots))
	for i, r := range roots {
		normRoots[i] = Normalize(r)
	}
	unmanaged, err := gone(ctx, repo, cs, normRoots, docs)
	if err != nil {
		return nil, err
	}
	sel.Unmanaged = unmanaged
	return sel, nil
}

// gone lists the plan documents of the base revision's files under roots
// that no file of the working tree holds any more.
func gone(ctx context.Context, repo *Repo, cs *ChangeSet, roots []string, docs []*plans.Document) ([]Unmanaged, error) {
	now := map[string]bool{}
	for _, d := range docs {
		now[identity(d.Kind, d.Metadata.Name, engine.TargetOf(d))] = true
	}
	// A document that does not load now (a mistake being fixed) is still
	// managed: read what the changed files hold without validating them. A
	// file that does not even parse says nothing of what it holds: what it
	// held before is taken as still there.
	unreadable := map[string]bool{}
	for _, f := range cs.Files {
		if f.Status == Deleted || !isPlanFile(repo, roots, f.Path) {
			continue
		}
		data, err := readLimited(repo.Abs(f.Path))
		hs, ok := headers(data)
		if err != nil || !ok {
			unreadable[f.Path] = true
		}
		for _, h := range hs {
			now[h.key()] = true
		}
	}
	var out []Unmanaged
	for _, f := range cs.Files {
		old, why := f.Path, ""
		switch f.Status {
		case Deleted:
			why = "its file was deleted"
		case Renamed:
			old, why = f.From, "its file was renamed to "+f.Path+", which does not hold it"
		case Modified:
			why = "it was taken out of its file"
		default:
			continue
		}
		if !isPlanFile(repo, roots, old) || !under(Normalize(repo.Abs(old)), roots) || unreadable[f.Path] && f.Status != Deleted {
			continue
		}
		data, err := repo.Show(ctx, cs.Base, old)
		if err != nil {
			return nil, err
		}
		hs, _ := headers(data)
		for _, h := range hs {
			if !now[h.key()] {
				out = append(out, Unmanaged{File: old, Kind: h.Kind, Name: h.Metadata.Name, Target: h.Spec.Target, Why: why})
			}
		}
	}
	return out, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxHeaderFile+1))
}
