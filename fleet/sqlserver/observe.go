package sqlserver

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

var _ fleet.Observer = (*Target)(nil)

// Observe implements fleet.Observer: every map's shards (with database
// existence, LSM version and row counts of the map's tables), mappings,
// table kinds, pending operations and the differences between the GSM and
// each shard's LSM (elasticdb.ShardDifferences, as the library's
// DetectMappingDifferences). Databases the GSM does not list are not
// searched for stray local shard maps.
func (t *Target) Observe(ctx context.Context, mapName string) (*fleet.Layout, error) {
	lay := &fleet.Layout{Target: t.cfg.Name, Maps: []fleet.MapLayout{}}
	info, err := t.storeState(ctx)
	if err != nil {
		return nil, err
	}
	if !info.deployed {
		if mapName != "" {
			return nil, t.errNoStore("observe")
		}
		lay.Fingerprint = fleet.Fingerprint(lay.Maps)
		return lay, nil
	}
	var maps []fleet.ShardMap
	if mapName != "" {
		m, err := t.ShardMap(ctx, mapName)
		if err != nil {
			return nil, err
		}
		maps = []fleet.ShardMap{m}
	} else if maps, err = t.ShardMaps(ctx); err != nil {
		return nil, err
	}
	rows, err := t.logRows(ctx)
	if err != nil {
		return nil, err
	}
	pending := elasticdb.PendingOperations(rows)
	for _, m := range maps {
		ml, err := t.observeMap(ctx, m, pending)
		if err != nil {
			return nil, err
		}
		lay.Maps = append(lay.Maps, ml)
	}
	lay.Fingerprint = fleet.Fingerprint(lay.Maps)
	return lay, nil
}

func (t *Target) observeMap(ctx context.Context, m fleet.ShardMap, pending []elasticdb.Pending) (fleet.MapLayout, error) {
	shards, err := t.shards(ctx, m)
	if err != nil {
		return fleet.MapLayout{Map: m}, err
	}
	mps, err := t.mappings(ctx, m)
	if err != nil {
		return fleet.MapLayout{Map: m}, err
	}
	ml, byShard := elasticdb.NewMapLayout(m, mps, pending)
	if ml.Tables, err = t.SchemaInfo(ctx, m.Name); err != nil && !errors.Is(err, fleet.ErrNotFound) {
		return ml, err
	}
	lsm := map[uuid.UUID][]fleet.Mapping{}
	for _, s := range shards {
		st, local, err := t.observeShard(ctx, m, s, ml.Tables)
		if err != nil {
			return ml, err
		}
		lsm[s.ID] = local.Mappings
		ml.Shards = append(ml.Shards, st)
		ml.Differences = append(ml.Differences, elasticdb.ShardDifferences(m, s, local, byShard[s.ID])...)
	}
	elasticdb.ExplainShardOnly(m, ml.Mappings, ml.Differences)
	// What needs the whole map (an LSM mapping overlapping another shard's
	// GSM mapping, GSM mappings overlapping each other) and every
	// difference's recovery token. A shard whose database moved is
	// reported as missing: databases the GSM does not name are not
	// searched on a server (a ShardMapRecovery failover or updateLocation
	// says where it went).
	ml.Differences = elasticdb.FinishDifferences(m, ml.Mappings, shards, lsm, nil, ml.Differences)
	return ml, nil
}

// databaseExists asks the server's master.
func (t *Target) databaseExists(ctx context.Context, loc fleet.Location) (bool, error) {
	db, err := t.db(master(loc.Server))
	if err != nil {
		return false, err
	}
	var ro bool
	err = db.QueryRowContext(ctx, DatabaseQuery, sql.Named("db", loc.Database)).Scan(&ro)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, t.red.wrap("find database", loc.String(), err)
}

func (t *Target) observeShard(ctx context.Context, m fleet.ShardMap, s fleet.Shard, tables fleet.SchemaInfo) (fleet.ShardState, elasticdb.LocalShard, error) {
	st := fleet.ShardState{Shard: s, RowCounts: map[string]int64{}}
	var local elasticdb.LocalShard
	ok, err := t.databaseExists(ctx, s.Location)
	if err != nil || !ok {
		return st, local, err
	}
	st.Exists, local.Exists = true, true
	db, err := t.db(s.Location)
	if err != nil {
		return st, local, err
	}
	where := s.Location.String()
	for _, name := range tables.Tables() {
		tb, err := ParseTable(name)
		if err != nil {
			continue
		}
		var n int64
		err = db.QueryRowContext(ctx, `SELECT CASE WHEN OBJECT_ID(@t, N'U') IS NULL THEN -1 ELSE 0 END`, sql.Named("t", tb.String())).Scan(&n)
		if err != nil {
			return st, local, t.red.wrap("observe", where, err)
		}
		if n < 0 {
			continue
		}
		if err := db.QueryRowContext(ctx, CountQuery(tb, "", false, false)).Scan(&n); err != nil {
			return st, local, t.red.wrap("observe", where, err)
		}
		st.RowCounts[name] = n
	}
	var deployed int
	if err := db.QueryRowContext(ctx, LocalDeployedQuery).Scan(&deployed); err != nil {
		return st, local, t.red.wrap("observe", where, err)
	}
	if deployed == 0 {
		return st, local, nil
	}
	local.HasLSM = true
	rows, err := db.QueryContext(ctx, LocalShardsQuery, sql.Named("map", uid(m.ID)))
	if err != nil {
		return st, local, t.red.wrap("observe", where, err)
	}
	for rows.Next() {
		var id, ver mssql.UniqueIdentifier
		if err := rows.Scan(&id, &ver); err != nil {
			rows.Close()
			return st, local, t.red.wrap("observe", where, err)
		}
		if uuid.UUID(id) == s.ID {
			local.HasShardRow, local.Version = true, uuid.UUID(ver)
			st.LSMVersion = local.Version
		}
	}
	rows.Close()
	mrows, err := db.QueryContext(ctx, LocalMappingsQuery, sql.Named("map", uid(m.ID)))
	if err != nil {
		return st, local, t.red.wrap("observe", where, err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var id, sid mssql.UniqueIdentifier
		var mp fleet.Mapping
		var status int
		if err := mrows.Scan(&id, &sid, &mp.Min, &mp.Max, &status); err != nil {
			return st, local, t.red.wrap("observe", where, err)
		}
		if uuid.UUID(sid) != s.ID {
			continue
		}
		mp.ID, mp.MapID, mp.ShardID, mp.Online, mp.Location = uuid.UUID(id), m.ID, s.ID, status&1 == 1, s.Location
		if mp.Min == nil {
			mp.Min = []byte{}
		}
		local.Mappings = append(local.Mappings, mp)
	}
	return st, local, t.red.wrap("observe", where, mrows.Err())
}
