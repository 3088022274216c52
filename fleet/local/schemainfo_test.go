package local

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// SchemaInfo keeps each table's SchemaName, in the library's XML and back.
func TestSchemaInfoXMLKeepsSchemaNames(t *testing.T) {
	s := fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "sales.OrderLines", KeyColumn: "order_id"}, {Table: "OrderLines", KeyColumn: "id"}},
		Reference: []string{"dbo.Regions"}}
	doc := schemaXML(s)
	for _, want := range []string{
		`<ShardedTableInfo><SchemaName>sales</SchemaName><TableName>OrderLines</TableName><KeyColumnName>order_id</KeyColumnName></ShardedTableInfo>`,
		`<ShardedTableInfo><SchemaName>dbo</SchemaName><TableName>OrderLines</TableName><KeyColumnName>id</KeyColumnName></ShardedTableInfo>`,
		`<ReferenceTableInfo><SchemaName>dbo</SchemaName><TableName>Regions</TableName></ReferenceTableInfo>`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the document lacks %s:\n%s", want, doc)
		}
	}
	// The library's own document (SchemaInfoCollectionTests.cs, as SQL
	// Server's xml column gives it back).
	lib := `<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ReferenceTableSet i:type="ArrayOfReferenceTableInfo"><ReferenceTableInfo><SchemaName>r1</SchemaName><TableName>r2</TableName></ReferenceTableInfo></ReferenceTableSet><ShardedTableSet i:type="ArrayOfShardedTableInfo"><ShardedTableInfo><SchemaName>s1</SchemaName><TableName>s2</TableName><KeyColumnName>s3</KeyColumnName></ShardedTableInfo></ShardedTableSet></Schema>`
	got, err := parseSchemaXML(lib)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.SchemaInfo{Sharded: []fleet.ShardedTable{{Table: "s1.s2", KeyColumn: "s3"}}, Reference: []string{"r1.r2"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the library's document reads as %+v, want %+v", got, want)
	}
	back, err := parseSchemaXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	s.Reference = []string{"Regions"} // dbo's tables read back without their schema
	if fmt.Sprint(back) != fmt.Sprint(s) {
		t.Fatalf("round trip %+v, want %+v", back, s)
	}
}
