// Package generic holds actions that touch no fleet: no-op steps used to
// sequence a graph or mark a gate.
package generic
