package shardmap

import (
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// refs names what a shard-map step touches: the shard map as a whole (its
// GSM, LSMs and mappings) and the databases it names (server and database
// at the top level, from and to of a move), all changed. A range is not
// told apart from the rest of its map: a coarser name only keeps more steps.
func refs(shardMap string, locations ...stepspec.Location) []steps.Ref {
	if !steps.Literal(shardMap) {
		return steps.Anything()
	}
	out := []steps.Ref{{Kind: steps.RefShardMap, Name: shardMap, Changes: true}}
	for _, l := range locations {
		if !steps.Literal(l.Server, l.Database) {
			return steps.Anything()
		}
		out = append(out, steps.Ref{Kind: steps.RefDatabase, Name: steps.LocationOf(l).String(), Changes: true})
	}
	return out
}

// specOf reads a step's inputs for Refs, which names what it can.
func specOf[T stepspec.Spec](in steps.Inputs) T {
	spec, _ := steps.ParseSpec[T](in)
	return spec
}

// Refs implements steps.Referrer.
func (createMap) Refs(in steps.Inputs) []steps.Ref {
	return refs(specOf[stepspec.CreateMap](in).ShardMap)
}

// Refs implements steps.Referrer.
func (setSchemaInfo) Refs(in steps.Inputs) []steps.Ref {
	return refs(specOf[stepspec.SetSchemaInfo](in).ShardMap)
}

// Refs implements steps.Referrer.
func (createShard) Refs(in steps.Inputs) []steps.Ref {
	s := specOf[stepspec.CreateShard](in)
	return refs(s.ShardMap, s.Location)
}

// Refs implements steps.Referrer.
func (removeShard) Refs(in steps.Inputs) []steps.Ref {
	s := specOf[stepspec.RemoveShard](in)
	return refs(s.ShardMap, s.Location)
}

// Refs implements steps.Referrer.
func (split) Refs(in steps.Inputs) []steps.Ref { return refs(specOf[stepspec.Split](in).ShardMap) }

// Refs implements steps.Referrer.
func (merge) Refs(in steps.Inputs) []steps.Ref { return refs(specOf[stepspec.Merge](in).ShardMap) }

// Refs implements steps.Referrer.
func (addMapping) Refs(in steps.Inputs) []steps.Ref {
	s := specOf[stepspec.AddMapping](in)
	return refs(s.ShardMap, s.Location)
}

// Refs implements steps.Referrer.
func (removeMapping) Refs(in steps.Inputs) []steps.Ref {
	return refs(specOf[stepspec.RemoveMapping](in).ShardMap)
}

// Refs implements steps.Referrer.
func (moveRange) Refs(in steps.Inputs) []steps.Ref {
	s := specOf[stepspec.MoveRange](in)
	return refs(s.ShardMap, s.From, s.To)
}
