// Package estimate models managed-instance operations from the published
// durations (DOMAIN.md §4): which phases an operation goes through, the
// typical and 95th-percentile time of each, database seeding scheduled onto
// parallel channels, and the failover's unavailable moment. It is pure data
// and arithmetic: the planner takes typical and p95 values from it, and the
// local fleet draws real durations from the same distributions.
package estimate
