// Package runhistory reads the journals of earlier runs for what planning
// learns from them: the move speed measured on a target, how long each step
// of a plan took, how long managed-instance operations took, and whether a run already applied the same steps to a
// fleet that has not changed since. It only reads; the runner writes the
// journals.
package runhistory
