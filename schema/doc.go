// Package schema holds the embedded JSON Schemas (draft 2020-12) of every plan
// kind and of fleetplan.yaml, and validates plain values against them,
// reporting each problem at the YAML position of the offending node.
package schema
