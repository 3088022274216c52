package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// RecoveryLive is what a ShardMapRecovery plan is made from: the map's
// layout (with its differences and their recovery tokens), the rows each
// shard holds in its mapped ranges (for detach), and the rows on a shard
// their key does not route to (for moveMisplacedRows).
type RecoveryLive struct {
	Layout *fleet.Layout
	// MappedRows: location (lower case) -> rows in its mapped ranges; absent
	// when they cannot be counted.
	MappedRows map[string]int64
	Misplaced  []MisplacedRows
}

// MisplacedRows is rows of a table on Shard that the map sends to To.
type MisplacedRows struct {
	Shard     fleet.Location
	Table     string
	Low, High string
	To        *fleet.Location
	Rows      int64
}

type recoveryBuilder struct {
	doc   *plans.Document
	spec  *plans.ShardMapRecovery
	live  *RecoveryLive
	m     *fleet.MapLayout
	g     *stepgraph.Graph
	diags diag.List
	prev  string
	ids   map[string]int
}

// PlanShardMapRecovery turns a ShardMapRecovery document into steps, in
// this order: the failover's five steps per shard of the old server
// (detach, attach at the new server, detect, resolve, verify), location
// updates, attaches, resolutions, detaches, and the move of misplaced rows.
// Before each shard's changes a snapshot step keeps the map's rows in the
// run's journal; every changing step's rollback branch restores them
// exactly. What is already as the plan wants it is not planned again.
func PlanShardMapRecovery(doc *plans.Document, live *RecoveryLive) (*stepgraph.Graph, diag.List) {
	spec := doc.ShardMapRecovery()
	b := &recoveryBuilder{doc: doc, spec: spec, live: live, ids: map[string]int{}}
	b.g = &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: doc.Kind, Plan: doc.Metadata.Name, Source: doc.File,
		Target: spec.Target, OnFailure: spec.OnFailure, Fingerprint: live.Layout.Fingerprint}
	if b.g.OnFailure == "" {
		b.g.OnFailure = plans.OnFailureRollback
	}
	if doc.Config != nil {
		if t, ok := doc.Config.Targets[spec.Target]; ok {
			b.g.Credentials = t.RecoveryCredentials()
		}
	}
	b.m = live.Layout.Map(spec.ShardMap)
	if b.m == nil {
		b.diags.Errorf(doc.Pos, "shard map %q does not exist on target %q", spec.ShardMap, spec.Target).
			WithHint("`fleetplan layout --target %s` lists the shard maps", spec.Target)
		return nil, b.diags
	}
	b.failover()
	b.updates()
	b.attaches()
	b.resolutions()
	b.detaches()
	b.moveRows()
	if b.diags.HasErrors() {
		return nil, b.diags
	}
	return b.g, b.diags
}

func lk(l fleet.Location) string { return strings.ToLower(l.String()) }

func sloc(l fleet.Location) stepspec.Location { return stepspec.Location(l) }

func ref(r plans.ShardRef) fleet.Location {
	return fleet.Location{Server: r.Server, Database: r.Database}
}

func (b *recoveryBuilder) id(s string) string {
	id := stepID(s)
	b.ids[id]++
	if n := b.ids[id]; n > 1 {
		id = fmt.Sprintf("%s-%d", id, n)
	}
	return id
}

// add appends a step after the previous one: recovery steps run one at a time.
func (b *recoveryBuilder) add(st *stepgraph.Step) {
	if b.prev != "" {
		st.Needs = []string{b.prev}
	}
	st.Estimate = stepgraph.Estimate{Duration: 50e6, Basis: "metadata"}
	b.g.Steps = append(b.g.Steps, st)
	b.prev = st.ID
}

// snapshot adds the step that keeps the map's rows (and the LSM rows at
// locs) in the journal, and returns the rollback branch that restores them.
func (b *recoveryBuilder) snapshot(name string, locs ...fleet.Location) *stepgraph.Step {
	id := b.id("keep " + name)
	var ls []stepspec.Location
	for _, l := range locs {
		ls = append(ls, sloc(l))
	}
	b.add(&stepgraph.Step{ID: id, Action: stepspec.RecoverySnapshotName, Title: "keep the shard map's rows before changing " + name,
		With: stepspec.With(stepspec.RecoverySnapshot{ShardMap: b.spec.ShardMap, Locations: ls})})
	return undo(stepspec.RecoveryRestore{ShardMap: b.spec.ShardMap, Snapshot: "${{ steps['" + id + "'].outputs.snapshot }}"})
}

func (b *recoveryBuilder) step(title string, spec stepspec.Spec, rollback *stepgraph.Step) *stepgraph.Step {
	st := &stepgraph.Step{ID: b.id(title), Action: spec.Action(), Title: title, With: stepspec.With(spec)}
	if rollback != nil {
		rb := *rollback
		rb.With = map[string]any{}
		for k, v := range rollback.With {
			rb.With[k] = v
		}
		st.Rollback = &rb
	}
	b.add(st)
	return st
}

func (b *recoveryBuilder) shardAt(l fleet.Location) *fleet.ShardState {
	for i := range b.m.Shards {
		if b.m.Shards[i].Shard.Location.Equal(l) {
			return &b.m.Shards[i]
		}
	}
	return nil
}

func (b *recoveryBuilder) diffsOn(l fleet.Location) []fleet.Difference {
	var out []fleet.Difference
	for _, d := range b.m.Differences {
		if d.Shard.Equal(l) {
			out = append(out, d)
		}
	}
	return out
}

func (b *recoveryBuilder) rng(d fleet.Difference) string {
	if d.Min == nil {
		return ""
	}
	return " " + elasticdb.BoundsText(b.m.Map, d.Min, d.Max)
}

// before is a difference as a preview's "-" line.
func (b *recoveryBuilder) before(d fleet.Difference) string {
	return fmt.Sprintf("- %s%s: %s [token %s]", d.Kind, b.rng(d), d.Detail, d.Token)
}

// after says, as a "+" line, what resolving d with res leaves.
func (b *recoveryBuilder) after(d fleet.Difference, res string) string {
	keepShard := res == elasticdb.KeepShardMapping
	var s string
	switch d.Kind {
	case fleet.DiffMappingInShardMapOnly:
		s = map[bool]string{true: "removed from the global shard map (the shard does not hold it)", false: "added to the shard's local shard map as the global shard map has it"}[keepShard]
	case fleet.DiffMappingInShardOnly:
		s = map[bool]string{true: "added to the global shard map for this shard, with the same mapping id", false: "removed from the shard's local shard map"}[keepShard]
	case fleet.DiffMappingMismatch:
		s = map[bool]string{true: "the global shard map takes the local bounds and status", false: "the local shard map takes the global bounds and status"}[keepShard]
	case fleet.DiffShardVersionMismatch:
		s = map[bool]string{true: "the global shard map takes the local shard version", false: "the local shard map takes the global shard version"}[keepShard]
	case fleet.DiffShardLocationMismatch:
		s = "the local shard map's shard row names " + d.Shard.String()
	case fleet.DiffShardMissingInShard:
		s = "the local shard map gets its shard row and mappings from the global shard map"
	case fleet.DiffMappingOverlapsOtherShard:
		s = map[bool]string{true: "these keys go to this shard; the other shard's global mapping over them is removed", false: "the local shard map no longer holds these keys"}[keepShard]
	case fleet.DiffGSMMappingsOverlap:
		s = map[bool]string{true: "the global shard map keeps, for this shard, only what its local shard map holds", false: "kept in both (the other shard's resolution removes the duplicate)"}[keepShard]
	case fleet.DiffShardInShardOnly:
		s = map[bool]string{true: "attached: the global shard map takes the shard and its mappings from the local shard map", false: "the map's rows are removed from the database's local shard map (its data stays)"}[keepShard]
	default:
		s = "resolved"
	}
	return fmt.Sprintf("+ %s%s: %s", d.Kind, b.rng(d), s)
}

func (b *recoveryBuilder) resolution() string {
	if b.spec.Resolve == "" {
		return elasticdb.KeepShardMapping
	}
	return b.spec.Resolve
}

func (b *recoveryBuilder) failover() {
	f := b.spec.Failover
	if f == nil {
		return
	}
	res := b.resolution()
	var todo []fleet.ShardState
	for _, s := range b.m.Shards {
		if strings.EqualFold(s.Shard.Location.Server, f.FromServer) {
			todo = append(todo, s)
		}
	}
	sort.Slice(todo, func(i, j int) bool { return lk(todo[i].Shard.Location) < lk(todo[j].Shard.Location) })
	for _, s := range todo {
		old := s.Shard.Location
		to := fleet.Location{Server: f.ToServer, Database: old.Database}
		if s.Exists {
			b.diags.Errorf(f.Pos, "refusing to fail over %s: its database is still there on %s", old, f.FromServer).
				WithHint("the failover workflow detaches the old location; run it only after the databases moved to %s (a geo-failover), or repoint one shard with updateLocation:", f.ToServer)
			continue
		}
		moved := false
		for _, d := range b.diffsOn(old) {
			moved = moved || (d.Kind == fleet.DiffShardMoved && d.MovedTo != nil && d.MovedTo.Equal(to))
		}
		if !moved {
			b.diags.Errorf(f.Pos, "refusing to fail over %s: %s does not hold the shard in its local shard map", old, to).
				WithHint("`fleetplan doctor` says where the shard's database is; restore it, or detach the shard with force: true if its rows are gone")
			continue
		}
		name := old.Database
		rb := b.snapshot(name, old, to)
		b.step(fmt.Sprintf("detach %s", old), stepspec.RecoveryDetach{ShardMap: b.spec.ShardMap, Location: sloc(old), Relocated: to.String()}, rb).Guard =
			&stepgraph.Guard{Name: "the old database is gone", Expr: fmt.Sprintf("none(live.databases, .server == %q && .name == %q)", old.Server, old.Database)}
		b.step(fmt.Sprintf("attach %s", to), stepspec.RecoveryAttach{ShardMap: b.spec.ShardMap, Location: sloc(to)}, rb)
		b.step(fmt.Sprintf("detect differences on %s", to), stepspec.RecoveryDetect{ShardMap: b.spec.ShardMap, Location: sloc(to)}, nil)
		b.step(fmt.Sprintf("resolve %s on %s", res, to), stepspec.RecoveryResolve{ShardMap: b.spec.ShardMap, Location: sloc(to), Resolution: res}, rb)
		b.step(fmt.Sprintf("verify %s", to), stepspec.RecoveryVerify{ShardMap: b.spec.ShardMap, Location: sloc(to)}, nil)
		b.g.Changes = append(b.g.Changes, stepgraph.Change{Op: stepgraph.Move, Object: "shard " + name, Detail: fmt.Sprintf("%s -> %s, failover", old, to),
			Lines: []string{fmt.Sprintf("- global shard map: %s (database missing)", old),
				fmt.Sprintf("+ global shard map: %s, mappings taken from its local shard map (%s)", to, res)}})
	}
}

func (b *recoveryBuilder) updates() {
	for _, u := range b.spec.Update {
		from, to := ref(u.From), ref(u.To)
		if b.shardAt(from) == nil && b.shardAt(to) != nil && len(b.diffsOn(to)) == 0 {
			continue // done
		}
		if b.shardAt(from) == nil {
			b.diags.Errorf(u.Pos, "updateLocation: %s is not a shard of %s", from, b.spec.ShardMap).
				WithHint("`fleetplan layout --shard-map %s` lists its shards", b.spec.ShardMap)
			continue
		}
		rb := b.snapshot(from.Database, from, to)
		b.step(fmt.Sprintf("update location %s to %s", from, to), stepspec.RecoveryUpdateLocation{ShardMap: b.spec.ShardMap, From: sloc(from), To: sloc(to)}, rb)
		b.step(fmt.Sprintf("verify %s", to), stepspec.RecoveryVerify{ShardMap: b.spec.ShardMap, Location: sloc(to)}, nil)
		b.g.Changes = append(b.g.Changes, stepgraph.Change{Op: stepgraph.Move, Object: "shard " + from.Database, Detail: fmt.Sprintf("%s -> %s", from, to),
			Lines: []string{"- global shard map: " + from.String(), "+ global shard map: " + to.String() + " (same shard id, version and mapping ids)"}})
	}
}

func (b *recoveryBuilder) attaches() {
	res := b.resolution()
	for _, a := range b.spec.Attach {
		at := ref(a)
		ds := b.diffsOn(at)
		if b.shardAt(at) != nil && len(ds) == 0 {
			continue // attached and agreeing
		}
		rb := b.snapshot(at.Database, at)
		b.step("attach "+at.String(), stepspec.RecoveryAttach{ShardMap: b.spec.ShardMap, Location: sloc(at)}, rb)
		b.step("detect differences on "+at.String(), stepspec.RecoveryDetect{ShardMap: b.spec.ShardMap, Location: sloc(at)}, nil)
		b.step(fmt.Sprintf("resolve %s on %s", res, at), stepspec.RecoveryResolve{ShardMap: b.spec.ShardMap, Location: sloc(at), Resolution: res}, rb)
		b.step("verify "+at.String(), stepspec.RecoveryVerify{ShardMap: b.spec.ShardMap, Location: sloc(at)}, nil)
		ch := stepgraph.Change{Op: stepgraph.Create, Object: "shard " + at.String(), Detail: "attach, then resolve " + res}
		for _, d := range ds {
			ch.Lines = append(ch.Lines, b.before(d), b.after(d, res))
		}
		b.g.Changes = append(b.g.Changes, ch)
	}
}

// resolveTargets is every shard the plan resolves and how, in order.
func (b *recoveryBuilder) resolveTargets() ([]fleet.Location, map[string]string) {
	var order []fleet.Location
	how := map[string]string{}
	add := func(l fleet.Location, res string, pos diag.Pos) {
		if prev, ok := how[lk(l)]; ok {
			if prev != res {
				b.diags.Errorf(pos, "shard %s is resolved both ways (%s and %s)", l, prev, res).
					WithHint("a shard's differences are resolved one way: keep the shard's mappings or the global shard map's")
			}
			return
		}
		how[lk(l)] = res
		order = append(order, l)
	}
	handled := map[string]bool{}
	if b.spec.Failover != nil {
		for _, s := range b.m.Shards {
			if strings.EqualFold(s.Shard.Location.Server, b.spec.Failover.FromServer) {
				handled[lk(fleet.Location{Server: b.spec.Failover.ToServer, Database: s.Shard.Location.Database})] = true
			}
		}
	}
	for _, a := range b.spec.Attach {
		handled[lk(ref(a))] = true
	}
	for _, r := range b.spec.Resolutions {
		for _, s := range r.Shards {
			add(ref(s), r.Resolution, s.Pos)
		}
		for _, t := range r.Tokens {
			found := false
			for _, d := range b.m.Differences {
				if strings.EqualFold(d.Token, t) {
					add(d.Shard, r.Resolution, r.Pos)
					found = true
				}
			}
			if !found {
				b.diags.Errorf(r.Pos, "recovery token %s is not a difference of %s now", t, b.spec.ShardMap).
					WithHint("`fleetplan layout --shard-map %s` lists the differences with their tokens; a resolved difference's token is gone", b.spec.ShardMap)
			}
		}
	}
	if b.spec.Resolve != "" {
		switch {
		case len(b.spec.Shards) > 0:
			for _, s := range b.spec.Shards {
				add(ref(s), b.spec.Resolve, s.Pos)
			}
		case b.spec.ResolveSet && b.spec.Failover == nil && len(b.spec.Attach) == 0 && len(b.spec.Update) == 0 && len(b.spec.Detach) == 0:
			for _, d := range b.m.Differences {
				if !handled[lk(d.Shard)] {
					add(d.Shard, b.spec.Resolve, b.spec.ResolvePos)
				}
			}
		}
	}
	var out []fleet.Location
	for _, l := range order {
		if !handled[lk(l)] {
			out = append(out, l)
		}
	}
	return out, how
}

func (b *recoveryBuilder) resolutions() {
	locs, how := b.resolveTargets()
	for _, at := range locs {
		res := how[lk(at)]
		ds := b.diffsOn(at)
		if len(ds) == 0 {
			continue // nothing differs: nothing to plan
		}
		stray := false
		for _, d := range ds {
			switch d.Kind {
			case fleet.DiffDatabaseMissing, fleet.DiffShardMoved:
				b.diags.Errorf(b.spec.ResolvePos, "cannot resolve %s: %s", at, d.Detail).
					WithHint("restore the database, repoint the shard (failover: or updateLocation:), or detach it with force: true")
			case fleet.DiffShardInShardOnly:
				stray = true
				if res == elasticdb.KeepShardMapping {
					b.diags.Errorf(b.spec.ResolvePos, "cannot keep the shard's mappings of %s: the global shard map does not list the shard", at).
						WithHint("attach: [{server: %s, database: %s}] adds it first", at.Server, at.Database)
				}
			case fleet.DiffShardMissingInShard:
				if res == elasticdb.KeepShardMapping {
					b.diags.Errorf(b.spec.ResolvePos, "cannot keep the shard's mappings of %s: %s", at, d.Detail).
						WithHint("resolve it with keepShardMapMapping, which rewrites the local shard map from the global one")
				}
			}
		}
		rb := b.snapshot(at.Database, at)
		b.step(fmt.Sprintf("resolve %s on %s", res, at), stepspec.RecoveryResolve{ShardMap: b.spec.ShardMap, Location: sloc(at), Resolution: res}, rb)
		if !stray {
			b.step("verify "+at.String(), stepspec.RecoveryVerify{ShardMap: b.spec.ShardMap, Location: sloc(at)}, nil)
		}
		ch := stepgraph.Change{Op: stepgraph.Update, Object: "shard " + at.String(), Detail: "resolve " + res}
		for _, d := range ds {
			ch.Lines = append(ch.Lines, b.before(d), b.after(d, res))
		}
		b.g.Changes = append(b.g.Changes, ch)
	}
}

func (b *recoveryBuilder) detaches() {
	for _, d := range b.spec.Detach {
		at := ref(d)
		if b.shardAt(at) == nil {
			continue // detached already
		}
		rows, known := b.live.MappedRows[lk(at)]
		detail := "its rows cannot be counted (database missing)"
		if known {
			detail = plural(rows, "row") + " in its mapped ranges"
		}
		if !b.spec.Force && (!known || rows > 0) {
			b.diags.Errorf(d.Pos, "refusing to detach %s: %s", at, detail).
				WithHint("detaching removes the shard's mappings from the global shard map, so these keys would route nowhere; move the rows first, or set force: true")
			continue
		}
		rb := b.snapshot(at.Database, at)
		b.step("detach "+at.String(), stepspec.RecoveryDetach{ShardMap: b.spec.ShardMap, Location: sloc(at), Force: b.spec.Force}, rb)
		ch := stepgraph.Change{Op: stepgraph.Delete, Object: "shard " + at.String(), Detail: "detach: " + detail}
		for _, mp := range b.m.Mappings {
			if mp.Location.Equal(at) {
				ch.Lines = append(ch.Lines, "- global shard map: "+elasticdb.BoundsText(b.m.Map, mp.Min, mp.Max)+" -> "+at.String())
			}
		}
		ch.Lines = append(ch.Lines, "+ these keys route to no shard; the database and its local shard map are not touched")
		b.g.Changes = append(b.g.Changes, ch)
	}
}

func (b *recoveryBuilder) moveRows() {
	if !b.spec.MoveMisplacedRows {
		return
	}
	var lines []string
	var total int64
	for _, x := range b.live.Misplaced {
		if x.To == nil {
			continue
		}
		total += x.Rows
		lines = append(lines, fmt.Sprintf("- %s: %s of %s in [%s, %s)", x.Shard, plural(x.Rows, "row"), x.Table, x.Low, x.High),
			fmt.Sprintf("+ %s: the same rows, where its key routes", x.To))
	}
	planned := len(b.g.Steps) > 0
	if total == 0 && !planned {
		return // every row is where its key routes
	}
	st := b.step("move misplaced rows to the shards their keys route to", stepspec.RecoveryMoveRows{ShardMap: b.spec.ShardMap}, nil)
	st.NoUndo = true
	detail := plural(total, "row")
	if planned {
		detail += " now; counted again after the steps before it"
	}
	b.g.Changes = append(b.g.Changes, stepgraph.Change{Op: stepgraph.Move, Object: "misplaced rows", Detail: detail, Lines: lines})
}

// plural is "1 row", "2 rows".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
