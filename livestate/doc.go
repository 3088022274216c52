// Package livestate holds the live-state adapters: for each plan kind, what
// to observe on a target and how to hand it to the planner. Each kind is one
// file here that registers a planner.Kind (shardlayout.go, rollingupgrade.go,
// instancechange.go)
// next to its diff in package planner. The Evaluator here gives the runner
// the live state that guards and `${{ }}` inputs read at run time.
//
// Adapters only read the fleet; what they learn from earlier runs comes
// from package runhistory.
package livestate
