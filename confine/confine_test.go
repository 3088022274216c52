package confine

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestResolve(t *testing.T) {
	outside := t.TempDir()
	repo := t.TempDir()
	allowed := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644))
	must(os.MkdirAll(filepath.Join(repo, "sql"), 0o755))
	must(os.WriteFile(filepath.Join(repo, "sql", "v2.sql"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(allowed, "shared.sql"), []byte("x"), 0o644))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(repo, "link")))
	must(os.Symlink(outside, filepath.Join(repo, "linkdir")))
	must(os.Symlink(filepath.Join(outside, "later"), filepath.Join(repo, "dangling")))
	must(os.Symlink(filepath.Join(repo, "sql", "v2.sql"), filepath.Join(repo, "inner")))
	roots := New(repo, allowed)
	cases := map[string]struct {
		base, name string
		ok         bool
	}{
		"relative inside":          {repo, "sql/v2.sql", true},
		"from a subfolder":         {filepath.Join(repo, "sql"), "../sql/v2.sql", true},
		"dot-dot out":              {repo, "../../etc/passwd", false},
		"absolute outside":         {repo, "/etc/hostname", false},
		"absolute inside":          {repo, filepath.Join(repo, "sql", "v2.sql"), true},
		"symlink out":              {repo, "link", false},
		"symlinked parent folder":  {repo, "linkdir/secret", false},
		"dangling symlink out":     {repo, "dangling", false},
		"symlink inside":           {repo, "inner", true},
		"allowed root":             {repo, filepath.Join(allowed, "shared.sql"), true},
		"not yet created, inside":  {repo, "sql/new/file", true},
		"not yet created, outside": {repo, "linkdir/new", false},
		"the root itself":          {repo, ".", true},
		"a sibling with a prefix":  {repo, repo + "x/file", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := roots.Resolve(c.base, c.name)
			if c.ok && err != nil {
				t.Fatalf("Resolve(%q) = %v, want allowed", c.name, err)
			}
			if !c.ok && !errors.Is(err, ErrOutside) {
				t.Fatalf("Resolve(%q) = %v, want refused", c.name, err)
			}
		})
	}
	if _, err := (Roots{}).Resolve(repo, "sql/v2.sql"); err == nil {
		t.Fatal("empty roots allowed a file")
	}
}

func TestReadFileNamesTheFileNotItsContent(t *testing.T) {
	repo := t.TempDir()
	_, err := New(repo).ReadFile(repo, "missing.sql")
	if err == nil || err.Error() != `"missing.sql": no such file or directory` {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.sql")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe.sql")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "link.sql")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path       string
		notRegular bool
	}{{file, false}, {dir, true}, {fifo, true}, {link, true}, {"/dev/null", true}} {
		f, err := Open(tc.path)
		if f != nil {
			f.Close()
		}
		if got := errors.Is(err, ErrNotRegular); got != tc.notRegular {
			t.Errorf("Open(%s): err %v, want not-regular %v", tc.path, err, tc.notRegular)
		}
	}
}
