// Package local is the embedded fleet driver: a fleet is a directory holding a
// catalog (DIR/fleet.db) and one plain SQLite file per database
// (DIR/<server>/<database>.db), opened with the pure-Go modernc.org/sqlite in
// WAL mode with a busy timeout and foreign keys on.
//
// Shard maps use the Elastic Database client library's schema (ELASTICDB.md)
// adapted to SQLite, which has no schemas: the library's
// __ShardManagement.<Table> becomes the table __ShardManagement_<Table>
// (ShardMapsGlobal -> __ShardManagement_ShardMapsGlobal), so it needs no
// quoting in the sqlite3 shell. Columns keep the library's names and meaning.
// uniqueidentifier columns hold canonical lowercase uuid text
// ("6ba7b810-9dad-11d1-80b4-00c04fd430c8"); MinValue/MaxValue are BLOBs holding
// the library's key encoding (package shardkey), so SQLite's memcmp order is
// the key order; bit columns are 0/1 integers; xml columns hold the library's
// XML as text. The global shard map (GSM) lives in the shard map manager
// database named in the catalog; every shard holds its local shard map (LSM).
//
// Multi-database changes follow the library's protocol: a row in
// OperationsLogGlobal and pending GSM rows (Readable = 0, OperationId set) are
// committed before any LSM is touched; the LSMs are changed next; a final GSM
// transaction makes the result readable and deletes the log row. Writers hold
// a per-fleet file lock; each operation also holds a file lock of its own
// (the library's sp_getapplock on the operation id), and a writer whose
// change meets another operation's rows undoes that operation only once it
// holds that lock, that is when its owner is gone, as the library does. The
// protocol itself (the operations, their request XML, the GSM and LSM steps,
// undo and recovery) is package elasticdb's; this package gives it an
// executor that runs its row statements against SQLite.
package local
