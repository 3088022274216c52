// Package stepgraph is the plan as data: the Graph of steps that apply runs,
// with needs, guards, waits, retry policies, rollback branches and
// estimates, plus the queries every reader of a plan shares (dependency
// order, totals along the critical path, change counts and their display
// order, the steps that touch production). The planner builds a Graph, the
// renderers show it, planfile saves it and the runner executes it.
//
// It holds no planning logic and no I/O, and it imports nothing that parses
// plan documents (YAML, JSON Schema, expressions): the runner links it
// without them.
package stepgraph
