package fleettest

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// Documents in the library's exact shape, written from its request builder
// (StoreOperationRequestBuilder.cs and StoreObjectFormatterXml.cs at
// Azure/elastic-db-tools b31d748; line numbers at each builder), as SQL
// Server's xml column gives them back: an empty element is self-closed.

func libShardMap(m fleet.ShardMap) string { // StoreObjectFormatterXml.WriteIStoreShardMap
	return fmt.Sprintf(`<ShardMap Null="0"><Id>%s</Id><Name>%s</Name><Kind>%d</Kind><KeyKind>%d</KeyKind></ShardMap>`, m.ID, m.Name, m.Type, m.KeyType)
}

func libShard(s *elasticdb.ShardRow) string { // WriteIStoreShard, WriteShardLocation
	return fmt.Sprintf(`<Shard Null="0"><Id>%s</Id><Version>%s</Version><ShardMapId>%s</ShardMapId><Location><Protocol>0</Protocol><ServerName>%s</ServerName><Port>0</Port><DatabaseName>%s</DatabaseName></Location><Status>%d</Status></Shard>`,
		s.ID, s.Version, s.MapID, s.Loc.Server, s.Loc.Database, s.Status)
}

func libMapping(m elasticdb.MappingRow) string { // WriteIStoreMapping
	max := `<MaxValue Null="1" />`
	if m.Max != nil {
		max = `<MaxValue Null="0">` + elasticdb.HexKey(m.Max) + `</MaxValue>`
	}
	return fmt.Sprintf(`<Mapping><Id>%s</Id><ShardMapId>%s</ShardMapId><MinValue>%s</MinValue>%s<Status>%d</Status><LockOwnerId>%s</LockOwnerId></Mapping>`,
		m.ID, m.MapID, elasticdb.HexKey(m.Min), max, m.Status, m.LockOwner)
}

func libLock(s elasticdb.Step) string { return `<Lock><Id>` + s.Lock.String() + `</Id></Lock>` } // WriteLock

const libVersion = `<GsmVersion><MajorVersion>1</MajorVersion><MinorVersion>2</MinorVersion></GsmVersion>`

func libHead(root string, op *elasticdb.Operation) string {
	return fmt.Sprintf(`<%s OperationId="%s" OperationCode="%d" Undo="0" StepsCount="%d">%s`, root, op.ID, op.Code, len(op.Steps), libVersion)
}

func libShards(op *elasticdb.Operation) string {
	return `<Removes>` + libShard(op.Source) + `</Removes><Adds>` + libShard(op.Target) + `</Adds>`
}

// LibraryDocument is the library's request document for op: what a .NET
// or Java client writes to OperationsLogGlobal.Data for the same change.
func LibraryDocument(op *elasticdb.Operation) string {
	const root = "BulkOperationShardMappingsGlobal"
	s := op.Steps[0]
	switch op.Code {
	case fleet.OpAddShard: // AddShardGlobal, :346
		return libHead("BulkOperationShardsGlobal", op) + libShardMap(op.Map) +
			`<Steps><Step Kind="3" Id="1">` + libShard(s.Shard) + `</Step></Steps></BulkOperationShardsGlobal>`
	case fleet.OpRemoveShard: // RemoveShardGlobal, :377
		return libHead("BulkOperationShardsGlobal", op) + libShardMap(op.Map) +
			`<Steps><Step Kind="1" Id="1">` + libShard(s.Shard) + `</Step></Steps><AddSteps /></BulkOperationShardsGlobal>`
	case fleet.OpAddPointMapping, fleet.OpAddRangeMapping: // AddShardMappingGlobal, :499
		return libHead(root, op) + libShardMap(op.Map) + libShards(op) +
			`<Steps><Step Id="1" Validate="1" Kind="3">` + libMapping(s.Mapping) + `</Step></Steps></` + root + `>`
	case fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping: // RemoveShardMappingGlobal, :536
		return libHead(root, op) + libShardMap(op.Map) + libShards(op) +
			`<Steps><Step Id="1" Validate="0" Kind="1">` + libLock(s) + libMapping(s.Mapping) + `</Step></Steps></` + root + `>`
	case fleet.OpSplitMapping, fleet.OpMergeMappings: // ReplaceShardMappingsGlobal, :624
		var b strings.Builder
		b.WriteString(libHead(root, op) + libShardMap(op.Map) + libShards(op) + `<Steps>`)
		for i, s := range op.Steps {
			fmt.Fprintf(&b, `<Step Validate="0" Kind="%d" Id="%d">%s%s</Step>`, s.Kind, i+1, libLock(s), libMapping(s.Mapping))
		}
		return b.String() + `</Steps></` + root + `>`
	}
	// UpdateShardMappingGlobal, :578 (codes 6, 7, 10, 11)
	return libHead(root, op) + `<PatternForKill>` + elasticdb.KillPattern(op.Map.ID) + `</PatternForKill><KillConnection>true</KillConnection>` +
		libShardMap(op.Map) + libShards(op) +
		`<Steps><Step Id="1" Validate="0" Kind="2">` + libLock(s) + libMapping(s.Mapping) + `<Update>` + libMapping(*s.New) + `</Update></Step></Steps></` + root + `>`
}
