// Package database holds the database actions of rolling upgrades: creating
// and waiting for geo-secondaries, read-only and read-write, planned
// disconnect, running an upgrade script, and dropping a database.
package database
