package local

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// Observe implements fleet.Observer: every map's shards (with database
// existence, LSM version and row counts of the map's tables), mappings,
// table kinds, pending operations and GSM/LSM differences.
func (t *Target) Observe(ctx context.Context, mapName string) (*fleet.Layout, error) {
	// A consistent picture: shard map writers hold this lock for the whole of
	// each operation (GSM, LSMs, GSM), so what is read here is between two
	// operations, and a difference seen is one that stays.
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
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
	var pending []elasticdb.Pending
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

func (t *Target) pendingOps(ctx context.Context, g *sql.DB) ([]elasticdb.Pending, error) {
	var rows []elasticdb.LogRow
	err := t.executor(g).GSM(ctx, "read operations log", func(tx elasticdb.GSMTx) error {
		var err error
		rows, err = tx.LogRows(ctx)
		return err
	})
	return elasticdb.PendingOperations(rows), err
}

func (t *Target) observeMap(ctx context.Context, g *sql.DB, m fleet.ShardMap, pending []elasticdb.Pending) (fleet.MapLayout, error) {
	shards, err := t.shardsOf(ctx, g, m.ID)
	if err != nil {
		return fleet.MapLayout{Map: m}, err
	}
	mps, err := t.mappingsOf(ctx, g, m.ID)
	if err != nil {
		return fleet.MapLayout{Map: m}, err
	}
	ml, byShard := elasticdb.NewMapLayout(m, mps, pending)
	ml.Tables, err = t.schemaInfo(ctx, g, m.Name)
	if err != nil && !errors.Is(err, fleet.ErrNotFound) {
		return ml, err
	}
	lsm := map[uuid.UUID][]fleet.Mapping{}
	for _, s := range shards {
		st, local, diffs, err := t.observeShard(ctx, m, s, ml.Tables, byShard[s.ID])
		if err != nil {
			return ml, err
		}
		lsm[s.ID] = local.Mappings
		ml.Shards = append(ml.Shards, st)
		ml.Differences = append(ml.Differences, diffs...)
	}
	found := map[uuid.UUID]fleet.Location{}
	strays, err := t.strayShards(ctx, m, shards, found)
	if err != nil {
		return ml, err
	}
	ml.Differences = append(ml.Differences, strays...)
	// Say where the GSM sends the keys of a mapping only an LSM holds.
	elasticdb.ExplainShardOnly(m, ml.Mappings, ml.Differences)
	ml.Differences = elasticdb.FinishDifferences(m, ml.Mappings, shards, lsm, found, ml.Differences)
	return ml, nil
}

// strayShards finds databases that the GSM does not list as shards of m but
// whose LSM holds a shard of m with mappings, as after the shard map manager
// was restored to a point before the shard was added. It records in found
// where it saw a shard the GSM lists (at another location: a moved shard).
func (t *Target) strayShards(ctx context.Context, m fleet.ShardMap, shards []fleet.Shard, found map[uuid.UUID]fleet.Location) ([]fleet.Difference, error) {
	known := map[string]bool{}
	for _, s := range shards {
		known[strings.ToLower(s.Location.String())] = true
	}
	smm, err := t.ShardMapManager(ctx)
	if err != nil {
		return nil, err
	}
	dbs, err := t.Databases(ctx)
	if err != nil {
		return nil, err
	}
	var out []fleet.Difference
	for _, loc := range dbs {
		if known[strings.ToLower(loc.String())] || loc.Equal(smm) {
			continue
		}
		if ok, err := t.DatabaseExists(ctx, loc); err != nil || !ok {
			continue // a missing file is not a shard of anything
		}
		db, hasLSM, err := t.observeLSM(ctx, loc)
		if err != nil || !hasLSM {
			continue // not a shard (or not readable as one): nothing to compare
		}
		rows, err := db.QueryContext(ctx, `SELECT ShardId FROM `+tShardsLocal+` WHERE ShardMapId = ?`, m.ID.String())
		if err != nil {
			return nil, sqlErr("observe", loc, err)
		}
		var ids []uuid.UUID
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, sqlErr("observe", loc, err)
			}
			if u, err := elasticdb.ParseID(id); err == nil {
				ids = append(ids, u)
			}
		}
		rows.Close()
		for _, id := range ids {
			if _, listed := found[id]; !listed {
				found[id] = loc
			}
			lsm, err := lsmMappings(ctx, db, m.ID, id)
			if err != nil {
				return nil, sqlErr("observe", loc, err)
			}
			if len(lsm) == 0 {
				continue // a stale row that maps nothing; AddShard replaces it
			}
			if g, err := t.gsm(ctx, false); err == nil && g != nil {
				if _, err := t.shardByID(ctx, g, id); err == nil {
					continue // added to the GSM since the shards were read: not a stray
				}
			}
			out = append(out, elasticdb.StrayShardDifferences(m, loc, id, lsm)...)
		}
	}
	return out, nil
}

// observeShard reads one shard's database: existence, LSM, row counts, and
// the differences between its LSM and the GSM (compared by MappingId, bounds
// and status, and the shard Version, as DetectMappingDifferences does).
func (t *Target) observeShard(ctx context.Context, m fleet.ShardMap, s fleet.Shard, tables fleet.SchemaInfo, gsmMappings []fleet.Mapping) (fleet.ShardState, elasticdb.LocalShard, []fleet.Difference, error) {
	st, local, err := t.readShard(ctx, m, s, tables)
	if err != nil {
		return st, local, nil, err
	}
	return st, local, elasticdb.ShardDifferences(m, s, local, gsmMappings), nil
}

func (t *Target) readShard(ctx context.Context, m fleet.ShardMap, s fleet.Shard, tables fleet.SchemaInfo) (fleet.ShardState, elasticdb.LocalShard, error) {
	st := fleet.ShardState{Shard: s, RowCounts: map[string]int64{}}
	var local elasticdb.LocalShard
	exists, err := t.DatabaseExists(ctx, s.Location)
	if err != nil || !exists {
		return st, local, err
	}
	st.Exists, local.Exists = true, true
	db, hasLSM, err := t.observeLSM(ctx, s.Location)
	if err != nil {
		return st, local, err
	}
	for _, table := range tables.Tables() {
		ok, err := tableExists(ctx, db, table)
		if err != nil {
			return st, local, sqlErr("observe", s.Location, err)
		}
		if !ok {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(table)).Scan(&n); err != nil {
			return st, local, sqlErr("count rows", s.Location, err)
		}
		st.RowCounts[table] = n
	}
	if !hasLSM {
		return st, local, nil
	}
	local.HasLSM = true
	var ver string
	var at fleet.Location
	err = db.QueryRowContext(ctx, `SELECT Version, ServerName, DatabaseName FROM `+tShardsLocal+` WHERE ShardId = ?`, s.ID.String()).Scan(&ver, &at.Server, &at.Database)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return st, local, sqlErr("observe", s.Location, err)
	default:
		if st.LSMVersion, err = elasticdb.ParseID(ver); err != nil {
			return st, local, err
		}
		local.HasShardRow, local.Version, local.Location = true, st.LSMVersion, at
	}
	if local.Mappings, err = lsmMappings(ctx, db, m.ID, s.ID); err != nil {
		return st, local, sqlErr("observe", s.Location, err)
	}
	return st, local, nil
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
		if mp.ID, err = elasticdb.ParseID(id); err != nil {
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

var _ fleet.MappingValidator = (*Target)(nil)

// ValidateMapping implements fleet.MappingValidator.
func (t *Target) ValidateMapping(ctx context.Context, mapName string, mp fleet.Mapping) error {
	const what = "validate mapping"
	g, m, err := t.readMap(ctx, mapName)
	if err != nil {
		return err
	}
	s, err := t.shardByID(ctx, g, mp.ShardID)
	if err != nil {
		return err
	}
	loc := s.Location
	bounds := elasticdb.BoundsText(m, mp.Min, mp.Max)
	differ := func(r fleet.StoreResult, format string, args ...any) error {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: "+format, append([]any{r}, args...)...),
			Hint: elasticdb.DifferenceHint(mapName, "routing to this shard would reach a database that does not hold these keys as the global shard map says")}
	}
	exists, err := t.DatabaseExists(ctx, loc)
	if err != nil {
		return err
	}
	if !exists {
		return &fleet.Error{Op: what, Target: loc.String(),
			Err:  fmt.Errorf("%w: the global shard map sends %s to %s, whose database is missing", fleet.ErrNoDatabase, bounds, loc),
			Hint: "restore the database from a backup (or re-create it and its rows), then check with `fleetplan layout --shard-map " + mapName + "`"}
	}
	db, hasLSM, err := t.observeLSM(ctx, loc)
	if err != nil {
		return err
	}
	if !hasLSM {
		return differ(fleet.ResultShardDoesNotExist, "the global shard map sends %s to %s, whose database has no local shard map", bounds, loc)
	}
	var ver string
	err = db.QueryRowContext(ctx, `SELECT Version FROM `+tShardsLocal+` WHERE ShardId = ? AND ShardMapId = ?`, s.ID.String(), m.ID.String()).Scan(&ver)
	if errors.Is(err, sql.ErrNoRows) {
		return differ(fleet.ResultShardDoesNotExist, "the local shard map of %s has no row for the shard the global shard map names", loc)
	}
	if err != nil {
		return sqlErr(what, loc, err)
	}
	if ver != s.Version.String() {
		return differ(fleet.ResultShardVersionMismatch, "the local shard map of %s is at shard version %s, the global shard map at %s", loc, ver, s.Version)
	}
	return lsmHolds(ctx, db, what, m, loc, mp, elasticdb.DifferenceHint(mapName, "routing to this shard would reach a database that does not hold these keys as the global shard map says"))
}
