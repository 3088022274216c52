package recovery

import (
	"context"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// MappedRows counts the rows of the map's sharded tables on the shard at
// loc in the ranges the global shard map gives it. known is false when they
// cannot be counted: the database is missing, or the target reads no data.
func MappedRows(ctx context.Context, t fleet.Target, ml *fleet.MapLayout, loc fleet.Location) (rows int64, known bool, err error) {
	dm, ok := t.(fleet.DataMover)
	if !ok {
		return 0, false, nil
	}
	exists := false
	for _, s := range ml.Shards {
		if s.Shard.Location.Equal(loc) {
			exists = s.Exists
		}
	}
	if !exists {
		return 0, false, nil
	}
	for _, mp := range ml.Mappings {
		if !mp.Location.Equal(loc) {
			continue
		}
		n, err := rowsIn(ctx, dm, ml.Map, ml.Tables.Sharded, loc, mp.Min, mp.Max)
		if err != nil {
			return 0, false, err
		}
		rows += n
	}
	return rows, true, nil
}

// MisplacedRows checks the placement of every row of the map's sharded
// tables on every shard whose database exists, in batches of about batch
// distinct keys (default 1000).
func MisplacedRows(ctx context.Context, t fleet.Target, ml *fleet.MapLayout, batch int, progress func(format string, args ...any)) ([]Misplaced, error) {
	dm, ok := t.(fleet.DataMover)
	if !ok || len(ml.Tables.Sharded) == 0 {
		return nil, nil
	}
	if batch <= 0 {
		batch = 1000
	}
	var out []Misplaced
	for _, s := range ml.Shards {
		if !s.Exists {
			continue
		}
		bad, err := placement(ctx, dm, ml.Map, ml.Mappings, ml.Tables.Sharded, s.Shard.Location, batch, nil)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress("placement %s: checked", s.Shard.Location)
		}
		out = append(out, bad...)
	}
	return out, nil
}

// sortedTables orders the map's sharded tables parents first by the
// foreign keys the database at loc declares.
func sortedTables(ctx context.Context, dm fleet.DataMover, loc fleet.Location, tables []fleet.ShardedTable) ([]fleet.ShardedTable, error) {
	infos, err := dm.Tables(ctx, loc)
	if err != nil {
		return nil, err
	}
	var mine []fleet.TableInfo
	for _, ti := range infos {
		for _, t := range tables {
			if strings.EqualFold(fleet.ShortTable(t.Table), ti.Name) {
				mine = append(mine, ti)
			}
		}
	}
	sorted, err := fleet.SortTables(mine)
	if err != nil {
		return nil, err
	}
	var out []fleet.ShardedTable
	for _, ti := range sorted {
		for _, t := range tables {
			if strings.EqualFold(fleet.ShortTable(t.Table), ti.Name) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// MoveMisplaced moves every row whose key the global shard map sends to
// another shard onto that shard: the rows of the range are copied where the
// destination lacks them (parents first), then deleted from where they were
// only where an equal row is on the destination (children first). A row
// that differs from the destination's row with the same key is kept where
// it is and counted in kept; nothing is ever deleted without an equal copy.
func MoveMisplaced(ctx context.Context, t fleet.Target, ml *fleet.MapLayout, batch int, logf func(format string, args ...any)) (moved, kept int64, err error) {
	dm, ok := t.(fleet.DataMover)
	if !ok {
		return 0, 0, nil
	}
	bad, err := MisplacedRows(ctx, t, ml, batch, nil)
	if err != nil {
		return 0, 0, err
	}
	done := map[string]bool{}
	for _, b := range bad {
		if b.To == nil {
			continue
		}
		key := strings.ToLower(b.Shard.String()+">"+b.To.String()) + string(b.Min) + "|" + string(b.Max)
		if done[key] {
			continue
		}
		done[key] = true
		r, err := shardkey.Range(ml.Map.KeyType, b.Min, b.Max)
		if err != nil {
			return moved, 0, err
		}
		parents, err := sortedTables(ctx, dm, b.Shard, ml.Tables.Sharded)
		if err != nil {
			return moved, 0, err
		}
		children := make([]fleet.ShardedTable, len(parents))
		for i := range parents {
			children[len(parents)-1-i] = parents[i]
		}
		copied, err := dm.CopyRange(ctx, b.Shard, *b.To, parents, r)
		if err != nil {
			return moved, 0, err
		}
		deleted, err := dm.DeleteCopies(ctx, *b.To, b.Shard, children, r)
		if err != nil {
			return moved, 0, err
		}
		var n int64
		for _, c := range copied {
			n += c
		}
		moved += deleted
		if logf != nil {
			logf("%s of %s on %s: %s copied to %s, %s deleted here", boundsText(ml.Map, b.Min, b.Max), strings.Join(tableNames(parents), ", "), b.Shard, fmtRows(n), b.To, fmtRows(deleted))
		}
	}
	left, err := MisplacedRows(ctx, t, ml, batch, nil)
	if err != nil {
		return moved, 0, err
	}
	for _, b := range left {
		if b.To != nil {
			kept += b.Rows
		}
	}
	return moved, kept, nil
}

func tableNames(ts []fleet.ShardedTable) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Table
	}
	return out
}
