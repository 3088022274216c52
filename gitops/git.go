package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// Repo is a git working tree, driven through the git command (its own
// plumbing: diff, ls-files, show, rev-parse).
type Repo struct {
	// Top is the working tree's top folder, symlinks resolved.
	Top string
}

// ErrNotARepo is returned by OpenRepo outside a git working tree.
var ErrNotARepo = errors.New("not inside a git working tree")

// OpenRepo finds the git working tree holding dir.
func OpenRepo(ctx context.Context, dir string) (*Repo, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, &fleet.Error{Op: "git", Err: errors.New("the git command is not installed"), Hint: "install git; fleetplan runs it to read the repository"}
	}
	out, err := runGit(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, &fleet.Error{Op: "git", Target: dir, Err: ErrNotARepo,
			Hint: "run fleetplan inside a clone of the plan repository (actions/checkout in CI)"}
	}
	top := strings.TrimSpace(string(out))
	if real, err := filepath.EvalSymlinks(top); err == nil {
		top = real
	}
	return &Repo{Top: top}, nil
}

// runGit runs git in dir and returns its standard output; a failure carries
// git's own message.
func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "-c", "core.quotepath=off"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", args[0], msg)
	}
	return out, nil
}

func (r *Repo) git(ctx context.Context, args ...string) ([]byte, error) {
	return runGit(ctx, r.Top, args...)
}

// Commit resolves a revision to its commit id.
func (r *Repo) Commit(ctx context.Context, rev string) (string, error) {
	out, err := r.git(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", &fleet.Error{Op: "git", Err: fmt.Errorf("unknown revision %q", rev),
			Hint: "fetch it first (in GitHub Actions: actions/checkout with fetch-depth: 0), or name a branch, tag or commit that exists"}
	}
	return strings.TrimSpace(string(out)), nil
}

// Abs turns a path git printed (relative to the top) into an absolute one.
func (r *Repo) Abs(gitPath string) string { return filepath.Join(r.Top, filepath.FromSlash(gitPath)) }

// Rel turns an absolute path into the path git knows it by ("" when the
// path lies outside the working tree).
func (r *Repo) Rel(abs string) string {
	rel, err := filepath.Rel(r.Top, Normalize(abs))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// Show returns a file's content at a revision.
func (r *Repo) Show(ctx context.Context, rev, gitPath string) ([]byte, error) {
	return r.git(ctx, "show", rev+":"+gitPath)
}

// Normalize makes an absolute path comparable with the paths of a Repo:
// symlinks of its folders resolved (the file itself may be gone).
func Normalize(p string) string {
	p, _ = filepath.Abs(p)
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return p
}
