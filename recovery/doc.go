// Package recovery finds what is wrong with a fleet's shard maps and data
// placement (fleetplan doctor): the differences between the global shard
// map and the shards' local shard maps, pending operations, locked mappings,
// and rows on a shard their key does not route to. Each finding says what
// fixes it, and the ShardMapRecovery plan that makes the fixes is written
// from the report.
package recovery
