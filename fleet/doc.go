// Package fleet describes live state (servers, databases, shard maps) and the
// driver interfaces through which fleetplan observes and changes it. Drivers live
// in subpackages: local (embedded, SQLite files) and, later, sqlserver and azure.
package fleet
