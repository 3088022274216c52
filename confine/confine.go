package confine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Roots are the folders files may be read from, absolute and with symlinks
// resolved. The zero value allows nothing.
type Roots struct {
	dirs  []string // as resolved
	shown []string // as given (absolute), for messages
}

// New returns the roots dirs (made absolute, symlinks resolved where the
// folder exists).
func New(dirs ...string) Roots {
	var r Roots
	for _, d := range dirs {
		if d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		r.shown = append(r.shown, abs)
		r.dirs = append(r.dirs, realPath(abs))
	}
	return r
}

// Empty reports whether no folder is allowed.
func (r Roots) Empty() bool { return len(r.dirs) == 0 }

// Dirs lists the roots as given (absolute).
func (r Roots) Dirs() []string { return append([]string(nil), r.shown...) }

// ErrOutside marks a path that resolves outside every root.
var ErrOutside = errors.New("outside the plan repository")

// Error is a path refused by Resolve. It names the path as written and the
// repository, never the file's contents.
type Error struct {
	Name  string // the path as the plan wrote it
	Via   string // where it really leads, when a symlink took it elsewhere
	Roots []string
}

func (e *Error) Error() string {
	where := "the plan repository"
	if len(e.Roots) > 0 {
		where += " " + e.Roots[0]
	}
	if e.Via != "" {
		return fmt.Sprintf("%q leads outside %s (through a symlink to %s)", e.Name, where, e.Via)
	}
	return fmt.Sprintf("%q is outside %s", e.Name, where)
}

// Unwrap lets errors.Is(err, ErrOutside) match.
func (e *Error) Unwrap() error { return ErrOutside }

// Hint says how to allow a folder on purpose.
func (e *Error) Hint() string {
	return "plans may only name files inside the folder of fleetplan.yaml; to allow another folder, list it under allowPaths: in fleetplan.yaml"
}

// Resolve joins name to base (when relative), resolves symlinks (in the file
// and in every parent folder; for a file that does not exist yet, in its
// nearest existing parent) and returns the real path when it lies inside a
// root. Otherwise the error is an *Error.
func (r Roots) Resolve(base, name string) (string, error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", &Error{Name: name, Roots: r.shown}
	}
	real := realPath(abs)
	for _, d := range r.dirs {
		if within(d, real) {
			return real, nil
		}
	}
	e := &Error{Name: name, Roots: r.shown}
	if real != abs {
		for _, d := range r.dirs {
			if within(d, abs) {
				e.Via = real
			}
		}
	}
	return "", e
}

// ReadFile reads a file after Resolve allowed it. Read errors name the file
// as the plan wrote it.
func (r Roots) ReadFile(base, name string) ([]byte, error) {
	p, err := r.Resolve(base, name)
	if err != nil {
		return nil, err
	}
	b, err := ReadRegular(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	return b, nil
}

// ErrNotRegular marks a path that is a folder, a pipe, a device or a socket.
// Only regular files are ever read for a plan: opening a pipe blocks until
// someone writes to it, and a device never ends.
var ErrNotRegular = errors.New("not a regular file")

// Regular reports an *fs.PathError wrapping ErrNotRegular (or the stat
// error) unless p, symlinks followed, is a regular file.
func Regular(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &fs.PathError{Op: "open", Path: p, Err: ErrNotRegular}
	}
	return nil
}

// Open opens p for reading when it is a regular file (see Regular). It
// never blocks on a pipe, also one swapped in after the check: the file is
// opened non-blocking and checked again once open.
func Open(p string) (*os.File, error) {
	if err := Regular(p); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: p, Err: ErrNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadRegular reads the regular file p whole (see Open).
func ReadRegular(p string) ([]byte, error) {
	f, err := Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel))
}

// realPath resolves the symlinks of p. For a path that does not exist, the
// nearest existing parent is resolved and the rest appended, so a file to be
// created later is checked where it would really be written.
func realPath(p string) string { return realPathDepth(p, 0) }

func realPathDepth(p string, depth int) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	dir := realPathDepth(parent, depth)
	// A dangling symlink is followed by hand: its target may appear later.
	if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 && depth < 40 {
		if to, err := os.Readlink(p); err == nil {
			if !filepath.IsAbs(to) {
				to = filepath.Join(dir, to)
			}
			return realPathDepth(filepath.Clean(to), depth+1)
		}
	}
	return filepath.Join(dir, filepath.Base(p))
}
