package gitops

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
)

// ChangeStatus is how a file differs from the base revision.
type ChangeStatus string

// Change statuses.
const (
	Added    ChangeStatus = "added"
	Modified ChangeStatus = "modified"
	Deleted  ChangeStatus = "deleted"
	Renamed  ChangeStatus = "renamed"
)

// FileChange is one file that differs between the base and the working tree.
type FileChange struct {
	Status ChangeStatus `json:"status"`
	Path   string       `json:"path"`           // git path now (the old path of a deleted file)
	From   string       `json:"from,omitempty"` // git path at the base, for Renamed
}

// ChangeSet is what differs between a revision and the working tree.
type ChangeSet struct {
	Rev   string // as given (--changed-since REV)
	Base  string // the commit compared with: where HEAD's history meets Rev's
	Files []FileChange
	// touched holds every path, now or at the base, that a change names
	// (normalized absolute paths).
	touched map[string]bool
}

// Touched reports whether a file (absolute) is added, modified, deleted or
// renamed (either name) since the base.
func (c *ChangeSet) Touched(abs string) bool { return c.touched[Normalize(abs)] }

// Changes lists the files that differ between rev and the working tree,
// uncommitted and untracked ones included, as git sees them (renames
// detected). The base is the merge base of rev and HEAD, so on a pull
// request's branch `--changed-since origin/main` is what the branch
// changed, not what main gained since the branch was made.
func (r *Repo) Changes(ctx context.Context, rev string) (*ChangeSet, error) {
	commit, err := r.Commit(ctx, rev)
	if err != nil {
		return nil, err
	}
	base := commit
	if out, err := r.git(ctx, "merge-base", commit, "HEAD"); err == nil {
		base = strings.TrimSpace(string(out))
	}
	out, err := r.git(ctx, "diff", "--no-ext-diff", "--no-relative", "--name-status", "-z", "-M", base, "--")
	if err != nil {
		return nil, err
	}
	files, err := parseNameStatus(out)
	if err != nil {
		return nil, err
	}
	untracked, err := r.git(ctx, "ls-files", "-z", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	for _, p := range bytes.Split(untracked, []byte{0}) {
		if len(p) > 0 {
			files = append(files, FileChange{Status: Added, Path: string(p)})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	cs := &ChangeSet{Rev: rev, Base: base, Files: files, touched: map[string]bool{}}
	for _, f := range files {
		cs.touched[Normalize(r.Abs(f.Path))] = true
		if f.From != "" {
			cs.touched[Normalize(r.Abs(f.From))] = true
		}
	}
	return cs, nil
}

// parseNameStatus reads `git diff --name-status -z`: a status, then one
// path, or two for a rename or copy.
func parseNameStatus(out []byte) ([]FileChange, error) {
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(fields) == 1 && fields[0] == "" {
		return nil, nil
	}
	var files []FileChange
	for i := 0; i < len(fields); {
		st := fields[i]
		if st == "" || i+1 >= len(fields) {
			return nil, fmt.Errorf("git diff: unexpected output near %q", st)
		}
		switch st[0] {
		case 'R', 'C':
			if i+2 >= len(fields) {
				return nil, fmt.Errorf("git diff: unexpected output near %q", st)
			}
			if st[0] == 'R' {
				files = append(files, FileChange{Status: Renamed, From: fields[i+1], Path: fields[i+2]})
			} else {
				files = append(files, FileChange{Status: Added, Path: fields[i+2]})
			}
			i += 3
			continue
		case 'A':
			files = append(files, FileChange{Status: Added, Path: fields[i+1]})
		case 'D':
			files = append(files, FileChange{Status: Deleted, Path: fields[i+1]})
		default: // M, T (type change), U (unmerged), X
			files = append(files, FileChange{Status: Modified, Path: fields[i+1]})
		}
		i += 2
	}
	return files, nil
}
