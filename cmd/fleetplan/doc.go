// Command fleetplan plans and applies declarative YAML plans against SQL Server
// and Azure SQL fleets: shard layouts, rolling upgrades and instance changes.
package main
