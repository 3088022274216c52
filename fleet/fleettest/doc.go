// Package fleettest is the shard map store contract suite: every driver runs
// Run against a fresh fleet of its own to show that it keeps the Elastic
// Database semantics (GSM/LSM invariants, errors, locks, crash recovery).
package fleettest
