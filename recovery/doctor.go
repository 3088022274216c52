package recovery

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// Severities of findings.
const (
	SevError   = "error"   // keys route to a shard without their rows, or routing refuses them
	SevWarning = "warning" // nothing is misrouted yet, but a change may be refused
)

// Finding is one problem doctor found.
type Finding struct {
	Severity string         `json:"severity"`
	ShardMap string         `json:"shardMap"`
	Kind     string         `json:"kind"`
	Shard    fleet.Location `json:"shard"`
	Token    string         `json:"token,omitempty"`
	Low      string         `json:"low,omitempty"`
	High     string         `json:"high,omitempty"`
	Detail   string         `json:"detail"`
	// Fix says what repairs it; Planned is true when the written plan does.
	Fix     string `json:"fix"`
	Planned bool   `json:"planned"`
}

// Report is what doctor found, and the plans that fix it (one per map).
type Report struct {
	Target   string     `json:"target"`
	Findings []Finding  `json:"findings"`
	Plans    []PlanSpec `json:"plans"`
	// Batches is how many batches of keys the placement check read.
	Batches int64 `json:"batches"`
}

// Healthy reports whether nothing was found.
func (r *Report) Healthy() bool { return len(r.Findings) == 0 }

// Options configures Diagnose.
type Options struct {
	ShardMap string // "" for every map
	Target   string // the target's name in fleetplan.yaml, for the plans
	// Batch is how many distinct keys one placement batch reads (default 1000).
	Batch int
	// Progress, when set, is told about the placement check as it goes.
	Progress func(format string, args ...any)
}

// Diagnose observes the target and checks every shard map: the differences
// between the global and local shard maps (with their recovery tokens),
// pending operations, locked mappings, and, where the target can read data
// (fleet.DataMover), the placement of every row of the sharded tables.
func Diagnose(ctx context.Context, t fleet.Target, opt Options) (*Report, error) {
	obs, ok := t.(fleet.Observer)
	if !ok {
		return nil, &fleet.Error{Op: "doctor", Target: t.Name(), Err: fmt.Errorf("%w: the %s driver cannot observe shard maps", fleet.ErrInvalidArgument, t.Driver())}
	}
	if opt.Batch <= 0 {
		opt.Batch = 1000
	}
	lay, err := obs.Observe(ctx, opt.ShardMap)
	if err != nil {
		return nil, err
	}
	rep := &Report{Target: opt.Target, Findings: []Finding{}, Plans: []PlanSpec{}}
	dm, _ := t.(fleet.DataMover)
	for i := range lay.Maps {
		if err := diagnoseMap(ctx, dm, &lay.Maps[i], opt, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func locKey(l fleet.Location) string { return strings.ToLower(l.String()) }

// diagnoseMap adds the findings and the plan of one map.
func diagnoseMap(ctx context.Context, dm fleet.DataMover, ml *fleet.MapLayout, opt Options, rep *Report) error {
	m := ml.Map
	plan := PlanSpec{Target: opt.Target, ShardMap: m.Name}
	add := func(f Finding) {
		f.ShardMap = m.Name
		rep.Findings = append(rep.Findings, f)
	}
	byShard := map[string][]fleet.Difference{}
	var order []fleet.Location
	for _, d := range ml.Differences {
		k := locKey(d.Shard)
		if _, seen := byShard[k]; !seen {
			order = append(order, d.Shard)
		}
		byShard[k] = append(byShard[k], d)
	}
	finding := func(d fleet.Difference, fix string, planned bool) Finding {
		f := Finding{Severity: SevError, Kind: d.Kind, Shard: d.Shard, Token: d.Token, Detail: d.Detail, Fix: fix, Planned: planned}
		if d.Min != nil {
			f.Low, f.High = shardkey.FormatBound(m.KeyType, d.Min), shardkey.FormatBound(m.KeyType, pointMax(m, d.Min, d.Max))
		}
		return f
	}
	// Moved shards: one failover when every shard of a server went to the
	// same server under its own name, else one location update each.
	moved := map[string][]fleet.Difference{}
	for _, d := range ml.Differences {
		if d.Kind == fleet.DiffShardMoved && d.MovedTo != nil {
			k := strings.ToLower(d.Shard.Server + ">" + d.MovedTo.Server)
			moved[k] = append(moved[k], d)
		}
	}
	failover := ""
	for k, ds := range moved {
		all := true
		for _, s := range ml.Shards {
			if strings.EqualFold(s.Shard.Location.Server, ds[0].Shard.Server) {
				found := false
				for _, d := range ds {
					found = found || (d.Shard.Equal(s.Shard.Location) && strings.EqualFold(d.MovedTo.Database, d.Shard.Database))
				}
				all = all && found
			}
		}
		if all && failover == "" && plan.Failover == nil {
			failover = k
			plan.Failover = &Failover{FromServer: ds[0].Shard.Server, ToServer: ds[0].MovedTo.Server}
		}
	}
	skip := map[string]bool{} // shards whose other differences the plan's structural fix covers
	for k, ds := range moved {
		for _, d := range ds {
			skip[locKey(d.Shard)], skip[locKey(*d.MovedTo)] = true, true
			if k == failover {
				add(finding(d, fmt.Sprintf("failover: {fromServer: %s, toServer: %s} (detach, attach at %s, resolve keepShardMapping)",
					plan.Failover.FromServer, plan.Failover.ToServer, d.MovedTo), true))
				continue
			}
			plan.Update = append(plan.Update, Move{From: d.Shard, To: *d.MovedTo})
			add(finding(d, fmt.Sprintf("updateLocation: %s -> %s", d.Shard, d.MovedTo), true))
		}
	}
	var tables []fleet.ShardedTable
	tables = append(tables, ml.Tables.Sharded...)
	fixes, handled, err := overlaps(ctx, dm, ml, tables, byShard)
	if err != nil {
		return err
	}
	refusedOverlap := false
	mappings := ml.Mappings // as they are once the duplicates are removed
	if len(fixes) > 0 {
		dups := map[string]bool{}
		for _, f := range fixes {
			refusedOverlap = refusedOverlap || f.refused != ""
			for _, d := range f.dups {
				dups[d.ID.String()] = true
			}
		}
		mappings = nil
		for _, mp := range ml.Mappings {
			if !dups[mp.ID.String()] {
				mappings = append(mappings, mp)
			}
		}
	}
	for _, loc := range order {
		k := locKey(loc)
		if skip[k] {
			continue
		}
		ds := byShard[k]
		if ds[0].Kind == fleet.DiffDatabaseMissing {
			add(finding(ds[0], "restore the database from a backup (local fleets: fleet simulate restore), then run doctor again; "+
				"if its rows are gone for good, `detach` the shard with `force: true` (its keys then route nowhere)", false))
			skip[k] = true
			continue
		}
		stray := false
		for _, d := range ds {
			stray = stray || d.Kind == fleet.DiffShardInShardOnly
		}
		if stray {
			plan.Attach = append(plan.Attach, loc)
			plan.resolve(elasticdb.KeepShardMapping, loc)
			for _, d := range ds {
				add(finding(d, "attach: "+loc.String()+", then resolve keepShardMapping (the shard map manager lost the shard, its local shard map has it)", true))
			}
			skip[k] = true
			continue
		}
		if f := fixes[k]; f != nil {
			if f.refused == "" {
				plan.resolve(elasticdb.KeepShardMapping, loc)
				plan.MoveMisplacedRows = plan.MoveMisplacedRows || f.moveRows
			}
			for _, d := range ds {
				add(finding(d, f.fix(), f.refused == ""))
			}
			skip[k] = true
			continue
		}
		if h := handled[k]; len(h) > 0 {
			var rest []fleet.Difference
			blocked := ""
			for _, d := range ds {
				f, ok := h[d.Token]
				if !ok {
					rest = append(rest, d)
					continue
				}
				if f.refused != "" {
					blocked = f.shard.String()
					add(finding(d, "not planned: the duplicated mapping on "+f.shard.String()+" that causes it is not repaired (see its finding)", false))
					continue
				}
				add(finding(d, "resolved by removing the duplicated mapping on "+f.shard.String()+" (resolve keepShardMapping there)", true))
			}
			if blocked != "" {
				for _, d := range rest {
					add(finding(d, "not planned until the duplicated mapping on "+blocked+" is repaired; run doctor again then", false))
				}
				skip[k] = true
				continue
			}
			if len(rest) == 0 {
				continue
			}
			ds = rest
		}
		res, why, err := choose(ctx, dm, ml, tables, loc, ds)
		if err != nil {
			return err
		}
		plan.resolve(res, loc)
		for _, d := range ds {
			f := finding(d, fmt.Sprintf("resolve %s on %s (%s)", res, loc, why), true)
			if d.Kind == fleet.DiffShardVersionMismatch || d.Kind == fleet.DiffShardLocationMismatch {
				f.Severity = SevWarning
			}
			add(f)
		}
		if res == elasticdb.KeepShardMapping {
			skip[k] = true // its mappings change: placement is checked after the fix
		}
	}
	for _, p := range ml.Pending {
		add(Finding{Severity: SevWarning, Kind: "PendingOperation", Detail: fmt.Sprintf("operation %s (%s) is pending in OperationsLogGlobal", p.ID, p.Name),
			Fix: "nothing to plan: the next shard map writer (any apply, the recovery plan included) rolls it back first"})
	}
	for _, mp := range ml.Mappings {
		if mp.LockOwner != fleet.NoLock {
			add(Finding{Severity: SevWarning, Kind: "MappingLocked", Shard: mp.Location, Low: shardkey.FormatBound(m.KeyType, mp.Min),
				High:   shardkey.FormatBound(m.KeyType, pointMax(m, mp.Min, mp.Max)),
				Detail: fmt.Sprintf("mapping %s is locked by owner %s; changes of it are refused until the owner unlocks it", boundsText(m, mp.Min, mp.Max), mp.LockOwner),
				Fix:    "wait for the run or tool that holds it; if its owner is gone for good, unlock it (the library's UnlockMapping)"})
		}
	}
	if refusedOverlap && dm != nil && len(tables) > 0 {
		add(Finding{Severity: SevWarning, Kind: "PlacementNotChecked", Detail: "row placement was not checked: the global shard map has overlapping mappings that doctor does not repair",
			Fix: "repair the overlapping mappings (see their findings), then run doctor again"})
	} else if dm != nil && len(tables) > 0 {
		conflicts := 0
		var moves []int // indexes of the RowsMisplaced findings the move would fix
		for _, s := range ml.Shards {
			if !s.Exists || skip[locKey(s.Shard.Location)] {
				continue
			}
			loc := s.Shard.Location
			bad, err := placement(ctx, dm, m, mappings, tables, loc, opt.Batch, func(n int64) {
				rep.Batches++
				if opt.Progress != nil && n%10 == 0 {
					opt.Progress("placement %s: %d batches of up to %d keys checked", loc, n, opt.Batch)
				}
			})
			if err != nil {
				return err
			}
			if opt.Progress != nil {
				opt.Progress("placement %s: checked", loc)
			}
			for _, x := range bad {
				f := Finding{Severity: SevError, Kind: "RowsMisplaced", Shard: loc, Low: x.Low, High: x.High}
				keys, these := x.keysText()
				if x.To != nil {
					f.Detail = fmt.Sprintf("%s of %s %s %s on %s, but the global shard map sends %s to %s", fmtRows(x.Rows), x.Table, keys, isAre(x.Rows, "is", "are"), loc, these, x.To)
					f.Fix, f.Planned = fmt.Sprintf("moveMisplacedRows: true (copy %s to %s where missing, then delete the copies here)", itThem(x.Rows), x.To), true
					plan.MoveMisplacedRows = true
					d, err := differing(ctx, dm, m, tables, x)
					if err != nil {
						return err
					}
					if d != nil {
						add(*d)
						conflicts++
					}
					moves = append(moves, len(rep.Findings))
				} else {
					f.Kind = "RowsUnmapped"
					f.Detail = fmt.Sprintf("%s of %s %s %s on %s, but no mapping holds %s (elastic-db-tools #65)", fmtRows(x.Rows), x.Table, keys, isAre(x.Rows, "is", "are"), loc, these)
					f.Fix = fmt.Sprintf("map [%s, %s) to %s with a ShardLayout plan (or delete the %s if %s), then run doctor again",
						x.Low, x.High, loc, isAre(x.Rows, "row", "rows"), isAre(x.Rows, "it is a stray", "they are strays"))
				}
				add(f)
			}
		}
		if conflicts > 0 {
			// The move keeps rows that differ and fails: plan none, say why.
			plan.MoveMisplacedRows = false
			for _, i := range moves {
				rep.Findings[i].Planned = false
				rep.Findings[i].Fix = "not planned while rows differ between shards (see RowsDiffer): settle those by hand, then run doctor again, which plans moveMisplacedRows"
			}
		}
	} else if len(ml.Shards) > 0 && len(tables) == 0 {
		add(Finding{Severity: SevWarning, Kind: "PlacementNotChecked", Detail: "the shard map has no schema info (sharded tables), so row placement was not checked",
			Fix: "declare the tables with a ShardLayout plan (spec.tables)"})
	}
	if !plan.Empty() {
		rep.Plans = append(rep.Plans, plan)
	}
	return nil
}

// keyRange is [min, max) of encoded keys (max nil = +inf).
type keyRange struct{ min, max []byte }

// minus returns the parts of r that none of rs covers.
func minus(r keyRange, rs []keyRange) []keyRange {
	sort.Slice(rs, func(i, j int) bool { return shardkey.Compare(rs[i].min, rs[j].min) < 0 })
	var out []keyRange
	cur := r.min
	for _, x := range rs {
		if shardkey.Compare(x.max, cur) <= 0 || shardkey.Compare(x.min, r.max) >= 0 {
			continue
		}
		if shardkey.Compare(x.min, cur) > 0 {
			out = append(out, keyRange{cur, x.min})
		}
		if shardkey.Compare(x.max, cur) > 0 {
			cur = x.max
		}
		if cur == nil || shardkey.Compare(cur, r.max) >= 0 {
			return out
		}
	}
	return append(out, keyRange{cur, r.max})
}

// choose picks the resolution of a shard's differences from where the rows
// are. For each key range in dispute (less the parts both sides claim), a
// side wins the rows it holds that no other side does: keys the local shard
// map claims and only this shard holds rows of vote for it; keys the global
// shard map gives the shard and the shard holds rows of vote for the global
// shard map, and ones it holds none of while another shard whose local
// shard map claims them does vote against it. Rows on both sides, or on
// neither, keep the global shard map, which the other shards agree with.
func choose(ctx context.Context, dm fleet.DataMover, ml *fleet.MapLayout, tables []fleet.ShardedTable, loc fleet.Location, ds []fleet.Difference) (string, string, error) {
	m := ml.Map
	if dm == nil || len(tables) == 0 {
		return elasticdb.KeepShardMapMapping, "trust the global shard map (row placement cannot be read)", nil
	}
	var lsmOnly, gsmOnly []keyRange
	for _, d := range ds {
		r := keyRange{d.Min, pointMax(m, d.Min, d.Max)}
		switch d.Kind {
		case fleet.DiffMappingInShardOnly:
			lsmOnly = append(lsmOnly, r)
		case fleet.DiffMappingInShardMapOnly:
			gsmOnly = append(gsmOnly, r)
		}
	}
	rows := func(at fleet.Location, r keyRange) (int64, error) {
		return rowsIn(ctx, dm, m, tables, at, r.min, r.max)
	}
	var lsmVotes, gsmVotes int64
	var reasons []string
	for _, d := range ds {
		if d.Min == nil {
			continue
		}
		r := keyRange{d.Min, pointMax(m, d.Min, d.Max)}
		switch d.Kind {
		case fleet.DiffMappingInShardOnly, fleet.DiffMappingOverlapsOtherShard:
			for _, part := range minus(r, append([]keyRange(nil), gsmOnly...)) {
				here, err := rows(loc, part)
				if err != nil || here == 0 {
					if err != nil {
						return "", "", err
					}
					continue
				}
				var there int64
				for _, g := range ml.Mappings {
					gr := keyRange{g.Min, pointMax(m, g.Min, g.Max)}
					if g.Location.Equal(loc) || !overlap(gr, part) {
						continue
					}
					n, err := rows(g.Location, intersect(gr, part))
					if err != nil {
						return "", "", err
					}
					there += n
				}
				if there == 0 {
					lsmVotes += here
					reasons = append(reasons, fmt.Sprintf("%s in [%s, %s) are here and on no other shard", fmtRows(here),
						shardkey.FormatBound(m.KeyType, part.min), shardkey.FormatBound(m.KeyType, part.max)))
				} else {
					gsmVotes += here
					reasons = append(reasons, fmt.Sprintf("rows in [%s, %s) are both here and on the shard the global shard map names",
						shardkey.FormatBound(m.KeyType, part.min), shardkey.FormatBound(m.KeyType, part.max)))
				}
			}
		case fleet.DiffMappingInShardMapOnly:
			for _, part := range minus(r, append([]keyRange(nil), lsmOnly...)) {
				here, err := rows(loc, part)
				if err != nil {
					return "", "", err
				}
				if here > 0 {
					gsmVotes += here
					reasons = append(reasons, fmt.Sprintf("%s in [%s, %s) are here as the global shard map says", fmtRows(here),
						shardkey.FormatBound(m.KeyType, part.min), shardkey.FormatBound(m.KeyType, part.max)))
					continue
				}
				for _, o := range ml.Differences {
					if o.Shard.Equal(loc) || o.Min == nil || (o.Kind != fleet.DiffMappingInShardOnly && o.Kind != fleet.DiffMappingOverlapsOtherShard) {
						continue
					}
					or := keyRange{o.Min, pointMax(m, o.Min, o.Max)}
					if !overlap(or, part) {
						continue
					}
					n, err := rows(o.Shard, intersect(or, part))
					if err != nil {
						return "", "", err
					}
					if n > 0 {
						lsmVotes += n
						reasons = append(reasons, fmt.Sprintf("no rows of [%s, %s) here; %s, whose local shard map claims them, holds %s",
							shardkey.FormatBound(m.KeyType, part.min), shardkey.FormatBound(m.KeyType, part.max), o.Shard, fmtRows(n)))
					}
				}
			}
		}
	}
	sort.Strings(reasons)
	reasons = dedupeStrings(reasons)
	if lsmVotes > gsmVotes {
		return elasticdb.KeepShardMapping, "trust the shard: " + strings.Join(reasons, "; "), nil
	}
	why := "trust the global shard map"
	if len(reasons) > 0 {
		why += ": " + strings.Join(reasons, "; ")
	}
	return elasticdb.KeepShardMapMapping, why, nil
}

func overlap(a, b keyRange) bool {
	return shardkey.Compare(a.min, b.max) < 0 && shardkey.Compare(b.min, a.max) < 0
}

func intersect(a, b keyRange) keyRange {
	return keyRange{maxKey(a.min, b.min), minMax(a.max, b.max)}
}

func dedupeStrings(xs []string) []string {
	var out []string
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func maxKey(a, b []byte) []byte {
	if shardkey.Compare(a, b) > 0 {
		return a
	}
	return b
}

func minMax(a, b []byte) []byte {
	if shardkey.Compare(a, b) < 0 {
		return a
	}
	return b
}
