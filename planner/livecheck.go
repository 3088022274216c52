package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/schema"
)

// This file holds the checks of names a ShardLayout gives to live things
// (servers, tables, key columns) against what the fleet has. Only the live
// fleet can tell them, so they run at plan time, and each is reported at the
// field that names the thing, with the names the fleet does have.

// orPos returns p, or fallback when p is unknown.
func orPos(p, fallback diag.Pos) diag.Pos {
	if p.Line == 0 {
		return fallback
	}
	return p
}

// mapPos is where problems of the shard map as a whole are reported: its
// shardMap: field.
func (b *layoutBuilder) mapPos() diag.Pos { return orPos(b.spec.ShardMapPos, b.doc.Pos) }

// checkLiveNames runs every check of names against the live fleet.
func (b *layoutBuilder) checkLiveNames() {
	b.checkServers()
	b.checkTables()
}

// checkServers refuses a shard on a server the fleet does not have, unless
// the shard says createServer: true: a misspelt server must not quietly
// become a new one.
func (b *layoutBuilder) checkServers() {
	if b.live.Servers == nil {
		return
	}
	for _, s := range b.spec.Shards {
		if s.CreateServer || containsFold(b.live.Servers, s.Server) {
			continue
		}
		d := b.diags.Errorf(orPos(s.ServerPos, s.Pos), "shard %s: server %q does not exist in target %q", s.Name, s.Server, b.live.Target)
		known := strings.Join(b.live.Servers, ", ")
		if sug := schema.Suggest(s.Server, b.live.Servers); sug != "" {
			d.WithHint("did you mean %q? servers: %s; a new server must be said: createServer: true on the shard (local driver only)", sug, known)
		} else {
			d.WithHint("servers: %s; a new server must be said: createServer: true on the shard (local driver only)", orNone(known))
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// tableSource is the set of tables one shard will have when data moves: a
// live database's own, or what the schemaFile creates on a new shard.
type tableSource struct {
	shard  string // shard name as the plan (or the live map) calls it
	loc    fleet.Location
	tables []fleet.TableInfo
	// fromSchemaFile says (some of) the tables come from the schemaFile.
	fromSchemaFile bool
	// names are the table names when the driver gave no columns.
	names []string
}

func (t tableSource) table(name string) (fleet.TableInfo, bool) {
	bare := fleet.ShortTable(name)
	for _, ti := range t.tables {
		if strings.EqualFold(ti.Name, bare) {
			return ti, true
		}
	}
	return fleet.TableInfo{}, false
}

func (t tableSource) has(name string) bool {
	if _, ok := t.table(name); ok {
		return true
	}
	return containsFold(t.names, fleet.ShortTable(name))
}

func (t tableSource) tableNames() []string {
	out := append([]string(nil), t.names...)
	for _, ti := range t.tables {
		if !containsFold(out, ti.Name) {
			out = append(out, ti.Name)
		}
	}
	sort.Strings(out)
	return out
}

// tableSources lists what every shard that takes part will hold: the plan's
// shards and the live map's. Shards that cannot be told (a new shard with no
// schemaFile, a schemaFile the driver cannot describe) are left out; other
// checks report them. needSchemaFile says a new shard takes its tables from
// the schemaFile.
func (b *layoutBuilder) tableSources() (out []tableSource, needSchemaFile bool) {
	seen := map[string]bool{}
	addLoc := func(name string, loc fleet.Location) {
		if seen[locKey(loc)] {
			return
		}
		seen[locKey(loc)] = true
		db := b.live.Databases[loc]
		src := tableSource{shard: name, loc: loc, tables: db.Described}
		if db.Described == nil {
			src.names = db.Tables
		}
		registered := b.liveShard(loc) != nil
		complete := db.Exists
		for _, t := range b.tableNames() {
			complete = complete && db.hasTable(t)
		}
		switch {
		case registered && !db.Exists:
			return // a shard whose database is gone: the shard map checks report it
		case registered || complete:
		default:
			needSchemaFile = true
			if b.spec.SchemaFile == "" || !b.live.SchemaFile.Described || b.live.SchemaFile.Err != nil {
				return
			}
			// A new shard: its own tables (if any), then the schemaFile's.
			src.fromSchemaFile = true
			for _, ti := range b.live.SchemaFile.Tables {
				if !src.has(ti.Name) {
					src.tables = append(src.tables, ti)
				}
			}
		}
		out = append(out, src)
	}
	planned := map[string]string{}
	for _, s := range b.spec.Shards {
		loc := fleet.Location{Server: s.Server, Database: s.Database}
		planned[locKey(loc)] = s.Name
		addLoc(s.Name, loc)
	}
	if b.live.Map != nil {
		for _, s := range b.live.Map.Shards {
			name, ok := planned[locKey(s.Shard.Location)]
			if !ok {
				name = s.Shard.Location.Database
			}
			addLoc(name, s.Shard.Location)
		}
	}
	return out, needSchemaFile
}

// where names a shard in messages.
func (b *layoutBuilder) where(t tableSource) string {
	if t.fromSchemaFile {
		return fmt.Sprintf("new shard %s (%s, from schemaFile %s)", t.shard, t.loc, shortPath(b.spec.SchemaFile))
	}
	return fmt.Sprintf("shard %s (%s)", t.shard, t.loc)
}

// whereAll names up to three shards, then how many more.
func (b *layoutBuilder) whereAll(ts []tableSource) string {
	var parts []string
	for i, t := range ts {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ts)-3))
			break
		}
		parts = append(parts, b.where(t))
	}
	return strings.Join(parts, ", ")
}

// checkTables refuses sharded and reference tables, and key columns, that
// the shards do not have: a move would copy nothing, and the schema info
// would record a table that is not there.
func (b *layoutBuilder) checkTables() {
	sources, needSchemaFile := b.tableSources()
	if err := b.live.SchemaFile.Err; err != nil && needSchemaFile {
		b.diags.Errorf(orPos(b.spec.SchemaFilePos, b.mapPos()), "schemaFile %s does not run: %v", shortPath(b.spec.SchemaFile), err).
			WithHint("fix the script: it is applied to every new shard's database before data arrives")
	}
	if b.spec.Tables.Omitted {
		// The stored schema info stands for tables:; it has no position of
		// its own, so its tables are reported at shardMap:.
		const stored = " (in the stored schema info of the shard map; tables: is omitted)"
		for _, t := range b.tables.Sharded {
			if b.checkTable(sources, t.Table, b.mapPos(), stored) {
				b.checkKeyColumn(sources, t.Table, t.KeyColumn, b.mapPos())
			}
		}
		for _, r := range b.tables.Reference {
			b.checkTable(sources, r, b.mapPos(), stored)
		}
		return
	}
	for _, t := range b.spec.Tables.Sharded {
		if b.checkTable(sources, t.Table, orPos(t.Pos, b.mapPos()), "") {
			b.checkKeyColumn(sources, t.Table, t.Key, orPos(t.KeyPos, orPos(t.Pos, b.mapPos())))
		}
	}
	for i, r := range b.spec.Tables.Reference {
		pos := b.mapPos()
		if i < len(b.spec.Tables.ReferencePos) {
			pos = orPos(b.spec.Tables.ReferencePos[i], pos)
		}
		b.checkTable(sources, r, pos, "")
	}
}

// checkTable reports a table some shards lack; it returns true when every
// shard has it. note says where the table comes from, when not from tables:.
func (b *layoutBuilder) checkTable(sources []tableSource, table string, pos diag.Pos, note string) bool {
	var lacking []tableSource
	for _, src := range sources {
		if !src.has(table) {
			lacking = append(lacking, src)
		}
	}
	if len(lacking) == 0 {
		return true
	}
	first := lacking[0]
	d := b.diags.Errorf(pos, "table %q%s does not exist on %s", table, note, b.whereAll(lacking))
	names := first.tableNames()
	fix := "create it on the shard first (fleetplan applies schemaFile only to new shards), or remove it from tables:"
	if first.fromSchemaFile {
		fix = "add it to the schemaFile, or remove it from tables:"
	}
	if sug := nearest(fleet.ShortTable(table), names); sug != "" {
		d.WithHint("did you mean %q? tables on %s: %s", sug, first.shard, strings.Join(names, ", "))
	} else {
		d.WithHint("tables on %s: %s; %s", first.shard, orNone(strings.Join(names, ", ")), fix)
	}
	return false
}

// checkKeyColumn reports a key column that a shard's table lacks, or whose
// declared type cannot hold the map's keys (where the driver can tell).
func (b *layoutBuilder) checkKeyColumn(sources []tableSource, table, key string, pos diag.Pos) {
	var lacking []tableSource
	var cols []string
	for _, src := range sources {
		ti, ok := src.table(table)
		if !ok {
			continue // no columns known
		}
		typ, has := ti.ColumnType(key)
		if !has {
			if lacking == nil {
				cols = ti.Columns
			}
			lacking = append(lacking, src)
			continue
		}
		if b.live.KeyColumnFits == nil {
			continue
		}
		if fits, want := b.live.KeyColumnFits(b.kt, typ); !fits {
			b.diags.Errorf(pos, "key column %s.%s is %s on %s, which cannot hold %s keys", fleet.ShortTable(table), key, typ, b.where(src), b.kt).
				WithHint("%s keys need %s; name another column, or give the map the keyType of this column", b.kt, want)
			return
		}
	}
	if len(lacking) == 0 {
		return
	}
	d := b.diags.Errorf(pos, "table %s has no column %q on %s", fleet.ShortTable(table), key, b.whereAll(lacking))
	if sug := nearest(key, cols); sug != "" {
		d.WithHint("did you mean %q? columns of %s: %s", sug, fleet.ShortTable(table), strings.Join(cols, ", "))
	} else {
		d.WithHint("columns of %s: %s; key: names the column that holds the sharding key", fleet.ShortTable(table), orNone(strings.Join(cols, ", ")))
	}
}

// nearest suggests the table or column meant by name: a close spelling
// (schema.Suggest), else an abbreviation or expansion (cust_id for
// customer_id): an option starting with the same letter of which one of the
// two holds all the letters of the other in order, and at least half of
// the longer one's; the closest in length wins.
func nearest(name string, options []string) string {
	if s := schema.Suggest(name, options); s != "" {
		return s
	}
	best, bestScore := "", 0.0
	n := strings.ToLower(name)
	for _, o := range options {
		l := strings.ToLower(o)
		if n == "" || l == "" || n[0] != l[0] {
			continue
		}
		common := lcs(n, l)
		score := float64(common) / float64(max(len(n), len(l)))
		if common == min(len(n), len(l)) && score >= 0.5 && score > bestScore {
			best, bestScore = o, score
		}
	}
	return best
}

// lcs is the length of the longest common subsequence of a and b.
func lcs(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				cur[j] = prev[j-1] + 1
			case prev[j] >= cur[j-1]:
				cur[j] = prev[j]
			default:
				cur[j] = cur[j-1]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
