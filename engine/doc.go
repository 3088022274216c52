// Package engine wires the stages for one command: load plans, open the
// target, observe it, plan, and hand the graph to the runner. It holds no
// domain logic of its own; each stage lives in its package.
package engine
