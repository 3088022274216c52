package plans

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/schema"
	"gopkg.in/yaml.v3"
)

// Defaults of ShardLayout.move.
const (
	DefaultBatchSize = 100
	DefaultParallel  = 1
)

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func init() {
	RegisterKind(KindDef{Name: KindShardLayout, Order: 10, Decode: func(d *SpecDecoder) any { return d.l.shardLayout(d.doc, d.spec) }})
}

// ShardLayout is the spec of a ShardLayout document; nil for other kinds.
func (d *Document) ShardLayout() *ShardLayout { s, _ := d.Spec.(*ShardLayout); return s }

// shardLayout builds a ShardLayout and runs its semantic checks.
func (l *loader) shardLayout(doc *Document, spec obj) *ShardLayout {
	s := &ShardLayout{
		Target:            l.target(doc, spec),
		ShardMap:          spec.str("shardMap"),
		MapType:           spec.strOr("mapType", MapRange),
		KeyType:           spec.str("keyType"),
		DropRemovedShards: spec.boolean("dropRemovedShards"),
		OnFailure:         onFailure(spec),
		TargetPos:         spec.pos("target"),
		ShardMapPos:       spec.pos("shardMap"),
		KeyTypePos:        spec.pos("keyType"),
		SchemaFilePos:     spec.pos("schemaFile"),
	}
	if spec.has("mapType") {
		s.MapTypePos = spec.pos("mapType")
	}
	move := spec.obj("move")
	s.Move = MoveSettings{BatchSize: move.integer("batchSize", DefaultBatchSize), Parallel: move.integer("parallel", DefaultParallel)}
	l.shards(s, spec)
	l.checkCreateServer(doc, s, spec)
	l.mappings(s, spec)
	l.tables(s, spec)
	s.SchemaFile = confinedFile(spec, "schemaFile", "schema file", rootsOf(doc))
	if name := spec.str("schemaFile"); s.SchemaFile != "" {
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(absPath(doc.File)), name)
		}
		doc.addRead(name)
	}
	s.Guards = guards(spec)
	l.refuseInterpolation(spec)
	return s
}

// refuseInterpolation reports a `${{ }}` anywhere in a ShardLayout's spec
// but its guards: the layout is literal desired state, never evaluated, so
// an expression there would be taken as a name ("${{ params.map }}" as a
// shard map) and fail only half-way through apply.
func (l *loader) refuseInterpolation(spec obj) {
	root := spec.d.nodeAt(spec.ptr)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n == root && n.Content[i].Value == "guards" {
					continue
				}
				walk(n.Content[i+1])
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.ScalarNode:
			if strings.Contains(n.Value, "${{") {
				l.diags.Errorf(nodePos(spec.d.file, n), "a ShardLayout value is taken as written; ${{ }} is not evaluated here").
					WithHint("write the value itself; expressions belong in spec.guards, or in a RollingUpgrade template's with:")
			}
		}
	}
	if root != nil {
		walk(root)
	}
}

// guards compiles spec.guards.
func guards(spec obj) []Guard {
	var out []Guard
	for _, g := range spec.items("guards") {
		name := g.str("name")
		out = append(out, Guard{Name: name, Expr: g.str("expr"), Pos: g.at(), Program: g.compileGuard("expr", fmt.Sprintf("guard %q", name))})
	}
	return out
}

func (l *loader) shards(s *ShardLayout, spec obj) {
	byName := map[string]obj{}
	byLoc := map[string]obj{}
	for _, it := range spec.items("shards") {
		sh := Shard{Name: it.strOr("name", it.str("database")), Server: it.str("server"), Database: it.str("database"),
			CreateServer: it.boolean("createServer"), Adopt: it.boolean("adopt"), Pos: it.at(), ServerPos: it.pos("server")}
		if sh.Name == "" || sh.Server == "" || sh.Database == "" {
			continue // the schema reported what is missing
		}
		namePos := it.pos("name")
		if !it.has("name") {
			namePos = it.pos("database")
		}
		if first, dup := byName[sh.Name]; dup {
			l.diags.Errorf(namePos, "duplicate shard name %q (first defined at line %d)", sh.Name, first.at().Line).WithHint("shard names must be unique; rename one of them")
			continue
		}
		loc := strings.ToLower(sh.Server) + "/" + strings.ToLower(sh.Database)
		if first, dup := byLoc[loc]; dup {
			l.diags.Errorf(it.at(), "duplicate shard location %s/%s (already shard %q at line %d)",
				sh.Server, sh.Database, first.strOr("name", first.str("database")), first.at().Line).
				WithHint("each shard must be a database of its own")
			continue
		}
		byName[sh.Name], byLoc[loc] = it, it
		s.Shards = append(s.Shards, sh)
	}
}

// checkCreateServer refuses createServer: true on a target whose driver
// cannot create servers: only the local driver makes one on the fly; a real
// server is created (and paid for) outside fleetplan.
func (l *loader) checkCreateServer(doc *Document, s *ShardLayout, spec obj) {
	if doc.Config == nil {
		return
	}
	t, ok := doc.Config.Targets[s.Target]
	if !ok || t.Driver == DriverLocal {
		return
	}
	for _, it := range spec.items("shards") {
		if it.boolean("createServer") {
			it.errorf("createServer", "createServer: true is for the local driver; target %q uses the %s driver", s.Target, t.Driver).
				WithHint("create server %q in the %s control plane first, then remove createServer", it.str("server"), t.Driver)
		}
	}
}

// shardIndex answers "is this a shard of the layout?" for every range and
// point, in constant time, and words the hint for an unknown name once
// however many times it is used.
type shardIndex struct {
	names map[string]bool
	known []string          // in plan order
	hints map[string]string // unknown name -> hint
}

func newShardIndex(s *ShardLayout) *shardIndex {
	ix := &shardIndex{names: make(map[string]bool, len(s.Shards)), hints: map[string]string{}}
	for _, sh := range s.Shards {
		ix.names[sh.Name] = true
		ix.known = append(ix.known, sh.Name)
	}
	return ix
}

// maxListed is how many names a hint lists before it says how many more.
const maxListed = 10

func (ix *shardIndex) hint(name string) string {
	if h, ok := ix.hints[name]; ok {
		return h
	}
	list := strings.Join(ix.known, ", ")
	if len(ix.known) > maxListed {
		list = fmt.Sprintf("%s, ... (%d in all)", strings.Join(ix.known[:maxListed], ", "), len(ix.known))
	}
	var h string
	switch sug := schema.Suggest(name, ix.known); {
	case sug != "":
		h = fmt.Sprintf("did you mean %q? shards: %s", sug, list)
	case len(ix.known) > 0:
		h = "shards: " + list
	default:
		h = "list the shard under spec.shards with its name, server and database"
	}
	ix.hints[name] = h
	return h
}

// shardRef checks that field k of it names a shard of the layout.
func (l *loader) shardRef(ix *shardIndex, it obj, k string) string {
	name := it.str(k)
	if name == "" || ix.names[name] {
		return name
	}
	it.errorf(k, "unknown shard %q", name).Hint = ix.hint(name)
	return name
}

// key parses field k of it as a sharding key; ok is false when it is not valid.
func (l *loader) key(s *ShardLayout, it obj, k string) (Key, bool) {
	v, present := it.m[k]
	if !present || s.KeyType == "" {
		return Key{}, false
	}
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case int, float64:
		if n := it.valueNode(k); n != nil {
			text = n.Value // as written, so 0x10 or 1e3 are judged as typed
		} else {
			text = fmt.Sprint(x)
		}
	default:
		return Key{}, false // the schema reported the type
	}
	key, err := ParseKey(s.KeyType, text)
	if err != nil {
		it.errorf(k, "%s: %v", it.path(k), err).WithHint("%s", keyHint(s.KeyType, err))
		return Key{}, false
	}
	return key, true
}

func (l *loader) mappings(s *ShardLayout, spec obj) {
	switch {
	case s.MapType == MapRange && spec.has("points"):
		l.diags.Errorf(spec.keyPos("points"), "points are for list maps, but this is a range map").
			WithHint("use ranges: with low/high, or set mapType: list")
	case s.MapType == MapList && spec.has("ranges"):
		l.diags.Errorf(spec.keyPos("ranges"), "ranges are for range maps, but this is a list map (mapType: list)").
			WithHint("use points: with key/shard, or set mapType: range")
	}
	if s.MapType == MapRange {
		l.ranges(s, spec)
	} else {
		l.points(s, spec)
	}
}

type placedRange struct {
	r  Range
	it obj
}

func (l *loader) ranges(s *ShardLayout, spec obj) {
	items := spec.items("ranges")
	placed := make([]placedRange, 0, len(items))
	s.Ranges = make([]Range, 0, len(items))
	ix := newShardIndex(s)
	for _, it := range items {
		r := Range{Shard: l.shardRef(ix, it, "shard"), Pos: it.at()}
		low, okLow := l.key(s, it, "low")
		r.Low = low
		okHigh := true
		if it.has("high") {
			var high Key
			high, okHigh = l.key(s, it, "high")
			r.High = &high
		}
		if !okLow || !okHigh {
			continue
		}
		if r.High != nil && CompareKeys(r.Low, *r.High) >= 0 {
			l.diags.Errorf(it.at(), "range low %s is not below high %s", r.Low.Text, r.High.Text).
				WithHint("ranges are half-open [low, high): low must be smaller than high; leave out high for an unbounded range")
			continue
		}
		s.Ranges = append(s.Ranges, r)
		placed = append(placed, placedRange{r, it})
	}
	sort.SliceStable(placed, func(i, j int) bool { return CompareKeys(placed[i].r.Low, placed[j].r.Low) < 0 })
	// Sweep in key order, keeping the range that reaches highest so far.
	var reach *placedRange
	for i := range placed {
		cur := &placed[i]
		if reach != nil {
			if reach.r.High == nil || CompareKeys(cur.r.Low, *reach.r.High) < 0 {
				// Report at whichever of the two comes later in the file.
				later, earlier := cur, reach
				if later.r.Pos.Line < earlier.r.Pos.Line || (later.r.Pos.Line == earlier.r.Pos.Line && later.r.Pos.Col < earlier.r.Pos.Col) {
					later, earlier = earlier, later
				}
				l.diags.Errorf(later.it.at(), "range %s overlaps range %s (line %d)", rangeText(later.r), rangeText(earlier.r), earlier.r.Pos.Line).
					WithHint("ranges must not overlap; every key maps to one shard")
			} else if c := CompareKeys(cur.r.Low, *reach.r.High); c > 0 {
				l.diags.Warnf(cur.it.at(), "keys [%s, %s) are not mapped to any shard", reach.r.High.Text, cur.r.Low.Text).WithHint("keys in a gap have no shard: extend a neighbouring range or add one if that is not meant")
			}
		}
		if reach == nil || (reach.r.High != nil && (cur.r.High == nil || CompareKeys(*cur.r.High, *reach.r.High) > 0)) {
			reach = cur
		}
	}
}

func rangeText(r Range) string {
	high := "+inf"
	if r.High != nil {
		high = r.High.Text
	}
	return fmt.Sprintf("[%s, %s)", r.Low.Text, high)
}

func (l *loader) points(s *ShardLayout, spec obj) {
	type placedPoint struct {
		p  Point
		it obj
	}
	var placed []placedPoint
	ix := newShardIndex(s)
	for _, it := range spec.items("points") {
		p := Point{Shard: l.shardRef(ix, it, "shard"), Pos: it.at()}
		key, ok := l.key(s, it, "key")
		if !ok {
			continue
		}
		p.Key = key
		s.Points = append(s.Points, p)
		placed = append(placed, placedPoint{p, it})
	}
	sort.SliceStable(placed, func(i, j int) bool { return CompareKeys(placed[i].p.Key, placed[j].p.Key) < 0 })
	for i := 1; i < len(placed); i++ {
		if CompareKeys(placed[i-1].p.Key, placed[i].p.Key) == 0 {
			a, b := placed[i-1], placed[i]
			if b.p.Pos.Line < a.p.Pos.Line {
				a, b = b, a
			}
			b.it.errorf("key", "key %s is mapped twice (also at line %d)", b.p.Key.Text, a.p.Pos.Line).
				WithHint("a list map maps each key to one shard")
		}
	}
}

func (l *loader) tables(s *ShardLayout, spec obj) {
	s.Tables.Omitted = !spec.has("tables")
	tables := spec.obj("tables")
	seen := map[string]int{}
	check := func(name string, pos diag.Pos) bool {
		if name == "" {
			return false
		}
		n, err := fleet.ParseTableName(name)
		if err != nil {
			l.diags.Errorf(pos, "%v", err).
				WithHint("name a table as table (schema dbo) or schema.table, e.g. sales.OrderLines; on the local driver sales.OrderLines is the SQLite table \"sales.OrderLines\"")
			return false
		}
		k := n.Key()
		if line, dup := seen[k]; dup {
			l.diags.Errorf(pos, "table %q is listed twice (first at line %d)", name, line).
				WithHint("a table is either sharded or reference, once")
			return false
		}
		seen[k] = pos.Line
		return true
	}
	for _, it := range tables.items("sharded") {
		t := ShardedTable{Table: it.str("table"), Key: it.str("key"), Pos: it.pos("table"), KeyPos: it.pos("key")}
		if check(t.Table, it.pos("table")) && t.Key != "" {
			s.Tables.Sharded = append(s.Tables.Sharded, t)
		}
	}
	list, _ := tables.m["reference"].([]any)
	for i, v := range list {
		name, _ := v.(string)
		pos := tables.d.pos(fmt.Sprintf("%s/%d", tables.child("reference"), i))
		if check(name, pos) {
			s.Tables.Reference = append(s.Tables.Reference, name)
			s.Tables.ReferencePos = append(s.Tables.ReferencePos, pos)
		}
	}
}
