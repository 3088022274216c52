package sqlserver

import (
	"sort"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
)

// fleetplan's own shard map store: when fleetplan creates a shard map
// manager (and options.elasticdbScripts does not name the library's own
// scripts), it deploys these tables and procedures. They are written for
// fleetplan, and keep the library's contract, so that the library's clients
// and fleetplan read and write the store alike:
//
//   - the same tables and columns in __ShardManagement (global and local),
//     store version 1.2 in ShardMapManagerGlobal/Local (StoreVersionMajor,
//     StoreVersionMinor), so a .NET or Java client of version 1.2 accepts it
//     and asks for no upgrade;
//   - the same procedure names, each taking the library's request document
//     in @input xml and giving the store result in @result int OUTPUT, with
//     the library's result codes (fleet.StoreResult) and the library's
//     rowsets (a first column naming the rowset kind: 1 shard maps, 2
//     shards, 3 mappings, 5 store version, 6 operation log entry);
//   - the same operation log: a bulk Begin records the request document in
//     OperationsLogGlobal and marks the rows it touches with the operation's
//     id; the End with Undo="0" applies them and with Undo="1" rolls them
//     back, and deletes the log row; a row marked by another operation makes
//     a writer answer 52 with that operation's log entry, which is how the
//     library's clients find what to undo.
//
// Each procedure starts with the same prologue (the request document's
// store version, result 50 when it is missing and 51 when its major version
// is not the store's), built here so the bodies cannot drift from it. Result
// codes are written {Name} in the bodies and replaced with the values of
// fleet.StoreResult, so the T-SQL and the Go side share one list.
//
// Every script is idempotent: tables and rows are created when missing and
// procedures with CREATE OR ALTER (SQL Server 2016 SP1 and later, Azure SQL
// Database, Azure SQL Managed Instance), under an application lock held by
// the deploying transaction, so two deployers run one after the other.

// storeProc is one procedure or function of the store.
type storeProc struct {
	name string // without the schema
	// root is the request document's root element; "" for a helper,
	// whose parameters and body are written whole.
	root string
	// helper is the full definition of a helper (after CREATE OR ALTER).
	helper string
	body   string
}

// resultCodes are the {Name} placeholders of the bodies.
var resultCodes = map[string]fleet.StoreResult{
	"Success": fleet.ResultSuccess, "MissingParameters": fleet.ResultMissingParameters,
	"StoreVersionMismatch": fleet.ResultStoreVersionMismatch, "PendingOperation": fleet.ResultPendingOperation,
	"UnexpectedStoreError": fleet.ResultUnexpectedStoreError, "ShardMapExists": fleet.ResultShardMapExists,
	"ShardMapDoesNotExist": fleet.ResultShardMapDoesNotExist, "ShardMapHasShards": fleet.ResultShardMapHasShards,
	"ShardExists": fleet.ResultShardExists, "ShardDoesNotExist": fleet.ResultShardDoesNotExist,
	"ShardHasMappings": fleet.ResultShardHasMappings, "ShardVersionMismatch": fleet.ResultShardVersionMismatch,
	"ShardLocationExists": fleet.ResultShardLocationExists, "MappingDoesNotExist": fleet.ResultMappingDoesNotExist,
	"MappingRangeMapped": fleet.ResultMappingRangeMapped, "MappingPointMapped": fleet.ResultMappingPointMapped,
	"MappingNotFoundForKey": fleet.ResultMappingNotFoundForKey, "UnableToKillSessions": fleet.ResultUnableToKillSessions,
	"MappingNotOffline": fleet.ResultMappingNotOffline, "MappingIsOffline": fleet.ResultMappingIsOffline, "MappingLockOwnerIDDiff": fleet.ResultMappingLockOwnerIDDiff,
	"MappingAlreadyLocked": fleet.ResultMappingAlreadyLocked, "SchemaInfoNameMissing": fleet.ResultSchemaInfoNameMissing,
	"SchemaInfoNameConflict": fleet.ResultSchemaInfoNameConflict,
}

// opCodes are the operation codes the bodies test ({Op...}).
var opCodes = map[string]int{
	"OpRemovePointMapping": fleet.OpRemovePointMapping, "OpRemoveRangeMapping": fleet.OpRemoveRangeMapping,
	// The library's RemoveRangeFromRange, which fleetplan does not send.
	"OpRemoveRangeFromRange": 13,
}

// storeSide is the global or the local half of the store.
type storeSide struct {
	local                        bool
	versionTable, versionElement string
	versionFunc, versionHelper   string
	tables                       string
	procs                        []storeProc
}

func (s storeSide) kind() string {
	if s.local {
		return "Local"
	}
	return "Global"
}

// render expands a body's placeholders.
func (s storeSide) render(root, text string) string {
	pairs := []string{
		"{doc}", "@input.nodes('/" + root + "') AS d(r)",
		"{missing}", "BEGIN SET @result = " + code("MissingParameters") + "; EXEC __ShardManagement." + s.versionHelper + "; RETURN; END;",
		"{pending}", "BEGIN SET @result = " + code("PendingOperation") + "; EXEC __ShardManagement.spGetOperationLogEntryGlobalHelper @pendingOp; RETURN; END;",
		"{root}", root,
		// A shard row of a local document: its id, version, location and status.
		"{shardFields}", `@shardId = r.value('(Shard/Id)[1]', 'uniqueidentifier'),
		@version = r.value('(Shard/Version)[1]', 'uniqueidentifier'),
		@protocol = r.value('(Shard/Location/Protocol)[1]', 'int'),
		@server = r.value('(Shard/Location/ServerName)[1]', 'nvarchar(128)'),
		@port = r.value('(Shard/Location/Port)[1]', 'int'),
		@database = r.value('(Shard/Location/DatabaseName)[1]', 'nvarchar(128)'),
		@status = r.value('(Shard/Status)[1]', 'int')`,
		// A map row of a document: its id, name, kind and key kind.
		"{mapFields}", `@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@name = r.value('(ShardMap/Name)[1]', 'nvarchar(50)'),
		@kind = r.value('(ShardMap/Kind)[1]', 'int'),
		@keyKind = r.value('(ShardMap/KeyKind)[1]', 'int')`,
		"{shardVars}", "@shardId uniqueidentifier, @version uniqueidentifier, @protocol int, @server nvarchar(128), @port int,\n\t\t@database nvarchar(128), @status int",
		// The columns of rowset 3 (a mapping and its shard) and the tables
		// they come from, after "SELECT 3 AS RowsetKind, ".
		"{mappingRows}", `m.MappingId, m.ShardMapId, m.MinValue, m.MaxValue, m.Status, m.LockOwnerId,
		s.ShardId, s.Version, s.ShardMapId, s.Protocol, s.ServerName, s.Port, s.DatabaseName, s.Status
	FROM __ShardManagement.ShardMappings` + s.kind() + ` AS m
	JOIN __ShardManagement.Shards` + s.kind() + ` AS s ON s.ShardId = m.ShardId`,
		// The mappings holding @key: a list map's at that point, a range
		// map's whose range holds it.
		"{keyMatch}", "((@mapType = 1 AND m.MinValue = @key) OR (@mapType <> 1 AND m.MinValue <= @key AND (m.MaxValue IS NULL OR m.MaxValue > @key)))",
		// An added mapping of a step (the column st of its nodes()): its
		// bounds (MaxValue NULL for +infinity) and status.
		"{stepMapping}", `CONVERT(varbinary(128), st.value('(Mapping/MinValue)[1]', 'varchar(258)'), 1),
		CONVERT(varbinary(128), st.value('(Mapping/MaxValue[@Null="0"])[1]', 'varchar(258)'), 1),
		st.value('(Mapping/Status)[1]', 'int')`,
		// The map's type, 102 when the map is not there.
		"{mapType}", "SELECT @mapType = " + map[bool]string{false: "ShardMapType", true: "MapType"}[s.local] +
			" FROM __ShardManagement.ShardMaps" + s.kind() + " WHERE ShardMapId = @mapId;\n\tIF @mapType IS NULL\n\tBEGIN SET @result = " + code("ShardMapDoesNotExist") + "; RETURN; END;",
		"{StoreMajor}", strconv.Itoa(elasticdb.StoreVersionMajor), "{StoreMinor}", strconv.Itoa(elasticdb.StoreVersionMinor),
	}
	names := make([]string, 0, len(resultCodes)+len(opCodes))
	for n := range resultCodes {
		names = append(names, n)
	}
	for n := range opCodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		pairs = append(pairs, "{"+n+"}", code(n))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

func code(name string) string {
	if r, ok := resultCodes[name]; ok {
		return strconv.Itoa(int(r))
	}
	if c, ok := opCodes[name]; ok {
		return strconv.Itoa(c)
	}
	return "{" + name + "}" // left for the test that finds unexpanded names
}

// procText is the CREATE OR ALTER batch of one procedure.
func (s storeSide) procText(p storeProc) string {
	if p.root == "" {
		return "CREATE OR ALTER " + strings.TrimSpace(s.render("", p.helper))
	}
	var b strings.Builder
	b.WriteString("CREATE OR ALTER PROCEDURE __ShardManagement." + p.name + "\n\t@input xml,\n\t@result int OUTPUT\nAS\nBEGIN\n")
	b.WriteString("\tSET NOCOUNT ON;\n")
	b.WriteString("\t-- The request document's store version: the caller's major version must be the store's.\n")
	b.WriteString("\tDECLARE @clientMajor int, @clientMinor int;\n")
	b.WriteString("\tSELECT @clientMajor = r.value('(" + s.versionElement + "/MajorVersion)[1]', 'int'),\n")
	b.WriteString("\t\t@clientMinor = r.value('(" + s.versionElement + "/MinorVersion)[1]', 'int')\n")
	b.WriteString("\tFROM {doc};\n")
	b.WriteString("\tIF @clientMajor IS NULL OR @clientMinor IS NULL {missing}\n")
	b.WriteString("\tIF @clientMajor <> __ShardManagement." + s.versionFunc + "()\n")
	b.WriteString("\tBEGIN SET @result = {StoreVersionMismatch}; EXEC __ShardManagement." + s.versionHelper + "; RETURN; END;\n")
	b.WriteString(strings.Trim(p.body, "\n") + "\n")
	b.WriteString("END")
	return s.render(p.root, b.String())
}

// Script is the side's deployment script: the tables and the version row
// in the first batch, then a batch per procedure, separated by GO lines.
func (s storeSide) Script() string {
	var b strings.Builder
	b.WriteString("-- fleetplan's " + strings.ToLower(s.kind()) + " shard map store (store version " +
		strconv.Itoa(elasticdb.StoreVersionMajor) + "." + strconv.Itoa(elasticdb.StoreVersionMinor) + "), deployed in one transaction.\n")
	b.WriteString(s.render("", strings.Trim(s.tables, "\n")) + "\nGO\n")
	for _, p := range s.procs {
		b.WriteString(s.procText(p) + "\nGO\n")
	}
	return b.String()
}

// ownGlobalScript and ownLocalScript are what fleetplan deploys.
func ownGlobalScript() string { return globalStore.Script() }
func ownLocalScript() string  { return localStore.Script() }

// deployLock serializes deployers of one database's store (the lock is the
// transaction's, so it ends with the deployment).
const deployLock = `DECLARE @deployLock int;
EXEC @deployLock = sp_getapplock @Resource = N'fleetplan:deploy:__ShardManagement', @LockMode = N'Exclusive',
	@LockOwner = N'Transaction', @LockTimeout = 60000;
IF @deployLock < 0
BEGIN
	THROW 50000, N'another session is deploying the shard map store of this database; retry when it is done', 1;
END;
IF SCHEMA_ID(N'__ShardManagement') IS NULL
	EXEC (N'CREATE SCHEMA __ShardManagement');
`

var globalStore = storeSide{
	versionTable: "ShardMapManagerGlobal", versionElement: "GsmVersion",
	versionFunc: "fnGetStoreVersionMajorGlobal", versionHelper: "spGetStoreVersionGlobalHelper",
	tables: deployLock + versionDDL("ShardMapManagerGlobal") + `
IF OBJECT_ID(N'__ShardManagement.ShardMapsGlobal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardMapsGlobal (
		ShardMapId uniqueidentifier NOT NULL CONSTRAINT pkShardMapsGlobal PRIMARY KEY,
		Name nvarchar(50) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL CONSTRAINT ukShardMapsGlobalName UNIQUE,
		ShardMapType int NOT NULL,
		KeyType int NOT NULL);
IF OBJECT_ID(N'__ShardManagement.ShardsGlobal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardsGlobal (
		ShardId uniqueidentifier NOT NULL CONSTRAINT pkShardsGlobal PRIMARY KEY,
		Readable bit NOT NULL,
		Version uniqueidentifier NOT NULL,
		ShardMapId uniqueidentifier NOT NULL CONSTRAINT fkShardsGlobalMap REFERENCES __ShardManagement.ShardMapsGlobal (ShardMapId),
		OperationId uniqueidentifier NULL,
		Protocol int NOT NULL,
		ServerName nvarchar(128) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,
		Port int NOT NULL,
		DatabaseName nvarchar(128) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,
		Status int NOT NULL,
		CONSTRAINT ukShardsGlobalLocation UNIQUE (ShardMapId, Protocol, ServerName, DatabaseName, Port));
IF OBJECT_ID(N'__ShardManagement.ShardMappingsGlobal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardMappingsGlobal (
		MappingId uniqueidentifier NOT NULL CONSTRAINT ukShardMappingsGlobalId UNIQUE,
		Readable bit NOT NULL,
		ShardId uniqueidentifier NOT NULL CONSTRAINT fkShardMappingsGlobalShard REFERENCES __ShardManagement.ShardsGlobal (ShardId),
		ShardMapId uniqueidentifier NOT NULL CONSTRAINT fkShardMappingsGlobalMap REFERENCES __ShardManagement.ShardMapsGlobal (ShardMapId),
		OperationId uniqueidentifier NULL,
		MinValue varbinary(128) NOT NULL,
		MaxValue varbinary(128) NULL, -- NULL is +infinity
		Status int NOT NULL,
		LockOwnerId uniqueidentifier NOT NULL CONSTRAINT dfShardMappingsGlobalLockOwner DEFAULT ('00000000-0000-0000-0000-000000000000'),
		-- a mapping being replaced (Readable 1) and its replacement (Readable 0) share MinValue
		CONSTRAINT pkShardMappingsGlobal PRIMARY KEY (ShardMapId, MinValue, Readable));
IF OBJECT_ID(N'__ShardManagement.OperationsLogGlobal', N'U') IS NULL
	CREATE TABLE __ShardManagement.OperationsLogGlobal (
		OperationId uniqueidentifier NOT NULL CONSTRAINT pkOperationsLogGlobal PRIMARY KEY,
		OperationCode int NOT NULL,
		Data xml NOT NULL,
		UndoStartState int NOT NULL CONSTRAINT dfOperationsLogGlobalUndo DEFAULT (100),
		ShardVersionRemoves uniqueidentifier NULL,
		ShardVersionAdds uniqueidentifier NULL);
IF OBJECT_ID(N'__ShardManagement.ShardedDatabaseSchemaInfosGlobal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardedDatabaseSchemaInfosGlobal (
		Name nvarchar(128) NOT NULL CONSTRAINT pkShardedDatabaseSchemaInfosGlobal PRIMARY KEY,
		SchemaInfo xml NOT NULL);`,
	procs: append(versionProcs("Global"), globalProcs...),
}

var localStore = storeSide{
	local:        true,
	versionTable: "ShardMapManagerLocal", versionElement: "LsmVersion",
	versionFunc: "fnGetStoreVersionMajorLocal", versionHelper: "spGetStoreVersionLocalHelper",
	tables: deployLock + versionDDL("ShardMapManagerLocal") + `
IF OBJECT_ID(N'__ShardManagement.ShardMapsLocal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardMapsLocal (
		ShardMapId uniqueidentifier NOT NULL CONSTRAINT pkShardMapsLocal PRIMARY KEY,
		Name nvarchar(50) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,
		MapType int NOT NULL,
		KeyType int NOT NULL,
		LastOperationId uniqueidentifier NOT NULL CONSTRAINT dfShardMapsLocalLastOp DEFAULT ('00000000-0000-0000-0000-000000000000'));
IF OBJECT_ID(N'__ShardManagement.ShardsLocal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardsLocal (
		ShardId uniqueidentifier NOT NULL CONSTRAINT pkShardsLocal PRIMARY KEY,
		Version uniqueidentifier NOT NULL,
		ShardMapId uniqueidentifier NOT NULL CONSTRAINT fkShardsLocalMap REFERENCES __ShardManagement.ShardMapsLocal (ShardMapId),
		Protocol int NOT NULL,
		ServerName nvarchar(128) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,
		Port int NOT NULL,
		DatabaseName nvarchar(128) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,
		Status int NOT NULL,
		LastOperationId uniqueidentifier NOT NULL CONSTRAINT dfShardsLocalLastOp DEFAULT ('00000000-0000-0000-0000-000000000000'),
		CONSTRAINT ukShardsLocalLocation UNIQUE (ShardMapId, Protocol, ServerName, DatabaseName, Port));
IF OBJECT_ID(N'__ShardManagement.ShardMappingsLocal', N'U') IS NULL
	CREATE TABLE __ShardManagement.ShardMappingsLocal (
		MappingId uniqueidentifier NOT NULL CONSTRAINT pkShardMappingsLocal PRIMARY KEY,
		ShardId uniqueidentifier NOT NULL CONSTRAINT fkShardMappingsLocalShard REFERENCES __ShardManagement.ShardsLocal (ShardId),
		ShardMapId uniqueidentifier NOT NULL CONSTRAINT fkShardMappingsLocalMap REFERENCES __ShardManagement.ShardMapsLocal (ShardMapId),
		MinValue varbinary(128) NOT NULL,
		MaxValue varbinary(128) NULL, -- NULL is +infinity
		Status int NOT NULL,
		LockOwnerId uniqueidentifier NOT NULL CONSTRAINT dfShardMappingsLocalLockOwner DEFAULT ('00000000-0000-0000-0000-000000000000'),
		LastOperationId uniqueidentifier NOT NULL CONSTRAINT dfShardMappingsLocalLastOp DEFAULT ('00000000-0000-0000-0000-000000000000'),
		CONSTRAINT ukShardMappingsLocalMin UNIQUE (ShardMapId, MinValue));`,
	procs: append(versionProcs("Local"), localProcs...),
}

// versionDDL creates a side's version table with its one row.
func versionDDL(table string) string {
	return `IF OBJECT_ID(N'__ShardManagement.` + table + `', N'U') IS NULL
	CREATE TABLE __ShardManagement.` + table + ` (
		StoreVersionMajor int NOT NULL CONSTRAINT pk` + table + ` PRIMARY KEY,
		StoreVersionMinor int NOT NULL);
IF NOT EXISTS (SELECT 1 FROM __ShardManagement.` + table + `)
	INSERT INTO __ShardManagement.` + table + ` (StoreVersionMajor, StoreVersionMinor) VALUES ({StoreMajor}, {StoreMinor});`
}

// versionProcs are a side's store-version function (the prologue's check)
// and helper (the rowset 5 that results 50 and 51 give back).
func versionProcs(kind string) []storeProc {
	table := "__ShardManagement.ShardMapManager" + kind
	return []storeProc{
		{name: "fnGetStoreVersionMajor" + kind, helper: `
FUNCTION __ShardManagement.fnGetStoreVersionMajor` + kind + `()
RETURNS int
AS
BEGIN
	RETURN (SELECT MAX(StoreVersionMajor) FROM ` + table + `);
END`},
		{name: "spGetStoreVersion" + kind + "Helper", helper: `
PROCEDURE __ShardManagement.spGetStoreVersion` + kind + `Helper
AS
BEGIN
	SET NOCOUNT ON;
	SELECT 5 AS RowsetKind, StoreVersionMajor, StoreVersionMinor FROM ` + table + `;
END`},
	}
}

// findMappingByKey is a side's spFindShardMappingByKey<kind>: the mappings
// holding Key/Value (rowset 3), 304 when none does. top, filter and order
// are what the side adds to the query.
func findMappingByKey(kind, top, filter, order string) storeProc {
	return storeProc{name: "spFindShardMappingByKey" + kind, root: "FindShardMappingByKey" + kind, body: `
	DECLARE @mapId uniqueidentifier, @key varbinary(128), @mapType int;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@key = CONVERT(varbinary(128), r.value('(Key/Value)[1]', 'varchar(258)'), 1)
	FROM {doc};
	IF @mapId IS NULL OR @key IS NULL {missing}
	{mapType}
	SELECT ` + top + `3 AS RowsetKind, {mappingRows}
	WHERE m.ShardMapId = @mapId` + filter + ` AND {keyMatch}` + order + `;
	IF @@ROWCOUNT = 0
	BEGIN SET @result = {MappingNotFoundForKey}; RETURN; END;
	SET @result = {Success};`}
}
