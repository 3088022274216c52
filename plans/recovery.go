package plans

import (
	"strings"

	"github.com/fleetplan/fleetplan/diag"
)

func init() {
	RegisterKind(KindDef{Name: KindShardMapRecovery, Order: 40, Decode: func(d *SpecDecoder) any { return d.l.shardMapRecovery(d.doc, d.spec) }})
}

// ShardMapRecovery is the spec of a ShardMapRecovery document; nil for other kinds.
func (d *Document) ShardMapRecovery() *ShardMapRecovery { s, _ := d.Spec.(*ShardMapRecovery); return s }

// ShardMapRecovery repairs a shard map with the library's RecoveryManager
// operations: it repoints shards after a geo-failover or a rename, detaches
// and attaches shards, resolves the differences between the global and the
// local shard maps, and moves rows to the shards their keys route to.
type ShardMapRecovery struct {
	Target   string
	ShardMap string
	Failover *Failover  // repoint every shard of FromServer to ToServer
	Shards   []ShardRef // resolve these shards' differences (with Resolve)
	// Resolve is the resolution of the differences of the failover's shards,
	// of Shards, or, given alone, of every shard (ResolveKeepShardMapping by
	// default). Resolutions is the list form: one resolution each for some
	// shards or recovery tokens.
	Resolve     string
	ResolveSet  bool // resolve: was written
	ResolvePos  diag.Pos
	Resolutions []Resolution
	Detach      []ShardRef
	Attach      []ShardRef
	Update      []LocationUpdate
	// MoveMisplacedRows moves rows whose keys the global shard map sends
	// to another shard onto that shard, after the mappings are resolved.
	MoveMisplacedRows bool
	Force             bool // detach shards that still hold rows in their mapped ranges
	Uses              string
	OnFailure         string
}

// Resolution resolves the differences of some shards, or of the
// differences some recovery tokens name, one way.
type Resolution struct {
	Resolution string
	Shards     []ShardRef
	Tokens     []string
	Pos        diag.Pos
}

// LocationUpdate repoints the shard at From to the database at To.
type LocationUpdate struct {
	From, To ShardRef
	Pos      diag.Pos
}

// Resolutions of mapping differences.
const (
	ResolveKeepShardMapping    = "keepShardMapping"    // trust the LSM (usual after a failover)
	ResolveKeepShardMapMapping = "keepShardMapMapping" // trust the GSM
)

// Failover names the old and new server of a geo-failover.
type Failover struct {
	FromServer, ToServer string
	Pos                  diag.Pos
}

// ShardRef names one shard location.
type ShardRef struct {
	Server, Database string
	Pos              diag.Pos
}

func (l *loader) shardRefs(o obj, field string, seen map[string]int) []ShardRef {
	var out []ShardRef
	for _, it := range o.items(field) {
		ref := ShardRef{Server: it.str("server"), Database: it.str("database"), Pos: it.at()}
		if ref.Server == "" || ref.Database == "" {
			continue
		}
		if seen != nil {
			k := strings.ToLower(ref.Server + "/" + ref.Database)
			if line, dup := seen[k]; dup {
				l.diags.Errorf(it.at(), "shard %s/%s is listed twice (first at line %d)", ref.Server, ref.Database, line).WithHint("list each shard once")
				continue
			}
			seen[k] = it.at().Line
		}
		out = append(out, ref)
	}
	return out
}

func (l *loader) shardMapRecovery(doc *Document, spec obj) *ShardMapRecovery {
	r := &ShardMapRecovery{
		Target:            l.target(doc, spec),
		ShardMap:          spec.str("shardMap"),
		Resolve:           ResolveKeepShardMapping,
		ResolveSet:        spec.has("resolve"),
		ResolvePos:        spec.pos("resolve"),
		Force:             spec.boolean("force"),
		MoveMisplacedRows: spec.boolean("moveMisplacedRows"),
		OnFailure:         onFailure(spec),
		Uses:              spec.str("uses"),
	}
	if f := spec.obj("failover"); f.m != nil {
		r.Failover = &Failover{FromServer: f.str("fromServer"), ToServer: f.str("toServer"), Pos: f.at()}
		if r.Failover.FromServer != "" && strings.EqualFold(r.Failover.FromServer, r.Failover.ToServer) {
			f.errorf("toServer", "spec.failover: fromServer and toServer are the same server %q", r.Failover.ToServer)
		}
	}
	r.Shards = l.shardRefs(spec, "shards", map[string]int{})
	r.Detach = l.shardRefs(spec, "detach", map[string]int{})
	r.Attach = l.shardRefs(spec, "attach", map[string]int{})
	for _, it := range spec.items("updateLocation") {
		from, to := it.obj("from"), it.obj("to")
		u := LocationUpdate{From: ShardRef{Server: from.str("server"), Database: from.str("database"), Pos: from.at()},
			To: ShardRef{Server: to.str("server"), Database: to.str("database"), Pos: to.at()}, Pos: it.at()}
		if strings.EqualFold(u.From.Server, u.To.Server) && strings.EqualFold(u.From.Database, u.To.Database) && u.From.Server != "" {
			it.errorf("to", "updateLocation: from and to are the same database %s/%s", u.To.Server, u.To.Database).WithHint("name the database's new server or name in to:")
		}
		r.Update = append(r.Update, u)
	}
	switch v := spec.m["resolve"].(type) {
	case string:
		r.Resolve = v
	case []any:
		r.Resolve = ""
		for _, it := range spec.items("resolve") {
			res := Resolution{Resolution: it.str("resolution"), Shards: l.shardRefs(it, "shards", nil), Tokens: it.strings("tokens"), Pos: it.at()}
			if !it.has("shards") && !it.has("tokens") && it.m != nil {
				l.diags.Errorf(it.at(), "resolve: give shards: or tokens: for resolution %s", res.Resolution).
					WithHint("`resolve: %s` alone resolves every difference of the map", res.Resolution)
			}
			r.Resolutions = append(r.Resolutions, res)
		}
	}
	detachedAttached := map[string]bool{}
	for _, d := range r.Detach {
		detachedAttached[strings.ToLower(d.Server+"/"+d.Database)] = true
	}
	for _, a := range r.Attach {
		if detachedAttached[strings.ToLower(a.Server+"/"+a.Database)] {
			l.diags.Errorf(a.Pos, "shard %s/%s is both detached and attached", a.Server, a.Database).
				WithHint("to move a shard, detach its old location and attach the new one, or use updateLocation:")
		}
	}
	switch {
	case spec.has("failover") && spec.has("shards"):
		l.diags.Errorf(spec.keyPos("shards"), "give either failover: or shards:, not both").
			WithHint("failover: repoints every shard of a server; shards: checks the listed shards")
	case spec.m != nil && !spec.has("failover") && !spec.has("shards") && !spec.has("resolve") && !spec.has("detach") &&
		!spec.has("attach") && !spec.has("updateLocation") && !spec.boolean("moveMisplacedRows"):
		l.diags.Errorf(spec.selfKeyPos(), "missing failover: or shards: in spec").
			WithHint("failover: {fromServer, toServer} repoints shards after a geo-failover; shards: [{server, database}] checks those shards; " +
				"resolve:, detach:, attach:, updateLocation: and moveMisplacedRows: repair the map (`fleetplan doctor --write-plan FILE` writes one)")
	}
	if spec.has("uses") || spec.has("steps") || spec.has("with") {
		l.stepSource(doc, spec, false)
	}
	return r
}
