package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planfile"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/steps"

	// Drivers and actions register themselves.
	_ "github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/stepgraph"
	_ "github.com/fleetplan/fleetplan/steps/app"
	_ "github.com/fleetplan/fleetplan/steps/database"
	_ "github.com/fleetplan/fleetplan/steps/generic"
	_ "github.com/fleetplan/fleetplan/steps/instance"
	_ "github.com/fleetplan/fleetplan/steps/shardmap"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
)

// StateDir returns the state folder (runs and locks) beside a config.
func StateDir(cfg *plans.Config) string { return filepath.Join(cfg.Dir, runner.StateDirName) }

// LoadConfig loads fleetplan.yaml from an explicit path or by searching upwards
// from the working directory.
func LoadConfig(configPath string) (*plans.Config, error) {
	if configPath == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		p, ok := plans.FindConfig(wd)
		if !ok {
			return nil, &fleet.Error{Op: "find fleetplan.yaml", Target: wd, Err: errors.New("no fleetplan.yaml here or in a parent folder"),
				Hint: "run from your plan repository, or pass --config path/to/fleetplan.yaml"}
		}
		configPath = displayPath(p)
	}
	cfg, diags := plans.LoadConfig(configPath)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadOptions are the plan loading options for a command: the registry
// tells the loader which action inputs name files, so each is checked to lie
// inside the plan repository.
func LoadOptions(configPath string) plans.Options {
	return plans.Options{ConfigPath: configPath, PathInputs: steps.FileInputs}
}

// LoadDocument loads the plan file(s) at path and returns the one runnable
// document in it (the only non-Template document).
func LoadDocument(path, configPath string) (*plans.Document, diag.List) {
	set, diags := LoadOptions(configPath).Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	var runnable []*plans.Document
	for _, d := range set.Documents {
		if d.Kind != plans.KindTemplate {
			runnable = append(runnable, d)
		}
	}
	switch len(runnable) {
	case 0:
		diags.Errorf(diag.Pos{File: path}, "no plan document (ShardLayout, RollingUpgrade, InstanceChange, ShardMapRecovery) found").
			WithHint("point at a plan file, not only templates")
		return nil, diags
	case 1:
		return runnable[0], diags
	}
	for _, d := range runnable[1:] {
		diags.Errorf(d.Pos, "more than one plan document (%s %q and %s %q); plan and apply take one at a time",
			runnable[0].Kind, runnable[0].Metadata.Name, d.Kind, d.Metadata.Name).WithHint("split them into separate files")
	}
	return nil, diags
}

// OpenTarget opens a target named in the config.
func OpenTarget(ctx context.Context, cfg *plans.Config, name string) (fleet.Target, error) {
	spec, ok := cfg.Targets[name]
	if !ok {
		var known []string
		for n := range cfg.Targets {
			known = append(known, n)
		}
		return nil, &fleet.Error{Op: "open target", Target: name, Err: fmt.Errorf("no target %q in %s", name, cfg.Path),
			Hint: "known targets: " + strings.Join(known, ", ")}
	}
	tc := fleet.TargetConfig{Name: name, Driver: spec.Driver, Path: spec.Path, Options: map[string]string{}}
	for k, v := range spec.Options {
		tc.Options[k] = fmt.Sprint(v)
	}
	if spec.Server != "" {
		tc.Options["server"] = spec.Server
	}
	if spec.Database != "" {
		tc.Options["database"] = spec.Database
	}
	if spec.Port != 0 {
		tc.Options["port"] = strconv.Itoa(spec.Port)
	}
	var diags diag.List
	for _, k := range sortedKeys(spec.Auth) {
		ref := spec.Auth[k]
		v, err := ref.Resolve(cfg.Roots(), cfg.Dir)
		if err != nil {
			diags.Errorf(spec.AuthPos[k], "target %q: %v", name, err).
				WithHint("set the secret %s named in %s (a file: path is relative to fleetplan.yaml)", ref, filepath.Base(cfg.Path))
			continue
		}
		tc.Options["auth."+k] = v
	}
	if err := diags.Err(); err != nil {
		return nil, err
	}
	t, err := fleet.Open(ctx, tc)
	if errors.Is(err, fleet.ErrNotAFleet) && spec.PathPos.Line > 0 {
		diags.Errorf(spec.PathPos, "target %q: %v", name, err).WithHint("%s", fleet.HintOf(err))
		return nil, diags.Err()
	}
	return t, err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// targetOf returns the spec.target of a runnable document.
func targetOf(doc *plans.Document) string {
	switch {
	case doc.ShardLayout != nil:
		return doc.ShardLayout.Target
	case doc.RollingUpgrade != nil:
		return doc.RollingUpgrade.Target
	case doc.InstanceChange != nil:
		return doc.InstanceChange.Target
	case doc.ShardMapRecovery != nil:
		return doc.ShardMapRecovery.Target
	}
	return ""
}

// TargetOf returns the target name a document runs against.
func TargetOf(doc *plans.Document) string { return targetOf(doc) }

// Plan observes the target and diffs the document into a graph.
func Plan(ctx context.Context, doc *plans.Document, target fleet.Target, opt planner.Options) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	switch {
	case doc.ShardLayout != nil:
		live, err := ObserveShardLayout(ctx, doc.ShardLayout, target)
		if err != nil {
			pos := doc.ShardLayout.TargetPos
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
	case doc.RollingUpgrade != nil:
		return PlanRollingUpgrade(ctx, doc, target)
	case doc.InstanceChange != nil:
		return PlanInstanceChange(ctx, doc, target)
	}
	diags.Errorf(doc.Pos, "planning %s documents is not supported yet", doc.Kind).
		WithHint("%s plans validate today; plan and apply take ShardLayout, RollingUpgrade and InstanceChange plans", doc.Kind)
	return nil, diags
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

// SigningKey resolves the planSigningKey of cfg; nil when none is set.
func SigningKey(cfg *plans.Config) ([]byte, error) {
	if cfg == nil || cfg.PlanSigningKey == nil {
		return nil, nil
	}
	v, err := cfg.PlanSigningKey.Resolve(cfg.Roots(), cfg.Dir)
	if err != nil {
		var diags diag.List
		diags.Errorf(cfg.PlanSigningKeyPos, "planSigningKey: %v", err).
			WithHint("saved plans are signed and checked with this key: set %s where plans are saved and applied", cfg.PlanSigningKey)
		return nil, diags.Err()
	}
	return []byte(v), nil
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

// displayPath names a file in messages: relative to the working folder when
// below it.
func displayPath(abs string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return abs
}

// SavePlan writes a plan file atomically, signed when cfg sets planSigningKey.
func SavePlan(path string, cfg *plans.Config, g *stepgraph.Graph) error {
	key, err := SigningKey(cfg)
	if err != nil {
		return err
	}
	return planfile.Write(path, &planfile.Plan{Config: cfg.Path, Graph: g}, key)
}

// VerifySaved checks the signature of a saved plan against every
// fleetplan.yaml that has a say in applying it: the one apply uses, and the
// one found from the working folder (so a saved plan cannot escape signing
// by naming a config without a key). Each that sets planSigningKey requires
// a valid signature.
func VerifySaved(saved *planfile.Saved, name string, used *plans.Config) error {
	configs := []*plans.Config{used}
	if wd, err := os.Getwd(); err == nil {
		if p, ok := plans.FindConfig(wd); ok && (used == nil || p != used.Path) {
			cfg, diags := plans.LoadConfig(p)
			if err := diags.Err(); err != nil {
				return err
			}
			configs = append(configs, cfg)
		}
	}
	for _, cfg := range configs {
		key, err := SigningKey(cfg)
		if err != nil {
			return err
		}
		if key == nil {
			continue
		}
		if err := saved.Verify(name, key, displayPath(cfg.Path)); err != nil {
			return err
		}
	}
	return nil
}

// ErrStalePlan marks a saved plan whose live state has changed since.
var ErrStalePlan = errors.New("the fleet has changed since this plan was made")

// CheckFresh re-observes the target and refuses a saved graph made from other
// live state.
func CheckFresh(ctx context.Context, g *stepgraph.Graph, doc *plans.Document, target fleet.Target) error {
	var now string
	switch {
	case doc != nil && doc.ShardLayout != nil:
		live, err := ObserveShardLayout(ctx, doc.ShardLayout, target)
		if err != nil {
			return err
		}
		now = live.Fingerprint
	case doc != nil && doc.RollingUpgrade != nil:
		fp, err := newUpgradeLive(doc, target).Fingerprint(ctx, doc.Steps)
		if err != nil {
			return err
		}
		now = fp
	case doc != nil && doc.InstanceChange != nil:
		live, err := ObserveInstances(ctx, target, "")
		if err != nil {
			return err
		}
		now = live.Fingerprint()
	default:
		return fmt.Errorf("cannot check the freshness of a saved %s plan", g.Kind)
	}
	if now != g.Fingerprint {
		return &fleet.Error{Op: "apply saved plan", Target: g.Target, Err: fmt.Errorf("%w (fingerprint %s, now %s)", ErrStalePlan, short(g.Fingerprint), short(now)),
			Hint: "run `fleetplan plan` again and review the new plan"}
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// RunOptions builds runner options for a target. The step limit is not
// among them: it belongs to the graph, and the runner reads it from there
// in every command that runs the graph.
func RunOptions(cfg *plans.Config, target fleet.Target, events runner.EventSink, command string) runner.Options {
	return runner.Options{Dir: StateDir(cfg), Target: target, Events: events,
		EndState:  func(ctx context.Context, g *stepgraph.Graph) (string, error) { return EndState(ctx, target, g) },
		Evaluator: &Evaluator{Target: target}, Command: command, Roots: cfg.Roots()}
}
