package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/recovery"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() {
	steps.Register(stepspec.RecoverySnapshotName, snapshot{})
	steps.Register(stepspec.RecoveryRestoreName, restore{})
	steps.Register(stepspec.RecoveryDetachName, detach{})
	steps.Register(stepspec.RecoveryAttachName, attach{})
	steps.Register(stepspec.RecoveryDetectName, detect{})
	steps.Register(stepspec.RecoveryResolveName, resolve{})
	steps.Register(stepspec.RecoveryVerifyName, verify{})
	steps.Register(stepspec.RecoveryUpdateLocationName, updateLocation{})
	steps.Register(stepspec.RecoveryMoveRowsName, moveRows{})
}

var (
	_ steps.Action   = snapshot{}
	_ steps.Referrer = snapshot{}
	_ steps.Action   = restore{}
	_ steps.Referrer = restore{}
	_ steps.Action   = detach{}
	_ steps.Referrer = detach{}
	_ steps.Action   = attach{}
	_ steps.Referrer = attach{}
	_ steps.Action   = detect{}
	_ steps.Referrer = detect{}
	_ steps.Action   = resolve{}
	_ steps.Referrer = resolve{}
	_ steps.Action   = verify{}
	_ steps.Referrer = verify{}
	_ steps.Action   = updateLocation{}
	_ steps.Referrer = updateLocation{}
	_ steps.Action   = moveRows{}
	_ steps.Referrer = moveRows{}
)

// RefShardMap is the kind of fleet object every recovery step touches.
const RefShardMap = "shardmap"

var estimate = steps.Estimate{Duration: 50 * time.Millisecond, Basis: "metadata"}

func refs(mapName string, changes bool) []steps.Ref {
	if !steps.Literal(mapName) {
		return steps.Anything()
	}
	return []steps.Ref{{Kind: RefShardMap, Name: strings.ToLower(mapName), Changes: changes}}
}

func loc(l stepspec.Location) fleet.Location { return fleet.Location(l) }

// withMap runs fn with the target's recovery executor and the named map.
func withMap(ctx context.Context, env *steps.Env, mapName string, fn func(ex elasticdb.Executor, m fleet.ShardMap) error) error {
	r, ok := env.Target.(elasticdb.Recoverer)
	st, ok2 := env.Target.(fleet.ShardMapStore)
	if !ok || !ok2 {
		return &fleet.Error{Op: "recover shard map", Target: env.Target.Name(),
			Err: fmt.Errorf("%w: the %s driver cannot repair shard maps", fleet.ErrInvalidArgument, env.Target.Driver())}
	}
	m, err := st.ShardMap(ctx, mapName)
	if err != nil {
		return err
	}
	return r.Recover(ctx, func(ex elasticdb.Executor) error { return fn(ex, m) })
}

// layout observes one map.
func layout(ctx context.Context, env *steps.Env, mapName string) (*fleet.MapLayout, error) {
	obs, ok := env.Target.(fleet.Observer)
	if !ok {
		return nil, fmt.Errorf("%w: the %s driver cannot observe shard maps", fleet.ErrInvalidArgument, env.Target.Driver())
	}
	lay, err := obs.Observe(ctx, mapName)
	if err != nil {
		return nil, err
	}
	m := lay.Map(mapName)
	if m == nil {
		return nil, &fleet.Error{Op: "observe", Target: mapName, Err: fleet.ErrNotFound}
	}
	return m, nil
}

func differencesOn(m *fleet.MapLayout, at fleet.Location) []fleet.Difference {
	var out []fleet.Difference
	for _, d := range m.Differences {
		if d.Shard.Equal(at) {
			out = append(out, d)
		}
	}
	return out
}

func shardAt(m *fleet.MapLayout, at fleet.Location) *fleet.ShardState {
	for i := range m.Shards {
		if m.Shards[i].Shard.Location.Equal(at) {
			return &m.Shards[i]
		}
	}
	return nil
}

type snapshot struct{}

func (snapshot) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoverySnapshot](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, false)
}

// Observe implements steps.Action: a snapshot is always taken anew.
func (snapshot) Observe(context.Context, *steps.Env, steps.Inputs) (bool, error) { return false, nil }

func (snapshot) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoverySnapshotName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoverySnapshot](in)
	if err != nil {
		return nil, err
	}
	var locs []fleet.Location
	for _, l := range s.Locations {
		locs = append(locs, loc(l))
	}
	var snap *elasticdb.Snapshot
	err = withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		snap, err = elasticdb.TakeSnapshot(ctx, ex, m, locs)
		return err
	})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, err
	}
	env.Logf("kept %s and %s of the global shard map, and the local shard maps of %s", steps.Plural(len(snap.Shards), "shard row"),
		steps.Plural(len(snap.Mappings), "mapping row"), steps.Plural(len(snap.Locals), "database"))
	return steps.Outputs{"snapshot": string(b), "mappings": len(snap.Mappings)}, nil
}

func (snapshot) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (snapshot) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type restore struct{}

func (restore) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryRestore](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, true)
}

func parseSnapshot(s stepspec.RecoveryRestore) (*elasticdb.Snapshot, error) {
	var snap elasticdb.Snapshot
	if err := json.Unmarshal([]byte(s.Snapshot), &snap); err != nil {
		return nil, &fleet.Error{Op: "restore shard map rows", Target: s.ShardMap, Err: fmt.Errorf("%w: the snapshot is not readable: %v", fleet.ErrInvalidArgument, err)}
	}
	return &snap, nil
}

// Observe implements steps.Action: the rows are as the snapshot has them.
func (restore) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := steps.ParseSpec[stepspec.RecoveryRestore](in)
	if err != nil {
		return false, err
	}
	want, err := parseSnapshot(s)
	if err != nil {
		return false, err
	}
	var locs []fleet.Location
	for _, l := range want.Locals {
		locs = append(locs, l.Location)
	}
	same := false
	err = withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		now, err := elasticdb.TakeSnapshot(ctx, ex, m, locs)
		if err != nil {
			return err
		}
		a, _ := json.Marshal(now)
		b, _ := json.Marshal(want)
		same = string(a) == string(b)
		return nil
	})
	return same, err
}

func (restore) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryRestoreName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryRestore](in)
	if err != nil {
		return nil, err
	}
	snap, err := parseSnapshot(s)
	if err != nil {
		return nil, err
	}
	err = withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.RestoreSnapshot(ctx, ex, m, snap)
	})
	if err == nil {
		env.Logf("restored %s and %s of the global shard map as they were", steps.Plural(len(snap.Shards), "shard row"), steps.Plural(len(snap.Mappings), "mapping row"))
	}
	return nil, err
}

func (restore) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (restore) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type detach struct{}

func (detach) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryDetach](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, true)
}

// Observe implements steps.Action: the map has no shard at the location.
func (detach) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := steps.ParseSpec[stepspec.RecoveryDetach](in)
	if err != nil {
		return false, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return false, err
	}
	return shardAt(m, loc(s.Location)) == nil, nil
}

// Apply implements steps.Action. A shard that still holds rows in its
// mapped ranges, or whose database cannot be read, is refused unless Force
// (or the failover that attaches it again next): DetachShard does not check
// data, and its keys would route nowhere.
func (detach) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryDetachName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryDetach](in)
	if err != nil {
		return nil, err
	}
	at := loc(s.Location)
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return nil, err
	}
	if !s.Force && s.Relocated == "" {
		rows, known, err := recovery.MappedRows(ctx, env.Target, m, at)
		if err != nil {
			return nil, err
		}
		switch {
		case !known:
			return nil, &fleet.Error{Op: "detach shard", Target: at.String(), Err: fmt.Errorf("%w: the shard's rows cannot be counted (its database is missing or unreadable)", fleet.ErrInvalidArgument),
				Hint: "restore the database first; if its rows are gone for good, set force: true to detach it anyway (its keys then route nowhere)"}
		case rows > 0:
			return nil, &fleet.Error{Op: "detach shard", Target: at.String(), Err: fmt.Errorf("%w: the shard still holds %s in its mapped ranges", fleet.ErrInvalidArgument, steps.Plural(int(rows), "row")),
				Hint: "move the rows to another shard first (a ShardLayout plan), or set force: true to detach it anyway: its keys then route nowhere and the rows stay in the database"}
		}
	}
	return nil, withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.DetachShard(ctx, ex, m, at)
	})
}

func (detach) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (detach) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type attach struct{}

func (attach) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryAttach](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, true)
}

// Observe implements steps.Action: the map has a shard at the location.
func (attach) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := steps.ParseSpec[stepspec.RecoveryAttach](in)
	if err != nil {
		return false, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return false, err
	}
	for _, d := range differencesOn(m, loc(s.Location)) {
		if d.Kind == fleet.DiffShardLocationMismatch {
			return false, nil
		}
	}
	return shardAt(m, loc(s.Location)) != nil, nil
}

func (attach) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryAttachName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryAttach](in)
	if err != nil {
		return nil, err
	}
	return nil, withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.AttachShard(ctx, ex, m, loc(s.Location))
	})
}

func (attach) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (attach) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type detect struct{}

func (detect) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryDetect](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, false)
}

// Observe implements steps.Action: detection always runs.
func (detect) Observe(context.Context, *steps.Env, steps.Inputs) (bool, error) { return false, nil }

func (detect) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryDetectName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryDetect](in)
	if err != nil {
		return nil, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return nil, err
	}
	ds := differencesOn(m, loc(s.Location))
	tokens := make([]any, 0, len(ds))
	for _, d := range ds {
		env.Logf("%s %s: %s (recovery token %s)", d.Shard, d.Kind, d.Detail, d.Token)
		tokens = append(tokens, d.Token)
	}
	return steps.Outputs{"differences": len(ds), "tokens": tokens}, nil
}

func (detect) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (detect) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type resolve struct{}

func (resolve) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryResolve](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, true)
}

// Observe implements steps.Action: the shard has no differences left.
func (resolve) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := steps.ParseSpec[stepspec.RecoveryResolve](in)
	if err != nil {
		return false, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return false, err
	}
	return len(differencesOn(m, loc(s.Location))) == 0 && shardAt(m, loc(s.Location)) != nil, nil
}

func (resolve) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryResolveName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryResolve](in)
	if err != nil {
		return nil, err
	}
	return nil, withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.ResolveMappingDifferences(ctx, ex, m, loc(s.Location), s.Resolution)
	})
}

func (resolve) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (resolve) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type verify struct{}

func (verify) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryVerify](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, false)
}

// Observe implements steps.Action: a verification always runs.
func (verify) Observe(context.Context, *steps.Env, steps.Inputs) (bool, error) { return false, nil }

func (verify) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryVerifyName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryVerify](in)
	if err != nil {
		return nil, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return nil, err
	}
	at := loc(s.Location)
	var problems []string
	if shardAt(m, at) == nil {
		problems = append(problems, "the global shard map has no shard at "+at.String())
	}
	for _, d := range differencesOn(m, at) {
		problems = append(problems, fmt.Sprintf("%s: %s (recovery token %s)", d.Kind, d.Detail, d.Token))
	}
	if len(m.Pending) > 0 {
		problems = append(problems, steps.Plural(len(m.Pending), "operation")+" pending")
	}
	if len(problems) > 0 {
		return nil, &fleet.Error{Op: "verify shard", Target: at.String(), Err: errors.New(strings.Join(problems, "; ")),
			Hint: "the shard still differs from the global shard map; `fleetplan doctor` says what is left and writes the plan that fixes it"}
	}
	env.Logf("%s agrees with the global shard map", at)
	return nil, nil
}

func (verify) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (verify) Estimate(steps.Inputs) steps.Estimate                     { return estimate }

type updateLocation struct{}

func (updateLocation) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryUpdateLocation](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, true)
}

// Observe implements steps.Action: the map names the new location and not
// the old one.
func (updateLocation) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := steps.ParseSpec[stepspec.RecoveryUpdateLocation](in)
	if err != nil {
		return false, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return false, err
	}
	for _, d := range differencesOn(m, loc(s.To)) {
		if d.Kind == fleet.DiffShardLocationMismatch {
			return false, nil
		}
	}
	return shardAt(m, loc(s.To)) != nil && shardAt(m, loc(s.From)) == nil, nil
}

func (updateLocation) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryUpdateLocationName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryUpdateLocation](in)
	if err != nil {
		return nil, err
	}
	return nil, withMap(ctx, env, s.ShardMap, func(ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.UpdateShardLocation(ctx, ex, m, loc(s.From), loc(s.To))
	})
}

func (updateLocation) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}
func (updateLocation) Estimate(steps.Inputs) steps.Estimate { return estimate }

type moveRows struct{}

func (moveRows) Refs(in steps.Inputs) []steps.Ref {
	s, err := steps.ParseSpec[stepspec.RecoveryMoveRows](in)
	if err != nil {
		return steps.Anything()
	}
	return refs(s.ShardMap, true)
}

// Observe implements steps.Action: no row is on a shard its key does not
// route to (rows with no mapping at all are not this step's).
func (moveRows) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := steps.ParseSpec[stepspec.RecoveryMoveRows](in)
	if err != nil {
		return false, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return false, err
	}
	bad, err := recovery.MisplacedRows(ctx, env.Target, m, s.Batch, nil)
	if err != nil {
		return false, err
	}
	for _, b := range bad {
		if b.To != nil {
			return false, nil
		}
	}
	return true, nil
}

func (moveRows) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	if err := steps.HitFault(stepspec.RecoveryMoveRowsName); err != nil {
		return nil, err
	}
	s, err := steps.ParseSpec[stepspec.RecoveryMoveRows](in)
	if err != nil {
		return nil, err
	}
	m, err := layout(ctx, env, s.ShardMap)
	if err != nil {
		return nil, err
	}
	moved, kept, err := recovery.MoveMisplaced(ctx, env.Target, m, s.Batch, env.Logf)
	if err != nil {
		return nil, err
	}
	if kept > 0 {
		what := fmt.Sprintf("%d rows differ from the rows with the same keys on the shards their keys route to, and were kept where they are", kept)
		if kept == 1 {
			what = "1 row differs from the row with the same key on the shard its key routes to, and was kept where it is"
		}
		return nil, &fleet.Error{Op: "move misplaced rows", Target: s.ShardMap, Err: fmt.Errorf("%w: %s", fleet.ErrInvalidArgument, what),
			Hint: "compare the rows by hand and delete the stale one; `fleetplan doctor` lists where they are"}
	}
	return steps.Outputs{"rows": moved}, nil
}

func (moveRows) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }
func (moveRows) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: time.Second, Basis: "rows"}
}
