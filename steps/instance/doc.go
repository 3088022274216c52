// Package instance holds the managed-instance action: one long-running
// operation per step, started once and polled to its end, inside the
// plan's change window.
package instance
