package shardmap

import (
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
)

// refs names what a shard-map step touches: the shard map as a whole (its
// GSM, LSMs and mappings) and the databases it names (server and database
// at the top level, from and to of a move), all changed. A range is not
// told apart from the rest of its map: a coarser name only keeps more steps.
func refs(in steps.Inputs, locations ...string) []steps.Ref {
	name, ok := in["shardMap"].(string)
	if !ok || !literal(name) {
		return steps.Anything()
	}
	out := []steps.Ref{{Kind: steps.RefShardMap, Name: name, Changes: true}}
	for _, key := range locations {
		sub := in
		if key != "" {
			m, ok := in[key].(map[string]any)
			if !ok {
				return steps.Anything()
			}
			sub = m
		}
		server, _ := sub["server"].(string)
		database, _ := sub["database"].(string)
		if !literal(server) || !literal(database) {
			return steps.Anything()
		}
		loc := fleet.Location{Server: server, Database: database}
		out = append(out, steps.Ref{Kind: steps.RefDatabase, Name: loc.String(), Changes: true})
	}
	return out
}

// literal reports whether an input is known text (not "${{ }}" left for the runner).
func literal(s string) bool { return s != "" && !strings.Contains(s, "${{") }

// Refs implements steps.Referrer.
func (createMap) Refs(in steps.Inputs) []steps.Ref { return refs(in) }

// Refs implements steps.Referrer.
func (setSchemaInfo) Refs(in steps.Inputs) []steps.Ref { return refs(in) }

// Refs implements steps.Referrer.
func (createShard) Refs(in steps.Inputs) []steps.Ref { return refs(in, "") }

// Refs implements steps.Referrer.
func (removeShard) Refs(in steps.Inputs) []steps.Ref { return refs(in, "") }

// Refs implements steps.Referrer.
func (split) Refs(in steps.Inputs) []steps.Ref { return refs(in) }

// Refs implements steps.Referrer.
func (merge) Refs(in steps.Inputs) []steps.Ref { return refs(in) }

// Refs implements steps.Referrer.
func (addMapping) Refs(in steps.Inputs) []steps.Ref { return refs(in, "") }

// Refs implements steps.Referrer.
func (removeMapping) Refs(in steps.Inputs) []steps.Ref { return refs(in) }

// Refs implements steps.Referrer.
func (moveRange) Refs(in steps.Inputs) []steps.Ref { return refs(in, "from", "to") }
