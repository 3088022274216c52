package sqlserver

import (
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
)

func TestSchemaInfoXML(t *testing.T) {
	s := fleet.SchemaInfo{
		Sharded:   []fleet.ShardedTable{{Table: "customers", KeyColumn: "id"}, {Table: "sales.OrderLines", KeyColumn: "customer_id"}},
		Reference: []string{"regions"},
	}
	doc, err := schemaInfoXML(s)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "schemainfo.golden", map[string]string{"schema info": doc})
	back, err := parseSchemaInfo(doc)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	// As SQL Server returns what the .NET library stored (ELASTICDB.md §5.3),
	// and the 1.1.0 names.
	lib := `<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ReferenceTableSet i:type="ArrayOfReferenceTableInfo"><ReferenceTableInfo><SchemaName>r1</SchemaName><TableName>r2</TableName></ReferenceTableInfo></ReferenceTableSet><ShardedTableSet i:type="ArrayOfShardedTableInfo"><ShardedTableInfo><SchemaName>s1</SchemaName><TableName>s2</TableName><KeyColumnName>s3</KeyColumnName></ShardedTableInfo></ShardedTableSet></Schema>`
	old := `<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><_referenceTableSet><ReferenceTableInfo><SchemaName>dbo</SchemaName><TableName>r</TableName></ReferenceTableInfo></_referenceTableSet><_shardedTableSet><ShardedTableInfo><SchemaName>dbo</SchemaName><TableName>s</TableName><KeyColumnName>k</KeyColumnName></ShardedTableInfo></_shardedTableSet></Schema>`
	for doc, want := range map[string]fleet.SchemaInfo{
		lib: {Sharded: []fleet.ShardedTable{{Table: "s1.s2", KeyColumn: "s3"}}, Reference: []string{"r1.r2"}},
		old: {Sharded: []fleet.ShardedTable{{Table: "s", KeyColumn: "k"}}, Reference: []string{"r"}},
	} {
		got, err := parseSchemaInfo(doc)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("library document (-want +got):\n%s", d)
		}
	}
}
