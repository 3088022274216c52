package planner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

const defaultThroughput = 60000 // rows/s on the local driver, measured (docs/BENCHMARKS.md)

// RowCounter counts rows of a table in a key range on one database. The
// local driver's DataMover satisfies it.
type RowCounter interface {
	CountRange(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, error)
}

// DatabaseState is what the planner needs to know about a database the plan names.
type DatabaseState struct {
	// Exists reports a database that is there, whether the catalog lists it
	// or not (see Listed).
	Exists bool
	// Listed reports that the fleet's catalog knows the database.
	Listed bool
	Tables []string // table names present (lower-case compare)
	// Described holds the same tables with their columns; nil when the
	// driver cannot describe them (columns are then not checked).
	Described []fleet.TableInfo
	// Rows holds every user table's row count, when the driver can tell.
	Rows []fleet.TableRows
	// ShardOf names another shard map of the same shard map manager that
	// has the database as a shard; taking it into this map adopts nothing.
	ShardOf string
}

// rows is the number of rows over every user table.
func (d DatabaseState) rows() int64 {
	var n int64
	for _, t := range d.Rows {
		n += t.Rows
	}
	return n
}

// tableRows is the row count of one table (0 when unknown).
func (d DatabaseState) tableRows(name string) int64 {
	for _, t := range d.Rows {
		if strings.EqualFold(t.Name, fleet.ShortTable(name)) {
			return t.Rows
		}
	}
	return 0
}

func (d DatabaseState) hasTable(name string) bool {
	for _, t := range d.Tables {
		if strings.EqualFold(t, name) {
			return true
		}
	}
	return false
}

// ShardLayoutLive is the live state a ShardLayout diff reads.
type ShardLayoutLive struct {
	Target      string
	Fingerprint string
	// Map is the live shard map, nil when it does not exist yet.
	Map *fleet.MapLayout
	// Databases describes every database the plan or the live map names.
	Databases map[fleet.Location]DatabaseState
	// Rows counts rows per key range, for estimates and safety checks.
	Rows RowCounter
	// Servers lists the servers of the fleet; nil when the driver cannot
	// tell (servers are then not checked).
	Servers []string
	// SchemaFile is what the plan's schemaFile would create on a new shard.
	SchemaFile SchemaFileState
	// KeyColumnFits tells whether a column of a declared type can hold the
	// map's keys (see fleet.KeyColumnChecker); nil when the driver cannot tell.
	KeyColumnFits func(kt fleet.KeyType, columnType string) (ok bool, want string)
}

// SchemaFileState is what the driver tells of the plan's schemaFile.
type SchemaFileState struct {
	// Described is true when Tables (or Err) says what the script creates.
	Described bool
	Tables    []fleet.TableInfo
	// Err is why the script does not run.
	Err error
}

// Options tune estimates.
type Options struct {
	// Throughput is the expected move speed in rows/s; zero means the default.
	Throughput float64
	// ThroughputBasis says where Throughput came from ("journal of run X").
	ThroughputBasis string
	// Measured holds step durations from earlier runs of the same plan, by
	// step id; they estimate steps the plan gives no estimate for.
	Measured map[string]Measured
}

// piece is an elementary key interval between consecutive boundaries:
// from bounds[at] to bounds[at+1] (+inf after the last) of the list
// pieces cuts at.
type piece struct {
	at      int32
	live    *fleet.Mapping
	desired *desiredRange
}

// upper is the upper bound of the piece that starts at bounds[at]: the
// next bound, or nil (+inf) after the last.
func upper(bounds [][]byte, at int32) []byte {
	if int(at)+1 < len(bounds) {
		return bounds[at+1]
	}
	return nil
}

// desiredRange is a range (or point) of the plan. A plan may hold 100,000
// of them, so it is kept small: the shard and the position point into the
// plan's own values.
type desiredRange struct {
	min, max []byte
	shard    *fleet.Location
	name     string
	pos      *diag.Pos
	// pieces counts the pieces the range covers; touched, when not 0, is
	// 1 + the index in layoutBuilder.touched of the steps that map keys of
	// it (adds and moves), so its merge can need them.
	pieces, touched int32
}

// PlanShardLayout diffs a ShardLayout document against the live shard map.
// Unsafe plans are refused with diagnostics pointing at the plan.
func PlanShardLayout(ctx context.Context, doc *plans.Document, live *ShardLayoutLive, opt Options) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	spec := doc.ShardLayout()
	g := &stepgraph.Graph{
		FormatVersion: stepgraph.FormatVersion,
		Kind:          doc.Kind,
		Plan:          doc.Metadata.Name,
		Source:        doc.File,
		Target:        spec.Target,
		Fingerprint:   live.Fingerprint,
		OnFailure:     spec.OnFailure,
		Parallel:      spec.Move.Parallel,
	}
	if g.OnFailure == "" {
		g.OnFailure = plans.OnFailureRollback
	}
	kt, err := fleet.ParseKeyType(spec.KeyType)
	if err != nil {
		diags.Errorf(orPos(spec.KeyTypePos, doc.Pos), "%v", err).WithHint("keyType is one of int32, int64, guid, binary, datetime, timespan, datetimeoffset")
		return nil, diags
	}
	mt, err := fleet.ParseMapType(orDefault(spec.MapType, plans.MapRange))
	if err != nil {
		diags.Errorf(orPos(spec.MapTypePos, doc.Pos), "%v", err).WithHint("mapType is range or list")
		return nil, diags
	}
	throughput, basis := opt.Throughput, opt.ThroughputBasis
	if throughput <= 0 {
		throughput, basis = defaultThroughput, "default local-driver throughput"
	}
	b := &layoutBuilder{ctx: ctx, doc: doc, spec: spec, live: live, kt: kt, mt: mt, g: g, diags: &diags,
		throughput: throughput, basis: basis, shardByName: map[string]fleet.Location{},
		nameByLoc: map[string]string{}, enc: stepspec.NewEncoder()}
	b.tables = b.desiredSchema()
	for _, t := range b.tables.Sharded {
		b.shortTables = append(b.shortTables, fleet.ShortTable(t.Table))
	}
	b.checkLiveHealth()
	if diags.HasErrors() {
		return nil, diags
	}
	b.checkLiveNames()
	if diags.HasErrors() {
		return nil, diags
	}
	b.noteDifferences()
	b.build()
	if diags.HasErrors() {
		return nil, diags
	}
	stepgraph.SortChanges(g.Changes)
	if err := g.Validate(); err != nil {
		diags.Errorf(doc.Pos, "internal planner error: %v", err).WithHint("this is a bug in fleetplan; please report it with the plan file")
		return nil, diags
	}
	return g, diags
}

type layoutBuilder struct {
	ctx         context.Context
	doc         *plans.Document
	spec        *plans.ShardLayout
	live        *ShardLayoutLive
	kt          fleet.KeyType
	mt          fleet.MapType
	g           *stepgraph.Graph
	diags       *diag.List
	throughput  float64
	basis       string
	shardByName map[string]fleet.Location
	shardPos    map[string]diag.Pos
	// tables is the schema info moves use: the plan's, or the shard map's
	// stored one when the plan has no `tables:`.
	tables fleet.SchemaInfo
	// step ids that later steps depend on
	createMap   string
	schemaInfo  string
	createShard map[string]string // locKey -> step id
	// createShardAt remembers createShard by location (see createShardOf).
	createShardAt map[fleet.Location]string
	gates         []string
	nameByLoc     map[string]string            // locKey -> shard name in the plan
	liveByLoc     map[string]*fleet.ShardState // locKey -> live shard
	removed       []fleet.Location             // live shards the plan no longer lists
	offShard      []addedStep                  // with removed shards: the steps that may take keys off them
	touched       [][]*stepgraph.Step          // see desiredRange.touched
	enc           *stepspec.Encoder            // writes every step's inputs
	shortTables   []string                     // fleet.ShortTable of each of tables.Sharded
	bad           *inconsistency               // GSM/LSM differences; nil when none
}

// addedStep is a step add put in the graph with the typed inputs it was made of.
type addedStep struct {
	step *stepgraph.Step
	spec stepspec.Spec
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkLiveHealth refuses to plan over a map someone else is changing.
func (b *layoutBuilder) checkLiveHealth() {
	m := b.live.Map
	if m == nil {
		return
	}
	if m.Map.Type != b.mt {
		if b.spec.MapTypePos.Line == 0 {
			b.diags.Errorf(b.mapPos(), "shard map %q is a %s map in the fleet but the plan has no mapType, which means %s", m.Map.Name, m.Map.Type, b.mt).
				WithHint("add mapType: %s to the spec; a map's type cannot change", m.Map.Type)
		} else {
			b.diags.Errorf(b.spec.MapTypePos, "shard map %q is a %s map in the fleet but the plan says mapType %s", m.Map.Name, m.Map.Type, b.mt).
				WithHint("a map's type cannot change; write mapType: %s, or use a new shardMap name", m.Map.Type)
		}
	}
	if m.Map.KeyType != b.kt {
		b.diags.Errorf(orPos(b.spec.KeyTypePos, b.mapPos()), "shard map %q has key type %s in the fleet but the plan says keyType %s", m.Map.Name, m.Map.KeyType, b.kt).
			WithHint("a map's key type cannot change; write keyType: %s, or use a new shardMap name", m.Map.KeyType)
	}
	for _, p := range m.Pending {
		b.diags.Errorf(b.mapPos(), "shard map %q has a pending operation %s (%s) left by another writer", m.Map.Name, p.ID, p.Name).
			WithHint("run `fleetplan resume` if it was a fleetplan run, or let the owning tool finish; once its owner is gone, the next write that meets it rolls it back")
	}
	for _, mp := range m.Mappings {
		if mp.LockOwner != ([16]byte{}) {
			b.diags.Errorf(b.mapPos(), "mapping %s on %s is locked by owner %s", b.rangeText(mp.Min, mp.Max), mp.Location, mp.LockOwner).
				WithHint("another run or tool holds this mapping (a fleetplan run locks the ranges it moves until it is done or rolled back); " +
					"wait for it to finish, or, if its owner is gone for good, clear the lock with the library's UnlockMapping")
		}
		if !mp.Online {
			b.diags.Errorf(b.mapPos(), "mapping %s on %s is offline, probably an interrupted move", b.rangeText(mp.Min, mp.Max), mp.Location).
				WithHint("run `fleetplan resume` to finish the interrupted run, or `fleetplan runs` to find it")
		}
	}
}

func (b *layoutBuilder) rangeText(min, max []byte) string {
	if b.mt == fleet.ListMap {
		return "key " + shardkey.FormatBound(b.kt, min)
	}
	return "[" + shardkey.FormatBound(b.kt, min) + ", " + shardkey.FormatBound(b.kt, max) + ")"
}

func (b *layoutBuilder) mapName() string { return b.spec.ShardMap }

// add puts s in the graph as a step of the action spec is the inputs of:
// its Action and With come from spec, which the builder keeps so later
// checks read the inputs typed.
func (b *layoutBuilder) add(spec stepspec.Spec, s *stepgraph.Step) *stepgraph.Step {
	s.Action, s.With = spec.Action(), b.enc.With(spec)
	b.refuseInconsistent(s, spec)
	s.Needs = dedupe(append(s.Needs, b.gates...))
	b.g.Steps = append(b.g.Steps, s)
	if len(b.removed) > 0 {
		switch spec.(type) {
		case stepspec.MoveRange, stepspec.RemoveMapping:
			b.offShard = append(b.offShard, addedStep{s, spec})
		}
	}
	return s
}

// undo is a rollback branch: a step of the action spec is the inputs of.
func undo(spec stepspec.Spec) *stepgraph.Step {
	return &stepgraph.Step{Action: spec.Action(), With: stepspec.With(spec)}
}

// undo is a rollback branch whose inputs share nested values with the
// graph's other steps (see stepspec.Encoder).
func (b *layoutBuilder) undo(spec stepspec.Spec) *stepgraph.Step {
	return &stepgraph.Step{Action: spec.Action(), With: b.enc.With(spec)}
}

func (b *layoutBuilder) change(op stepgraph.ChangeOp, object, detail string) {
	b.g.Changes = append(b.g.Changes, stepgraph.Change{Op: op, Object: object, Detail: detail})
}

func (b *layoutBuilder) build() {
	b.addGuards()
	b.planMapAndTables()
	b.planShards()
	if b.diags.HasErrors() {
		return
	}
	b.removed = b.removedShards()
	if b.mt == fleet.ListMap {
		b.planPoints()
	} else {
		b.planRanges()
	}
	if b.diags.HasErrors() {
		return
	}
	b.planRemovedShards()
	// Gates alone are not changes: with nothing else to do the graph is empty.
	if len(b.g.Steps) == len(b.gates) {
		b.g.Steps = nil
	}
}

// addGuards turns the plan's guards into gate steps every other step needs.
func (b *layoutBuilder) addGuards() {
	for _, gd := range b.spec.Guards {
		id := "guard-" + gd.Name
		b.g.Steps = append(b.g.Steps, &stepgraph.Step{ID: id, Action: stepspec.NoopName, Title: "guard " + gd.Name,
			Guard: &stepgraph.Guard{Name: gd.Name, Expr: gd.Expr, Pos: gd.Pos}})
		b.gates = append(b.gates, id)
	}
}

// desiredSchema is the schema info the plan wants: its `tables:`, or when
// it has none, what the shard map manager already stores.
func (b *layoutBuilder) desiredSchema() fleet.SchemaInfo {
	var s fleet.SchemaInfo
	if b.spec.Tables.Omitted {
		if b.live.Map != nil {
			s = b.live.Map.Tables
		}
		return s
	}
	for _, t := range b.spec.Tables.Sharded {
		s.Sharded = append(s.Sharded, fleet.ShardedTable{Table: t.Table, KeyColumn: t.Key})
	}
	s.Reference = append(s.Reference, b.spec.Tables.Reference...)
	return s
}

func schemaEqual(a, b fleet.SchemaInfo) bool {
	if len(a.Sharded) != len(b.Sharded) || len(a.Reference) != len(b.Reference) {
		return false
	}
	as := map[string]string{}
	for _, t := range a.Sharded {
		as[fleet.TableKey(t.Table)] = strings.ToLower(t.KeyColumn)
	}
	for _, t := range b.Sharded {
		if k, ok := as[fleet.TableKey(t.Table)]; !ok || k != strings.ToLower(t.KeyColumn) {
			return false
		}
	}
	ar := map[string]bool{}
	for _, r := range a.Reference {
		ar[fleet.TableKey(r)] = true
	}
	for _, r := range b.Reference {
		if !ar[fleet.TableKey(r)] {
			return false
		}
	}
	return true
}

// schemaInputs is schema info as the tables input of a step.
func schemaInputs(s fleet.SchemaInfo) stepspec.Tables {
	t := stepspec.Tables{Sharded: []stepspec.ShardedTable{}, Reference: []string{}}
	for _, st := range s.Sharded {
		t.Sharded = append(t.Sharded, stepspec.ShardedTable{Table: st.Table, Key: st.KeyColumn})
	}
	t.Reference = append(t.Reference, s.Reference...)
	return t
}

// location is a fleet location as a step's server and database inputs.
func location(l fleet.Location) stepspec.Location { return stepspec.Location(l) }

func (b *layoutBuilder) planMapAndTables() {
	if b.live.Map == nil {
		st := b.add(stepspec.CreateMap{ShardMap: b.mapName(), MapType: b.mt.String(), KeyType: b.kt.String()}, &stepgraph.Step{ID: "create-map",
			Title:    fmt.Sprintf("create %s shard map %s (%s keys)", b.mt, b.mapName(), b.kt),
			Estimate: stepgraph.Estimate{Duration: 50 * time.Millisecond, Basis: "metadata"}})
		b.createMap = st.ID
		b.change(stepgraph.Create, "shard map "+b.mapName(), fmt.Sprintf("%s, %s keys", b.mt, b.kt))
	}
	if b.spec.Tables.Omitted {
		return // the stored schema info stays as it is
	}
	want := b.tables
	var have fleet.SchemaInfo
	if b.live.Map != nil {
		have = b.live.Map.Tables
	}
	if !schemaEqual(want, have) {
		st := &stepgraph.Step{ID: "set-schema-info",
			Title:    "record sharded and reference tables in ShardedDatabaseSchemaInfosGlobal",
			Estimate: stepgraph.Estimate{Duration: 20 * time.Millisecond, Basis: "metadata"}}
		if b.createMap != "" {
			st.Needs = []string{b.createMap}
		}
		if b.live.Map != nil {
			st.Rollback = b.undo(stepspec.SetSchemaInfo{ShardMap: b.mapName(), Tables: schemaInputs(have)})
		}
		b.add(stepspec.SetSchemaInfo{ShardMap: b.mapName(), Tables: schemaInputs(want)}, st)
		b.schemaInfo = st.ID
		op := stepgraph.Update
		if b.live.Map == nil {
			op = stepgraph.Create
		}
		b.g.Changes = append(b.g.Changes, stepgraph.Change{Op: op, Object: "schema info of " + b.mapName(), Lines: schemaDiff(have, want)})
	}
}

func (b *layoutBuilder) liveShard(loc fleet.Location) *fleet.ShardState {
	if b.liveByLoc == nil {
		b.liveByLoc = map[string]*fleet.ShardState{}
		if b.live.Map != nil {
			for i := range b.live.Map.Shards {
				b.liveByLoc[locKey(b.live.Map.Shards[i].Shard.Location)] = &b.live.Map.Shards[i]
			}
		}
	}
	return b.liveByLoc[locKey(loc)]
}

func (b *layoutBuilder) metaNeeds() []string { return b.appendMetaNeeds(nil) }

// appendMetaNeeds appends to n the steps that make the map and its schema info.
func (b *layoutBuilder) appendMetaNeeds(n []string) []string {
	if b.createMap != "" {
		n = append(n, b.createMap)
	}
	if b.schemaInfo != "" {
		n = append(n, b.schemaInfo)
	}
	return n
}

// planShards registers new shards, creating their databases where needed.
func (b *layoutBuilder) planShards() {
	b.createShard = map[string]string{}
	b.shardPos = map[string]diag.Pos{}
	tables := b.tableNames()
	for _, s := range b.spec.Shards {
		loc := fleet.Location{Server: s.Server, Database: s.Database}
		b.shardByName[s.Name] = loc
		b.nameByLoc[locKey(loc)] = s.Name
		b.shardPos[s.Name] = s.Pos
		db := b.live.Databases[loc]
		var missing []string
		for _, t := range tables {
			if !db.hasTable(t) {
				missing = append(missing, t)
			}
		}
		if b.liveShard(loc) != nil {
			continue // checkTables reported missing tables, at the table
		}
		if db.Exists && db.rows() > 0 && !s.Adopt && db.ShardOf == "" {
			where := ""
			if !db.Listed {
				where = ", not listed in the fleet catalog,"
			}
			b.diags.Errorf(s.Pos, "new shard %s: database %s%s already exists and holds %s rows (%s); fleetplan takes over a database that holds rows only when told to",
				s.Name, loc, where, stepgraph.Thousands(db.rows()), tableRowsText(db.Rows)).
				WithHint("set `adopt: true` on the shard to take the database over as it is (its rows stay; moves into it still need an empty target range), or pick another database name")
			continue
		}
		if (!db.Exists || len(missing) > 0) && b.spec.SchemaFile == "" {
			what := "does not exist"
			if db.Exists {
				what = "lacks table(s) " + strings.Join(missing, ", ")
			}
			b.diags.Errorf(s.Pos, "new shard %s: database %s %s and the plan has no schemaFile", s.Name, loc, what).
				WithHint("add `schemaFile: schema.sql` to the spec, or create the tables on the database first")
			continue
		}
		adopt := db.Exists && db.rows() > 0 && db.ShardOf == ""
		create := stepspec.CreateShard{ShardMap: b.mapName(), Location: location(loc), CreateDatabase: !db.Exists, Adopt: adopt}
		if len(missing) > 0 {
			create.SchemaFile = b.spec.SchemaFile
		}
		var parts []string
		switch {
		case !db.Exists:
			parts = append(parts, "create database")
		case adopt:
			parts = append(parts, fmt.Sprintf("ADOPT the existing database as it is, with its %s rows (%s)", stepgraph.Thousands(db.rows()), tableRowsText(db.Rows)))
		case db.ShardOf != "":
			parts = append(parts, "use the database, already a shard of map "+db.ShardOf)
		default:
			parts = append(parts, "use the existing empty database")
		}
		if db.Exists && !db.Listed {
			parts[0] += ", not listed in the fleet catalog until now"
		}
		if len(missing) > 0 {
			parts = append(parts, "apply "+shortPath(b.spec.SchemaFile))
		}
		detail := strings.Join(append(parts, "register in GSM and LSM"), ", ")
		for _, r := range b.tables.Reference {
			if n := db.tableRows(r); n > 0 {
				b.g.Warnings = append(b.g.Warnings, fmt.Sprintf("reference table %s on new shard %s already holds %s rows: moves keep them as they are and copy none (reference data is copied only into empty tables)",
					r, s.Name, stepgraph.Thousands(n)))
			}
		}
		unlist := db.Exists && !db.Listed
		st := b.add(create, &stepgraph.Step{ID: "create-shard-" + s.Name,
			Title: fmt.Sprintf("add shard %s (%s)", s.Name, loc), Needs: b.metaNeeds(),
			// The rollback drops the database only when this step created it,
			// and only while it holds nothing but reference data.
			Rollback: b.undo(stepspec.RemoveShard{ShardMap: b.mapName(), Location: location(loc), DropDatabase: !db.Exists,
				DropOnlyIfEmpty: true, Reference: schemaInputs(b.tables).Reference, UnlistDatabase: &unlist}),
			Estimate: stepgraph.Estimate{Duration: 200 * time.Millisecond, Basis: "metadata and schema"}})
		b.createShard[locKey(loc)] = st.ID
		b.change(stepgraph.Create, fmt.Sprintf("shard %s (%s)", s.Name, loc), detail)
	}
}

// tableRowsText lists the tables that hold rows: "2 customers, 6 orders".
func tableRowsText(tables []fleet.TableRows) string {
	var parts []string
	for _, t := range tables {
		if t.Rows > 0 {
			parts = append(parts, stepgraph.Thousands(t.Rows)+" "+t.Name)
		}
	}
	return strings.Join(parts, ", ")
}

func shortPath(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func (b *layoutBuilder) tableNames() []string {
	var out []string
	for _, t := range b.tables.Sharded {
		out = append(out, fleet.ShortTable(t.Table))
	}
	for _, t := range b.tables.Reference {
		out = append(out, fleet.ShortTable(t))
	}
	return out
}

func (b *layoutBuilder) shardName(loc fleet.Location) string {
	if n, ok := b.nameByLoc[locKey(loc)]; ok {
		return n
	}
	return loc.Database
}

func (b *layoutBuilder) encode(k plans.Key, pos diag.Pos) []byte {
	enc, _ := b.encodeKey(k, pos)
	return enc
}

// encodeKey is encode that also tells whether the key was valid.
func (b *layoutBuilder) encodeKey(k plans.Key, pos diag.Pos) ([]byte, bool) {
	enc, err := shardkey.EncodeText(b.kt, k.Text)
	if err != nil {
		b.diags.Errorf(pos, "key %q: %v", k.Text, err).WithHint("%s", plans.KeyHint(b.spec.KeyType))
		return []byte{}, false
	}
	return enc, true
}

// desiredRanges returns the plan's ranges ordered by low bound, in one
// backing array. A range whose low is written as the high of the range
// before it (the usual way of writing a layout) shares its encoding.
func (b *layoutBuilder) desiredRanges() []desiredRange {
	out := make([]desiredRange, 0, len(b.spec.Ranges))
	locs := make(map[string]*fleet.Location, len(b.shardByName))
	for name, loc := range b.shardByName {
		locs[name] = &loc
	}
	var lastHigh string // text of the previous range's high, when it was valid
	var lastEnc []byte
	for i := range b.spec.Ranges {
		r := &b.spec.Ranges[i]
		loc, ok := locs[r.Shard]
		if !ok {
			loc = &fleet.Location{}
			locs[r.Shard] = loc
		}
		d := desiredRange{shard: loc, name: r.Shard, pos: &r.Pos}
		if lastEnc != nil && r.Low.Text == lastHigh {
			d.min = lastEnc
		} else {
			d.min = b.encode(r.Low, r.Pos)
		}
		lastEnc = nil
		if r.High != nil {
			enc, ok := b.encodeKey(*r.High, r.Pos)
			d.max = enc
			if ok {
				lastHigh, lastEnc = r.High.Text, enc
			}
		}
		out = append(out, d)
	}
	if !ascending(len(out), func(i int) []byte { return out[i].min }) {
		sort.Slice(out, func(i, j int) bool { return shardkey.Compare(out[i].min, out[j].min) < 0 })
	}
	return out
}

// ascending reports whether the n keys key(0), key(1), ... are in strictly
// ascending order, so a list a plan or the fleet already keeps sorted is not
// sorted (nor copied) again.
func ascending(n int, key func(i int) []byte) bool {
	for i := 1; i < n; i++ {
		if shardkey.Compare(key(i-1), key(i)) >= 0 {
			return false
		}
	}
	return true
}

// cmpMax compares upper bounds, nil (+inf) being greatest.
func cmpMax(a, b []byte) int { return shardkey.Compare(a, b) }

// liveMappings returns the live mappings ordered by Min: the fleet's own
// list when it is in that order already (callers only read it), else a
// sorted copy.
func (b *layoutBuilder) liveMappings() []fleet.Mapping {
	if b.live.Map == nil {
		return nil
	}
	ms := b.live.Map.Mappings
	if ascending(len(ms), func(i int) []byte { return ms[i].Min }) {
		return ms
	}
	ms = append([]fleet.Mapping(nil), ms...)
	sort.Slice(ms, func(i, j int) bool { return shardkey.Compare(ms[i].Min, ms[j].Min) < 0 })
	return ms
}

// containing returns the index of the mapping (ordered by Min) that holds
// key x, or -1. hint is where the last mapping with a Min at or below x may
// be, as it is when keys are asked in ascending order (the bounds of a
// plan): that mapping and the next are tried before a binary search, and
// *hint is set to where it was.
func containing(ms []fleet.Mapping, x []byte, hint *int) int {
	atOrBelow := func(i int) bool { return shardkey.Compare(ms[i].Min, x) <= 0 }
	i := -1
	for j := max(*hint, 0); j < len(ms) && j <= *hint+1; j++ {
		if atOrBelow(j) && (j+1 == len(ms) || !atOrBelow(j+1)) {
			i = j
			break
		}
	}
	if i < 0 {
		i = sort.Search(len(ms), func(i int) bool { return !atOrBelow(i) }) - 1
	}
	*hint = i
	if i >= 0 && cmpMax(x, ms[i].Max) < 0 {
		return i
	}
	return -1
}

// boundsOf returns a function that yields the bounds of n intervals
// (min(i), and max(i) unless it is nil) in ascending order, equal ones
// once, then false. Intervals that do not overlap, taken in order, give
// their bounds in order already: those are walked as they are, and only
// others are gathered and sorted.
func boundsOf(n int, min, max func(i int) []byte) func() ([]byte, bool) {
	at := func(k int) ([]byte, bool) { // position 2i is min(i), 2i+1 max(i)
		if k%2 == 0 {
			return min(k / 2), true
		}
		x := max(k / 2)
		return x, x != nil
	}
	var list [][]byte // when not in order
	var prev []byte
	for k, have := 0, false; k < 2*n; k++ {
		x, ok := at(k)
		if !ok {
			continue
		}
		if have && shardkey.Compare(prev, x) > 0 {
			list = make([][]byte, 0, 2*n)
			for k := range 2 * n {
				if x, ok := at(k); ok {
					list = append(list, x)
				}
			}
			sort.Slice(list, func(i, j int) bool { return shardkey.Compare(list[i], list[j]) < 0 })
			break
		}
		prev, have = x, true
	}
	end, get := 2*n, at
	if list != nil {
		end, get = len(list), func(k int) ([]byte, bool) { return list[k], true }
	}
	k, started := 0, false
	var last []byte
	return func() ([]byte, bool) {
		for ; k < end; k++ {
			x, ok := get(k)
			if !ok || started && shardkey.Compare(x, last) == 0 {
				continue
			}
			k++
			last, started = x, true
			return x, true
		}
		return nil, false
	}
}

// mergeBounds merges two ascending sequences of distinct bounds (see
// boundsOf) into one list; size is a guess of its length.
func mergeBounds(a, b func() ([]byte, bool), size int) [][]byte {
	out := make([][]byte, 0, size)
	x, okA := a()
	y, okB := b()
	for okA || okB {
		c := -1
		switch {
		case !okA:
			c = 1
		case okB:
			c = shardkey.Compare(x, y)
		}
		if c <= 0 {
			out = append(out, x)
			x, okA = a()
		} else {
			out = append(out, y)
		}
		if c >= 0 {
			y, okB = b()
		}
	}
	return out
}

// pieces cuts the key space at every live and desired boundary, in one sweep
// over both sorted lists (the plan may hold 100,000 ranges), and returns the
// pieces that are mapped or wanted with the bounds they start at.
func (b *layoutBuilder) pieces(live []fleet.Mapping, desired []desiredRange) ([]piece, [][]byte) {
	uniq := mergeBounds(
		boundsOf(len(live), func(i int) []byte { return live[i].Min }, func(i int) []byte { return live[i].Max }),
		boundsOf(len(desired), func(i int) []byte { return desired[i].min }, func(i int) []byte { return desired[i].max }),
		max(len(live), len(desired))+1)
	out := make([]piece, 0, len(uniq))
	li, di := 0, 0
	for i, lo := range uniq {
		hi := upper(uniq, int32(i))
		p := piece{at: int32(i)}
		for li < len(live) && live[li].Max != nil && shardkey.Compare(live[li].Max, lo) <= 0 {
			li++
		}
		if li < len(live) && shardkey.Compare(live[li].Min, lo) <= 0 && cmpMax(hi, live[li].Max) <= 0 {
			p.live = &live[li]
		}
		for di < len(desired) && desired[di].max != nil && shardkey.Compare(desired[di].max, lo) <= 0 {
			di++
		}
		if di < len(desired) && shardkey.Compare(desired[di].min, lo) <= 0 && cmpMax(hi, desired[di].max) <= 0 {
			p.desired = &desired[di]
		}
		if p.live != nil || p.desired != nil {
			out = append(out, p)
		}
	}
	return out, uniq
}

func (b *layoutBuilder) keyRange(min, max []byte) fleet.KeyRange {
	r, err := shardkey.Range(b.kt, min, max)
	if err != nil {
		b.diags.Errorf(b.mapPos(), "key range %s: %v", b.rangeText(min, max), err).WithHint("%s", plans.KeyHint(b.spec.KeyType))
	}
	return r
}

// tableCounts holds a row count per table of tables.Sharded, by index; -1
// for a table not counted.
type tableCounts []int64

// rows counts the rows of every sharded table in [min, max) on a database.
func (b *layoutBuilder) rows(loc fleet.Location, min, max []byte) (int64, tableCounts) {
	db := b.live.Databases[loc]
	if b.live.Rows == nil || !db.Exists {
		return 0, nil
	}
	r := b.keyRange(min, max)
	var total int64
	per := make(tableCounts, len(b.tables.Sharded))
	for i, t := range b.tables.Sharded {
		per[i] = -1
		short := b.shortTables[i]
		if !db.hasTable(short) {
			continue
		}
		n, err := b.live.Rows.CountRange(b.ctx, loc, short, t.KeyColumn, r)
		if err != nil {
			b.diags.Errorf(b.shardedTablePos(t.Table), "count rows of %s in %s on %s: %v", t.Table, b.rangeText(min, max), loc, err).
				WithHint("%s", cmp.Or(fleet.HintOf(err), "check that the shard databases are reachable: fleetplan layout --target NAME"))
			continue
		}
		per[i] = n
		total += n
	}
	return total, per
}

// shardedTablePos is where the plan names a sharded table; the shard map
// when the table comes from the stored schema info.
func (b *layoutBuilder) shardedTablePos(table string) diag.Pos {
	for _, t := range b.spec.Tables.Sharded {
		if strings.EqualFold(t.Table, table) {
			return orPos(t.Pos, b.mapPos())
		}
	}
	return b.mapPos()
}

func (b *layoutBuilder) rowDetail(per tableCounts) string {
	var parts []string
	for i, n := range per {
		if n >= 0 {
			parts = append(parts, stepgraph.Thousands(n)+" "+b.tables.Sharded[i].Table)
		}
	}
	return strings.Join(parts, ", ")
}

func (b *layoutBuilder) moveEstimate(rows int64) stepgraph.Estimate {
	batch := int64(orInt(b.spec.Move.BatchSize, 100))
	d := time.Duration(float64(rows) / b.throughput * float64(time.Second))
	// Per batch: two metadata round trips (offline, repoint+online) besides the copy.
	batches := int64(1)
	if rows > 0 {
		batches = (rows + batch - 1) / batch
	}
	d += time.Duration(batches) * 4 * time.Millisecond
	perBatch := d / time.Duration(batches)
	return stepgraph.Estimate{Duration: d, Rows: rows, Unavailable: perBatch,
		Basis: fmt.Sprintf("%s rows at %.0f rows/s (%s); each batch offline ~%s", stepgraph.Thousands(rows), b.throughput, b.basis, stepgraph.RoundDuration(perBatch))}
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// planRanges diffs range mappings piece by piece.
func (b *layoutBuilder) planRanges() {
	desired := b.desiredRanges()
	if b.diags.HasErrors() {
		return
	}
	live := b.liveMappings()
	ps, bounds := b.pieces(live, desired)
	// 1. splits: every desired boundary strictly inside a live mapping.
	splitAt := map[string]string{} // bound -> step id
	var splitBounds [][]byte       // sorted, for splitsWithin
	lastSplit := map[string]string{}
	hint := 0
	for i := range desired {
		d := &desired[i]
		for _, x := range [2][]byte{d.min, d.max} {
			if x == nil {
				continue
			}
			i := containing(live, x, &hint)
			if i < 0 || shardkey.Compare(live[i].Min, x) == 0 {
				continue
			}
			if _, done := splitAt[string(x)]; done {
				continue
			}
			m := live[i]
			st := &stepgraph.Step{ID: stepID("split-" + shardkey.FormatBound(b.kt, x)),
				Title: fmt.Sprintf("split %s at %s on %s (metadata only)", b.rangeText(m.Min, m.Max), shardkey.FormatBound(b.kt, x), b.shardName(m.Location)),
				Rollback: b.undo(stepspec.Merge{ShardMap: b.mapName(), KeyType: b.kt.String(),
					Low: shardkey.BoundString(m.Min), High: shardkey.BoundString(m.Max)}),
				Estimate: stepgraph.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}}
			// Splits of one mapping run one after another.
			if prev := lastSplit[m.ID.String()]; prev != "" {
				st.Needs = []string{prev}
			}
			st.Needs = append(st.Needs, b.metaNeeds()...)
			b.add(stepspec.Split{ShardMap: b.mapName(), KeyType: b.kt.String(), At: shardkey.BoundString(x)}, st)
			splitAt[string(x)] = st.ID
			splitBounds = append(splitBounds, x)
			lastSplit[m.ID.String()] = st.ID
			b.change(stepgraph.Update, "split "+b.rangeText(m.Min, m.Max)+" at "+shardkey.FormatBound(b.kt, x), "metadata only, on "+b.shardName(m.Location))
		}
	}
	sort.Slice(splitBounds, func(i, j int) bool { return shardkey.Compare(splitBounds[i], splitBounds[j]) < 0 })
	splitsWithin := func(min, max []byte) []string {
		var ids []string
		i := sort.Search(len(splitBounds), func(i int) bool { return shardkey.Compare(splitBounds[i], min) >= 0 })
		for ; i < len(splitBounds) && (max == nil || shardkey.Compare(splitBounds[i], max) <= 0); i++ {
			ids = append(ids, splitAt[string(splitBounds[i])])
		}
		return ids
	}
	// 2. moves, adds and removals over maximal runs of like pieces: first
	// the runs that make a step, so the graph's lists grow once.
	type run struct{ i, j int32 }
	var runs []run
	for i := 0; i < len(ps); {
		p := &ps[i]
		j := i + 1
		same := func(q *piece) bool {
			if (q.live == nil) != (p.live == nil) || (q.desired == nil) != (p.desired == nil) {
				return false
			}
			if p.live != nil && !q.live.Location.Equal(p.live.Location) {
				return false
			}
			if p.desired != nil && q.desired != p.desired {
				return false
			}
			return q.at == ps[j-1].at+1 // no gap between them
		}
		for j < len(ps) && same(&ps[j]) {
			j++
		}
		if p.live == nil || p.desired == nil || !p.live.Location.Equal(*p.desired.shard) {
			runs = append(runs, run{int32(i), int32(j)})
		}
		i = j
	}
	b.reserve(len(runs))
	b.touched = slices.Grow(b.touched, len(runs))
	for _, r := range runs {
		p := &ps[r.i]
		min, max := bounds[p.at], upper(bounds, ps[r.j-1].at)
		switch {
		case p.live != nil && p.desired == nil:
			b.planUnmapped(p.live.Location, min, max, splitsWithin(min, max))
		case p.live == nil && p.desired != nil:
			b.touch(p.desired, b.planAdd(p.desired, min, max))
		case !p.live.Location.Equal(*p.desired.shard):
			b.touch(p.desired, b.planMove(p.live.Location, p.desired, min, max, splitsWithin(min, max)))
		}
	}
	// 3. merges: each desired range ends as exactly one mapping.
	for i := range ps {
		if ps[i].desired != nil {
			ps[i].desired.pieces++
		}
	}
	merges := 0
	for i := range desired {
		if b.needsMerge(&desired[i]) {
			merges++
		}
	}
	b.reserve(merges)
	for i := range desired {
		d := &desired[i]
		if !b.needsMerge(d) {
			continue
		}
		touched := b.touchesOf(d)
		var needs []string
		for _, st := range touched {
			if st != nil {
				needs = append(needs, st.ID)
			}
		}
		needs = append(needs, splitsWithin(d.min, d.max)...)
		merge := stepspec.Merge{ShardMap: b.mapName(), KeyType: b.kt.String(), Low: shardkey.BoundString(d.min), High: shardkey.BoundString(d.max)}
		b.add(merge, &stepgraph.Step{ID: stepID("merge-" + strings.Trim(b.rangeText(d.min, d.max), "[)")),
			Title:    fmt.Sprintf("merge the mappings of %s on %s into one", b.rangeText(d.min, d.max), d.name),
			Needs:    dedupe(needs),
			Estimate: stepgraph.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}})
		if len(touched) == 0 {
			b.change(stepgraph.Update, "merge "+b.rangeText(d.min, d.max), "metadata only, on "+d.name)
		}
	}
}

// needsMerge reports whether desired range d ends as more than one mapping
// once its pieces are mapped: unless it is one piece, left as it is or
// added whole.
func (b *layoutBuilder) needsMerge(d *desiredRange) bool {
	touched := b.touchesOf(d)
	if d.pieces <= 1 && len(touched) == 0 {
		return false
	}
	return d.pieces > 1 || len(touched) != 1 || touched[0] == nil || touched[0].Action != stepspec.AddMappingName
}

// reserve makes room in the graph for n more steps and changes.
func (b *layoutBuilder) reserve(n int) {
	b.g.Steps = slices.Grow(b.g.Steps, n)
	b.g.Changes = slices.Grow(b.g.Changes, n)
}

// touch records that step st (nil when it could not be planned) maps keys of d.
func (b *layoutBuilder) touch(d *desiredRange, st *stepgraph.Step) {
	if d.touched == 0 {
		b.touched = append(b.touched, nil)
		d.touched = int32(len(b.touched))
	}
	b.touched[d.touched-1] = append(b.touched[d.touched-1], st)
}

// touchesOf lists the steps that map keys of d, in the order they were planned.
func (b *layoutBuilder) touchesOf(d *desiredRange) []*stepgraph.Step {
	if d.touched == 0 {
		return nil
	}
	return b.touched[d.touched-1]
}

// createShardOf is the id of the step that creates the shard at l, or "";
// remembered by location, as 100,000 steps may ask it of one shard each.
func (b *layoutBuilder) createShardOf(l fleet.Location) string {
	id, ok := b.createShardAt[l]
	if !ok {
		id = b.createShard[locKey(l)]
		if b.createShardAt == nil {
			b.createShardAt = map[fleet.Location]string{}
		}
		b.createShardAt[l] = id
	}
	return id
}

func (b *layoutBuilder) shardNeeds(locs ...fleet.Location) []string {
	n := make([]string, 0, len(locs)+2) // + the map's and its schema info's
	for _, l := range locs {
		if id := b.createShardOf(l); id != "" {
			n = append(n, id)
		}
	}
	return b.appendMetaNeeds(n)
}

// planUnmapped handles keys mapped live that no desired range covers: allowed
// only when they hold no rows (the mapping is then removed).
func (b *layoutBuilder) planUnmapped(from fleet.Location, min, max []byte, splits []string) {
	rows, per := b.rows(from, min, max)
	if rows > 0 {
		if b.mt == fleet.ListMap {
			b.diags.Errorf(b.unmappedPos(min), "%s holds %s rows on shard %s (%s) but no point in the plan maps it", b.rangeText(min, max),
				stepgraph.Thousands(rows), b.shardName(from), b.rowDetail(per)).
				WithHint("map the key to a shard in spec.points, or move its rows away first")
			return
		}
		b.diags.Errorf(b.unmappedPos(min), "keys %s hold %s rows on shard %s (%s) but no range in the plan maps them", b.rangeText(min, max),
			stepgraph.Thousands(rows), b.shardName(from), b.rowDetail(per)).
			WithHint("map the range to a shard in spec.ranges, or move its rows away first")
		return
	}
	unmap := stepspec.RemoveMapping{ShardMap: b.mapName(), KeyType: b.kt.String(),
		Low: shardkey.BoundString(min), High: shardkey.BoundString(max), Server: from.Server, Database: from.Database}
	b.add(unmap, &stepgraph.Step{ID: stepID("unmap-" + strings.Trim(b.rangeText(min, max), "[)")),
		Title: fmt.Sprintf("remove the empty mapping %s from %s", b.rangeText(min, max), b.shardName(from)),
		Needs: dedupe(append(splits, b.metaNeeds()...)),
		Rollback: b.undo(stepspec.AddMapping{ShardMap: b.mapName(), KeyType: b.kt.String(),
			Low: shardkey.BoundString(min), High: shardkey.BoundString(max), Location: location(from)}),
		Estimate: stepgraph.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}})
	b.change(stepgraph.Delete, "mapping "+b.rangeText(min, max), "empty, on "+b.shardName(from))
}

// unmappedPos is where to report keys from `at` on that the plan leaves
// unmapped: the range (or point) just below them, else the first one.
func (b *layoutBuilder) unmappedPos(at []byte) diag.Pos {
	pos, found := b.doc.Pos, false
	var best []byte
	consider := func(low []byte, p diag.Pos) {
		below := shardkey.Compare(low, at) < 0 && (best == nil || shardkey.Compare(low, best) > 0)
		if !found || below {
			pos, found = p, true
			if below {
				best = low
			}
		}
	}
	for _, r := range b.spec.Ranges {
		consider(b.encode(r.Low, r.Pos), r.Pos)
	}
	for _, p := range b.spec.Points {
		consider(b.encode(p.Key, p.Pos), p.Pos)
	}
	return pos
}

func (b *layoutBuilder) planAdd(d *desiredRange, min, max []byte) *stepgraph.Step {
	low, high := shardkey.BoundString(min), shardkey.BoundString(max)
	rt := b.rangeText(min, max)
	st := b.add(stepspec.AddMapping{ShardMap: b.mapName(), KeyType: b.kt.String(), Low: low, High: high, Location: location(*d.shard)},
		&stepgraph.Step{ID: stepID("map-" + strings.Trim(rt, "[)")),
			Title: "map " + rt + " to " + d.name,
			Needs: b.shardNeeds(*d.shard),
			Rollback: b.undo(stepspec.RemoveMapping{ShardMap: b.mapName(), KeyType: b.kt.String(), Low: low, High: high,
				Server: d.shard.Server, Database: d.shard.Database}),
			Estimate: stepgraph.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}})
	b.change(stepgraph.Create, "mapping "+rt, "on "+d.name)
	return st
}

func (b *layoutBuilder) planMove(from fleet.Location, d *desiredRange, min, max []byte, splits []string) *stepgraph.Step {
	if len(b.tables.Sharded) == 0 {
		why := "spec.tables lists no sharded table"
		if b.spec.Tables.Omitted {
			why = "the plan has no `tables:` and the schema info stored for shard map " + b.mapName() + " lists no sharded table"
		}
		b.diags.Errorf(*d.pos, "moving %s to %s needs at least one sharded table, but %s", b.rangeText(min, max), d.name, why).
			WithHint("list the tables whose rows move with the key under spec.tables.sharded, e.g. {table: customers, key: id}")
		return nil
	}
	rt := b.rangeText(min, max)
	to := *d.shard
	if b.liveShard(to) != nil || b.live.Databases[to].Exists {
		if n, per := b.rows(to, min, max); n > 0 {
			b.diags.Errorf(*d.pos, "target shard %s already holds %s rows in %s (%s)", d.name, stepgraph.Thousands(n), rt, b.rowDetail(per)).
				WithHint("the target range must be empty before a move; remove those rows or pick another shard")
			return nil
		}
	}
	rows, per := b.rows(from, min, max)
	move := stepspec.MoveRange{ShardMap: b.mapName(), KeyType: b.kt.String(),
		Low: shardkey.BoundString(min), High: shardkey.BoundString(max), From: location(from), To: location(to),
		BatchSize: orInt(b.spec.Move.BatchSize, 100), Tables: schemaInputs(b.tables)}
	back := move
	back.From, back.To = move.To, move.From
	// The reverse move undoes this one: where it finds keys still on its
	// target (never moved), rows on its source there are not its own.
	back.Undo = true
	st := b.add(move, &stepgraph.Step{ID: stepID("move-" + strings.Trim(rt, "[)")),
		Title:    fmt.Sprintf("move %s from %s to %s in batches of %d", rt, b.shardName(from), d.name, orInt(b.spec.Move.BatchSize, 100)),
		Needs:    dedupe(append(splits, b.shardNeeds(to)...)),
		Rollback: b.undo(back),
		Estimate: b.moveEstimate(rows)})
	detail := b.shardName(from) + " -> " + d.name
	if rows > 0 {
		detail += ", " + b.rowDetail(per)
	}
	b.change(stepgraph.Move, "range "+rt, detail)
	return st
}

// planPoints diffs list mappings key by key.
func (b *layoutBuilder) planPoints() {
	type want struct {
		key   []byte
		shard fleet.Location
		name  string
		pos   diag.Pos
	}
	wanted := map[string]want{}
	var order []string
	for _, p := range b.spec.Points {
		k := b.encode(p.Key, p.Pos)
		wanted[string(k)] = want{key: k, shard: b.shardByName[p.Shard], name: p.Shard, pos: p.Pos}
		order = append(order, string(k))
	}
	liveBy := map[string]fleet.Mapping{}
	if b.live.Map != nil {
		for _, m := range b.live.Map.Mappings {
			liveBy[string(m.Min)] = m
			if _, ok := wanted[string(m.Min)]; !ok {
				order = append(order, string(m.Min))
			}
		}
	}
	sort.Slice(order, func(i, j int) bool { return shardkey.Compare([]byte(order[i]), []byte(order[j])) < 0 })
	for _, k := range order {
		w, isWanted := wanted[k]
		m, isLive := liveBy[k]
		key := []byte(k)
		next := shardkey.Next(b.kt, key)
		switch {
		case isLive && !isWanted:
			b.planUnmapped(m.Location, key, next, nil)
		case !isLive && isWanted:
			b.planAdd(&desiredRange{min: key, max: next, shard: &w.shard, name: w.name, pos: &w.pos}, key, next)
		case isLive && isWanted && !m.Location.Equal(w.shard):
			b.planMove(m.Location, &desiredRange{min: key, max: next, shard: &w.shard, name: w.name, pos: &w.pos}, key, next, nil)
		}
	}
}

// removedShards lists the live shards the plan no longer lists, in the
// order of the live map.
func (b *layoutBuilder) removedShards() []fleet.Location {
	if b.live.Map == nil {
		return nil
	}
	var out []fleet.Location
	for _, s := range b.live.Map.Shards {
		loc := s.Shard.Location
		if name, ok := b.nameByLoc[locKey(loc)]; ok && b.shardByName[name].Equal(loc) {
			continue // the usual case, without a look at every shard of the plan
		}
		listed := false
		for _, l := range b.shardByName {
			if l.Equal(loc) {
				listed = true
			}
		}
		if !listed {
			out = append(out, loc)
		}
	}
	return out
}

// planRemovedShards unregisters live shards the plan no longer lists.
func (b *layoutBuilder) planRemovedShards() {
	for _, loc := range b.removed {
		// Every step that takes keys off this shard must finish first.
		var needs []string
		for _, a := range b.offShard {
			st := a.step
			switch in := a.spec.(type) {
			case stepspec.MoveRange:
				if fleet.Location(in.From).Equal(loc) {
					needs = append(needs, st.ID)
				}
			case stepspec.RemoveMapping:
				if in.Server == loc.Server && in.Database == loc.Database {
					needs = append(needs, st.ID)
				}
			}
		}
		drop := b.spec.DropRemovedShards
		detail := "unregister; database kept"
		if drop {
			detail = "unregister and drop the database (kept if it still holds rows other than reference data)"
		}
		st := &stepgraph.Step{ID: stepID("remove-shard-" + loc.Database),
			Title: fmt.Sprintf("remove shard %s from the shard map", loc),
			Needs: dedupe(needs), Estimate: stepgraph.Estimate{Duration: 50 * time.Millisecond, Basis: "metadata"}}
		if !drop {
			// Re-registering the shard takes back its own database, rows and all.
			st.Rollback = b.undo(stepspec.CreateShard{ShardMap: b.mapName(), Location: location(loc), CreateDatabase: false, Adopt: true})
		}
		// Dropped only while it holds nothing but reference data: rows a
		// move left behind (changed since they moved) are never lost.
		b.add(stepspec.RemoveShard{ShardMap: b.mapName(), Location: location(loc), DropDatabase: drop,
			DropOnlyIfEmpty: true, Reference: schemaInputs(b.tables).Reference}, st)
		b.change(stepgraph.Delete, fmt.Sprintf("shard %s", loc), detail)
	}
}

// stepID turns a title-like string into a step id: lower-case, [a-z0-9._-].
func stepID(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_'
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

func dedupe(ids []string) []string {
	var out []string
	if len(ids) <= 16 { // a step's usual few needs: no map to build and drop
		if distinct(ids) {
			return slices.Clip(ids) // already what it would build
		}
		for _, id := range ids {
			if id != "" && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// distinct reports whether ids holds at least one id, none of them empty
// and none twice.
func distinct(ids []string) bool {
	for i, id := range ids {
		if id == "" || slices.Contains(ids[:i], id) {
			return false
		}
	}
	return len(ids) > 0
}

// locKey is a case-insensitive map key for a location.
func locKey(l fleet.Location) string { return strings.ToLower(l.Server + "/" + l.Database) }

// schemaDiff lists the table changes from have to want, one line per table:
// "+ sharded orders (key customer_id)", "- reference regions",
// "~ sharded orders (key customer_id -> order_id)".
func schemaDiff(have, want fleet.SchemaInfo) []string {
	var lines []string
	haveKey := map[string]fleet.ShardedTable{}
	for _, t := range have.Sharded {
		haveKey[fleet.TableKey(t.Table)] = t
	}
	wantKey := map[string]bool{}
	for _, t := range want.Sharded {
		wantKey[fleet.TableKey(t.Table)] = true
		old, ok := haveKey[fleet.TableKey(t.Table)]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("+ sharded table %s (key %s)", t.Table, t.KeyColumn))
		case !strings.EqualFold(old.KeyColumn, t.KeyColumn):
			lines = append(lines, fmt.Sprintf("~ sharded table %s (key %s -> %s)", t.Table, old.KeyColumn, t.KeyColumn))
		}
	}
	for _, t := range have.Sharded {
		if !wantKey[fleet.TableKey(t.Table)] {
			lines = append(lines, fmt.Sprintf("- sharded table %s (key %s)", t.Table, t.KeyColumn))
		}
	}
	haveRef, wantRef := map[string]bool{}, map[string]bool{}
	for _, r := range have.Reference {
		haveRef[fleet.TableKey(r)] = true
	}
	for _, r := range want.Reference {
		wantRef[fleet.TableKey(r)] = true
		if !haveRef[fleet.TableKey(r)] {
			lines = append(lines, "+ reference table "+r)
		}
	}
	for _, r := range have.Reference {
		if !wantRef[fleet.TableKey(r)] {
			lines = append(lines, "- reference table "+r)
		}
	}
	return lines
}
