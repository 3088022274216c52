package plans

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // change windows name IANA time zones; do not depend on the host's database
)

func init() {
	RegisterKind(KindDef{Name: KindRollingUpgrade, Order: 20, Decode: func(d *SpecDecoder) any { return d.l.rollingUpgrade(d.doc, d.spec) }})
	RegisterKind(KindDef{Name: KindInstanceChange, Order: 30, Decode: func(d *SpecDecoder) any { return d.l.instanceChange(d.doc, d.spec) }})
}

// RollingUpgrade is the spec of a RollingUpgrade document; nil for other kinds.
func (d *Document) RollingUpgrade() *RollingUpgrade { s, _ := d.Spec.(*RollingUpgrade); return s }

// InstanceChange is the spec of an InstanceChange document; nil for other kinds.
func (d *Document) InstanceChange() *InstanceChange { s, _ := d.Spec.(*InstanceChange); return s }

func (l *loader) rollingUpgrade(doc *Document, spec obj) *RollingUpgrade {
	desired := spec.obj("desired")
	r := &RollingUpgrade{
		Target:           l.target(doc, spec),
		Desired:          UpgradeDesired{Endpoint: desired.str("endpoint"), Version: desired.str("version")},
		Uses:             spec.str("uses"),
		OnFailure:        onFailure(spec),
		ReadOnlyEstimate: spec.duration("readOnlyEstimate"),
	}
	if spec.has("uses") {
		r.UsesPos = spec.pos("uses")
	}
	if spec.has("desired") {
		r.DesiredPos = spec.keyPos("desired")
	}
	l.stepSource(doc, spec, true)
	return r
}

// weekdays maps the day names of change windows.
var weekdays = map[string]time.Weekday{
	"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
	"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday,
}

func (l *loader) instanceChange(doc *Document, spec obj) *InstanceChange {
	inst, desired := spec.obj("instances"), spec.obj("desired")
	c := &InstanceChange{
		Target:      l.target(doc, spec),
		Instances:   InstanceSelector{Names: inst.strings("names"), Labels: inst.stringMap("labels")},
		MaxParallel: spec.integer("maxParallel", 1),
		// An instance operation has no compensation: by default a failure
		// stops the run for a person to decide, rather than end it
		// "rolled back" with nothing undone.
		OnFailure: spec.strOr("onFailure", OnFailurePause),
		Uses:      spec.str("uses"),
		Desired: InstanceDesired{
			Tier: desired.str("tier"), VCores: desired.integer("vCores", 0), StorageGB: desired.integer("storageGB", 0),
			Hardware: desired.str("hardware"), LicenseType: desired.str("licenseType"), MaintenanceWindow: desired.str("maintenanceWindow"),
		},
	}
	if zr, ok := desired.m["zoneRedundant"].(bool); ok {
		c.Desired.ZoneRedundant = &zr
	}
	if pool, ok := desired.m["pool"].(string); ok {
		c.Desired.Pool = &pool
	}
	if present, ok := desired.m["present"].(bool); ok {
		c.Desired.Present = &present
		if !present && len(desired.m) > 1 {
			l.diags.Errorf(desired.keyPos("present"), "spec.desired: present: false deletes the instance; it takes no other property").
				WithHint("remove the other properties, or drop present: false")
		}
	}
	c.Canary = spec.str("canary")
	c.AllowLongRunningTransactions = spec.boolean("allowLongRunningTransactions")
	c.SelectorPos, c.DesiredPos = spec.keyPos("instances"), spec.keyPos("desired")
	if spec.has("canary") {
		c.CanaryPos = spec.pos("canary")
	}
	if spec.has("window") {
		c.WindowPos = spec.keyPos("window")
	}
	for i := range c.Instances.Names {
		c.NamePos = append(c.NamePos, inst.d.pos(inst.child("names")+"/"+strconv.Itoa(i)))
	}
	if inst.has("names") && inst.has("labels") {
		l.diags.Errorf(inst.keyPos("labels"), "spec.instances: give either names: or labels:, not both").WithHint("names: picks instances by name; labels: picks them by their labels")
	}
	seen := map[string]int{}
	for i, n := range c.Instances.Names {
		if j, dup := seen[strings.ToLower(n)]; dup {
			l.diags.Errorf(inst.d.pos(inst.child("names")+"/"+strconv.Itoa(i)), "instance %q is listed twice (also item %d)", n, j).WithHint("list each instance once")
		}
		seen[strings.ToLower(n)] = i
	}
	if w := spec.obj("window"); w.m != nil {
		win := &ChangeWindow{Duration: w.duration("duration"), TimeZone: w.strOr("timeZone", "UTC")}
		for _, d := range w.strings("days") {
			win.Days = append(win.Days, weekdays[d])
		}
		if start := w.str("start"); len(start) == 5 {
			h, _ := strconv.Atoi(start[:2])
			m, _ := strconv.Atoi(start[3:])
			win.Start = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
		}
		loc, err := time.LoadLocation(win.TimeZone)
		if err != nil {
			w.errorf("timeZone", "%s: unknown time zone %q", w.path("timeZone"), win.TimeZone).
				WithHint("use an IANA name like UTC, Europe/Paris or America/New_York")
		}
		win.Location = loc
		if win.Duration < 0 || win.Duration > 7*24*time.Hour {
			w.errorf("duration", "%s: a change window lasts more than 0 and at most a week", w.path("duration"))
		}
		if w.has("duration") && win.Duration == 0 {
			w.errorf("duration", "%s: a change window must not be empty", w.path("duration"))
		}
		c.Window = win
	}
	if spec.has("uses") || spec.has("steps") || spec.has("with") {
		l.stepSource(doc, spec, false)
	}
	return c
}
