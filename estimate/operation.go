package estimate

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Type is the kind of one instance operation.
type Type string

// Operation types.
const (
	Create        Type = "create"
	Update        Type = "update"
	Delete        Type = "delete"
	MoveIntoPool  Type = "move-into-pool"
	MoveOutOfPool Type = "move-out-of-pool"
)

// Tiers.
const (
	GeneralPurpose        = "GeneralPurpose"
	BusinessCritical      = "BusinessCritical"
	NextGenGeneralPurpose = "NextGenGeneralPurpose"
)

// Row is one row of DOMAIN.md §4's General Purpose table.
type Row struct {
	Name    string // "compute scaling (vCores)"
	Segment string // the long-running segment, "VM group create/resize"
	// Published is the table's own figure ("95% in 60 min").
	Published string
	Dist
	// Seeding is set when the row adds database seeding ("+ seeding").
	Seeding bool
}

func row(name, segment string, q float64, v time.Duration, seeding bool) Row {
	pub := fmt.Sprintf("%d%% in %s", int(q*100), Human(v))
	return Row{Name: name, Segment: segment, Published: pub, Dist: fromPercentile(q, v), Seeding: seeding}
}

// The rows of the table, by what they change.
var (
	RowCreate           = row("create instance", "VM group create/resize", 0.95, 30*time.Minute, false)
	RowCreateZR         = row("create zone-redundant instance", "VM group create/resize", 0.95, 4*time.Hour, false)
	RowCreateInPool     = row("create instance in pool", segmentNone, 0.95, 10*time.Minute, false)
	RowBasic            = row("basic property change (license type, Entra)", segmentNone, 0.99, time.Minute, false)
	RowStorage          = row("storage scaling", segmentNone, 0.99, 5*time.Minute, false)
	RowCompute          = row("compute scaling (vCores)", "VM group create/resize", 0.95, 60*time.Minute, false)
	RowToBC             = row("change to Business Critical", "VM group resize + database seeding", 0.95, 60*time.Minute, true)
	RowToNextGen        = row("change to next-gen General Purpose", "VM group create/resize + seeding", 0.95, 60*time.Minute, true)
	RowHardware         = row("hardware or maintenance window change", "VM group create/resize", 0.95, 60*time.Minute, false)
	RowZROn             = row("enable zone redundancy", "new VM group + seeding", 0.95, 4*time.Hour, true)
	RowZROff            = row("disable zone redundancy", "new VM group + seeding", 0.95, 30*time.Minute, true)
	RowMoveIntoPool     = row("move instance into pool", segmentNone, 0.95, 10*time.Minute, false)
	RowMoveOutOfPool    = row("move instance out of pool", "VM group create/resize", 0.95, 60*time.Minute, false)
	RowDelete           = row("delete (not last instance)", "tail-log backup", 0.90, time.Minute, false)
	RowDeleteLast       = row("delete last instance", "tail-log backup + virtual cluster delete", 0.95, 90*time.Minute, false)
	RowToGeneralPurpose = Row{Name: "change to General Purpose", Segment: "VM group resize + database seeding",
		Published: "not published; as the change to Business Critical", Dist: RowToBC.Dist, Seeding: true}
)

// Failover is the unavailable moment at the end of an update: up to 20 s on
// Business Critical, up to 2 min on General Purpose (DOMAIN.md §4).
func Failover(tier string) (max time.Duration, d Dist) {
	max = 2 * time.Minute
	if tier == BusinessCritical {
		max = 20 * time.Second
	}
	return max, Dist{Typical: max * 2 / 5, P95: max * 9 / 10}
}

// Phase names.
const (
	PhaseValidate       = "validate"
	PhaseVMGroup        = "vm-group"
	PhaseStartInstance  = "start-instance"
	PhaseSeeding        = "seeding"
	PhaseStorageAttach  = "storage-attach"
	PhaseFailover       = "failover"
	PhaseCleanup        = "cleanup"
	PhaseApply          = "apply-settings"
	PhaseCreateInPool   = "create-instance"
	PhaseAllocateVCores = "allocate-vcores"
	PhaseTailLogBackup  = "tail-log-backup"
	PhaseDeleteVC       = "virtual-cluster-delete"
)

// share is a phase's part of the main segment (failover and seeding aside).
type share struct {
	name string
	frac float64
}

// Change is what an update changes, as the table names it.
type Change string

// Changes an update can combine.
const (
	ChangeLicense           Change = "licenseType"
	ChangeStorage           Change = "storageGB"
	ChangeVCores            Change = "vCores"
	ChangeTier              Change = "tier"
	ChangeHardware          Change = "hardware"
	ChangeMaintenanceWindow Change = "maintenanceWindow"
	ChangeZoneRedundant     Change = "zoneRedundant"
)

// Request describes one operation to model.
type Request struct {
	Type Type
	// Changes are what an update changes (Update only).
	Changes []Change
	// FromTier and Tier are the tier before and after (Tier is the one that
	// fails over, and the one a create makes).
	FromTier, Tier string
	// ZoneRedundant is the instance's zone redundancy after the operation.
	ZoneRedundant bool
	// InPool: a create makes the instance inside a pool.
	InPool bool
	// LastInSubnet: a delete removes the last instance of its subnet, which
	// deletes the virtual cluster too.
	LastInSubnet bool
	// Databases seed when a row says "+ seeding".
	Databases []Database
}

// Model is one operation: its rows, phases and seeding.
type Model struct {
	Type Type
	// Rows are every table row the operation's changes fall under; Main is
	// the longest of them, which is the segment that counts.
	Rows []Row
	Main Row
	// Phases in order; the main segment is split over those with a share.
	Phases []string
	shares map[string]float64
	// Seeding is set when a row seeds databases.
	Seeding *Seeding
	dbs     []Database
	// Unavailable is the failover's upper bound; zero when the operation
	// does not fail over.
	Unavailable time.Duration
	failover    Dist
	Tier        string
}

// NewModel builds the model of a request.
func NewModel(req Request) (*Model, error) {
	m := &Model{Type: req.Type, Tier: req.Tier, shares: map[string]float64{}}
	var shares []share
	switch req.Type {
	case Create:
		switch {
		case req.InPool:
			m.Rows = []Row{RowCreateInPool}
			shares = []share{{PhaseValidate, 0.05}, {PhaseCreateInPool, 0.95}}
		case req.ZoneRedundant:
			m.Rows = []Row{RowCreateZR}
		default:
			m.Rows = []Row{RowCreate}
		}
		if !req.InPool {
			shares = []share{{PhaseValidate, 0.02}, {PhaseVMGroup, 0.88}, {PhaseStartInstance, 0.10}}
		}
	case Delete:
		if req.LastInSubnet {
			m.Rows = []Row{RowDeleteLast}
			shares = []share{{PhaseValidate, 0.01}, {PhaseTailLogBackup, 0.05}, {PhaseCleanup, 0.04}, {PhaseDeleteVC, 0.90}}
		} else {
			m.Rows = []Row{RowDelete}
			shares = []share{{PhaseValidate, 0.05}, {PhaseTailLogBackup, 0.75}, {PhaseCleanup, 0.20}}
		}
	case MoveIntoPool:
		m.Rows = []Row{RowMoveIntoPool}
		shares = []share{{PhaseValidate, 0.10}, {PhaseAllocateVCores, 0.90}}
	case MoveOutOfPool:
		m.Rows = []Row{RowMoveOutOfPool}
		shares = []share{{PhaseValidate, 0.02}, {PhaseVMGroup, 0.98}}
	case Update:
		rows, err := updateRows(req)
		if err != nil {
			return nil, err
		}
		m.Rows = rows
	default:
		return nil, fmt.Errorf("unknown operation type %q", req.Type)
	}
	sort.SliceStable(m.Rows, func(i, j int) bool { return m.Rows[i].P95 > m.Rows[j].P95 })
	m.Main = m.Rows[0]
	for _, r := range m.Rows {
		if r.Seeding {
			s := PlanSeeding(req.Databases)
			m.Seeding, m.dbs = &s, req.Databases
		}
	}
	if req.Type == Update {
		if len(m.Rows) == 1 && m.Main.Name == RowBasic.Name {
			shares = []share{{PhaseValidate, 0.20}, {PhaseApply, 0.80}}
		} else {
			m.Unavailable, m.failover = Failover(req.Tier)
			attach := PhaseStorageAttach
			if m.Seeding != nil {
				attach = PhaseSeeding
			}
			switch {
			case m.Seeding == nil && !needsVMGroup(m.Rows):
				// Storage scaling (with basic property changes at most): the
				// table gives it no long-running segment, so no VM group is
				// created or resized and no new instance starts. The failover
				// stays: DOMAIN.md ends every update with one, and the
				// preview must not promise less downtime than it may have.
				shares = []share{{PhaseValidate, 0.05}, {PhaseStorageAttach, 0.85}, {PhaseFailover, 0}, {PhaseCleanup, 0.10}}
			default:
				shares = []share{{PhaseValidate, 0.02}, {PhaseVMGroup, 0.80}, {PhaseStartInstance, 0.10}, {attach, 0.03}, {PhaseFailover, 0}, {PhaseCleanup, 0.05}}
				if m.Seeding != nil {
					shares[3].frac, shares[1].frac = 0, 0.83 // seeding has its own schedule
				}
			}
		}
	}
	for _, s := range shares {
		m.Phases = append(m.Phases, s.name)
		m.shares[s.name] = s.frac
	}
	return m, nil
}

// needsVMGroup reports whether any of rows has a long-running segment (all
// of them create or resize the VM group); rows whose segment is "none" do not.
func needsVMGroup(rows []Row) bool {
	for _, r := range rows {
		if r.Segment != segmentNone {
			return true
		}
	}
	return false
}

// segmentNone is the table's long-running segment of rows without one.
const segmentNone = "none"

// updateRows returns the rows an update's changes fall under.
func updateRows(req Request) ([]Row, error) {
	if len(req.Changes) == 0 {
		return nil, fmt.Errorf("an update changes nothing")
	}
	var rows []Row
	// Business Critical keeps its data on the replicas' local disks, so a
	// resize on it builds new replicas and seeds them.
	bc := req.FromTier == BusinessCritical && req.Tier == BusinessCritical
	reseed := func(r Row) Row {
		if bc {
			r.Seeding = true
			r.Segment += " + seeding (Business Critical)"
		}
		return r
	}
	for _, c := range req.Changes {
		switch c {
		case ChangeLicense:
			rows = append(rows, RowBasic)
		case ChangeStorage:
			rows = append(rows, reseed(RowStorage))
		case ChangeVCores:
			rows = append(rows, reseed(RowCompute))
		case ChangeHardware, ChangeMaintenanceWindow:
			rows = append(rows, reseed(RowHardware))
		case ChangeZoneRedundant:
			if req.ZoneRedundant {
				rows = append(rows, RowZROn)
			} else {
				rows = append(rows, RowZROff)
			}
		case ChangeTier:
			switch req.Tier {
			case BusinessCritical:
				rows = append(rows, RowToBC)
			case NextGenGeneralPurpose:
				rows = append(rows, RowToNextGen)
			default:
				rows = append(rows, RowToGeneralPurpose)
			}
		default:
			return nil, fmt.Errorf("unknown change %q", c)
		}
	}
	return rows, nil
}

// Phase is one phase's typical and 95% duration.
type Phase struct {
	Name    string        `json:"name"`
	Typical time.Duration `json:"typical"`
	P95     time.Duration `json:"p95"`
}

// Estimate is what an operation is expected to take.
type Estimate struct {
	Type    Type          `json:"type"`
	Phases  []Phase       `json:"phases"`
	Typical time.Duration `json:"typical"`
	P95     time.Duration `json:"p95"`
	// Unavailable is the longest the instance can be unavailable (the
	// failover); zero when the operation does not fail over.
	Unavailable time.Duration `json:"unavailable,omitempty"`
	Seeding     *Seeding      `json:"seeding,omitempty"`
	// Rows are the table rows used, the one that counts first.
	Rows []string `json:"rows"`
	// Basis says how the numbers were made.
	Basis string `json:"basis"`
	// History is set when measured durations were blended in.
	History *History `json:"history,omitempty"`
}

// Estimate returns the typical and 95% durations of m's phases: the main
// segment split over its phases (the failover taking its own share), plus
// the seeding schedule.
func (m *Model) Estimate() Estimate {
	e := Estimate{Type: m.Type, Unavailable: m.Unavailable, Seeding: m.Seeding}
	for _, r := range m.Rows {
		e.Rows = append(e.Rows, r.Name)
	}
	typ, p95 := m.Main.Typical, m.Main.P95
	foTyp, foP95 := m.failover.Typical, m.failover.P95
	for _, name := range m.Phases {
		var ph Phase
		switch {
		case name == PhaseFailover:
			ph = Phase{Name: name, Typical: foTyp, P95: foP95}
		case name == PhaseSeeding && m.Seeding != nil:
			ph = Phase{Name: name, Typical: m.Seeding.Typical, P95: m.Seeding.P95}
		default:
			f := m.shares[name]
			ph = Phase{Name: name, Typical: scaleDur(typ-foTyp, f), P95: scaleDur(p95-foP95, f)}
		}
		e.Phases = append(e.Phases, ph)
		e.Typical += ph.Typical
		e.P95 += ph.P95
	}
	e.Basis = fmt.Sprintf("DOMAIN.md §4 %q (%s; typical taken as half the p95)", m.Main.Name, m.Main.Published)
	if m.Seeding != nil {
		e.Basis += fmt.Sprintf(" + seeding of %s, longest first (size-band table)", m.Seeding)
	}
	return e
}

func scaleDur(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * f).Round(time.Second)
}

// Draw returns one set of phase durations drawn from m's distributions, in
// the order of m.Phases: the main segment once, split by the phases' shares,
// the failover from its own distribution (never longer than its bound), and
// seeding as the longest-first schedule of each database's drawn duration.
func (m *Model) Draw(r *rand.Rand) []time.Duration {
	main := m.Main.Draw(r)
	var fo time.Duration
	if m.Unavailable > 0 {
		fo = min(m.failover.Draw(r), m.Unavailable, main/2)
	}
	var seed time.Duration
	if m.Seeding != nil {
		d := make([]time.Duration, len(m.dbs))
		for i, db := range m.dbs {
			d[i] = BandOf(db.SizeGB).Draw(r)
		}
		seed, _, _ = Schedule(d, sizes(m.dbs), Channels)
	}
	out := make([]time.Duration, len(m.Phases))
	for i, name := range m.Phases {
		switch {
		case name == PhaseFailover:
			out[i] = fo
		case name == PhaseSeeding && m.Seeding != nil:
			out[i] = seed
		default:
			out[i] = time.Duration(float64(main-fo) * m.shares[name])
		}
	}
	return out
}

// Human writes a duration the way the tables do: "90 min", "4 h", "1 min",
// "20 s", "1 h 30 min".
func Human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d == 0:
		return "0 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < 2*time.Hour && d%time.Hour != 0:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%d min", m)
		}
		return fmt.Sprintf("%d min %d s", m, s)
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	var b strings.Builder
	fmt.Fprintf(&b, "%d h", h)
	if m > 0 {
		fmt.Fprintf(&b, " %d min", m)
	}
	return b.String()
}
