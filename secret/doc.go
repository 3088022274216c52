// Package secret holds references to credentials ("env:VAR" or "file:PATH")
// and the rules that keep credentials out of plan files, saved plans,
// journals and messages: fields that carry credentials take only references,
// connection strings must not hold a password, and resolved values are
// redacted from anything fleetplan prints or stores.
package secret
