package shardmap

import (
	"fmt"
	"os"
	"path/filepath"

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
func setup(env *steps.Env, in steps.Inputs) (caps, *args, error) {
	c, err := capsOf(env)
	return c, &args{in: in}, err
}

// rangeSetup is setup for the actions that take a shard map name and
// [low, high) bounds.
func rangeSetup(env *steps.Env, in steps.Inputs) (c caps, mapName string, low, high []byte, err error) {
	c, a, err := setup(env, in)
	if err != nil {
		return c, "", nil, nil, err
	}
	mapName, low, high = a.str("shardMap"), a.bound("low"), a.bound("high")
	return c, mapName, low, high, a.err
}

// args reads typed values out of step inputs, collecting the first error.
type args struct {
	in  steps.Inputs
	err error
}

func (a *args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = fmt.Errorf("%w: "+format, append([]any{fleet.ErrInvalidArgument}, v...)...)
	}
}

func (a *args) str(name string) string {
	v, ok := a.in[name]
	if !ok || v == nil {
		a.fail("input %q is missing", name)
		return ""
	}
	s, ok := v.(string)
	if !ok {
		a.fail("input %q: want a string, got %T", name, v)
	}
	return s
}

func (a *args) optStr(name string) string {
	if v, ok := a.in[name].(string); ok {
		return v
	}
	return ""
}

func (a *args) boolean(name string) bool {
	v, _ := a.in[name].(bool)
	return v
}

func (a *args) integer(name string, def int) int {
	switch v := a.in[name].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case nil:
		return def
	}
	a.fail("input %q: want a number, got %T", name, a.in[name])
	return def
}

func (a *args) keyType() fleet.KeyType {
	k, err := fleet.ParseKeyType(a.str("keyType"))
	if err != nil && a.err == nil {
		a.err = err
	}
	return k
}

// bound reads a 0x-hex bound; "" or null is +inf (nil).
func (a *args) bound(name string) []byte {
	v := a.in[name]
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		a.fail("input %q: want a 0x-hex bound, got %T", name, v)
		return nil
	}
	b, err := shardkey.ParseBound(s)
	if err != nil {
		a.fail("input %q: %v", name, err)
	}
	return b
}

func (a *args) location(name string) fleet.Location {
	if name == "" {
		return fleet.Location{Server: a.str("server"), Database: a.str("database")}
	}
	m, ok := a.in[name].(map[string]any)
	if !ok {
		a.fail("input %q: want {server, database}", name)
		return fleet.Location{}
	}
	sub := args{in: m}
	loc := fleet.Location{Server: sub.str("server"), Database: sub.str("database")}
	if sub.err != nil && a.err == nil {
		a.err = fmt.Errorf("input %q: %w", name, sub.err)
	}
	return loc
}

func (a *args) schema() fleet.SchemaInfo {
	var s fleet.SchemaInfo
	if list, ok := a.in["sharded"].([]any); ok {
		for _, item := range list {
			m, _ := item.(map[string]any)
			t, _ := m["table"].(string)
			k, _ := m["key"].(string)
			if t == "" || k == "" {
				a.fail("input sharded: every entry needs table and key")
				continue
			}
			s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: t, KeyColumn: k})
		}
	}
	if list, ok := a.in["reference"].([]any); ok {
		for _, item := range list {
			if t, ok := item.(string); ok {
				s.Reference = append(s.Reference, t)
			}
		}
	}
	return s
}

// readFile resolves a path relative to the plan's folder.
func readFile(env *steps.Env, path string) (string, error) {
	if !filepath.IsAbs(path) && env.BaseDir != "" {
		path = filepath.Join(env.BaseDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &fleet.Error{Op: "read schema file", Target: path, Err: err, Hint: "schemaFile is relative to the plan file"}
	}
	return string(b), nil
}
