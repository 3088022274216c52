// Package stepstest is the action conformance suite. Every action package
// runs its cases through Run in a test of its own: each registered action
// goes through Observe, Apply, Apply again (a no-op), Rollback and Observe
// against a fresh local demo fleet, and what a case claims about the
// action (no rollback, no effect of its own) is checked, not assumed. Run
// fails when the calling package registered an action without a case.
package stepstest
