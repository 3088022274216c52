package livestate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

func init() { planner.RegisterKind(shardLayout{}) }

// shardLayout is the ShardLayout kind: the shard map, its shards and the
// databases the plan names, diffed by planner.PlanShardLayout.
type shardLayout struct{}

var _ planner.Kind = shardLayout{}

func (shardLayout) Name() string { return plans.KindShardLayout }

func (shardLayout) Plan(ctx context.Context, doc *plans.Document, target fleet.Target, opt planner.Options) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	live, err := ObserveShardLayout(ctx, doc.ShardLayout(), target)
	if err != nil {
		pos := doc.ShardLayout().TargetPos
		if pos.Line == 0 {
			pos = doc.Pos
		}
		diags.Errorf(pos, "observe target %q: %v", target.Name(), err).
			WithHint("check that the target's fleet is reachable and readable (fleetplan layout --target %s)", target.Name())
		return nil, diags
	}
	g, diags := planner.PlanShardLayout(ctx, doc, live, opt)
	if g != nil {
		// The runner resolves relative inputs against the plan's folder,
		// whatever folder resume is started from.
		if abs, err := filepath.Abs(g.Source); err == nil {
			g.Source = abs
		}
	}
	return g, diags
}

func (shardLayout) Fingerprint(ctx context.Context, doc *plans.Document, target fleet.Target) (string, error) {
	live, err := ObserveShardLayout(ctx, doc.ShardLayout(), target)
	if err != nil {
		return "", err
	}
	return live.Fingerprint, nil
}

// ObserveShardLayout reads what a ShardLayout diff needs from the target.
func ObserveShardLayout(ctx context.Context, spec *plans.ShardLayout, target fleet.Target) (*planner.ShardLayoutLive, error) {
	obs, ok := target.(fleet.Observer)
	if !ok {
		return nil, fmt.Errorf("driver %s cannot observe shard maps", target.Driver())
	}
	mover, _ := target.(fleet.DataMover)
	admin, _ := target.(fleet.DatabaseAdmin)
	live := &planner.ShardLayoutLive{Target: target.Name(), Databases: map[fleet.Location]planner.DatabaseState{}}
	if mover != nil {
		live.Rows = mover
	}
	layout, err := obs.Observe(ctx, spec.ShardMap)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		live.Fingerprint = fleet.Fingerprint(nil)
	case err != nil:
		return nil, err
	default:
		live.Fingerprint = layout.Fingerprint
		live.Map = layout.Map(spec.ShardMap)
	}
	locs := map[fleet.Location]bool{}
	for _, s := range spec.Shards {
		locs[fleet.Location{Server: s.Server, Database: s.Database}] = true
	}
	if live.Map != nil {
		for _, s := range live.Map.Shards {
			locs[s.Shard.Location] = true
		}
	}
	existing := map[string]bool{}
	if admin != nil {
		dbs, err := admin.Databases(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range dbs {
			existing[strings.ToLower(d.String())] = true
		}
	}
	// A database that is not a shard of this map yet is looked into, also
	// when the catalog does not list it: a plan must not take one over unseen.
	registered := map[string]bool{}
	if live.Map != nil {
		for _, s := range live.Map.Shards {
			registered[strings.ToLower(s.Shard.Location.String())] = true
		}
	}
	adopter, _ := target.(fleet.DatabaseAdopter)
	otherMaps, err := shardsOfOtherMaps(ctx, target, spec.ShardMap)
	if err != nil {
		return nil, err
	}
	if live.Map != nil {
		for _, s := range live.Map.Shards {
			if !s.Exists { // listed, but its database is gone: a difference the planner reports
				existing[strings.ToLower(s.Shard.Location.String())] = false
			}
		}
	}
	for loc := range locs {
		st := planner.DatabaseState{Exists: existing[strings.ToLower(loc.String())]}
		st.Listed = st.Exists
		if adopter != nil && !registered[strings.ToLower(loc.String())] {
			c, err := adopter.InspectDatabase(ctx, loc)
			if err != nil {
				return nil, err
			}
			st.Exists, st.Listed, st.Rows = c.Exists, c.Listed, c.Tables
			st.ShardOf = otherMaps[strings.ToLower(loc.String())]
		}
		if st.Exists && mover != nil {
			tables, err := mover.Tables(ctx, loc)
			if err != nil {
				return nil, err
			}
			st.Described = tables
			for _, t := range tables {
				st.Tables = append(st.Tables, t.Name)
			}
		}
		live.Databases[loc] = st
	}
	if err := observeNames(ctx, spec, target, live); err != nil {
		return nil, err
	}
	return live, nil
}

// observeNames adds what the planner checks the plan's names against:
// the fleet's servers, the tables the schemaFile creates, and which column
// types hold the map's keys, as far as the driver can tell.
func observeNames(ctx context.Context, spec *plans.ShardLayout, target fleet.Target, live *planner.ShardLayoutLive) error {
	if sl, ok := target.(fleet.ServerLister); ok {
		servers, err := sl.Servers(ctx)
		if err != nil {
			return err
		}
		live.Servers = append([]string{}, servers...)
	}
	if kc, ok := target.(fleet.KeyColumnChecker); ok {
		live.KeyColumnFits = kc.KeyColumnFits
	}
	sd, ok := target.(fleet.SchemaDescriber)
	if !ok || spec.SchemaFile == "" || !hasNewShard(spec, live) {
		return nil
	}
	script, err := readSchemaFile(spec.SchemaFile)
	if err != nil {
		live.SchemaFile = planner.SchemaFileState{Described: true, Err: err}
		return nil
	}
	tables, told, err := sd.DescribeSQL(ctx, script)
	live.SchemaFile = planner.SchemaFileState{Described: told, Tables: tables, Err: steps.WithoutExcerpts(err)}
	return nil
}

// hasNewShard reports whether the plan lists a shard the live map does not
// have: only new shards get the schemaFile.
func hasNewShard(spec *plans.ShardLayout, live *planner.ShardLayoutLive) bool {
	if live.Map == nil {
		return len(spec.Shards) > 0
	}
	registered := map[string]bool{}
	for _, s := range live.Map.Shards {
		registered[strings.ToLower(s.Shard.Location.String())] = true
	}
	for _, s := range spec.Shards {
		if !registered[strings.ToLower(s.Server+"/"+s.Database)] {
			return true
		}
	}
	return false
}

// maxSchemaFile bounds the schemaFile read at plan time.
const maxSchemaFile = 16 << 20

func readSchemaFile(path string) (string, error) {
	f, err := confine.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", filepath.Base(path), errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSchemaFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", filepath.Base(path), err)
	}
	if len(b) > maxSchemaFile {
		return "", fmt.Errorf("%s is larger than %d MiB", filepath.Base(path), maxSchemaFile>>20)
	}
	return string(b), nil
}

// shardsOfOtherMaps maps every shard location (lower-case) of the shard
// maps other than mapName to the map's name.
func shardsOfOtherMaps(ctx context.Context, target fleet.Target, mapName string) (map[string]string, error) {
	out := map[string]string{}
	store, ok := target.(fleet.ShardMapStore)
	if !ok {
		return out, nil
	}
	maps, err := store.ShardMaps(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		if strings.EqualFold(m.Name, mapName) {
			continue
		}
		shards, err := store.Shards(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		for _, sh := range shards {
			out[strings.ToLower(sh.Location.String())] = m.Name
		}
	}
	return out, nil
}
