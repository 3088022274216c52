package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// InstanceLive is what an InstanceChange diff reads from the fleet.
type InstanceLive struct {
	Instances []fleet.ManagedInstance
	Pools     []fleet.InstancePool
	// Now is the fleet's time (its clock): the timeline starts there.
	Now time.Time
	// History is what earlier runs measured, by operation type.
	History map[estimate.Type]estimate.History
}

// Fingerprint identifies the instances and pools as they stand (not the
// transactions running on them, which the guard reads when a step runs).
func (l *InstanceLive) Fingerprint() string {
	type view struct {
		Instances []fleet.ManagedInstance
		Pools     []fleet.InstancePool
	}
	v := view{Pools: l.Pools}
	for _, mi := range l.Instances {
		mi.LongRunning = nil
		v.Instances = append(v.Instances, mi)
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// instanceOp is one planned operation.
type instanceOp struct {
	name     string
	typ      estimate.Type
	cur      *fleet.ManagedInstance
	settings fleet.InstanceSettings
	est      estimate.Estimate
	table    time.Duration // the table's typical, before blending
	detail   string
}

// PlanInstanceChange diffs an InstanceChange document against the live
// instances: one operation per instance whose live properties differ, with
// its phases and estimate, ordered canary first and at most maxParallel at
// once, each inside the change window.
func PlanInstanceChange(doc *plans.Document, live *InstanceLive) (*stepgraph.Graph, diag.List) {
	var diags diag.List
	spec := doc.InstanceChange()
	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: doc.Kind, Plan: doc.Metadata.Name, Source: doc.File,
		Target: spec.Target, OnFailure: spec.OnFailure, Parallel: max(spec.MaxParallel, 1), Fingerprint: live.Fingerprint()}
	if g.OnFailure == "" {
		g.OnFailure = plans.OnFailurePause // an instance operation has no compensation: stop and let a person decide
	}
	byName := map[string]*fleet.ManagedInstance{}
	for i := range live.Instances {
		byName[strings.ToLower(live.Instances[i].Name)] = &live.Instances[i]
	}
	pools := map[string]fleet.InstancePool{}
	for _, p := range live.Pools {
		pools[strings.ToLower(p.Name)] = p
	}
	var names []string
	var namePos []diag.Pos
	if len(spec.Instances.Names) > 0 {
		names, namePos = spec.Instances.Names, spec.NamePos
	} else {
		for _, mi := range live.Instances {
			if matches(mi.Labels, spec.Instances.Labels) {
				names = append(names, mi.Name)
				namePos = append(namePos, spec.SelectorPos)
			}
		}
		if len(names) == 0 {
			diags.Errorf(orPos(spec.SelectorPos, doc.Pos), "spec.instances: no managed instance on target %q has the labels %s", spec.Target, labelText(spec.Instances.Labels)).
				WithHint("the target's instances: %s", instanceNames(live.Instances))
			return nil, diags
		}
	}
	if spec.Canary != "" && !containsFold(names, spec.Canary) {
		diags.Errorf(orPos(spec.CanaryPos, doc.Pos), "spec.canary: %q is not among the instances this plan changes (%s)", spec.Canary, strings.Join(names, ", ")).
			WithHint("name one of the selected instances as the canary")
	}
	var window *estimate.Window
	if w := spec.Window; w != nil {
		window = &estimate.Window{Days: w.Days, Start: w.Start, Duration: w.Duration, Location: w.Location}
	}
	var ops []*instanceOp
	for i, name := range names {
		pos := orPos(at(namePos, i), doc.Pos)
		op, err := planOne(name, byName[strings.ToLower(name)], spec.Desired, pools, live)
		if err != nil {
			diags.Errorf(pos, "instance %q: %v", name, err.msg).WithHint("%s", err.hint)
			continue
		}
		if op == nil {
			continue // already as desired
		}
		if window != nil && op.est.P95 > window.Duration {
			diags.Errorf(orPos(spec.WindowPos, doc.Pos), "spec.window: the %s of %s takes up to %s (p95), longer than the %s window, so it could never start",
				op.typ, name, estimate.Human(op.est.P95), estimate.Human(window.Duration)).
				WithHint("lengthen the window, or change less at once")
			continue
		}
		ops = append(ops, op)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	sort.SliceStable(ops, func(i, j int) bool {
		ci, cj := strings.EqualFold(ops[i].name, spec.Canary), strings.EqualFold(ops[j].name, spec.Canary)
		if ci != cj {
			return ci
		}
		return strings.ToLower(ops[i].name) < strings.ToLower(ops[j].name)
	})
	typStart, typEnd := schedule(ops, g.Parallel, spec.Canary, window, live.Now, func(o *instanceOp) time.Duration { return o.est.Typical })
	_, p95End := schedule(ops, g.Parallel, spec.Canary, window, live.Now, func(o *instanceOp) time.Duration { return o.est.P95 })
	var canaryID string
	for i, op := range ops {
		id := "instance-" + strings.ToLower(op.name)
		in := stepspec.InstanceChange{Instance: op.name, Operation: string(op.typ), Settings: specSettings(op.settings),
			Typical: op.est.Typical, P95: op.est.P95, TableTypical: op.table, Unavailable: op.est.Unavailable, AllowLongRunningTransactions: spec.AllowLongRunningTransactions,
			PlannedAt: live.Now.Format(time.RFC3339), Start: typStart[i].Format(time.RFC3339), End: typEnd[i].Format(time.RFC3339), P95End: p95End[i].Format(time.RFC3339)}
		if window != nil {
			ws := window.Spec()
			in.Window = stepspec.ChangeWindow{Days: ws.Days, Start: ws.Start, Duration: ws.Duration, TimeZone: ws.TimeZone}
		}
		s := &stepgraph.Step{ID: id, Action: stepspec.InstanceChangeName, Title: fmt.Sprintf("%s %s", op.typ, op.name), With: stepspec.With(in),
			Estimate:   stepgraph.Estimate{Duration: op.est.Typical, Unavailable: op.est.Unavailable, Basis: op.est.Basis},
			Production: true, NoUndo: op.typ == estimate.Delete}
		if canaryID != "" {
			s.Needs = []string{canaryID}
		}
		if strings.EqualFold(op.name, spec.Canary) {
			canaryID = id
		}
		g.Steps = append(g.Steps, s)
		g.Changes = append(g.Changes, stepgraph.Change{Op: changeOp(op.typ), Object: "instance " + op.name, Detail: op.detail, Lines: previewLines(op, spec, window)})
	}
	for _, op := range ops {
		if h := op.est.History; h != nil {
			g.Warnings = append(g.Warnings, fmt.Sprintf("estimates of %s operations blend in %d measured run(s) on this fleet (median %.2f× the table)", h.Type, h.N, h.Ratio))
			break
		}
	}
	if spec.AllowLongRunningTransactions {
		g.Warnings = append(g.Warnings, "guard overridden: allowLongRunningTransactions is set, so the failover may cancel long-running transactions")
	}
	return g, diags
}

// planErr is a problem with one instance, with a hint.
type planErr struct{ msg, hint string }

// planOne diffs one instance; nil when it is already as desired.
func planOne(name string, cur *fleet.ManagedInstance, d plans.InstanceDesired, pools map[string]fleet.InstancePool, live *InstanceLive) (*instanceOp, *planErr) {
	s := fleet.InstanceSettings{Tier: d.Tier, VCores: d.VCores, StorageGB: d.StorageGB, Hardware: d.Hardware, ZoneRedundant: d.ZoneRedundant,
		LicenseType: d.LicenseType, MaintenanceWindow: d.MaintenanceWindow}
	if d.Pool != nil {
		s.Pool, s.PoolSet = *d.Pool, true
		if _, ok := pools[strings.ToLower(*d.Pool)]; *d.Pool != "" && !ok {
			return nil, &planErr{fmt.Sprintf("no instance pool %q on the target", *d.Pool), "the target's pools: " + poolNames(pools)}
		}
	}
	op := &instanceOp{name: name, cur: cur, settings: s}
	switch {
	case d.Present != nil && !*d.Present:
		if cur == nil {
			return nil, nil
		}
		op.typ, op.detail = estimate.Delete, fmt.Sprintf("%d database(s) get a tail-log backup first", len(cur.Databases))
	case cur == nil:
		if d.VCores == 0 || d.StorageGB == 0 {
			return nil, &planErr{"no such managed instance; to create it, desired: needs vCores and storageGB", "check the name, or give the new instance's vCores and storageGB"}
		}
		op.typ, op.detail = estimate.Create, fmt.Sprintf("%s, %d vCores, %d GB", orTier(d.Tier), d.VCores, d.StorageGB)
		if s.Pool != "" {
			op.detail += " in pool " + s.Pool
		}
	case s.PoolSet && !strings.EqualFold(s.Pool, cur.Pool):
		if len(estimate.Diff(*cur, s)) > 0 {
			return nil, &planErr{"a pool move and a property change cannot run as one operation", "apply the pool move first, then the other properties in a second plan"}
		}
		switch {
		case s.Pool == "":
			op.typ, op.detail = estimate.MoveOutOfPool, "out of pool "+cur.Pool
		case cur.Pool == "":
			op.typ, op.detail = estimate.MoveIntoPool, "into pool "+s.Pool
		default:
			return nil, &planErr{fmt.Sprintf("it is in pool %s; moving it to pool %s takes two operations", cur.Pool, s.Pool), `set pool: "" to move it out first`}
		}
	default:
		changes := estimate.Diff(*cur, s)
		if len(changes) == 0 {
			return nil, nil
		}
		op.typ, op.detail = estimate.Update, changeText(*cur, s, changes)
	}
	last := op.typ == estimate.Delete && estimate.LastInSubnet(name, live.Instances, live.Pools)
	m, err := estimate.NewModel(estimate.RequestFor(op.typ, cur, s, last))
	if err != nil {
		return nil, &planErr{err.Error(), "fleetplan schema InstanceChange lists what desired: takes"}
	}
	op.table = m.Estimate().Typical
	op.est = estimate.Blend(m.Estimate(), live.History[op.typ])
	return op, nil
}

// schedule places ops (in order) on parallel slots, the canary alone
// first, each starting at the first moment inside the window where its p95
// fits; dur is the duration the timeline uses (typical or p95).
func schedule(ops []*instanceOp, parallel int, canary string, w *estimate.Window, now time.Time, dur func(*instanceOp) time.Duration) (start, end []time.Time) {
	free := make([]time.Time, max(parallel, 1))
	for i := range free {
		free[i] = now
	}
	var canaryEnd time.Time
	for _, op := range ops {
		slot := 0
		for k := range free {
			if free[k].Before(free[slot]) {
				slot = k
			}
		}
		t := free[slot]
		if canary != "" && !strings.EqualFold(op.name, canary) && canaryEnd.After(t) {
			t = canaryEnd
		}
		if w != nil {
			t, _ = w.NextFit(t, op.est.P95)
		}
		e := t.Add(dur(op))
		start, end = append(start, t), append(end, e)
		free[slot] = e
		if strings.EqualFold(op.name, canary) {
			canaryEnd = e
			for k := range free {
				free[k] = e // the others wait for the canary
			}
		}
	}
	return start, end
}

// previewLines breaks one operation down for the preview.
func previewLines(op *instanceOp, spec *plans.InstanceChange, w *estimate.Window) []string {
	e := op.est
	var out []string
	for i, p := range e.Phases {
		out = append(out, fmt.Sprintf("  phase %d/%d %-22s typical %-12s p95 %s", i+1, len(e.Phases), p.Name, estimate.Human(p.Typical), estimate.Human(p.P95)))
	}
	if s := e.Seeding; s != nil {
		out = append(out, fmt.Sprintf("  seeding: %s, longest first", s))
		for _, db := range s.Databases {
			out = append(out, fmt.Sprintf("    %-14s %7s GB  %-14s channel %d from +%s, typical %s, p95 %s", db.Name, strconv.FormatFloat(db.SizeGB, 'f', -1, 64), db.Band, db.Channel,
				estimate.Human(db.Start), estimate.Human(db.Typical), estimate.Human(db.P95)))
		}
	}
	out = append(out, fmt.Sprintf("  total: typical %s, p95 %s", estimate.Human(e.Typical), estimate.Human(e.P95)))
	if e.Unavailable > 0 {
		out = append(out, fmt.Sprintf("  downtime: the failover, up to %s (%s)", estimate.Human(e.Unavailable), orTier(tierAfter(op))))
	} else {
		out = append(out, "  downtime: none (no failover)")
	}
	if w != nil {
		out = append(out, "  window: "+w.String()+"; starts only when its p95 fits in what is left of the window")
	} else {
		out = append(out, "  window: none (starts at once)")
	}
	out = append(out, "  guards: "+guardLine(op, spec))
	out = append(out, "  basis: "+e.Basis)
	return out
}

func guardLine(op *instanceOp, spec *plans.InstanceChange) string {
	if op.est.Unavailable == 0 {
		return "long-running transactions: not checked (no failover)"
	}
	active := ""
	if op.cur != nil && len(op.cur.LongRunning) > 0 {
		active = fmt.Sprintf("; active now: %s", strings.Join(op.cur.LongRunning, ", "))
	}
	if spec.AllowLongRunningTransactions {
		return "long-running transactions: OVERRIDDEN by allowLongRunningTransactions; the failover cancels them" + active
	}
	return "refuses to start while long-running transactions are active (the failover would cancel them)" + active
}

func tierAfter(op *instanceOp) string {
	if op.settings.Tier != "" {
		return op.settings.Tier
	}
	if op.cur != nil {
		return op.cur.Tier
	}
	return ""
}

func changeText(cur fleet.ManagedInstance, s fleet.InstanceSettings, changes []estimate.Change) string {
	var parts []string
	for _, c := range changes {
		switch c {
		case estimate.ChangeTier:
			parts = append(parts, fmt.Sprintf("tier %s -> %s", cur.Tier, s.Tier))
		case estimate.ChangeVCores:
			parts = append(parts, fmt.Sprintf("vCores %d -> %d", cur.VCores, s.VCores))
		case estimate.ChangeStorage:
			parts = append(parts, fmt.Sprintf("storage %d -> %d GB", cur.StorageGB, s.StorageGB))
		case estimate.ChangeHardware:
			parts = append(parts, fmt.Sprintf("hardware %s -> %s", cur.Hardware, s.Hardware))
		case estimate.ChangeMaintenanceWindow:
			parts = append(parts, fmt.Sprintf("maintenance window %s -> %s", cur.MaintenanceWindow, s.MaintenanceWindow))
		case estimate.ChangeZoneRedundant:
			parts = append(parts, fmt.Sprintf("zone redundancy %t -> %t", cur.ZoneRedundant, *s.ZoneRedundant))
		case estimate.ChangeLicense:
			parts = append(parts, fmt.Sprintf("license %s -> %s", cur.LicenseType, s.LicenseType))
		}
	}
	return strings.Join(parts, ", ")
}

func specSettings(s fleet.InstanceSettings) stepspec.InstanceSettings {
	out := stepspec.InstanceSettings{Tier: s.Tier, VCores: s.VCores, StorageGB: s.StorageGB, Hardware: s.Hardware,
		LicenseType: s.LicenseType, MaintenanceWindow: s.MaintenanceWindow, Pool: s.Pool}
	if s.ZoneRedundant != nil {
		out.ZoneRedundant = strconv.FormatBool(*s.ZoneRedundant)
	}
	return out
}

func changeOp(t estimate.Type) stepgraph.ChangeOp {
	switch t {
	case estimate.Create:
		return stepgraph.Create
	case estimate.Delete:
		return stepgraph.Delete
	case estimate.MoveIntoPool, estimate.MoveOutOfPool:
		return stepgraph.Move
	}
	return stepgraph.Update
}

func orTier(t string) string {
	if t == "" {
		return estimate.GeneralPurpose
	}
	return t
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func labelText(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func instanceNames(all []fleet.ManagedInstance) string {
	var out []string
	for _, mi := range all {
		out = append(out, mi.Name+" "+labelText(mi.Labels))
	}
	return strings.Join(out, "; ")
}

func poolNames(pools map[string]fleet.InstancePool) string {
	var out []string
	for _, p := range pools {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func at(ps []diag.Pos, i int) diag.Pos {
	if i < len(ps) {
		return ps[i]
	}
	return diag.Pos{}
}
