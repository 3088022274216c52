package recovery

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

const demoMap = local.DemoShardMap

var (
	c0 = stepspec.Location{Server: "sql-1", Database: "customers_0"}
	c1 = stepspec.Location{Server: "sql-1", Database: "customers_1"}
)

func recoverWith(t *testing.T, env *steps.Env, fn func(ctx context.Context, ex elasticdb.Executor, m fleet.ShardMap) error) {
	t.Helper()
	ctx := context.Background()
	tg := env.Target.(*local.Target)
	m, err := tg.ShardMap(ctx, demoMap)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Recover(ctx, func(ex elasticdb.Executor) error { return fn(ctx, ex, m) }); err != nil {
		t.Fatal(err)
	}
}

func detachC1(t *testing.T, env *steps.Env) {
	recoverWith(t, env, func(ctx context.Context, ex elasticdb.Executor, m fleet.ShardMap) error {
		return elasticdb.DetachShard(ctx, ex, m, fleet.Location(c1))
	})
}

func TestConformance(t *testing.T) {
	restoreSpec := &stepspec.RecoveryRestore{ShardMap: demoMap}
	c1on2 := stepspec.Location{Server: "sql-2", Database: "customers_1"}
	stepstest.Run(t,
		stepstest.Case{Spec: stepspec.RecoverySnapshot{ShardMap: demoMap, Locations: []stepspec.Location{c0}}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryDetect{ShardMap: demoMap, Location: c0}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryVerify{ShardMap: demoMap, Location: c0}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryDetach{ShardMap: demoMap, Location: c1, Force: true}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryAttach{ShardMap: demoMap, Location: c1}, Prepare: detachC1, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryResolve{ShardMap: demoMap, Location: c1, Resolution: elasticdb.KeepShardMapping},
			Prepare: func(t *testing.T, env *steps.Env) {
				detachC1(t, env)
				recoverWith(t, env, func(ctx context.Context, ex elasticdb.Executor, m fleet.ShardMap) error {
					return elasticdb.AttachShard(ctx, ex, m, fleet.Location(c1))
				})
			}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: restoreSpec, Prepare: func(t *testing.T, env *steps.Env) {
			recoverWith(t, env, func(ctx context.Context, ex elasticdb.Executor, m fleet.ShardMap) error {
				snap, err := elasticdb.TakeSnapshot(ctx, ex, m, []fleet.Location{fleet.Location(c1)})
				if err != nil {
					return err
				}
				b, err := json.Marshal(snap)
				restoreSpec.Snapshot = string(b)
				return err
			})
			detachC1(t, env)
		}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryUpdateLocation{ShardMap: demoMap, From: c1, To: c1on2}, Prepare: func(t *testing.T, env *steps.Env) {
			if _, err := env.Target.(*local.Target).SimulateGeoFailover(context.Background(), "sql-1", "sql-2"); err != nil {
				t.Fatal(err)
			}
		}, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.RecoveryMoveRows{ShardMap: demoMap}, Prepare: func(t *testing.T, env *steps.Env) {
			if err := env.Target.(*local.Target).ApplySQL(context.Background(), fleet.Location(c0),
				`INSERT INTO customers(id, region_id, name) VALUES(60000, 1, 'stray')`); err != nil {
				t.Fatal(err)
			}
		}, Undo: stepstest.NoRollback},
	)
}
