// Package expression compiles and evaluates the expr-lang expressions of plans
// (guards and ${{ }} interpolations) against a typed, method-free environment.
package expression
