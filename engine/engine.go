package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/livestate"
	"github.com/fleetplan/fleetplan/planfile"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runhistory"
	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/steps"
)

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

// OpenTarget opens a target named in the config for plans.
func OpenTarget(ctx context.Context, cfg *plans.Config, name string) (fleet.Target, error) {
	return OpenTargetFor(ctx, cfg, name, fleet.OpenForPlans)
}

// ModeFor is what a target is opened for to plan or run a plan of kind.
func ModeFor(kind string) fleet.OpenMode {
	if kind == plans.KindShardMapRecovery {
		return fleet.OpenForRecovery
	}
	return fleet.OpenForPlans
}

// OpenTargetFor opens a target named in the config for a purpose.
func OpenTargetFor(ctx context.Context, cfg *plans.Config, name string, mode fleet.OpenMode) (fleet.Target, error) {
	spec, ok := cfg.Targets[name]
	if !ok {
		var known []string
		for n := range cfg.Targets {
			known = append(known, n)
		}
		return nil, &fleet.Error{Op: "open target", Target: name, Err: fmt.Errorf("no target %q in %s", name, cfg.Path),
			Hint: "known targets: " + strings.Join(known, ", ")}
	}
	tc := fleet.TargetConfig{Name: name, Driver: spec.Driver, Path: spec.Path, Options: map[string]string{}, Mode: mode}
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
	resolve := func(prefix string, refs map[string]plans.SecretRef, pos map[string]diag.Pos) {
		for _, k := range sortedKeys(refs) {
			ref := refs[k]
			v, err := ref.Resolve(cfg.Roots(), cfg.Dir)
			if err != nil {
				diags.Errorf(pos[k], "target %q: %v", name, err).
					WithHint("set the secret %s named in %s (a file: path is relative to fleetplan.yaml)", ref, filepath.Base(cfg.Path))
				continue
			}
			tc.Options[prefix+k] = v
		}
	}
	resolve("auth.", spec.Auth, spec.AuthPos)
	// recoveryAuth is resolved only for a recovery run, and only for a
	// driver with credentials: no other command reads (or needs) it.
	if mode == fleet.OpenForRecovery && spec.Driver != plans.DriverLocal {
		resolve(fleet.RecoveryAuthPrefix, spec.RecoveryAuth, spec.RecoveryAuthPos)
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

// TargetOf returns the target name a document runs against.
func TargetOf(doc *plans.Document) string { return doc.Target }

// Plan observes the target and diffs the document into a graph, through
// the document's kind in the planner's kind table.
func Plan(ctx context.Context, doc *plans.Document, target fleet.Target, opt planner.Options) (*stepgraph.Graph, diag.List) {
	if k, ok := planner.KindNamed(doc.Kind); ok {
		return k.Plan(ctx, doc, target, opt)
	}
	var diags diag.List
	diags.Errorf(doc.Pos, "planning %s documents is not supported yet", doc.Kind).
		WithHint("%s plans validate today; plan and apply take %s plans", doc.Kind, andList(plannedKinds()))
	return nil, diags
}

// plannedKinds lists the kinds in the table, in the order plans documents
// them.
func plannedKinds() []string {
	var out []string
	for _, k := range plans.Kinds() {
		if _, ok := planner.KindNamed(k); ok {
			out = append(out, k)
		}
	}
	return out
}

// andList joins names as "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
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
	var k planner.Kind
	if doc != nil {
		k, _ = planner.KindNamed(doc.Kind)
	}
	if k == nil {
		return fmt.Errorf("cannot check the freshness of a saved %s plan", g.Kind)
	}
	now, err := k.Fingerprint(ctx, doc, target)
	if err != nil {
		return err
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
	return runner.Options{Dir: runhistory.StateDir(cfg), Target: target, Events: events,
		EndState:  func(ctx context.Context, g *stepgraph.Graph) (string, error) { return EndState(ctx, target, g) },
		Evaluator: &livestate.Evaluator{Target: target}, Command: command, Roots: cfg.Roots()}
}

// EndState is what a run of g records as the live state it ended in, when
// its kind records one ("" for the others).
func EndState(ctx context.Context, target fleet.Target, g *stepgraph.Graph) (string, error) {
	if k, ok := planner.KindNamed(g.Kind); ok {
		if es, ok := k.(planner.EndStater); ok {
			return es.EndState(ctx, target, g)
		}
	}
	return "", nil
}
