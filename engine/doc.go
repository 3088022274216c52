// Package engine is the application wiring for one command: load the
// config and the plan, open the target, plan through the planner's kind
// table (no switch on kinds here), save and verify plan files, check a saved
// plan's freshness, and build the runner's options. It holds no domain
// logic: observing a target is package livestate, what earlier runs measured
// is package runhistory. The drivers and actions a binary links are
// imported by main.
package engine
