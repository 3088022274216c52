// Package planner diffs desired plan documents against live state and produces
// a Graph of steps with guards, rollback branches and estimates. It is pure:
// documents and live state in, graph out; no SQL and no files.
package planner
