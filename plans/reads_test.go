package plans

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocumentReads: every file a document's plan depends on is listed,
// so a change to a template or a SQL file finds the plans it changes.
func TestDocumentReads(t *testing.T) {
	files := map[string]string{
		"fleetplan.yaml": testConfig,
		"schema.sql":     "CREATE TABLE customers (id INTEGER PRIMARY KEY);\n",
		"layout.yaml": `apiVersion: fleetplan/v1
kind: ShardLayout
metadata: {name: customers}
spec:
  target: local
  shardMap: CustomerMap
  keyType: int64
  shards: [{name: s0, server: sql-1, database: s0}]
  ranges: [{low: 0, shard: s0}]
  schemaFile: schema.sql
  tables: {sharded: [{table: customers, key: id}]}
`,
		"up.yaml": `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: app}
spec:
  target: local
  uses: ./tpl/outer.yaml
  with: {script: sql/v2.sql}
`,
		"inline.yaml": `apiVersion: fleetplan/v1
kind: RollingUpgrade
metadata: {name: inline}
spec:
  target: local
  steps:
    - {id: a, action: database.run-sql-script, with: {file: sql/v3.sql}}
    - {id: b, action: database.run-sql-script, with: {file: "${{ run.id }}.sql"}, needs: [a]}
`,
		"sql/v2.sql": "SELECT 1;\n",
		"sql/v3.sql": "SELECT 1;\n",
		"tpl/outer.yaml": `apiVersion: fleetplan/v1
kind: Template
metadata: {name: outer}
parameters:
  type: object
  properties: {script: {type: string}}
steps:
  - {id: a, uses: ./inner.yaml}
  - {id: b, action: database.run-sql-script, with: {file: "${{ params.script }}"}, needs: [a]}
`,
		"tpl/inner.yaml": `apiVersion: fleetplan/v1
kind: Template
metadata: {name: inner}
steps:
  - {id: x, action: generic.noop}
`,
	}
	dir := writeFiles(t, files)
	pathInputs := func(action string) []string {
		if action == "database.run-sql-script" {
			return []string{"file"}
		}
		return nil
	}
	abs := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	tests := []struct {
		file string
		want []string
	}{
		{"layout.yaml", []string{abs("schema.sql")}},
		{"up.yaml", []string{abs("tpl/outer.yaml"), abs("tpl/inner.yaml"), abs("sql/v2.sql")}},
		{"inline.yaml", []string{abs("sql/v3.sql")}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			set, diags := Options{PathInputs: pathInputs}.Load(abs(tt.file))
			if diags.HasErrors() {
				t.Fatalf("unexpected diagnostics:\n%v", diags.Err())
			}
			if len(set.Documents) == 0 {
				t.Fatal("no document loaded")
			}
			if diff := cmp.Diff(tt.want, set.Documents[0].Reads); diff != "" {
				t.Errorf("Reads (-want +got):\n%s", diff)
			}
		})
	}
}
