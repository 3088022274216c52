// Package runner executes step graphs. One parallel DAG walker (walker)
// drives both directions: forward, a step runs once every step it needs is
// done; backward, a step's rollback runs once the rollbacks of every step
// that needed it are done (the step that made production read-only goes as
// soon as traffic is back on production). Both obey the graph's step limit
// kept in plan.json, and a failure marks what depends on it instead of
// running it. Each step goes through one attempt path (guard, inputs,
// Observe, Apply, retry of transient errors) in either direction.
//
// The scheduler (schedule.go, forward.go, rollback.go) is the only writer of
// an fsync'd journal and commits once per turn for every step that finished
// (group commit), so a killed run resumes where it stopped. A cancel request
// (a file in the run folder, written by `fleetplan cancel` from any process)
// wakes a running walk through a file-change notification, and a resumed run
// finds it on disk. The runner also holds one lock per target so two runs
// never touch the same fleet at once.
package runner
