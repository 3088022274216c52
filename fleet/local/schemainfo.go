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

// SchemaName is written as the SchemaName of every table in the library's
// SchemaInfo XML (SQLite has one unnamed schema; dbo is SQL Server's default).
const SchemaName = "dbo"

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

// schemaXML renders the library's DataContract form of SchemaInfo.
func schemaXML(s fleet.SchemaInfo) string {
	var b strings.Builder
	b.WriteString(`<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString(`<ReferenceTableSet i:type="ArrayOfReferenceTableInfo">`)
	for _, r := range s.Reference {
		fmt.Fprintf(&b, `<ReferenceTableInfo><SchemaName>%s</SchemaName><TableName>%s</TableName></ReferenceTableInfo>`, SchemaName, esc(r))
	}
	b.WriteString(`</ReferenceTableSet><ShardedTableSet i:type="ArrayOfShardedTableInfo">`)
	for _, st := range s.Sharded {
		fmt.Fprintf(&b, `<ShardedTableInfo><SchemaName>%s</SchemaName><TableName>%s</TableName><KeyColumnName>%s</KeyColumnName></ShardedTableInfo>`,
			SchemaName, esc(st.Table), esc(st.KeyColumn))
	}
	b.WriteString(`</ShardedTableSet></Schema>`)
	return b.String()
}

func parseSchemaXML(data string) (fleet.SchemaInfo, error) {
	var x xSchema
	if err := xml.Unmarshal([]byte(data), &x); err != nil {
		return fleet.SchemaInfo{}, err
	}
	var s fleet.SchemaInfo
	for _, it := range append(x.ShardedTableSet.Items, x.OldSharded.Items...) {
		s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: it.TableName, KeyColumn: it.KeyColumnName})
	}
	for _, it := range append(x.ReferenceTableSet.Items, x.OldReference.Items...) {
		s.Reference = append(s.Reference, it.TableName)
	}
	return s, nil
}

// SetSchemaInfo implements fleet.ShardMapStore.
func (t *Target) SetSchemaInfo(ctx context.Context, mapName string, s fleet.SchemaInfo) error {
	const what = "set schema info"
	seen := map[string]bool{}
	for _, name := range s.Tables() {
		l := strings.ToLower(name)
		if name == "" || seen[l] {
			return invalid(what, mapName, "table %q is empty or listed twice", name)
		}
		seen[l] = true
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
