// Package shardkey encodes sharding keys byte-exactly as Microsoft's Elastic
// Database client library stores them in MinValue/MaxValue (ELASTICDB.md §3),
// so that memcmp order of the encodings is the key order.
package shardkey
