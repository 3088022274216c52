// Package planrender shows a step graph to people and programs: text with
// symbols and counts, markdown for a pull-request comment (summary table,
// mermaid graph, safety facts), and stable JSON. It only formats what the
// graph already says; every figure it shows (order, totals, read-only
// window, rollback stages) comes from the graph or from package stepgraph.
package planrender
