// Package prcomment builds the pull-request comments of a repository's
// plans, one per target, and splits a comment that is longer than GitHub
// allows into parts at section boundaries, never inside a table, a code
// block or a diagram.
package prcomment
