// Package elasticdb is the driver-neutral Elastic Database shard map
// protocol: the operation model of OperationsLogGlobal (operation codes,
// steps, the shard and mapping rows they carry) and builders for every
// operation the library's APIs perform; the codec of the library's request
// XML, which is what OperationsLogGlobal.Data holds and what the .NET and
// Java clients replay and undo; running an operation (GSM begin, the LSMs,
// GSM end, as the library's stored procedures do them), its undo, and the
// recovery of operations left pending by us or by the library; and the
// detection of differences between the global and a local shard map, over
// rows a driver read.
//
// Drivers give it an Executor: transactions of plain row statements on the
// GSM and on a shard's LSM. Nothing here opens a database, so every driver
// inherits the same protocol.
package elasticdb
