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
)

// maxHashedFile bounds each file read for a content hash.
const maxHashedFile = 64 << 20

// ContentHash is the SHA-256 of what a document plans from: its file and
// every file it reads (plans.Document.Reads: templates, SQL files), each
// with its name, so a change to any of them changes the hash.
func ContentHash(doc *plans.Document) (string, error) {
	h := sha256.New()
	files := append([]string{doc.File}, doc.Reads...)
	base := ""
	if doc.Config != nil {
		base = doc.Config.Dir
	}
	for _, f := range files {
		name := f
		if base != "" {
			if rel, err := filepath.Rel(base, absOf(f)); err == nil {
				name = filepath.ToSlash(rel)
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
