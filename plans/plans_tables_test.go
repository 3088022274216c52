package plans

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Table names are table or schema.table; a bad one is an error at its
// position, with a hint, and schema-qualified names are kept as written.
func TestLoadTableNames(t *testing.T) {
	plan := `apiVersion: fleetplan/v1
kind: ShardLayout
metadata: {name: x}
spec:
  target: local
  shardMap: M
  keyType: int64
  shards: [{server: s, database: d}]
  ranges:
    - {low: 0, high: 10, shard: d}
  tables:
    sharded:
      - {table: sales.OrderLines, key: id}
      - {table: OrderLines, key: id}
      - {table: db.sales.Orders, key: id}
      - {table: "order lines", key: id}
    reference: [sales.Regions, "[dbo].[Regions]", dbo.orderlines]
`
	dir := writeFiles(t, map[string]string{"fleetplan.yaml": testConfig, "a.yaml": plan})
	_, diags := Load(dir)
	var got []string
	for _, d := range diags {
		got = append(got, strings.TrimPrefix(d.Pos.String(), dir+string(filepath.Separator))+" "+d.Message)
		if d.Hint == "" {
			t.Errorf("%s: no hint", d.Message)
		}
	}
	want := []string{
		`a.yaml:15:17 bad table name: "db.sales.Orders" has 3 parts; name a table as table or schema.table (a database or server prefix is not allowed)`,
		`a.yaml:16:17 bad table name: "order lines": "order lines" holds ' '; an identifier has letters, digits, _, @, $ and # only (quoted identifiers are not supported)`,
		`a.yaml:17:32 bad table name: "[dbo].[Regions]": "[dbo]" starts with '['; an identifier starts with a letter or _ (quoted identifiers are not supported)`,
		`a.yaml:17:51 table "dbo.orderlines" is listed twice (first at line 14)`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("diagnostics (-want +got):\n%s", d)
	}
}
