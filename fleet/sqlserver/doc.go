// Package sqlserver is the fleet driver for SQL Server and Azure SQL
// ("driver: sqlserver"), over github.com/microsoft/go-mssqldb. It reads the
// Elastic Database shard map with plain SELECTs on the __ShardManagement
// tables and writes it through the library's own stored procedures with the
// library's request XML, so a .NET or Java client and fleetplan can undo each
// other's pending operations. Moves read key ranges with keyset pagination
// and write them with bulk copy (mssql.CopyIn) in one transaction per batch;
// database operations are ALTER DATABASE statements and the geo-replication
// and operation-status views; the fleet lock is sp_getapplock on a pinned
// session. Every error is classified from the numbers of every entry of
// mssql.Error.All, never from message text, and no connection string or
// secret appears in an error, a log line or a journal.
package sqlserver
