package livestate

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/recovery"
	"github.com/fleetplan/fleetplan/stepgraph"
)

func init() { planner.RegisterKind(shardMapRecovery{}) }

// shardMapRecovery is the ShardMapRecovery kind: the map's layout, the rows
// its shards hold, planned by planner.PlanShardMapRecovery.
type shardMapRecovery struct{}

var _ planner.Kind = shardMapRecovery{}

func (shardMapRecovery) Name() string { return plans.KindShardMapRecovery }

func observeMap(ctx context.Context, target fleet.Target, mapName string) (*fleet.Layout, error) {
	obs, ok := target.(fleet.Observer)
	if !ok {
		return nil, fmt.Errorf("driver %s cannot observe shard maps", target.Driver())
	}
	return obs.Observe(ctx, mapName)
}

func (shardMapRecovery) Fingerprint(ctx context.Context, doc *plans.Document, target fleet.Target) (string, error) {
	lay, err := observeMap(ctx, target, doc.ShardMapRecovery().ShardMap)
	if err != nil {
		return "", err
	}
	return lay.Fingerprint, nil
}

// Plan observes the map and counts rows where the plan needs them: in the
// mapped ranges of the shards it detaches, and on shards their keys do not
// route to when it moves misplaced rows.
func (shardMapRecovery) Plan(ctx context.Context, doc *plans.Document, target fleet.Target, _ planner.Options) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	spec := doc.ShardMapRecovery()
	lay, err := observeMap(ctx, target, spec.ShardMap)
	if err != nil {
		diags.Errorf(doc.Pos, "observe shard map %q on target %q: %v", spec.ShardMap, target.Name(), err).
			WithHint("%s", orHint(fleet.HintOf(err), "`fleetplan layout --target "+spec.Target+"` lists the shard maps"))
		return nil, diags
	}
	live := &planner.RecoveryLive{Layout: lay, MappedRows: map[string]int64{}}
	if ml := lay.Map(spec.ShardMap); ml != nil {
		for _, d := range spec.Detach {
			loc := fleet.Location{Server: d.Server, Database: d.Database}
			n, known, err := recovery.MappedRows(ctx, target, ml, loc)
			if err != nil {
				diags.Errorf(d.Pos, "count the rows of %s: %v", loc, err).WithHint("%s", orHint(fleet.HintOf(err), "check that the database is readable"))
				return nil, diags
			}
			if known {
				live.MappedRows[strings.ToLower(loc.String())] = n
			}
		}
		if spec.MoveMisplacedRows {
			bad, err := recovery.MisplacedRows(ctx, target, ml, 0, nil)
			if err != nil {
				diags.Errorf(doc.Pos, "check row placement: %v", err).WithHint("%s", orHint(fleet.HintOf(err), "check that the shards are readable"))
				return nil, diags
			}
			for _, x := range bad {
				live.Misplaced = append(live.Misplaced, planner.MisplacedRows{Shard: x.Shard, Table: x.Table, Low: x.Low, High: x.High, To: x.To, Rows: x.Rows})
			}
		}
	}
	g, more := planner.PlanShardMapRecovery(doc, live)
	diags = append(diags, more...)
	if g != nil {
		if abs, err := filepath.Abs(g.Source); err == nil {
			g.Source = abs
		}
	}
	return g, diags
}
