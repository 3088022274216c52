package planner

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// inconsistency is what the live differences between the global shard map
// and the shards' local shard maps make unsafe to change: the shards they
// were found on, and the key ranges of the mappings involved. Steps that
// touch neither are planned as usual.
type inconsistency struct {
	shards map[string]string // locKey -> the first difference found there
	ranges []badRange
}

type badRange struct {
	min, max []byte // max nil = +inf
	why      string
}

// refusalText is a difference as a refusal names it: the difference and its
// recovery token, which a ShardMapRecovery plan can resolve.
func (b *layoutBuilder) refusalText(d fleet.Difference) string {
	s := b.differenceText(d)
	if d.Token != "" {
		s += ", recovery token " + d.Token
	}
	return s
}

func (b *layoutBuilder) differenceText(d fleet.Difference) string {
	s := fmt.Sprintf("%s %s: %s", d.Shard, d.Kind, d.Detail)
	if d.Min != nil && !strings.Contains(d.Detail, "GSM [") {
		s = fmt.Sprintf("%s %s %s: %s", d.Shard, d.Kind, b.rangeText(d.Min, b.pointMax(d.Min, d.Max)), d.Detail)
	}
	return s
}

// pointMax gives a list map's point its key range end.
func (b *layoutBuilder) pointMax(min, max []byte) []byte {
	if b.mt == fleet.ListMap && max == nil {
		return shardkey.Next(b.kt, min)
	}
	return max
}

// noteDifferences lists the live differences in the plan's warnings and
// records what they make unsafe to change.
func (b *layoutBuilder) noteDifferences() {
	m := b.live.Map
	if m == nil || len(m.Differences) == 0 {
		return
	}
	b.bad = &inconsistency{shards: map[string]string{}}
	for _, d := range m.Differences {
		b.g.Warnings = append(b.g.Warnings, "the global and local shard maps differ: "+b.differenceText(d))
		text := b.refusalText(d)
		if _, seen := b.bad.shards[locKey(d.Shard)]; !seen {
			b.bad.shards[locKey(d.Shard)] = text
		}
		if d.Min != nil {
			b.bad.ranges = append(b.bad.ranges, badRange{min: d.Min, max: b.pointMax(d.Min, d.Max), why: text})
		}
	}
}

// refuseInconsistent reports a step that touches a shard or a key range
// with a GSM/LSM difference. It reads the shards and the range from the
// step's inputs (the shard, the from and to of a move, low/high, at) and
// the live mappings over that range.
func (b *layoutBuilder) refuseInconsistent(s *stepgraph.Step, spec stepspec.Spec) {
	if b.bad == nil {
		return
	}
	locs, at, low, high := scopeOf(spec)
	var min, max []byte
	hasRange := false
	if at != nil {
		if x, err := shardkey.ParseBound(*at); err == nil && x != nil {
			min, max, hasRange = x, shardkey.Next(b.kt, x), true
		}
	} else if low != nil {
		l, err1 := shardkey.ParseBound(*low)
		h, err2 := shardkey.ParseBound(high)
		if err1 == nil && err2 == nil && l != nil {
			min, max, hasRange = l, h, true
		}
	}
	if hasRange {
		for _, mp := range b.liveMappings() {
			if overlap(mp.Min, b.pointMax(mp.Min, mp.Max), min, max) {
				locs = append(locs, mp.Location)
			}
		}
	}
	why := ""
	for _, l := range locs {
		if w, ok := b.bad.shards[locKey(l)]; ok {
			why = w
			break
		}
	}
	if why == "" && hasRange {
		for _, r := range b.bad.ranges {
			if overlap(r.min, r.max, min, max) {
				why = r.why
				break
			}
		}
	}
	if why == "" {
		return
	}
	pos := b.mapPos()
	if hasRange {
		pos = b.unmappedPos(min)
		for _, r := range b.spec.Ranges {
			lo := b.encode(r.Low, r.Pos)
			var hi []byte
			if r.High != nil {
				hi = b.encode(*r.High, r.Pos)
			}
			if shardkey.Compare(lo, min) <= 0 && cmpMax(min, hi) < 0 {
				pos = r.Pos
				break
			}
		}
	} else if len(locs) > 0 {
		if p, ok := b.shardPos[b.nameByLoc[locKey(locs[0])]]; ok {
			pos = p
		}
	}
	b.diags.Errorf(pos, "refusing to %s: the global and local shard maps differ there (%s)", s.Title, why).
		WithHint("`fleetplan layout --shard-map %s` lists the differences; `fleetplan doctor --write-plan FILE` writes the ShardMapRecovery plan that resolves them "+
			"(apply it, then plan again); changes that touch neither these shards nor these ranges can still be planned", b.mapName())
}

// overlap reports whether [amin, amax) and [bmin, bmax) share a key (nil max = +inf).
func overlap(amin, amax, bmin, bmax []byte) bool {
	return cmpMax(amin, bmax) < 0 && cmpMax(bmin, amax) < 0
}

// scopeOf is what a shard-map step's inputs name: the shards (its own, or
// the from and to of a move), and either the key at which it splits or the
// low and high bounds of its range (nil when it names none).
func scopeOf(spec stepspec.Spec) (locs []fleet.Location, at, low *string, high string) {
	switch in := spec.(type) {
	case stepspec.CreateShard:
		locs = []fleet.Location{fleet.Location(in.Location)}
	case stepspec.RemoveShard:
		locs = []fleet.Location{fleet.Location(in.Location)}
	case stepspec.Split:
		at = &in.At
	case stepspec.Merge:
		low, high = &in.Low, in.High
	case stepspec.AddMapping:
		locs, low, high = []fleet.Location{fleet.Location(in.Location)}, &in.Low, in.High
	case stepspec.RemoveMapping:
		locs, low, high = []fleet.Location{{Server: in.Server, Database: in.Database}}, &in.Low, in.High
	case stepspec.MoveRange:
		locs, low, high = []fleet.Location{fleet.Location(in.From), fleet.Location(in.To)}, &in.Low, in.High
	}
	return locs, at, low, high
}
