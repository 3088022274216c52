package plans

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// IgnoreFileName is the file that keeps YAML which is not a plan (CI
// workflows, Kubernetes manifests, ...) out of folder walks. Each line that
// is not blank and does not start with '#' is a pattern (filepath.Match
// syntax, '/' as separator, a trailing '/' is allowed) matched against paths
// relative to the folder holding the file; a matching folder excludes
// everything under it. A file named on the command line is always read.
const IgnoreFileName = ".fleetplanignore"

// ignoreRules caches the patterns of each folder's ignore file.
type ignoreRules struct {
	byDir map[string][]string
}

func newIgnoreRules() *ignoreRules { return &ignoreRules{byDir: map[string][]string{}} }

// patterns returns the patterns of dir's ignore file (none when it has none
// or it cannot be read: an unreadable ignore file must not hide plans).
func (r *ignoreRules) patterns(dir string) []string {
	if ps, ok := r.byDir[dir]; ok {
		return ps
	}
	var ps []string
	if f, err := os.Open(filepath.Join(dir, IgnoreFileName)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			ps = append(ps, strings.Trim(filepath.ToSlash(line), "/"))
		}
		f.Close()
	}
	r.byDir[dir] = ps
	return ps
}

// ignored reports whether path is excluded by the ignore file of a folder
// from root (a folder walked) down to path's own folder.
func (r *ignoreRules) ignored(root, path string) bool {
	root, path = filepath.Clean(root), filepath.Clean(path)
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	dir := root
	for i := range parts {
		for _, p := range r.patterns(dir) {
			// the path itself, or a folder holding it
			for j := i + 1; j <= len(parts); j++ {
				if ok, _ := filepath.Match(p, strings.Join(parts[i:j], "/")); ok {
					return true
				}
			}
		}
		dir = filepath.Join(dir, parts[i])
	}
	return false
}

// Ignored reports whether a folder walk from root skips path, by the
// IgnoreFileName files of root and the folders between it and path. Tools
// that list plan files by other means (git) use it to agree with Load.
func Ignored(root, path string) bool { return newIgnoreRules().ignored(root, path) }
