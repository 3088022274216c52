// Package shardmap is data-dependent routing for applications: it routes a
// sharding key of an Elastic Database shard map to a connection on the shard
// that holds it, as the Elastic Database client library's
// OpenConnectionForKey does, so an application keeps running while fleetplan
// moves its shardlets between shards.
//
// A Router caches the mappings it reads from the global shard map. A cached
// mapping is only a guess: every transaction begun on a routed connection
// first checks, inside that transaction, that the local shard map of the
// shard it is connected to still holds the mapping online. When the mapping
// moved (or was split or merged), the router drops it, reads the global
// shard map again and follows the key to its shard; a stale cache entry can
// never write to a shard the key has left, because the check and the write
// are one transaction that the mover's change of that local shard map waits
// for. While a move holds the key offline, routing refuses it with an
// *OfflineError (IsOffline), which Retry and Router.InTx retry with
// exponential backoff.
//
// The router works through the driver interfaces fleet.ShardMapStore and
// fleet.ShardConnector, so it runs on any driver that offers them: the
// embedded local driver (SQLite files) and the sqlserver driver (SQL Server
// and Azure SQL; verified there only where a server is available).
//
//	t, err := fleet.Open(ctx, fleet.TargetConfig{Driver: "local", Path: "/srv/fleet"})
//	if err != nil { ... }
//	defer t.Close()
//	r, err := shardmap.New(ctx, t, "CustomerMap", shardmap.Options{})
//	if err != nil { ... }
//	err = r.InTx(ctx, int64(75123), func(tx *sql.Tx) error {
//		_, err := tx.ExecContext(ctx, `UPDATE customers SET balance = balance + 10 WHERE id = ?`, 75123)
//		return err
//	})
//
// docs/routing.md explains the guarantees and how they are tested.
package shardmap
