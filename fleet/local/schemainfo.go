package local

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

type xTableInfo struct {
	SchemaName    string
	TableName     string
	KeyColumnName string
}

type xSchema struct {
	XMLName           xml.Name `xml:"Schema"`
	ReferenceTableSet struct {
		Items []xTableInfo `xml:"ReferenceTableInfo"`
	}
	ShardedTableSet struct {
		Items []xTableInfo `xml:"ShardedTableInfo"`
	}
	// Names written by library version 1.1.0, still accepted on read.
	OldReference struct {
		Items []xTableInfo `xml:"ReferenceTableInfo"`
	} `xml:"_referenceTableSet"`
	OldSharded struct {
		Items []xTableInfo `xml:"ShardedTableInfo"`
	} `xml:"_shardedTableSet"`
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// schemaXML renders the library's DataContract form of SchemaInfo, each
// table with its SchemaName (dbo when the name has none). The names parse:
// SetSchemaInfo checked them.
func schemaXML(s fleet.SchemaInfo) string {
	var b strings.Builder
	b.WriteString(`<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString(`<ReferenceTableSet i:type="ArrayOfReferenceTableInfo">`)
	for _, r := range s.Reference {
		n, _ := fleet.ParseTableName(r)
		fmt.Fprintf(&b, `<ReferenceTableInfo><SchemaName>%s</SchemaName><TableName>%s</TableName></ReferenceTableInfo>`, esc(n.Schema), esc(n.Name))
	}
	b.WriteString(`</ReferenceTableSet><ShardedTableSet i:type="ArrayOfShardedTableInfo">`)
	for _, st := range s.Sharded {
		n, _ := fleet.ParseTableName(st.Table)
		fmt.Fprintf(&b, `<ShardedTableInfo><SchemaName>%s</SchemaName><TableName>%s</TableName><KeyColumnName>%s</KeyColumnName></ShardedTableInfo>`,
			esc(n.Schema), esc(n.Name), esc(st.KeyColumn))
	}
	b.WriteString(`</ShardedTableSet></Schema>`)
	return b.String()
}

// storedName is a stored table's name as fleet.SchemaInfo holds it: the
// table alone in dbo (or with no SchemaName), schema.table otherwise.
func storedName(it xTableInfo) string {
	if it.SchemaName == "" {
		return it.TableName
	}
	return fleet.TableName{Schema: it.SchemaName, Name: it.TableName}.Short()
}

func parseSchemaXML(data string) (fleet.SchemaInfo, error) {
	var x xSchema
	if err := xml.Unmarshal([]byte(data), &x); err != nil {
		return fleet.SchemaInfo{}, err
	}
	var s fleet.SchemaInfo
	for _, it := range append(x.ShardedTableSet.Items, x.OldSharded.Items...) {
		s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: storedName(it), KeyColumn: it.KeyColumnName})
	}
	for _, it := range append(x.ReferenceTableSet.Items, x.OldReference.Items...) {
		s.Reference = append(s.Reference, storedName(it))
	}
	return s, nil
}

// SetSchemaInfo implements fleet.ShardMapStore.
func (t *Target) SetSchemaInfo(ctx context.Context, mapName string, s fleet.SchemaInfo) error {
	const what = "set schema info"
	seen := map[string]bool{}
	for _, name := range s.Tables() {
		n, err := fleet.ParseTableName(name)
		if err != nil {
			return invalid(what, mapName, "%v", err)
		}
		if seen[n.Key()] {
			return invalid(what, mapName, "table %s is listed twice", n)
		}
		seen[n.Key()] = true
	}
	for _, st := range s.Sharded {
		if st.KeyColumn == "" {
			return invalid(what, mapName, "sharded table %q has no key column", st.Table)
		}
	}
	return t.write(ctx, false, func(g *sql.DB) error {
		m, err := t.mapByName(ctx, g, mapName)
		if err != nil {
			return err
		}
		_, err = g.ExecContext(ctx, `INSERT INTO `+tSchemaInfos+`(Name, SchemaInfo) VALUES(?, ?)
			ON CONFLICT(Name) DO UPDATE SET SchemaInfo = excluded.SchemaInfo`, m.Name, schemaXML(s))
		return sqlErr(what, fleet.Location{}, err)
	})
}

// SchemaInfo implements fleet.ShardMapStore.
func (t *Target) SchemaInfo(ctx context.Context, mapName string) (fleet.SchemaInfo, error) {
	g, m, err := t.readMap(ctx, mapName)
	if err != nil {
		return fleet.SchemaInfo{}, err
	}
	return t.schemaInfo(ctx, g, m.Name)
}

func (t *Target) schemaInfo(ctx context.Context, q querier, name string) (fleet.SchemaInfo, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT SchemaInfo FROM `+tSchemaInfos+` WHERE Name = ?`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.SchemaInfo{}, elasticdb.StoreErr("read schema info", name, fleet.ResultSchemaInfoNameMissing, "set the table kinds with a ShardLayout plan")
	}
	if err != nil {
		return fleet.SchemaInfo{}, sqlErr("read schema info", fleet.Location{}, err)
	}
	s, err := parseSchemaXML(data)
	if err != nil {
		return s, &fleet.Error{Op: "read schema info", Target: name, Err: fmt.Errorf("%w: bad SchemaInfo XML: %v", fleet.ResultUnexpectedStoreError, err)}
	}
	return s, nil
}
