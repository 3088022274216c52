package sqlserver

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// The library's SchemaInfo, as DataContractSerializer writes it
// (ELASTICDB.md §5.3), keeping each table's schema name.

type xTableInfo struct {
	SchemaName    string
	TableName     string
	KeyColumnName string `xml:",omitempty"`
}

type xSchemaInfo struct {
	XMLName      xml.Name     `xml:"Schema"`
	Reference    []xTableInfo `xml:"ReferenceTableSet>ReferenceTableInfo"`
	Sharded      []xTableInfo `xml:"ShardedTableSet>ShardedTableInfo"`
	OldReference []xTableInfo `xml:"_referenceTableSet>ReferenceTableInfo"` // library 1.1.0
	OldSharded   []xTableInfo `xml:"_shardedTableSet>ShardedTableInfo"`
}

func tableInfo(name string) (xTableInfo, error) {
	tb, err := ParseTable(name)
	return xTableInfo{SchemaName: tb.Schema, TableName: tb.Name}, err
}

// schemaInfoXML renders s as the library stores it.
func schemaInfoXML(s fleet.SchemaInfo) (string, error) {
	var b strings.Builder
	b.WriteString(`<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ReferenceTableSet i:type="ArrayOfReferenceTableInfo">`)
	for _, r := range s.Reference {
		ti, err := tableInfo(r)
		if err != nil {
			return "", err
		}
		b.WriteString("<ReferenceTableInfo>" + txt("SchemaName", ti.SchemaName).String() + txt("TableName", ti.TableName).String() + "</ReferenceTableInfo>")
	}
	b.WriteString(`</ReferenceTableSet><ShardedTableSet i:type="ArrayOfShardedTableInfo">`)
	for _, st := range s.Sharded {
		ti, err := tableInfo(st.Table)
		if err != nil {
			return "", err
		}
		b.WriteString("<ShardedTableInfo>" + txt("SchemaName", ti.SchemaName).String() + txt("TableName", ti.TableName).String() +
			txt("KeyColumnName", st.KeyColumn).String() + "</ShardedTableInfo>")
	}
	b.WriteString(`</ShardedTableSet></Schema>`)
	return b.String(), nil
}

// qualified is schema.table, with dbo left implicit as plans write it.
func qualified(ti xTableInfo) string {
	if ti.SchemaName == "" || strings.EqualFold(ti.SchemaName, "dbo") {
		return ti.TableName
	}
	return ti.SchemaName + "." + ti.TableName
}

func parseSchemaInfo(data string) (fleet.SchemaInfo, error) {
	var x xSchemaInfo
	if err := xml.Unmarshal([]byte(data), &x); err != nil {
		return fleet.SchemaInfo{}, err
	}
	var s fleet.SchemaInfo
	for _, ti := range append(x.Sharded, x.OldSharded...) {
		s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: qualified(ti), KeyColumn: ti.KeyColumnName})
	}
	for _, ti := range append(x.Reference, x.OldReference...) {
		s.Reference = append(s.Reference, qualified(ti))
	}
	return s, nil
}

// SchemaInfo implements fleet.ShardMapStore.
func (t *Target) SchemaInfo(ctx context.Context, mapName string) (fleet.SchemaInfo, error) {
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return fleet.SchemaInfo{}, err
	}
	data, err := t.schemaInfoData(ctx, m.Name)
	if err != nil {
		return fleet.SchemaInfo{}, err
	}
	s, err := parseSchemaInfo(data)
	if err != nil {
		return s, elasticdb.StoreErr("read schema info", mapName, fleet.ResultUnexpectedStoreError, "the stored SchemaInfo XML does not parse: "+err.Error())
	}
	return s, nil
}

func (t *Target) schemaInfoData(ctx context.Context, name string) (string, error) {
	g, err := t.gsm()
	if err != nil {
		return "", err
	}
	var data string
	err = g.QueryRowContext(ctx, SchemaInfoQuery, sql.Named("name", name)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", elasticdb.StoreErr("read schema info", name, fleet.ResultSchemaInfoNameMissing, "set the table kinds with a ShardLayout plan")
	}
	return data, t.red.wrap("read schema info", name, err)
}

// SetSchemaInfo implements fleet.ShardMapStore through
// spAddShardingSchemaInfoGlobal or spUpdateShardingSchemaInfoGlobal.
func (t *Target) SetSchemaInfo(ctx context.Context, mapName string, s fleet.SchemaInfo) error {
	const what = "set schema info"
	seen := map[string]bool{}
	for _, name := range s.Tables() {
		tb, err := ParseTable(name)
		if err != nil {
			return invalid(what, mapName, "%v", err)
		}
		if l := strings.ToLower(tb.Plain()); seen[l] {
			return invalid(what, mapName, "table %q is listed twice", name)
		} else {
			seen[l] = true
		}
	}
	for _, st := range s.Sharded {
		if st.KeyColumn == "" {
			return invalid(what, mapName, "sharded table %q has no key column", st.Table)
		}
	}
	if err := t.requireLibrary(ctx); err != nil {
		return err
	}
	m, err := t.ShardMap(ctx, mapName)
	if err != nil {
		return err
	}
	doc, err := schemaInfoXML(s)
	if err != nil {
		return invalid(what, mapName, "%v", err)
	}
	_, err = t.schemaInfoData(ctx, m.Name)
	add := errors.Is(err, fleet.ResultSchemaInfoNameMissing)
	if err != nil && !add {
		return err
	}
	g, err := t.gsm()
	if err != nil {
		return err
	}
	proc := spUpdateSchemaInfo
	if add {
		proc = spAddSchemaInfo
	}
	return t.call(ctx, g, what, mapName, proc, schemaInfoDoc(add, m.Name, doc))
}
