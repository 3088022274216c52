package test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageHasDoc checks that every folder holding Go files has a
// doc.go whose package comment says what the package is for.
func TestEveryPackageHasDoc(t *testing.T) {
	dirs := map[string]bool{}
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d packages under ..", len(dirs))
	}
	for dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "doc.go"))
		if err != nil {
			t.Errorf("%s: no doc.go", dir)
			continue
		}
		s := string(data)
		if !strings.HasPrefix(s, "// Package ") && !strings.HasPrefix(s, "// Command ") {
			t.Errorf("%s/doc.go does not start with a package comment (// Package NAME ...)", dir)
		}
	}
}
