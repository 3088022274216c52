// Package elasticdb is the driver-neutral part of the Elastic Database shard
// map protocol: the operation model of OperationsLogGlobal (operation codes,
// steps, the shard and mapping rows they carry, how an operation splits into
// the source's and the target's local shard map changes) and the codec of
// the library's request XML, which is what OperationsLogGlobal.Data holds and
// what the .NET and Java clients replay and undo; and the detection of
// differences between the global and a local shard map, over rows a driver
// read. Drivers execute it against their own store; nothing here opens a
// database.
package elasticdb
