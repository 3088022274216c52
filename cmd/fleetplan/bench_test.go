package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLayout100k writes, in a new folder, fleetplan.yaml (an empty local
// fleet) and layout.yaml: a valid ShardLayout of 100,000 ranges over 1,000
// shards (about 4 MB, just under the plan file limit), as the planner's
// BenchmarkPlan100kRanges plans it. It returns the folder.
func writeLayout100k(b *testing.B) string {
	b.Helper()
	const ranges, shards = 100000, 1000
	dir := b.TempDir()
	var s strings.Builder
	s.WriteString("apiVersion: fleetplan/v1\nkind: ShardLayout\nmetadata: {name: customers}\nspec:\n")
	s.WriteString("  target: local\n  shardMap: CustomerMap\n  keyType: int64\n  schemaFile: schema.sql\n")
	s.WriteString("  tables: {sharded: [{table: customers, key: id}]}\n  shards:\n")
	for i := 0; i < shards; i++ {
		fmt.Fprintf(&s, "  - {name: s%d, server: sql-1, database: s%d, createServer: true}\n", i, i)
	}
	s.WriteString("  ranges:\n")
	for i := 0; i < ranges; i++ {
		if i == ranges-1 {
			fmt.Fprintf(&s, "  - {low: %d,shard: s%d}\n", i, i%shards)
			continue
		}
		fmt.Fprintf(&s, "  - {low: %d,high: %d,shard: s%d}\n", i, i+1, i%shards)
	}
	files := map[string]string{
		"fleetplan.yaml": "targets:\n  local: {driver: local, path: fleet}\n",
		"schema.sql":     "CREATE TABLE customers (id INTEGER PRIMARY KEY);\n",
		"layout.yaml":    s.String(),
	}
	writeRepo(b, dir, files)
	return dir
}

// writeRepo writes files (by slash path) in dir and an empty local fleet in
// dir/fleet.
func writeRepo(b testing.TB, dir string, files map[string]string) {
	b.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if code := run([]string{"fleet", "init", filepath.Join(dir, "fleet")}, nil, io.Discard, io.Discard); code != 0 {
		b.Fatalf("fleet init: exit %d", code)
	}
}

// benchCommand runs one CLI command per iteration in the folder of the
// 100,000-range layout (see benchIn).
func benchCommand(b *testing.B, args ...string) { benchIn(b, writeLayout100k(b), args...) }

// benchIn runs one CLI command per iteration in dir, the way the binary
// does (flags, loading, validation, planning, rendering), output discarded.
func benchIn(b *testing.B, dir string, args ...string) {
	b.Chdir(dir)
	var stderr strings.Builder
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stderr.Reset()
		if code := run(args, nil, io.Discard, &stderr); code != 0 {
			b.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
		}
	}
}

// BenchmarkValidateCommand100kRanges is `fleetplan validate` of a valid
// layout of 100,000 ranges over 1,000 shards.
func BenchmarkValidateCommand100kRanges(b *testing.B) { benchCommand(b, "validate", "layout.yaml") }

// BenchmarkPlanCommand100kRanges is `fleetplan plan` of the same layout
// against an empty local fleet: 1,000 new shards and 100,000 new mappings.
func BenchmarkPlanCommand100kRanges(b *testing.B) { benchCommand(b, "plan", "layout.yaml") }
