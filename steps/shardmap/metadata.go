package shardmap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
	"github.com/google/uuid"
)

func init() {
	steps.Register(stepspec.CreateMapName, createMap{})
	steps.Register(stepspec.SetSchemaInfoName, setSchemaInfo{})
	steps.Register(stepspec.CreateShardName, createShard{})
	steps.Register(stepspec.RemoveShardName, removeShard{})
	steps.Register(stepspec.SplitName, split{})
	steps.Register(stepspec.MergeName, merge{})
	steps.Register(stepspec.AddMappingName, addMapping{})
	steps.Register(stepspec.RemoveMappingName, removeMapping{})
	steps.Register(stepspec.MoveRangeName, moveRange{})
}

// The compiler holds each action to the interfaces the runner and the
// planner look for.
var (
	_ steps.Action   = addMapping{}
	_ steps.Referrer = addMapping{}
	_ steps.Action   = createMap{}
	_ steps.Referrer = createMap{}
	_ steps.Action   = createShard{}
	_ steps.Referrer = createShard{}
	_ steps.FileUser = createShard{}
	_ steps.Action   = merge{}
	_ steps.Referrer = merge{}
	_ steps.Action   = moveRange{}
	_ steps.Referrer = moveRange{}
	_ steps.Action   = removeMapping{}
	_ steps.Referrer = removeMapping{}
	_ steps.Action   = removeShard{}
	_ steps.Referrer = removeShard{}
	_ steps.Action   = setSchemaInfo{}
	_ steps.Referrer = setSchemaInfo{}
	_ steps.Action   = split{}
	_ steps.Referrer = split{}
)

var (
	_ steps.Action   = createMap{}
	_ steps.Referrer = createMap{}
	_ steps.Action   = setSchemaInfo{}
	_ steps.Referrer = setSchemaInfo{}
	_ steps.Action   = createShard{}
	_ steps.FileUser = createShard{}
	_ steps.Referrer = createShard{}
	_ steps.Action   = removeShard{}
	_ steps.Referrer = removeShard{}
	_ steps.Action   = split{}
	_ steps.Referrer = split{}
	_ steps.Action   = merge{}
	_ steps.Referrer = merge{}
	_ steps.Action   = addMapping{}
	_ steps.Referrer = addMapping{}
	_ steps.Action   = removeMapping{}
	_ steps.Referrer = removeMapping{}
	_ steps.Action   = moveRange{}
	_ steps.Referrer = moveRange{}
)

var metadataEstimate = steps.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}

// metadataOnly gives shard-map actions that only change metadata their
// estimate, and no rollback of their own: where one makes sense, the planner
// attaches the compensating step (a merge for a split, the previous schema
// info, a re-registration).
type metadataOnly struct{}

func (metadataOnly) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}
func (metadataOnly) Estimate(steps.Inputs) steps.Estimate { return metadataEstimate }

// ---- create-map ----

type createMap struct{ metadataOnly }

func (createMap) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.CreateMap](env, in)
	if err != nil {
		return false, err
	}
	_, err = c.store.ShardMap(ctx, spec.ShardMap)
	if errors.Is(err, fleet.ErrNotFound) {
		return false, a.Err()
	}
	return err == nil, err
}

func (createMap) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.CreateMapName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.CreateMap](env, in)
	if err != nil {
		return nil, err
	}
	name := spec.ShardMap
	mt, err1 := fleet.ParseMapType(spec.MapType)
	kt := keyType(a, spec.KeyType)
	if a.Err() != nil {
		return nil, a.Err()
	}
	if err1 != nil {
		return nil, err1
	}
	m, err := c.store.ShardMap(ctx, name)
	if err == nil {
		if m.Type != mt || m.KeyType != kt {
			return nil, fmt.Errorf("shard map %q exists as a %s map of %s keys", name, m.Type, m.KeyType)
		}
		return steps.Outputs{"shardMapId": m.ID.String()}, nil
	}
	if !errors.Is(err, fleet.ErrNotFound) {
		return nil, err
	}
	m, err = c.store.CreateShardMap(ctx, name, mt, kt)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{"shardMapId": m.ID.String()}, nil
}

// ---- set-schema-info ----

type setSchemaInfo struct{ metadataOnly }

func (setSchemaInfo) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.SetSchemaInfo](env, in)
	if err != nil {
		return false, err
	}
	want := schemaOf(spec.Tables)
	have, err := c.store.SchemaInfo(ctx, spec.ShardMap)
	if errors.Is(err, fleet.ErrNotFound) {
		return false, a.Err()
	}
	if err != nil {
		return false, err
	}
	return fmt.Sprint(want) == fmt.Sprint(have), a.Err()
}

func (setSchemaInfo) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.SetSchemaInfoName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.SetSchemaInfo](env, in)
	if err != nil {
		return nil, err
	}
	name, s := spec.ShardMap, schemaOf(spec.Tables)
	if a.Err() != nil {
		return nil, a.Err()
	}
	return nil, c.store.SetSchemaInfo(ctx, name, s)
}

// ---- create-shard ----

type createShard struct{}

func findShard(ctx context.Context, c caps, mapName string, loc fleet.Location) (*fleet.Shard, error) {
	shards, err := c.store.Shards(ctx, mapName)
	if err != nil {
		return nil, err
	}
	for i := range shards {
		if shards[i].Location.Equal(loc) {
			return &shards[i], nil
		}
	}
	return nil, nil
}

// FileInputs implements steps.FileUser.
func (createShard) FileInputs() []string {
	var in stepspec.CreateShard
	return []string{stepspec.KeyOf(&in, &in.SchemaFile)}
}

func (createShard) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.CreateShard](env, in)
	if err != nil {
		return false, err
	}
	name, loc := spec.ShardMap, steps.LocationOf(spec.Location)
	if a.Err() != nil {
		return false, a.Err()
	}
	s, err := findShard(ctx, c, name, loc)
	if errors.Is(err, fleet.ErrNotFound) {
		return false, nil
	}
	return s != nil, err
}

// contents reports what a database holds; drivers without an inspector
// report only whether the catalog lists it.
func contents(ctx context.Context, env *steps.Env, c caps, loc fleet.Location) (fleet.DatabaseContents, error) {
	if ad, ok := env.Target.(fleet.DatabaseAdopter); ok {
		return ad.InspectDatabase(ctx, loc)
	}
	var out fleet.DatabaseContents
	dbs, err := c.admin.Databases(ctx)
	if err != nil {
		return out, err
	}
	for _, d := range dbs {
		if d.Equal(loc) {
			out.Exists, out.Listed = true, true
		}
	}
	if out.Exists {
		tables, err := c.data.Tables(ctx, loc)
		if err != nil {
			return out, err
		}
		for _, t := range tables {
			n, err := c.data.CountRange(ctx, loc, t.Name, t.Columns[0], fleet.KeyRange{})
			if err != nil {
				return out, err
			}
			out.Tables = append(out.Tables, fleet.TableRows{Name: t.Name, Rows: n})
		}
	}
	return out, nil
}

// shardElsewhere names another map that has loc as a shard ("" when none,
// or when the store cannot tell).
func shardElsewhere(ctx context.Context, c caps, mapName string, loc fleet.Location) string {
	other, err := fleet.ShardOf(ctx, c.store, loc, mapName)
	if err != nil {
		return ""
	}
	return other
}

// rowsText lists the tables that hold rows: "2 customers, 6 orders".
func rowsText(tables []fleet.TableRows) string {
	var parts []string
	for _, t := range tables {
		if t.Rows > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", t.Rows, t.Name))
		}
	}
	return strings.Join(parts, ", ")
}

// Apply creates the shard's database (or takes the existing one: an empty
// one as it is, a non-empty one only with adopt), applies the schema file to
// a database without tables, and registers the shard. A failure after the
// database was created here drops it again, so nothing half-made is left.
func (createShard) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.CreateShardName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.CreateShard](env, in)
	if err != nil {
		return nil, err
	}
	name, loc, schemaFile, adopt := spec.ShardMap, steps.LocationOf(spec.Location), spec.SchemaFile, spec.Adopt
	if a.Err() != nil {
		return nil, a.Err()
	}
	have, err := contents(ctx, env, c, loc)
	if err != nil {
		return nil, err
	}
	created := false
	switch {
	case !have.Exists:
		if err := c.admin.CreateDatabase(ctx, loc); err != nil {
			return nil, err
		}
		created = true
	case have.Rows() > 0 && !adopt && shardElsewhere(ctx, c, name, loc) == "":
		return nil, &fleet.Error{Op: "create shard", Target: loc.String(),
			Err:  fmt.Errorf("%w: it holds %d rows (%s) and the plan does not adopt it", fleet.ErrDatabaseExists, have.Rows(), rowsText(have.Tables)),
			Hint: "set `adopt: true` on the shard to take the database over as it is, or pick another database name; nothing was changed"}
	case !have.Listed:
		ad, ok := env.Target.(fleet.DatabaseAdopter)
		if !ok {
			return nil, &fleet.Error{Op: "create shard", Target: loc.String(), Err: fleet.ErrDatabaseExists}
		}
		if err := ad.AdoptDatabase(ctx, loc); err != nil {
			return nil, err
		}
	}
	undo := func(err error) error {
		if created {
			if derr := c.admin.DropDatabase(context.WithoutCancel(ctx), loc); derr != nil {
				return fmt.Errorf("%w (and dropping the database created for it failed: %v)", err, derr)
			}
			env.Logf("dropped %s again: the shard could not be set up", loc)
		}
		return err
	}
	if schemaFile != "" {
		tables, err := c.data.Tables(ctx, loc)
		if err != nil {
			return nil, undo(err)
		}
		// Idempotent: the schema goes onto a database with no tables of its own yet.
		if len(tables) == 0 {
			sql, err := readFile(env, "schemaFile", schemaFile)
			if err != nil {
				return nil, undo(err)
			}
			env.Logf("applying %s to %s", schemaFile, loc)
			if err := c.admin.ApplySQL(ctx, loc, sql); err != nil {
				return nil, undo(steps.ScriptError(schemaFile, err))
			}
		}
	}
	s, err := c.store.AddShard(ctx, name, loc)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{"shardId": s.ID.String(), "createdDatabase": created}, nil
}

func (createShard) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	spec, err := steps.ParseSpec[stepspec.CreateShard](in)
	if err != nil {
		return err
	}
	rm := stepspec.RemoveShard{ShardMap: spec.ShardMap, Location: spec.Location, DropDatabase: spec.CreateDatabase, DropOnlyIfEmpty: true}
	_, err = removeShard{}.Apply(ctx, env, stepspec.With(rm))
	return err
}

func (createShard) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: 200 * time.Millisecond, Basis: "metadata and schema"}
}

// ---- remove-shard ----

// removeShard unregisters a shard and, with dropDatabase, drops its
// database. With dropOnlyIfEmpty (the rollback of create-shard) the database
// is dropped only while it holds no rows but in its reference tables: a
// database with other rows was not made by the step being undone, and is kept.
// With unlistDatabase (the rollback of a create-shard that listed a database
// the catalog did not know) a database that is kept leaves the catalog again.
type removeShard struct{ metadataOnly }

func (removeShard) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	registered, err := createShard{}.Observe(ctx, env, in)
	if err != nil || registered {
		return false, err
	}
	c, spec, a, err := setup[stepspec.RemoveShard](env, in)
	if err != nil {
		return false, err
	}
	drop, _, err := dropDecision(ctx, env, c, spec, a)
	if err != nil || drop {
		return false, err
	}
	listed, err := stillListed(ctx, env, spec, a)
	return !listed, err
}

// stillListed reports a database that unlistDatabase asks to take out of
// the catalog and that is still in it.
func stillListed(ctx context.Context, env *steps.Env, spec stepspec.RemoveShard, a *steps.Args) (bool, error) {
	ad, ok := env.Target.(fleet.DatabaseAdopter)
	if !ok || spec.UnlistDatabase == nil || !*spec.UnlistDatabase {
		return false, a.Err()
	}
	have, err := ad.InspectDatabase(ctx, steps.LocationOf(spec.Location))
	return have.Listed, err
}

// dropDecision says whether remove-shard drops the database, and if it keeps
// one it was asked to drop, why.
func dropDecision(ctx context.Context, env *steps.Env, c caps, spec stepspec.RemoveShard, a *steps.Args) (bool, string, error) {
	loc := steps.LocationOf(spec.Location)
	if !spec.DropDatabase || a.Err() != nil {
		return false, "", a.Err()
	}
	have, err := contents(ctx, env, c, loc)
	if err != nil || !have.Exists {
		return false, "", err
	}
	if !spec.DropOnlyIfEmpty {
		return true, "", nil
	}
	reference := map[string]bool{}
	for _, r := range spec.Reference {
		reference[strings.ToLower(fleet.ShortTable(r))] = true
	}
	var rows []fleet.TableRows
	for _, t := range have.Tables {
		if t.Rows > 0 && !reference[strings.ToLower(t.Name)] {
			rows = append(rows, t)
		}
	}
	if len(rows) > 0 {
		return false, fmt.Sprintf("kept %s: it holds rows this run did not put there (%s)", loc, rowsText(rows)), nil
	}
	return true, "", nil
}

func (removeShard) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RemoveShardName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.RemoveShard](env, in)
	if err != nil {
		return nil, err
	}
	name, loc := spec.ShardMap, steps.LocationOf(spec.Location)
	if a.Err() != nil {
		return nil, a.Err()
	}
	if err := c.store.RemoveShard(ctx, name, loc); err != nil && !errors.Is(err, fleet.ErrNotFound) {
		return nil, err
	}
	drop, kept, err := dropDecision(ctx, env, c, spec, a)
	if err != nil {
		return nil, err
	}
	if kept != "" {
		env.Logf("%s", kept)
	}
	if drop {
		if err := c.admin.DropDatabase(ctx, loc); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if listed, err := stillListed(ctx, env, spec, a); err != nil || !listed {
		return nil, err
	}
	return nil, env.Target.(fleet.DatabaseAdopter).ReleaseDatabase(ctx, loc)
}

// ---- split ----

type split struct{ metadataOnly }

func (split) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.Split](env, in)
	if err != nil {
		return false, err
	}
	name, at := spec.ShardMap, parseBound(a, "at", spec.At)
	if a.Err() != nil {
		return false, a.Err()
	}
	m, err := mappingFor(ctx, c, name, at)
	if err != nil {
		return false, err
	}
	return bytes.Equal(m.Min, at), nil
}

func (split) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.SplitName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.Split](env, in)
	if err != nil {
		return nil, err
	}
	name, at := spec.ShardMap, parseBound(a, "at", spec.At)
	if a.Err() != nil {
		return nil, a.Err()
	}
	return nil, splitAt(ctx, c, name, at)
}

// splitAt makes `at` a mapping boundary; a no-op when it already is one.
func splitAt(ctx context.Context, c caps, mapName string, at []byte) error {
	if at == nil {
		return nil
	}
	m, err := mappingFor(ctx, c, mapName, at)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil // unmapped keys need no boundary
	}
	if err != nil {
		return err
	}
	if bytes.Equal(m.Min, at) {
		return nil
	}
	_, _, err = c.store.SplitMapping(ctx, mapName, m.ID, at)
	return err
}

// ---- merge ----

type merge struct{ metadataOnly }

// keyRangeOf gives a list map's point mapping (stored with MaxValue NULL, as
// the library does) its key range [key, next key), so that range logic never
// reads NULL as +inf for a point.
func keyRangeOf(sm fleet.ShardMap, mp fleet.Mapping) fleet.Mapping {
	if sm.Type == fleet.ListMap && mp.Max == nil {
		mp.Max = shardkey.Next(sm.KeyType, mp.Min)
	}
	return mp
}

// mappingFor returns the mapping that holds key, with its key range.
func mappingFor(ctx context.Context, c caps, mapName string, key []byte) (fleet.Mapping, error) {
	sm, err := c.store.ShardMap(ctx, mapName)
	if err != nil {
		return fleet.Mapping{}, err
	}
	mp, err := c.store.MappingForKey(ctx, mapName, key)
	return keyRangeOf(sm, mp), err
}

// within returns the mappings inside [low, high), ordered by Min.
func within(ctx context.Context, c caps, mapName string, low, high []byte) ([]fleet.Mapping, error) {
	sm, err := c.store.ShardMap(ctx, mapName)
	if err != nil {
		return nil, err
	}
	all, err := c.store.Mappings(ctx, mapName)
	if err != nil {
		return nil, err
	}
	var out []fleet.Mapping
	for _, m := range all {
		m = keyRangeOf(sm, m)
		if shardkey.Compare(m.Min, low) >= 0 && (high == nil || (m.Max != nil && shardkey.Compare(m.Max, high) <= 0)) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (merge) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.Merge](env, in)
	if err != nil {
		return false, err
	}
	name := spec.ShardMap
	low, high := keyRange(a, spec.Low, spec.High)
	if a.Err() != nil {
		return false, a.Err()
	}
	ms, err := within(ctx, c, name, low, high)
	return len(ms) == 1 && bytes.Equal(ms[0].Min, low) && bytes.Equal(ms[0].Max, high) && (ms[0].Max == nil) == (high == nil), err
}

func (merge) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.MergeName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.Merge](env, in)
	if err != nil {
		return nil, err
	}
	name := spec.ShardMap
	low, high := keyRange(a, spec.Low, spec.High)
	if a.Err() != nil {
		return nil, a.Err()
	}
	for {
		ms, err := within(ctx, c, name, low, high)
		if err != nil {
			return nil, err
		}
		if len(ms) <= 1 {
			return nil, nil
		}
		for i := 1; i < len(ms); i++ {
			if !bytes.Equal(ms[i-1].Max, ms[i].Min) {
				return nil, fmt.Errorf("cannot merge %s: a gap between mappings at %x", shardkey.BoundString(low), ms[i-1].Max)
			}
		}
		// All of them in one logged operation where the store offers it.
		if mm, ok := c.store.(fleet.MappingsMerger); ok {
			ids := make([]uuid.UUID, len(ms))
			for i, mp := range ms {
				ids[i] = mp.ID
			}
			_, err := mm.MergeAllMappings(ctx, name, ids)
			return nil, err
		}
		if _, err := c.store.MergeMappings(ctx, name, ms[0].ID, ms[1].ID); err != nil {
			return nil, err
		}
	}
}

// ---- add-mapping / remove-mapping ----

type addMapping struct{}

func (addMapping) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.AddMapping](env, in)
	if err != nil {
		return false, err
	}
	name, loc := spec.ShardMap, steps.LocationOf(spec.Location)
	low, high := keyRange(a, spec.Low, spec.High)
	if a.Err() != nil {
		return false, a.Err()
	}
	ms, err := within(ctx, c, name, low, high)
	if err != nil {
		return false, err
	}
	return len(ms) > 0 && allOn(ms, loc) && covers(ms, low, high), nil
}

func allOn(ms []fleet.Mapping, loc fleet.Location) bool {
	for _, m := range ms {
		if !m.Location.Equal(loc) || !m.Online {
			return false
		}
	}
	return true
}

func covers(ms []fleet.Mapping, low, high []byte) bool {
	if !bytes.Equal(ms[0].Min, low) {
		return false
	}
	for i := 1; i < len(ms); i++ {
		if !bytes.Equal(ms[i-1].Max, ms[i].Min) {
			return false
		}
	}
	last := ms[len(ms)-1].Max
	return (last == nil) == (high == nil) && bytes.Equal(last, high)
}

func (addMapping) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.AddMappingName); err != nil {
		return nil, err
	}
	if done, err := (addMapping{}).Observe(ctx, env, in); err != nil || done {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.AddMapping](env, in)
	if err != nil {
		return nil, err
	}
	name, loc := spec.ShardMap, steps.LocationOf(spec.Location)
	low, high := keyRange(a, spec.Low, spec.High)
	if a.Err() != nil {
		return nil, a.Err()
	}
	m, err := c.store.AddMapping(ctx, name, loc, low, high)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{"mappingId": m.ID.String()}, nil
}

func (addMapping) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	_, err := removeMapping{}.Apply(ctx, env, in)
	return err
}
func (addMapping) Estimate(steps.Inputs) steps.Estimate { return metadataEstimate }

type removeMapping struct{}

func (removeMapping) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	c, spec, a, err := setup[stepspec.RemoveMapping](env, in)
	if err != nil {
		return false, err
	}
	name := spec.ShardMap
	low, high := keyRange(a, spec.Low, spec.High)
	if a.Err() != nil {
		return false, a.Err()
	}
	ms, err := within(ctx, c, name, low, high)
	return len(ms) == 0, err
}

func (removeMapping) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RemoveMappingName); err != nil {
		return nil, err
	}
	c, spec, a, err := setup[stepspec.RemoveMapping](env, in)
	if err != nil {
		return nil, err
	}
	name := spec.ShardMap
	low, high := keyRange(a, spec.Low, spec.High)
	if a.Err() != nil {
		return nil, a.Err()
	}
	if err := splitAt(ctx, c, name, low); err != nil {
		return nil, err
	}
	if err := splitAt(ctx, c, name, high); err != nil {
		return nil, err
	}
	ms, err := within(ctx, c, name, low, high)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.Online {
			if m, err = c.store.SetMappingOnline(ctx, name, m.ID, false); err != nil {
				return nil, err
			}
		}
		if err := c.store.RemoveMapping(ctx, name, m.ID); err != nil && !errors.Is(err, fleet.ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

func (removeMapping) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	_, err := addMapping{}.Apply(ctx, env, in)
	return err
}
func (removeMapping) Estimate(steps.Inputs) steps.Estimate { return metadataEstimate }
