// Package generic holds actions that need no fleet capability: no-op steps
// used to sequence a graph, commands, HTTP checks, waits on a condition and
// manual approval gates.
package generic
