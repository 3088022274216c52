package local

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// Observe implements fleet.Observer: every map's shards (with database
// existence, LSM version and row counts of the map's tables), mappings,
// table kinds, pending operations and GSM/LSM differences.
func (t *Target) Observe(ctx context.Context, mapName string) (*fleet.Layout, error) {
	lay := &fleet.Layout{Target: t.name, Maps: []fleet.MapLayout{}}
	g, err := t.gsm(ctx, false)
	if err != nil {
		return nil, err
	}
	var maps []fleet.ShardMap
	if g != nil {
		if mapName != "" {
			m, err := t.mapByName(ctx, g, mapName)
			if err != nil {
				return nil, err
			}
			maps = []fleet.ShardMap{m}
		} else if maps, err = t.ShardMaps(ctx); err != nil {
			return nil, err
		}
	} else if mapName != "" {
		return nil, &fleet.Error{Op: "observe", Target: mapName, Err: fleet.ResultShardMapDoesNotExist, Hint: "the fleet has no shard maps yet"}
	}
	var pending []pendingRow
	if g != nil {
		if pending, err = t.pendingOps(ctx, g); err != nil {
			return nil, err
		}
	}
	for _, m := range maps {
		ml, err := t.observeMap(ctx, g, m, pending)
		if err != nil {
			return nil, err
		}
		lay.Maps = append(lay.Maps, ml)
	}
	lay.Fingerprint = fleet.Fingerprint(lay.Maps)
	return lay, nil
}

type pendingRow struct {
	op    fleet.PendingOperation
	mapID uuid.UUID
}

func (t *Target) pendingOps(ctx context.Context, g *sql.DB) ([]pendingRow, error) {
	rows, err := g.QueryContext(ctx, `SELECT OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds
		FROM `+tOpsLogGlobal+` ORDER BY rowid`)
	if err != nil {
		return nil, sqlErr("read operations log", fleet.Location{}, err)
	}
	defer rows.Close()
	var out []pendingRow
	for rows.Next() {
		var id, data string
		var p pendingRow
		var rem, add sql.NullString
		if err := rows.Scan(&id, &p.op.Code, &data, &p.op.UndoStartState, &rem, &add); err != nil {
			return nil, err
		}
		if p.op.ID, err = parseID(id); err != nil {
			return nil, err
		}
		p.op.Name = fleet.OperationName(p.op.Code)
		if p.op.ShardVersionRemoves, err = optIDPtr(rem); err != nil {
			return nil, err
		}
		if p.op.ShardVersionAdds, err = optIDPtr(add); err != nil {
			return nil, err
		}
		if op, err := parseOperation(p.op.Code, data, rem, add); err == nil {
			p.mapID = op.Map.ID
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *Target) observeMap(ctx context.Context, g *sql.DB, m fleet.ShardMap, pending []pendingRow) (fleet.MapLayout, error) {
	ml := fleet.MapLayout{Map: m, Shards: []fleet.ShardState{}, Pending: []fleet.PendingOperation{}, Differences: []fleet.Difference{}}
	shards, err := t.shardsOf(ctx, g, m.ID)
	if err != nil {
		return ml, err
	}
	if ml.Mappings, err = t.mappingsOf(ctx, g, m.ID); err != nil {
		return ml, err
	}
	if ml.Mappings == nil {
		ml.Mappings = []fleet.Mapping{}
	}
	ml.Tables, err = t.schemaInfo(ctx, g, m.Name)
	if err != nil && !errors.Is(err, fleet.ErrNotFound) {
		return ml, err
	}
	for _, p := range pending {
		if p.mapID == m.ID || p.mapID == uuid.Nil {
			ml.Pending = append(ml.Pending, p.op)
		}
	}
	byShard := map[uuid.UUID][]fleet.Mapping{}
	for _, mp := range ml.Mappings {
		byShard[mp.ShardID] = append(byShard[mp.ShardID], mp)
	}
	for _, s := range shards {
		st, diffs, err := t.observeShard(ctx, m, s, ml.Tables, byShard[s.ID])
		if err != nil {
			return ml, err
		}
		ml.Shards = append(ml.Shards, st)
		ml.Differences = append(ml.Differences, diffs...)
	}
	return ml, nil
}

// observeShard reads one shard's database: existence, LSM, row counts, and
// the differences between its LSM and the GSM (compared by MappingId, bounds
// and status, and the shard Version, as DetectMappingDifferences does).
func (t *Target) observeShard(ctx context.Context, m fleet.ShardMap, s fleet.Shard, tables fleet.SchemaInfo, gsmMappings []fleet.Mapping) (fleet.ShardState, []fleet.Difference, error) {
	st := fleet.ShardState{Shard: s, RowCounts: map[string]int64{}}
	var diffs []fleet.Difference
	diff := func(kind, detail string, mp *fleet.Mapping) {
		d := fleet.Difference{Shard: s.Location, Kind: kind, Detail: detail}
		if mp != nil {
			d.MappingID, d.Min, d.Max = mp.ID, mp.Min, mp.Max
		}
		diffs = append(diffs, d)
	}
	exists, err := t.DatabaseExists(ctx, s.Location)
	if err != nil {
		return st, nil, err
	}
	if !exists {
		diff(fleet.DiffDatabaseMissing, "the shard's database does not exist", nil)
		return st, diffs, nil
	}
	st.Exists = true
	db, hasLSM, err := t.openLSM(ctx, s.Location)
	if err != nil {
		return st, nil, err
	}
	for _, table := range tables.Tables() {
		ok, err := tableExists(ctx, db, table)
		if err != nil {
			return st, nil, sqlErr("observe", s.Location, err)
		}
		if !ok {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(table)).Scan(&n); err != nil {
			return st, nil, sqlErr("count rows", s.Location, err)
		}
		st.RowCounts[table] = n
	}
	if !hasLSM {
		diff(fleet.DiffShardMissingInShard, "the database has no local shard map", nil)
		for i := range gsmMappings {
			diff(fleet.DiffMappingInShardMapOnly, "mapping in the GSM only", &gsmMappings[i])
		}
		return st, diffs, nil
	}
	var ver string
	err = db.QueryRowContext(ctx, `SELECT Version FROM `+tShardsLocal+` WHERE ShardId = ?`, s.ID.String()).Scan(&ver)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		diff(fleet.DiffShardMissingInShard, "the LSM has no row for this shard", nil)
	case err != nil:
		return st, nil, sqlErr("observe", s.Location, err)
	default:
		if st.LSMVersion, err = parseID(ver); err != nil {
			return st, nil, err
		}
		if st.LSMVersion != s.Version {
			diff(fleet.DiffShardVersionMismatch, fmt.Sprintf("GSM version %s, LSM version %s", s.Version, st.LSMVersion), nil)
		}
	}
	lsm, err := lsmMappings(ctx, db, m.ID, s.ID)
	if err != nil {
		return st, nil, sqlErr("observe", s.Location, err)
	}
	byID := map[uuid.UUID]fleet.Mapping{}
	for _, mp := range lsm {
		byID[mp.ID] = mp
	}
	for i := range gsmMappings {
		g := gsmMappings[i]
		l, ok := byID[g.ID]
		if !ok {
			diff(fleet.DiffMappingInShardMapOnly, "mapping in the GSM only", &g)
			continue
		}
		delete(byID, g.ID)
		if !bytes.Equal(l.Min, g.Min) || (l.Max == nil) != (g.Max == nil) || !bytes.Equal(l.Max, g.Max) || l.Online != g.Online {
			diff(fleet.DiffMappingMismatch, fmt.Sprintf("GSM [%s, %s) online=%t, LSM [%s, %s) online=%t",
				shardkey.FormatBound(m.KeyType, g.Min), shardkey.FormatBound(m.KeyType, g.Max), g.Online,
				shardkey.FormatBound(m.KeyType, l.Min), shardkey.FormatBound(m.KeyType, l.Max), l.Online), &g)
		}
	}
	rest := make([]fleet.Mapping, 0, len(byID))
	for _, mp := range byID {
		rest = append(rest, mp)
	}
	sort.Slice(rest, func(i, j int) bool { return shardkey.Compare(rest[i].Min, rest[j].Min) < 0 })
	for i := range rest {
		diff(fleet.DiffMappingInShardOnly, "mapping in the shard's LSM only", &rest[i])
	}
	return st, diffs, nil
}

func lsmMappings(ctx context.Context, db *sql.DB, mapID, shardID uuid.UUID) ([]fleet.Mapping, error) {
	rows, err := db.QueryContext(ctx, `SELECT MappingId, MinValue, MaxValue, MaxValue IS NULL, Status FROM `+tMappingsLocal+`
		WHERE ShardMapId = ? AND ShardId = ? ORDER BY MinValue`, mapID.String(), shardID.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Mapping
	for rows.Next() {
		var id string
		var min, max []byte
		var maxNull bool
		var status int
		if err := rows.Scan(&id, &min, &max, &maxNull, &status); err != nil {
			return nil, err
		}
		mp := fleet.Mapping{MapID: mapID, ShardID: shardID, Online: status&1 == 1}
		if mp.ID, err = parseID(id); err != nil {
			return nil, err
		}
		mp.Min, mp.Max = scanKeys(min, max, maxNull)
		out = append(out, mp)
	}
	return out, rows.Err()
}

// quoteIdent quotes an SQLite identifier.
func quoteIdent(s string) string {
	return `"` + replaceAll(s, `"`, `""`) + `"`
}

func replaceAll(s, old, new string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(old), []byte(new)))
}
