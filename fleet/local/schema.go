package local

import "github.com/fleetplan/fleetplan/fleet/elasticdb"

// Catalog format of DIR/fleet.db.
const (
	catalogFormat  = "fleetplan-local"
	catalogVersion = "1"
)

// catalogDDL creates the catalog. Tables for replication, traffic manager
// and app slots are created empty; control-plane operations fill them.
// Managed instances have tables of their own (instanceDDL), made on first use.
const catalogDDL = `
CREATE TABLE IF NOT EXISTS fleet_meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS servers(
  name       TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  region     TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS databases(
  server     TEXT NOT NULL COLLATE NOCASE REFERENCES servers(name),
  name       TEXT NOT NULL COLLATE NOCASE,
  read_only  INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  PRIMARY KEY(server, name)
);
CREATE TABLE IF NOT EXISTS replication_links(
  id              TEXT NOT NULL PRIMARY KEY,
  primary_server  TEXT NOT NULL COLLATE NOCASE,
  primary_db      TEXT NOT NULL COLLATE NOCASE,
  partner_server  TEXT NOT NULL COLLATE NOCASE,
  partner_db      TEXT NOT NULL COLLATE NOCASE,
  role            TEXT NOT NULL DEFAULT 'secondary',
  state           TEXT NOT NULL DEFAULT 'seeding',
  percent_done    INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS traffic_manager_profiles(
  name           TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  routing_method TEXT NOT NULL DEFAULT 'Priority',
  created_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS traffic_manager_endpoints(
  profile    TEXT NOT NULL COLLATE NOCASE REFERENCES traffic_manager_profiles(name),
  name       TEXT NOT NULL COLLATE NOCASE,
  target     TEXT NOT NULL,
  status     TEXT NOT NULL DEFAULT 'Disabled',
  priority   INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY(profile, name)
);
CREATE TABLE IF NOT EXISTS app_slots(
  name       TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  server     TEXT NOT NULL DEFAULT '',
  database   TEXT NOT NULL DEFAULT '',
  version    TEXT NOT NULL DEFAULT '',
  state      TEXT NOT NULL DEFAULT 'running',
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operation_log(
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        TEXT NOT NULL,
  operation TEXT NOT NULL,
  target    TEXT NOT NULL,
  detail    TEXT NOT NULL DEFAULT ''
);
`

// Store version written and accepted (major) by this driver.
const (
	storeVersionMajor = elasticdb.StoreVersionMajor
	storeVersionMinor = elasticdb.StoreVersionMinor
)

// Table names: the library's __ShardManagement.<Table> as __ShardManagement_<Table>.
const (
	tSMMGlobal      = "__ShardManagement_ShardMapManagerGlobal"
	tMapsGlobal     = "__ShardManagement_ShardMapsGlobal"
	tShardsGlobal   = "__ShardManagement_ShardsGlobal"
	tMappingsGlobal = "__ShardManagement_ShardMappingsGlobal"
	tOpsLogGlobal   = "__ShardManagement_OperationsLogGlobal"
	tSchemaInfos    = "__ShardManagement_ShardedDatabaseSchemaInfosGlobal"
	tSMMLocal       = "__ShardManagement_ShardMapManagerLocal"
	tMapsLocal      = "__ShardManagement_ShardMapsLocal"
	tShardsLocal    = "__ShardManagement_ShardsLocal"
	tMappingsLocal  = "__ShardManagement_ShardMappingsLocal"
)

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// gsmDDL is the effective GSM at store version 1.2 with SQLite types.
const gsmDDL = `
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardMapManagerGlobal(
  StoreVersionMajor INTEGER NOT NULL,
  StoreVersionMinor INTEGER NOT NULL,
  CONSTRAINT pkShardMapManagerGlobal_StoreVersionMajor PRIMARY KEY(StoreVersionMajor)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardMapsGlobal(
  ShardMapId   TEXT NOT NULL,
  Name         TEXT NOT NULL COLLATE NOCASE,
  ShardMapType INTEGER NOT NULL,
  KeyType      INTEGER NOT NULL,
  CONSTRAINT pkShardMapsGlobal_ShardMapId PRIMARY KEY(ShardMapId),
  CONSTRAINT ucShardMapsGlobal_Name UNIQUE(Name)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardsGlobal(
  ShardId      TEXT NOT NULL,
  Readable     INTEGER NOT NULL,
  Version      TEXT NOT NULL,
  ShardMapId   TEXT NOT NULL,
  OperationId  TEXT NULL,
  Protocol     INTEGER NOT NULL,
  ServerName   TEXT NOT NULL COLLATE NOCASE,
  Port         INTEGER NOT NULL,
  DatabaseName TEXT NOT NULL COLLATE NOCASE,
  Status       INTEGER NOT NULL,
  CONSTRAINT pkShardsGlobal_ShardId PRIMARY KEY(ShardId),
  CONSTRAINT ucShardsGlobal_Location UNIQUE(ShardMapId, Protocol, ServerName, DatabaseName, Port),
  CONSTRAINT fkShardsGlobal_ShardMapId FOREIGN KEY(ShardMapId) REFERENCES __ShardManagement_ShardMapsGlobal(ShardMapId)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardMappingsGlobal(
  MappingId   TEXT NOT NULL,
  Readable    INTEGER NOT NULL,
  ShardId     TEXT NOT NULL,
  ShardMapId  TEXT NOT NULL,
  OperationId TEXT NULL,
  MinValue    BLOB NOT NULL,
  MaxValue    BLOB NULL, -- null = +infinity for range shard map
  Status      INTEGER NOT NULL,
  LockOwnerId TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  CONSTRAINT pkShardMappingsGlobal_ShardMapId_MinValue_Readable PRIMARY KEY(ShardMapId, MinValue, Readable),
  CONSTRAINT ucShardMappingsGlobal_MappingId UNIQUE(MappingId),
  CONSTRAINT fkShardMappingsGlobal_ShardMapId FOREIGN KEY(ShardMapId) REFERENCES __ShardManagement_ShardMapsGlobal(ShardMapId),
  CONSTRAINT fkShardMappingsGlobal_ShardId FOREIGN KEY(ShardId) REFERENCES __ShardManagement_ShardsGlobal(ShardId)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_OperationsLogGlobal(
  OperationId         TEXT NOT NULL,
  OperationCode       INTEGER NOT NULL,
  Data                TEXT NOT NULL,
  UndoStartState      INTEGER NOT NULL DEFAULT 100,
  ShardVersionRemoves TEXT NULL,
  ShardVersionAdds    TEXT NULL,
  CONSTRAINT pkOperationsLogGlobal_OperationId PRIMARY KEY(OperationId)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardedDatabaseSchemaInfosGlobal(
  Name       TEXT NOT NULL COLLATE NOCASE,
  SchemaInfo TEXT NOT NULL,
  CONSTRAINT pkShardedDatabaseSchemaInfosGlobal_Name PRIMARY KEY(Name)
);
INSERT OR IGNORE INTO __ShardManagement_ShardMapManagerGlobal(StoreVersionMajor, StoreVersionMinor) VALUES(1, 2);
`

// lsmDDL is the effective LSM at store version 1.2 with SQLite types.
const lsmDDL = `
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardMapManagerLocal(
  StoreVersionMajor INTEGER NOT NULL,
  StoreVersionMinor INTEGER NOT NULL,
  CONSTRAINT pkShardMapManagerLocal_StoreVersionMajor PRIMARY KEY(StoreVersionMajor)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardMapsLocal(
  ShardMapId      TEXT NOT NULL,
  Name            TEXT NOT NULL COLLATE NOCASE,
  MapType         INTEGER NOT NULL,
  KeyType         INTEGER NOT NULL,
  LastOperationId TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  CONSTRAINT pkShardMapsLocal_ShardMapId PRIMARY KEY(ShardMapId)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardsLocal(
  ShardId         TEXT NOT NULL,
  Version         TEXT NOT NULL,
  ShardMapId      TEXT NOT NULL,
  Protocol        INTEGER NOT NULL,
  ServerName      TEXT NOT NULL COLLATE NOCASE,
  Port            INTEGER NOT NULL,
  DatabaseName    TEXT NOT NULL COLLATE NOCASE,
  Status          INTEGER NOT NULL,
  LastOperationId TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  CONSTRAINT pkShardsLocal_ShardId PRIMARY KEY(ShardId),
  CONSTRAINT ucShardsLocal_ShardMapId_Location UNIQUE(ShardMapId, Protocol, ServerName, DatabaseName, Port),
  CONSTRAINT fkShardsLocal_ShardMapId FOREIGN KEY(ShardMapId) REFERENCES __ShardManagement_ShardMapsLocal(ShardMapId)
);
CREATE TABLE IF NOT EXISTS __ShardManagement_ShardMappingsLocal(
  MappingId       TEXT NOT NULL,
  ShardId         TEXT NOT NULL,
  ShardMapId      TEXT NOT NULL,
  MinValue        BLOB NOT NULL,
  MaxValue        BLOB NULL, -- null = +infinity
  Status          INTEGER NOT NULL, -- 1 online, 0 offline
  LockOwnerId     TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  LastOperationId TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  CONSTRAINT pkShardMappingsLocal_MappingId PRIMARY KEY(MappingId),
  CONSTRAINT ucShardMappingsLocal_ShardMapId_MinValue UNIQUE(ShardMapId, MinValue),
  CONSTRAINT fkShardMappingsLocal_ShardMapId FOREIGN KEY(ShardMapId) REFERENCES __ShardManagement_ShardMapsLocal(ShardMapId),
  CONSTRAINT fkShardMappingsLocal_ShardId FOREIGN KEY(ShardId) REFERENCES __ShardManagement_ShardsLocal(ShardId)
);
INSERT OR IGNORE INTO __ShardManagement_ShardMapManagerLocal(StoreVersionMajor, StoreVersionMinor) VALUES(1, 2);
`
