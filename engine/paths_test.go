package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/stepgraph"
)

func TestCheckPaths(t *testing.T) {
	repo, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "v2.sql"), []byte("SELECT 1;"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "out")); err != nil {
		t.Fatal(err)
	}
	step := func(action string, with map[string]any) *stepgraph.Step {
		return &stepgraph.Step{ID: "s", Action: action, With: with}
	}
	cases := map[string]struct {
		step *stepgraph.Step
		ok   bool
	}{
		"script inside":          {step("database.run-sql-script", map[string]any{"file": "v2.sql"}), true},
		"script outside":         {step("database.run-sql-script", map[string]any{"file": "/etc/passwd"}), false},
		"schema through symlink": {step("shardmap.create-shard", map[string]any{"schemaFile": "out/schema.sql"}), false},
		"exec dir outside":       {step("generic.exec", map[string]any{"command": "true", "dir": ".."}), false},
		"computed at run time":   {step("database.run-sql-script", map[string]any{"file": "${{ steps.a.outputs.f }}"}), true},
		"rollback outside": {&stepgraph.Step{ID: "s", Action: "generic.noop",
			Rollback: step("database.run-sql-script", map[string]any{"file": "../x.sql"})}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			g := &stepgraph.Graph{Source: filepath.Join(repo, "plan.yaml"), Steps: []*stepgraph.Step{c.step}}
			err := CheckPaths(g, confine.New(repo))
			if c.ok != (err == nil) {
				t.Fatalf("CheckPaths = %v, want ok %v", err, c.ok)
			}
			if err != nil && !errors.Is(err, confine.ErrOutside) {
				t.Fatalf("error %v does not match confine.ErrOutside", err)
			}
		})
	}
}
