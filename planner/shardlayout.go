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

// piece is an elementary key interval between consecutive boundaries.
type piece struct {
	min, max []byte // max nil = +inf
	live     *fleet.Mapping
	desired  *desiredRange
}

type desiredRange struct {
	min, max []byte
	shard    fleet.Location
	name     string
	pos      diag.Pos
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
		nameByLoc: map[string]string{}, actionOf: map[string]string{}, specOf: map[string]stepspec.Spec{}}
	b.tables = b.desiredSchema()
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
	gates       []string
	nameByLoc   map[string]string            // locKey -> shard name in the plan
	liveByLoc   map[string]*fleet.ShardState // locKey -> live shard
	actionOf    map[string]string            // step id -> action
	specOf      map[string]stepspec.Spec     // step id -> its typed inputs
	bad         *inconsistency               // GSM/LSM differences; nil when none
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
	s.Action, s.With = spec.Action(), stepspec.With(spec)
	b.refuseInconsistent(s, spec)
	s.Needs = dedupe(append(s.Needs, b.gates...))
	b.g.Steps = append(b.g.Steps, s)
	b.actionOf[s.ID] = s.Action
	b.specOf[s.ID] = spec
	return s
}

// undo is a rollback branch: a step of the action spec is the inputs of.
func undo(spec stepspec.Spec) *stepgraph.Step {
	return &stepgraph.Step{Action: spec.Action(), With: stepspec.With(spec)}
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
			st.Rollback = undo(stepspec.SetSchemaInfo{ShardMap: b.mapName(), Tables: schemaInputs(have)})
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

func (b *layoutBuilder) metaNeeds() []string {
	var n []string
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
			Rollback: undo(stepspec.RemoveShard{ShardMap: b.mapName(), Location: location(loc), DropDatabase: !db.Exists,
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
	enc, err := shardkey.EncodeText(b.kt, k.Text)
	if err != nil {
		b.diags.Errorf(pos, "key %q: %v", k.Text, err).WithHint("%s", plans.KeyHint(b.spec.KeyType))
		return []byte{}
	}
	return enc
}

func (b *layoutBuilder) desiredRanges() []*desiredRange {
	var out []*desiredRange
	for _, r := range b.spec.Ranges {
		d := &desiredRange{min: b.encode(r.Low, r.Pos), shard: b.shardByName[r.Shard], name: r.Shard, pos: r.Pos}
		if r.High != nil {
			d.max = b.encode(*r.High, r.Pos)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return shardkey.Compare(out[i].min, out[j].min) < 0 })
	return out
}

// cmpMax compares upper bounds, nil (+inf) being greatest.
func cmpMax(a, b []byte) int { return shardkey.Compare(a, b) }

// liveMappings returns the live mappings ordered by Min.
func (b *layoutBuilder) liveMappings() []fleet.Mapping {
	if b.live.Map == nil {
		return nil
	}
	ms := append([]fleet.Mapping(nil), b.live.Map.Mappings...)
	sort.Slice(ms, func(i, j int) bool { return shardkey.Compare(ms[i].Min, ms[j].Min) < 0 })
	return ms
}

// containing returns the index of the mapping (ordered by Min) that holds key x, or -1.
func containing(ms []fleet.Mapping, x []byte) int {
	i := sort.Search(len(ms), func(i int) bool { return shardkey.Compare(ms[i].Min, x) > 0 }) - 1
	if i >= 0 && cmpMax(x, ms[i].Max) < 0 {
		return i
	}
	return -1
}

// pieces cuts the key space at every live and desired boundary, in one sweep
// over both sorted lists (the plan may hold 100,000 ranges).
func (b *layoutBuilder) pieces(live []fleet.Mapping, desired []*desiredRange) []*piece {
	bounds := make([][]byte, 0, 2*(len(live)+len(desired)))
	for _, m := range live {
		bounds = append(bounds, m.Min)
		if m.Max != nil {
			bounds = append(bounds, m.Max)
		}
	}
	for _, d := range desired {
		bounds = append(bounds, d.min)
		if d.max != nil {
			bounds = append(bounds, d.max)
		}
	}
	sort.Slice(bounds, func(i, j int) bool { return shardkey.Compare(bounds[i], bounds[j]) < 0 })
	uniq := bounds[:0]
	for i, x := range bounds {
		if i == 0 || shardkey.Compare(x, uniq[len(uniq)-1]) != 0 {
			uniq = append(uniq, x)
		}
	}
	var out []*piece
	li, di := 0, 0
	for i, lo := range uniq {
		var hi []byte
		if i+1 < len(uniq) {
			hi = uniq[i+1]
		}
		p := &piece{min: lo, max: hi}
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
			p.desired = desired[di]
		}
		if p.live != nil || p.desired != nil {
			out = append(out, p)
		}
	}
	return out
}

func (b *layoutBuilder) keyRange(min, max []byte) fleet.KeyRange {
	r, err := shardkey.Range(b.kt, min, max)
	if err != nil {
		b.diags.Errorf(b.mapPos(), "key range %s: %v", b.rangeText(min, max), err).WithHint("%s", plans.KeyHint(b.spec.KeyType))
	}
	return r
}

// rows counts the rows of every sharded table in [min, max) on a database.
func (b *layoutBuilder) rows(loc fleet.Location, min, max []byte) (int64, map[string]int64) {
	per := map[string]int64{}
	if b.live.Rows == nil || !b.live.Databases[loc].Exists {
		return 0, per
	}
	r := b.keyRange(min, max)
	var total int64
	for _, t := range b.tables.Sharded {
		if !b.live.Databases[loc].hasTable(fleet.ShortTable(t.Table)) {
			continue
		}
		n, err := b.live.Rows.CountRange(b.ctx, loc, fleet.ShortTable(t.Table), t.KeyColumn, r)
		if err != nil {
			b.diags.Errorf(b.shardedTablePos(t.Table), "count rows of %s in %s on %s: %v", t.Table, b.rangeText(min, max), loc, err).
				WithHint("%s", cmp.Or(fleet.HintOf(err), "check that the shard databases are reachable: fleetplan layout --target NAME"))
			continue
		}
		per[t.Table] = n
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

func (b *layoutBuilder) rowDetail(per map[string]int64) string {
	var parts []string
	for _, t := range b.tables.Sharded {
		if n, ok := per[t.Table]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", stepgraph.Thousands(n), t.Table))
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
	ps := b.pieces(live, desired)
	// 1. splits: every desired boundary strictly inside a live mapping.
	splitAt := map[string]string{} // bound -> step id
	var splitBounds [][]byte       // sorted, for splitsWithin
	lastSplit := map[string]string{}
	for _, d := range desired {
		for _, x := range [][]byte{d.min, d.max} {
			if x == nil {
				continue
			}
			i := containing(live, x)
			if i < 0 || shardkey.Compare(live[i].Min, x) == 0 {
				continue
			}
			if _, done := splitAt[string(x)]; done {
				continue
			}
			m := live[i]
			st := &stepgraph.Step{ID: stepID("split-" + shardkey.FormatBound(b.kt, x)),
				Title: fmt.Sprintf("split %s at %s on %s (metadata only)", b.rangeText(m.Min, m.Max), shardkey.FormatBound(b.kt, x), b.shardName(m.Location)),
				Rollback: undo(stepspec.Merge{ShardMap: b.mapName(), KeyType: b.kt.String(),
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
	// 2. moves, adds and removals over maximal runs of like pieces.
	touched := map[*desiredRange][]string{}
	for i := 0; i < len(ps); {
		p := ps[i]
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
			return shardkey.Compare(ps[j-1].max, q.min) == 0
		}
		for j < len(ps) && same(ps[j]) {
			j++
		}
		min, max := p.min, ps[j-1].max
		switch {
		case p.live != nil && p.desired == nil:
			b.planUnmapped(p.live.Location, min, max, splitsWithin(min, max))
		case p.live == nil && p.desired != nil:
			id := b.planAdd(p.desired, min, max)
			touched[p.desired] = append(touched[p.desired], id)
		case !p.live.Location.Equal(p.desired.shard):
			id := b.planMove(p.live.Location, p.desired, min, max, splitsWithin(min, max))
			touched[p.desired] = append(touched[p.desired], id)
		}
		i = j
	}
	// 3. merges: each desired range ends as exactly one mapping.
	piecesOf := map[*desiredRange]int{}
	for _, p := range ps {
		if p.desired != nil {
			piecesOf[p.desired]++
		}
	}
	for _, d := range desired {
		n := piecesOf[d]
		if n <= 1 && len(touched[d]) == 0 {
			continue
		}
		if n <= 1 && len(touched[d]) == 1 && b.isAdd(touched[d][0]) {
			continue // a single added mapping is already whole
		}
		needs := append(append([]string{}, touched[d]...), splitsWithin(d.min, d.max)...)
		merge := stepspec.Merge{ShardMap: b.mapName(), KeyType: b.kt.String(), Low: shardkey.BoundString(d.min), High: shardkey.BoundString(d.max)}
		b.add(merge, &stepgraph.Step{ID: stepID("merge-" + strings.Trim(b.rangeText(d.min, d.max), "[)")),
			Title:    fmt.Sprintf("merge the mappings of %s on %s into one", b.rangeText(d.min, d.max), d.name),
			Needs:    dedupe(needs),
			Estimate: stepgraph.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}})
		if len(touched[d]) == 0 {
			b.change(stepgraph.Update, "merge "+b.rangeText(d.min, d.max), "metadata only, on "+d.name)
		}
	}
}

func (b *layoutBuilder) isAdd(id string) bool { return b.actionOf[id] == stepspec.AddMappingName }

func (b *layoutBuilder) shardNeeds(locs ...fleet.Location) []string {
	var n []string
	for _, l := range locs {
		if id, ok := b.createShard[locKey(l)]; ok {
			n = append(n, id)
		}
	}
	return append(n, b.metaNeeds()...)
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
		Rollback: undo(stepspec.AddMapping{ShardMap: b.mapName(), KeyType: b.kt.String(),
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

func (b *layoutBuilder) planAdd(d *desiredRange, min, max []byte) string {
	low, high := shardkey.BoundString(min), shardkey.BoundString(max)
	rt := b.rangeText(min, max)
	st := b.add(stepspec.AddMapping{ShardMap: b.mapName(), KeyType: b.kt.String(), Low: low, High: high, Location: location(d.shard)},
		&stepgraph.Step{ID: stepID("map-" + strings.Trim(rt, "[)")),
			Title: "map " + rt + " to " + d.name,
			Needs: b.shardNeeds(d.shard),
			Rollback: undo(stepspec.RemoveMapping{ShardMap: b.mapName(), KeyType: b.kt.String(), Low: low, High: high,
				Server: d.shard.Server, Database: d.shard.Database}),
			Estimate: stepgraph.Estimate{Duration: 30 * time.Millisecond, Basis: "metadata"}})
	b.change(stepgraph.Create, "mapping "+rt, "on "+d.name)
	return st.ID
}

func (b *layoutBuilder) planMove(from fleet.Location, d *desiredRange, min, max []byte, splits []string) string {
	if len(b.tables.Sharded) == 0 {
		why := "spec.tables lists no sharded table"
		if b.spec.Tables.Omitted {
			why = "the plan has no `tables:` and the schema info stored for shard map " + b.mapName() + " lists no sharded table"
		}
		b.diags.Errorf(d.pos, "moving %s to %s needs at least one sharded table, but %s", b.rangeText(min, max), d.name, why).
			WithHint("list the tables whose rows move with the key under spec.tables.sharded, e.g. {table: customers, key: id}")
		return ""
	}
	if b.liveShard(d.shard) != nil || b.live.Databases[d.shard].Exists {
		if n, per := b.rows(d.shard, min, max); n > 0 {
			b.diags.Errorf(d.pos, "target shard %s already holds %s rows in %s (%s)", d.name, stepgraph.Thousands(n), b.rangeText(min, max), b.rowDetail(per)).
				WithHint("the target range must be empty before a move; remove those rows or pick another shard")
			return ""
		}
	}
	rows, per := b.rows(from, min, max)
	move := stepspec.MoveRange{ShardMap: b.mapName(), KeyType: b.kt.String(),
		Low: shardkey.BoundString(min), High: shardkey.BoundString(max), From: location(from), To: location(d.shard),
		BatchSize: orInt(b.spec.Move.BatchSize, 100), Tables: schemaInputs(b.tables)}
	back := move
	back.From, back.To = move.To, move.From
	// The reverse move undoes this one: where it finds keys still on its
	// target (never moved), rows on its source there are not its own.
	back.Undo = true
	st := b.add(move, &stepgraph.Step{ID: stepID("move-" + strings.Trim(b.rangeText(min, max), "[)")),
		Title:    fmt.Sprintf("move %s from %s to %s in batches of %d", b.rangeText(min, max), b.shardName(from), d.name, orInt(b.spec.Move.BatchSize, 100)),
		Needs:    dedupe(append(splits, b.shardNeeds(d.shard)...)),
		Rollback: undo(back),
		Estimate: b.moveEstimate(rows)})
	detail := b.shardName(from) + " -> " + d.name
	if rows > 0 {
		detail += ", " + b.rowDetail(per)
	}
	b.change(stepgraph.Move, "range "+b.rangeText(min, max), detail)
	return st.ID
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
			b.planAdd(&desiredRange{min: key, max: next, shard: w.shard, name: w.name, pos: w.pos}, key, next)
		case isLive && isWanted && !m.Location.Equal(w.shard):
			b.planMove(m.Location, &desiredRange{min: key, max: next, shard: w.shard, name: w.name, pos: w.pos}, key, next, nil)
		}
	}
}

// planRemovedShards unregisters live shards the plan no longer lists.
func (b *layoutBuilder) planRemovedShards() {
	if b.live.Map == nil {
		return
	}
	for _, s := range b.live.Map.Shards {
		loc := s.Shard.Location
		listed := false
		for _, l := range b.shardByName {
			if l.Equal(loc) {
				listed = true
			}
		}
		if listed {
			continue
		}
		// Every step that takes keys off this shard must finish first.
		var needs []string
		for _, st := range b.g.Steps {
			switch in := b.specOf[st.ID].(type) {
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
			st.Rollback = undo(stepspec.CreateShard{ShardMap: b.mapName(), Location: location(loc), CreateDatabase: false, Adopt: true})
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
