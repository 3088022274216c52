// Package runner executes step graphs: it runs ready steps in parallel, records
// every transition in an fsync'd journal so a killed run resumes where it
// stopped, retries transient errors, rolls back or pauses on failure, and holds
// one lock per target so two runs never touch the same fleet at once.
package runner
