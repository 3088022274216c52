// Package planfile is the file format of a saved plan (`fleetplan plan
// --out`): the step graph and the config it was made with, a SHA-256 digest
// of that content, and an optional HMAC-SHA256 signature. apply refuses a
// file whose content does not match its digest (any edit), and, when
// fleetplan.yaml sets planSigningKey, one that is unsigned or signed with
// another key: the digest catches edits, only the signature says who wrote it.
package planfile
