package gitops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepspec"
)

// maxHashedFile bounds each file read for a content hash.
const maxHashedFile = 64 << 20

// ContentHash is the SHA-256 of what a document plans from: its file and
// every file it reads (plans.Document.Reads: templates, SQL files), each
// with its name, so a change to any of them changes the hash.
func ContentHash(doc *plans.Document) (string, error) {
	return contentHash(doc, func(_ int, name string) string { return name })
}

// ContentHashAs is ContentHash as if the document's own file had the name
// self (relative to fleetplan.yaml; "" for its name now): what the hash was
// before the file was renamed.
func ContentHashAs(doc *plans.Document, self string) (string, error) {
	return contentHash(doc, func(i int, name string) string {
		if i == 0 && self != "" {
			return self
		}
		return name
	})
}

// ContentHashMoved is ContentHash as if the folder holding the document's
// file had had the name the file self (relative to fleetplan.yaml) says,
// and every file under it with it: the hash before the tree moved (a
// git-sync checkout published at a new path), when the file kept its name.
func ContentHashMoved(doc *plans.Document, self string) (string, error) {
	now, err := displayName(doc, doc.File)
	if err != nil {
		return "", err
	}
	a, b := strings.Split(now, "/"), strings.Split(self, "/")
	common := 0
	for len(a) > 1 && len(b) > 1 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
		common++
	}
	if common == 0 {
		return ContentHashAs(doc, self)
	}
	from, to := strings.Join(a, "/")+"/", strings.Join(b, "/")+"/"
	return contentHash(doc, func(_ int, name string) string {
		if rest, ok := strings.CutPrefix(name, from); ok {
			return to + rest
		}
		return name
	})
}

// displayName is a file's name in the hash: relative to fleetplan.yaml.
func displayName(doc *plans.Document, f string) (string, error) {
	if doc.Config == nil {
		return f, nil
	}
	rel, err := filepath.Rel(doc.Config.Dir, absOf(f))
	if err != nil {
		return f, nil
	}
	return filepath.ToSlash(rel), nil
}

// contentHash hashes the document's file (i 0) and what it reads, each
// under the name rename gives it.
func contentHash(doc *plans.Document, rename func(i int, name string) string) (string, error) {
	h := sha256.New()
	made := madeFiles(doc)
	files := []string{doc.File}
	for _, r := range doc.Reads {
		if !made[absOf(r)] {
			files = append(files, r)
		}
	}
	for i, f := range files {
		name, _ := displayName(doc, f)
		name = rename(i, name)
		if i > 0 {
			// A folder a step runs in (exec's dir:) is named, not read;
			// a file not there (yet) is hashed as absent.
			if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
				what := "absent"
				if err == nil {
					what = "not a file"
				}
				fmt.Fprintf(h, "%s\x00%s\x00", name, what)
				continue
			}
		}
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", name)
		n, err := io.Copy(h, io.LimitReader(fh, maxHashedFile))
		fh.Close()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%d\x00", n)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// madeFiles are the files the document's steps make (exec's creates:): what
// a run leaves behind, not what the plan is made from.
func madeFiles(doc *plans.Document) map[string]bool {
	out := map[string]bool{}
	var in stepspec.Exec
	key := stepspec.KeyOf(&in, &in.Creates)
	for _, s := range doc.Steps {
		if s.Action != stepspec.ExecName {
			continue
		}
		if p, ok := s.With[key].(string); ok && p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(absOf(doc.File)), p)
			}
			out[absOf(p)] = true
		}
	}
	return out
}

func absOf(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// ProvenanceOf says where a document comes from: the commit checked out in
// its repository (and whether the working tree differs from it), its file
// relative to the repository, and its content hash. Outside a git
// repository Commit is empty and File is relative to fleetplan.yaml.
func ProvenanceOf(ctx context.Context, doc *plans.Document) (*runner.Provenance, error) {
	hash, err := ContentHash(doc)
	if err != nil {
		return nil, err
	}
	p := &runner.Provenance{ContentHash: hash, File: doc.File}
	if doc.Config != nil {
		if rel, err := filepath.Rel(doc.Config.Dir, absOf(doc.File)); err == nil {
			p.File = filepath.ToSlash(rel)
		}
	}
	repo, err := OpenRepo(ctx, filepath.Dir(doc.File))
	if err != nil {
		return p, nil // not in git: the file and its hash still say what ran
	}
	p.File = repo.Rel(doc.File)
	head, err := repo.Commit(ctx, "HEAD")
	if err != nil {
		return p, nil // a repository without a commit yet
	}
	p.Commit = head
	dirty, err := repo.Dirty(ctx, stateDirOf(doc))
	if err != nil {
		return nil, err
	}
	p.Dirty = len(dirty) > 0
	return p, nil
}

func stateDirOf(doc *plans.Document) string {
	if doc.Config == nil {
		return ""
	}
	return filepath.Join(doc.Config.Dir, runner.StateDirName)
}

// Dirty lists what differs between HEAD and the working tree, as `git
// status --porcelain` lines ("M shards/split.yaml", "?? new.yaml"), leaving
// out the state folder (absolute; "" for none), which fleetplan itself writes.
func (r *Repo) Dirty(ctx context.Context, stateDir string) ([]string, error) {
	args := []string{"status", "--porcelain", "-z", "--untracked-files=all", "--", "."}
	if rel := r.Rel(stateDir); stateDir != "" && rel != "" {
		args = append(args, ":(exclude)"+rel)
	}
	out, err := r.git(ctx, args...)
	if err != nil {
		return nil, err
	}
	var lines []string
	fields := bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0})
	for i := 0; i < len(fields); i++ {
		f := string(fields[i])
		if f == "" {
			continue
		}
		lines = append(lines, strings.TrimSpace(f[:2])+" "+f[3:])
		if f[0] == 'R' || f[0] == 'C' {
			i++ // the old name follows a rename
		}
	}
	return lines, nil
}

// ErrDirty is returned by RequireClean for a working tree with changes.
var ErrDirty = errors.New("the working tree has changes that are not committed")

// RequireClean refuses a folder outside git, or in a working tree that
// differs from its commit (stateDir, fleetplan's own, aside): what runs is
// then exactly a commit of the repository.
func RequireClean(ctx context.Context, dir, stateDir string) error {
	repo, err := OpenRepo(ctx, dir)
	if err != nil {
		return &fleet.Error{Op: "apply --require-clean", Target: dir, Err: ErrNotARepo,
			Hint: "apply from a clone of the plan repository, or without --require-clean"}
	}
	dirty, err := repo.Dirty(ctx, stateDir)
	if err != nil {
		return err
	}
	if len(dirty) == 0 {
		return nil
	}
	shown := dirty
	if len(shown) > 5 {
		shown = append(append([]string{}, shown[:5]...), fmt.Sprintf("and %d more", len(dirty)-5))
	}
	return &fleet.Error{Op: "apply --require-clean", Err: fmt.Errorf("%w: %s", ErrDirty, strings.Join(shown, ", ")),
		Hint: "commit or stash the changes (git status lists them), or apply without --require-clean"}
}
