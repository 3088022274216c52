// Package shardmap holds the shard-layout actions: creating maps and shards,
// splitting and merging mappings, and moving key ranges between shards in
// batches with the split-merge semantics of the Elastic Database tools.
package shardmap
