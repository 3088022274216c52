package sqlserver

import (
	"encoding/xml"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// The request documents of the library's stored procedures, element for
// element as StoreOperationRequestBuilder and StoreObjectFormatterXml write
// them (Elastic Database client 2.4.2). The global bulk operations' documents
// (BulkOperationShard(Mapping)sGlobal) are elasticdb.Operation.XML, shared
// with every driver; these are the others: the local shard map's, the
// operation log's, locks, shard maps and schema info.

// The library's stored procedures, schema-qualified.
const (
	spBulkShardsGlobalBegin   = "__ShardManagement.spBulkOperationShardsGlobalBegin"
	spBulkShardsGlobalEnd     = "__ShardManagement.spBulkOperationShardsGlobalEnd"
	spBulkMappingsGlobalBegin = "__ShardManagement.spBulkOperationShardMappingsGlobalBegin"
	spBulkMappingsGlobalEnd   = "__ShardManagement.spBulkOperationShardMappingsGlobalEnd"
	spFindAndUpdateLog        = "__ShardManagement.spFindAndUpdateOperationLogEntryByIdGlobal"
	spAddShardMapGlobal       = "__ShardManagement.spAddShardMapGlobal"
	spLockOrUnlockMappings    = "__ShardManagement.spLockOrUnlockShardMappingsGlobal"
	spAddSchemaInfo           = "__ShardManagement.spAddShardingSchemaInfoGlobal"
	spUpdateSchemaInfo        = "__ShardManagement.spUpdateShardingSchemaInfoGlobal"
	spAddShardLocal           = "__ShardManagement.spAddShardLocal"
	spRemoveShardLocal        = "__ShardManagement.spRemoveShardLocal"
	spUpdateShardLocal        = "__ShardManagement.spUpdateShardLocal"
	spBulkMappingsLocal       = "__ShardManagement.spBulkOperationShardMappingsLocal"
	spKillSessions            = "__ShardManagement.spKillSessionsForShardMappingLocal"
)

// node is an XML element with attributes and children in the order given,
// as System.Xml.Linq writes them.
type node struct {
	name     string
	attrs    [][2]string
	children []node
	text     *string
}

func el(name string, children ...node) node { return node{name: name, children: children} }

func txt(name, value string) node { return node{name: name, text: &value} }

func num(name string, v int) node { return txt(name, strconv.Itoa(v)) }

func (n node) attr(name, value string) node {
	n.attrs = append(n.attrs, [2]string{name, value})
	return n
}

func (n node) write(b *strings.Builder) {
	b.WriteString("<" + n.name)
	for _, a := range n.attrs {
		b.WriteString(" " + a[0] + `="`)
		_ = xml.EscapeText(b2w{b}, []byte(a[1]))
		b.WriteString(`"`)
	}
	b.WriteString(">")
	if n.text != nil {
		_ = xml.EscapeText(b2w{b}, []byte(*n.text))
	}
	for _, c := range n.children {
		c.write(b)
	}
	b.WriteString("</" + n.name + ">")
}

func (n node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

type b2w struct{ b *strings.Builder }

func (w b2w) Write(p []byte) (int, error) { return w.b.Write(p) }

func version(name string) node {
	return el(name, num("MajorVersion", elasticdb.StoreVersionMajor), num("MinorVersion", elasticdb.StoreVersionMinor))
}

func gsmVersion() node { return version("GsmVersion") }
func lsmVersion() node { return version("LsmVersion") }

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// shardMapNode is WriteIStoreShardMap.
func shardMapNode(m fleet.ShardMap) node {
	return el("ShardMap", txt("Id", m.ID.String()), txt("Name", m.Name), num("Kind", int(m.Type)), num("KeyKind", int(m.KeyType))).attr("Null", "0")
}

// locationNode is WriteShardLocation: protocol and port 0 (default).
func locationNode(loc fleet.Location) node {
	return el("Location", num("Protocol", 0), txt("ServerName", loc.Server), num("Port", 0), txt("DatabaseName", loc.Database))
}

// shardNode is WriteIStoreShard.
func shardNode(s elasticdb.ShardRow) node {
	return el("Shard", txt("Id", s.ID.String()), txt("Version", s.Version.String()), txt("ShardMapId", s.MapID.String()),
		locationNode(s.Loc), num("Status", s.Status)).attr("Null", "0")
}

// mappingNode is WriteIStoreMapping.
func mappingNode(m elasticdb.MappingRow) node {
	max := el("MaxValue").attr("Null", "1")
	if m.Max != nil {
		max = txt("MaxValue", elasticdb.HexKey(m.Max)).attr("Null", "0")
	}
	return el("Mapping", txt("Id", m.ID.String()), txt("ShardMapId", m.MapID.String()), txt("MinValue", elasticdb.HexKey(m.Min)),
		max, num("Status", m.Status), txt("LockOwnerId", m.LockOwner.String()))
}

// findAndUpdateLogDoc is FindAndUpdateOperationLogEntryByIdGlobal: the first
// step of every undo, which records where the undo starts.
func findAndUpdateLogDoc(op uuid.UUID, undoStartState int) string {
	return el("FindAndUpdateOperationLogEntryByIdGlobal", gsmVersion()).
		attr("OperationId", op.String()).attr("UndoStartState", strconv.Itoa(undoStartState)).String()
}

// addShardMapDoc is AddShardMapGlobal.
func addShardMapDoc(m fleet.ShardMap) string {
	return el("AddShardMapGlobal", gsmVersion(), shardMapNode(m)).String()
}

// Lock operations of LockOrUnlockShardMappingsGlobal (LockOwnerIdOpType).
const (
	lockOpLock               = 0
	lockOpUnlockMappingForID = 1
)

// lockOrUnlockDoc is LockOrUnlockShardMappingsGlobal for one mapping.
func lockOrUnlockDoc(m fleet.ShardMap, mp elasticdb.MappingRow, lockID uuid.UUID, op int) string {
	return el("LockOrUnlockShardMappingsGlobal", gsmVersion(), shardMapNode(m), mappingNode(mp),
		el("Lock", txt("Id", lockID.String()), num("Operation", op))).String()
}

// schemaInfoDoc is AddShardingSchemaInfoGlobal (add) or
// UpdateShardingSchemaInfoGlobal: the map's name and its DataContract
// serialized schema info (an XML document, inserted as an element).
func schemaInfoDoc(add bool, name string, infoXML string) string {
	root := "UpdateShardingSchemaInfoGlobal"
	if add {
		root = "AddShardingSchemaInfoGlobal"
	}
	var b strings.Builder
	b.WriteString("<" + root + ">")
	gsmVersion().write(&b)
	b.WriteString("<SchemaInfo>")
	txt("Name", name).write(&b)
	b.WriteString("<Info>" + infoXML + "</Info></SchemaInfo></" + root + ">")
	return b.String()
}

// addShardLocalDoc is AddShardLocal (undo: the undo of a RemoveShard).
func addShardLocalDoc(op uuid.UUID, undo bool, m fleet.ShardMap, s elasticdb.ShardRow) string {
	return el("AddShardLocal", lsmVersion(), shardMapNode(m), shardNode(s)).
		attr("OperationId", op.String()).attr("Undo", boolAttr(undo)).String()
}

// removeShardLocalDoc is RemoveShardLocal.
func removeShardLocalDoc(op uuid.UUID, m fleet.ShardMap, s elasticdb.ShardRow) string {
	return el("RemoveShardLocal", lsmVersion(), shardMapNode(m), shardNode(s)).attr("OperationId", op.String()).String()
}

// updateShardLocalDoc is UpdateShardLocal.
func updateShardLocalDoc(op uuid.UUID, m fleet.ShardMap, s elasticdb.ShardRow) string {
	return el("UpdateShardLocal", lsmVersion(), shardMapNode(m), shardNode(s)).attr("OperationId", op.String()).String()
}

// lsmMappingsDoc is BulkOperationShardMappingsLocal, as the library's
// AddShardMappingLocal, RemoveShardMappingLocal, UpdateShardMappingLocal and
// ReplaceShardMappingsLocal write it: the shard with the version the LSM
// gets, the removes (Kind 1) first, then the adds (Kind 3).
func lsmMappingsDoc(op uuid.UUID, undo bool, m fleet.ShardMap, s elasticdb.ShardRow, removes, adds []elasticdb.MappingRow) string {
	var steps []node
	for _, r := range removes {
		steps = append(steps, el("Step", mappingNode(r)).attr("Id", strconv.Itoa(len(steps)+1)).attr("Kind", strconv.Itoa(elasticdb.StepRemove)))
	}
	for _, a := range adds {
		steps = append(steps, el("Step", mappingNode(a)).attr("Id", strconv.Itoa(len(steps)+1)).attr("Kind", strconv.Itoa(elasticdb.StepAdd)))
	}
	return el("BulkOperationShardMappingsLocal", lsmVersion(), shardMapNode(m), shardNode(s), el("Steps", steps...)).
		attr("OperationId", op.String()).attr("Undo", boolAttr(undo)).attr("StepsCount", strconv.Itoa(len(steps))).String()
}

// killSessionsDoc is KillSessionsForShardMappingLocal: kill the sessions
// whose application name holds the pattern (the library's routing suffix).
func killSessionsDoc(pattern string) string {
	return el("KillSessionsForShardMappingLocal", lsmVersion(), txt("Pattern", pattern)).String()
}

// gsmDoc is an operation's global document (what OperationsLogGlobal.Data
// holds), with Undo="1" for the undo call of ...GlobalEnd.
func gsmDoc(op *elasticdb.Operation, undo bool) (string, error) {
	doc, err := op.XML()
	if err != nil || !undo {
		return doc, err
	}
	end := strings.IndexByte(doc, '>')
	if end < 0 {
		return doc, nil
	}
	return strings.Replace(doc[:end], ` Undo="0"`, ` Undo="1"`, 1) + doc[end:], nil
}
