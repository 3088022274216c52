// Package steps holds the action registry and the actions, grouped by domain in
// subpackages (shardmap, database, traffic, app, generic). Every action
// implements Observe, Apply, Rollback and Estimate against a fleet target.
package steps
