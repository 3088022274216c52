package gitops

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/plans"
)

func TestContentHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plan := write("a.yaml", "kind: RollingUpgrade\n")
	sql := write("v2.sql", "SELECT 1;\n")
	made := filepath.Join(dir, "made") // a file a step creates
	sub := filepath.Join(dir, "sub")   // a folder a step runs in
	later := filepath.Join(dir, "later.sql")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := &plans.Document{File: plan, Reads: []string{sql, made, sub, later}, Config: &plans.Config{Dir: dir},
		Steps: []*plans.StepSpec{{ID: "mk", Action: "generic.exec", With: map[string]any{"command": "touch made", "creates": "made", "dir": "sub"}}}}
	hash := func() string {
		t.Helper()
		h, err := ContentHash(doc)
		if err != nil {
			t.Fatalf("ContentHash: %v", err)
		}
		return h
	}
	h0 := hash()
	if hash() != h0 {
		t.Fatal("the hash of the same files differs")
	}
	write("made", "")
	if hash() != h0 {
		t.Error("the file a step creates changed the hash")
	}
	write("later.sql", "SELECT 3;\n")
	h1 := hash()
	if h1 == h0 {
		t.Error("a file that appeared left the hash as it was")
	}
	write("v2.sql", "SELECT 2;\n")
	if hash() == h1 {
		t.Error("a changed SQL file left the hash as it was")
	}
	// Renamed: the hash names the file, ContentHashAs gives the one before.
	before := hash()
	moved := filepath.Join(dir, "b.yaml")
	if err := os.Rename(plan, moved); err != nil {
		t.Fatal(err)
	}
	doc.File = moved
	if hash() == before {
		t.Error("a renamed plan has the hash of its old name")
	}
	if h, err := ContentHashAs(doc, "a.yaml"); err != nil || h != before {
		t.Errorf("ContentHashAs(old name) = %s, %v; want %s", h, err, before)
	}
	// The plan file itself must be there.
	doc.File = filepath.Join(dir, "gone.yaml")
	if _, err := ContentHash(doc); err == nil {
		t.Error("no error for a plan file that is gone")
	}
}

func TestContentHashMoved(t *testing.T) {
	dir := t.TempDir()
	for _, rev := range []string{"rev1", "rev2"} {
		if err := os.MkdirAll(filepath.Join(dir, rev, "sql"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string]string{"p.yaml": "kind: RollingUpgrade\n", "sql/v2.sql": "SELECT 2;\n"} {
			if err := os.WriteFile(filepath.Join(dir, rev, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	doc := func(rev string) *plans.Document {
		return &plans.Document{File: filepath.Join(dir, rev, "p.yaml"), Reads: []string{filepath.Join(dir, rev, "sql", "v2.sql")}, Config: &plans.Config{Dir: dir}}
	}
	before, err := ContentHash(doc("rev1"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := ContentHash(doc("rev2"))
	if err != nil || now == before {
		t.Fatalf("the hash names the files: %v %v", now == before, err)
	}
	if h, err := ContentHashMoved(doc("rev2"), "rev1/p.yaml"); err != nil || h != before {
		t.Errorf("ContentHashMoved(rev1/p.yaml) = %s, %v; want %s", h, err, before)
	}
	if h, _ := ContentHashAs(doc("rev2"), "rev1/p.yaml"); h == before {
		t.Error("ContentHashAs renames the plan's file alone, not what it reads")
	}
	if err := os.WriteFile(filepath.Join(dir, "rev2", "sql", "v2.sql"), []byte("SELECT 3;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h, _ := ContentHashMoved(doc("rev2"), "rev1/p.yaml"); h == before {
		t.Error("a changed SQL file in the moved tree kept the hash")
	}
}
