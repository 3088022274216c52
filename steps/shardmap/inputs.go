package shardmap

import (
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
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

// setup returns the target's capabilities and a reader of the step inputs.
func setup(env *steps.Env, action string, in steps.Inputs) (caps, *args, error) {
	c, err := capsOf(env)
	return c, argsOf(action, in), err
}

// rangeSetup is setup for the actions that take a shard map name and
// [low, high) bounds.
func rangeSetup(env *steps.Env, action string, in steps.Inputs) (c caps, mapName string, low, high []byte, err error) {
	c, a, err := setup(env, action, in)
	if err != nil {
		return c, "", nil, nil, err
	}
	mapName, low, high = a.String("shardMap"), a.bound("low"), a.bound("high")
	return c, mapName, low, high, a.Err()
}

// args adds the shard-map shapes (key types, 0x bounds, {server, database}
// maps, table lists) to the shared input reader.
type args struct{ *steps.Args }

func argsOf(action string, in steps.Inputs) *args { return &args{steps.ArgsOf(action, in)} }

func (a *args) keyType() fleet.KeyType {
	k, err := fleet.ParseKeyType(a.String("keyType"))
	if err != nil && a.Err() == nil {
		a.Fail("%v", err)
	}
	return k
}

// bound reads a 0x-hex bound; "" or null is +inf (nil).
func (a *args) bound(name string) []byte {
	v := a.Value(name)
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		a.Fail("input %q: want a 0x-hex bound, got %T", name, v)
		return nil
	}
	b, err := shardkey.ParseBound(s)
	if err != nil {
		a.Fail("input %q: %v", name, err)
	}
	return b
}

// location reads {server, database} under name, or the top-level server and
// database inputs when name is "".
func (a *args) location(name string) fleet.Location {
	if name == "" {
		return a.Location("server", "database")
	}
	m, ok := a.Value(name).(map[string]any)
	if !ok {
		a.Fail("input %q: want {server, database}", name)
		return fleet.Location{}
	}
	sub := steps.ArgsOf(name, m)
	loc := sub.Location("server", "database")
	if sub.Err() != nil {
		a.Fail("input %q: %v", name, sub.Err())
	}
	return loc
}

// schema reads the sharded ({table, key}) and reference table lists.
func (a *args) schema() fleet.SchemaInfo {
	var s fleet.SchemaInfo
	if list, ok := a.Value("sharded").([]any); ok {
		for _, item := range list {
			m, _ := item.(map[string]any)
			t, _ := m["table"].(string)
			k, _ := m["key"].(string)
			if t == "" || k == "" {
				a.Fail("input sharded: every entry needs table and key")
				continue
			}
			s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: t, KeyColumn: k})
		}
	}
	s.Reference = a.Strings("reference")
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
