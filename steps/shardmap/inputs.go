package shardmap

import (
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// caps is what the shard-map actions need from a target.
type caps struct {
	store fleet.ShardMapStore
	data  fleet.DataMover
	admin fleet.DatabaseAdmin
}

func capsOf(env *steps.Env) (caps, error) {
	var c caps
	var ok bool
	if c.store, ok = env.Target.(fleet.ShardMapStore); !ok {
		return c, fmt.Errorf("target %q (driver %s) has no shard map store", env.Target.Name(), env.Target.Driver())
	}
	if c.data, ok = env.Target.(fleet.DataMover); !ok {
		return c, fmt.Errorf("target %q (driver %s) cannot move data", env.Target.Name(), env.Target.Driver())
	}
	if c.admin, ok = env.Target.(fleet.DatabaseAdmin); !ok {
		return c, fmt.Errorf("target %q (driver %s) cannot create databases", env.Target.Name(), env.Target.Driver())
	}
	return c, nil
}

// setup returns the target's capabilities and the step's inputs read into
// the action's spec; the Args takes the action's own checks.
func setup[T stepspec.Spec](env *steps.Env, in steps.Inputs) (caps, T, *steps.Args, error) {
	c, err := capsOf(env)
	spec, a := steps.Parse[T](in)
	return c, spec, a, err
}

// keyType reads a key type's name.
func keyType(a *steps.Args, name string) fleet.KeyType {
	k, err := fleet.ParseKeyType(name)
	if err != nil && a.Err() == nil {
		a.Fail("%v", err)
	}
	return k
}

// parseBound reads the 0x-hex bound of the named input; "" is +inf (nil).
func parseBound(a *steps.Args, input, text string) []byte {
	b, err := shardkey.ParseBound(text)
	if err != nil {
		a.Fail("input %q: %v", input, err)
	}
	return b
}

// keyRange reads the low and high bounds of a range.
func keyRange(a *steps.Args, low, high string) ([]byte, []byte) {
	return parseBound(a, "low", low), parseBound(a, "high", high)
}

// schemaOf is the schema info a spec's table lists describe.
func schemaOf(t stepspec.Tables) fleet.SchemaInfo {
	s := fleet.SchemaInfo{Reference: t.Reference}
	for _, st := range t.Sharded {
		s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: st.Table, KeyColumn: st.Key})
	}
	return s
}

// readFile reads a file an input names, inside the plan repository.
func readFile(env *steps.Env, input, path string) (string, error) {
	b, err := env.ReadFile(input, path)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
