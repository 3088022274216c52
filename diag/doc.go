// Package diag holds diagnostics: problems found in what a user wrote, each with
// a source position, a message and an optional hint. Every stage that reads user
// input reports through it, so all problems of a run are collected and printed
// together in gcc style (path:line:col: message).
package diag
