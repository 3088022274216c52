// Package plans turns YAML plan files into validated, typed documents: it decodes
// YAML with positions, checks each document against its JSON Schema, expands
// templates (uses/with), compiles expressions and runs the semantic checks of
// every kind, reporting all problems at once as diagnostics.
package plans
