// Package view renders runner events for people and programs: one plain line
// per event, JSON lines, or progress bars with an ETA on a terminal.
package view
