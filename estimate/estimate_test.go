package estimate

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

const min_, hour = time.Minute, time.Hour

// Every row's published percentile falls where DOMAIN.md §4 puts it.
func TestRowsMatchTheTable(t *testing.T) {
	tests := map[string]struct {
		row  Row
		q    float64
		want time.Duration
	}{
		"create":            {RowCreate, 0.95, 30 * min_},
		"create zr":         {RowCreateZR, 0.95, 4 * hour},
		"create in pool":    {RowCreateInPool, 0.95, 10 * min_},
		"basic":             {RowBasic, 0.99, min_},
		"storage":           {RowStorage, 0.99, 5 * min_},
		"compute":           {RowCompute, 0.95, 60 * min_},
		"to bc":             {RowToBC, 0.95, 60 * min_},
		"to next-gen":       {RowToNextGen, 0.95, 60 * min_},
		"hardware":          {RowHardware, 0.95, 60 * min_},
		"zr on":             {RowZROn, 0.95, 4 * hour},
		"zr off":            {RowZROff, 0.95, 30 * min_},
		"move into pool":    {RowMoveIntoPool, 0.95, 10 * min_},
		"move out of pool":  {RowMoveOutOfPool, 0.95, 60 * min_},
		"delete":            {RowDelete, 0.90, min_},
		"delete last":       {RowDeleteLast, 0.95, 90 * min_},
		"seed 0-32 typical": {Row{Dist: BandOf(10).Dist}, 0.5, 30 * min_},
		"seed 0-32 p95":     {Row{Dist: BandOf(10).Dist}, 0.95, hour},
		"seed 256-512 p95":  {Row{Dist: BandOf(300).Dist}, 0.95, 5 * hour},
		"seed over 4 TB":    {Row{Dist: BandOf(5000).Dist}, 0.95, 20 * hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.row.Quantile(tc.q)
			if d := got - tc.want; d < -time.Second || d > time.Second {
				t.Errorf("p%.0f = %v, want %v", tc.q*100, got, tc.want)
			}
		})
	}
}

func TestBandOf(t *testing.T) {
	tests := map[float64]string{
		0: "0 - 32 GB", 32: "0 - 32 GB", 32.5: "32 - 256 GB", 256: "32 - 256 GB", 257: "256 - 512 GB",
		1024: "512 - 1024 GB", 2048: "1024 - 2048 GB", 3000: "2048 - 3072 GB", 4096: "3072 - 4096 GB", 4097: "over 4096 GB",
	}
	for gb, want := range tests {
		if got := BandOf(gb).Label; got != want {
			t.Errorf("BandOf(%v) = %q, want %q", gb, got, want)
		}
	}
}

func TestSchedule(t *testing.T) {
	tests := map[string]struct {
		d        []time.Duration
		channels int
		makespan time.Duration
		channel  []int
	}{
		"fewer jobs than channels": {[]time.Duration{hour, 2 * hour, 30 * min_}, 8, 2 * hour, []int{1, 0, 2}},
		"longest first on two channels": {
			[]time.Duration{3 * hour, 5 * hour, 2 * hour, 4 * hour, 3 * hour}, 2,
			// order 5,4,3,3,2: c0=5, c1=4, c1=7 (3), c0=8 (3), c1=9 (2)
			9 * hour, []int{1, 0, 1, 1, 0},
		},
		"nine equal on eight": {[]time.Duration{hour, hour, hour, hour, hour, hour, hour, hour, hour}, 8, 2 * hour, []int{0, 1, 2, 3, 4, 5, 6, 7, 0}},
		"none":                {nil, 8, 0, []int{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			size := make([]float64, len(tc.d))
			got, ch, _ := Schedule(tc.d, size, tc.channels)
			if got != tc.makespan {
				t.Errorf("makespan %v, want %v", got, tc.makespan)
			}
			for i := range tc.channel {
				if ch[i] != tc.channel[i] {
					t.Errorf("channels %v, want %v", ch, tc.channel)
					break
				}
			}
		})
	}
}

// Seeding is scheduled by band, not divided by a rate: ten small databases
// take two rounds of the 0-32 GB band on eight channels.
func TestPlanSeeding(t *testing.T) {
	tests := map[string]struct {
		sizes    []float64
		typ, p95 time.Duration
	}{
		"ten small":            {[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, hour, 2 * hour},
		"one large dominates":  {[]float64{10, 40, 100, 300, 600}, 5 * hour, 9 * hour},
		"bands of the mi-prod": {[]float64{8, 24, 48, 64, 96}, 90 * min_, 2 * hour},
		"no databases":         {nil, 0, 0},
		"eight mid then small": {[]float64{100, 100, 100, 100, 100, 100, 100, 100, 1}, 2 * hour, 3 * hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var dbs []Database
			for i, s := range tc.sizes {
				dbs = append(dbs, Database{Name: string(rune('a' + i)), SizeGB: s})
			}
			s := PlanSeeding(dbs)
			if s.Typical != tc.typ || s.P95 != tc.p95 {
				t.Errorf("seeding typical %v p95 %v, want %v %v", s.Typical, s.P95, tc.typ, tc.p95)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	gp, bc := GeneralPurpose, BusinessCritical
	five := []Database{{"a", 8}, {"b", 24}, {"c", 48}, {"d", 64}, {"e", 96}}
	tests := map[string]struct {
		req         Request
		main        string
		typ, p95    time.Duration
		unavailable time.Duration
		phases      []string
	}{
		"compute scaling": {Request{Type: Update, Changes: []Change{ChangeVCores}, FromTier: gp, Tier: gp}, RowCompute.Name, 30 * min_, 60 * min_, 2 * min_,
			[]string{PhaseValidate, PhaseVMGroup, PhaseStartInstance, PhaseStorageAttach, PhaseFailover, PhaseCleanup}},
		// no long-running segment: no VM group, no new instance to start
		"storage alone": {Request{Type: Update, Changes: []Change{ChangeStorage}, FromTier: gp, Tier: gp}, RowStorage.Name, 113 * time.Second, 225 * time.Second, 2 * min_,
			[]string{PhaseValidate, PhaseStorageAttach, PhaseFailover, PhaseCleanup}},
		"storage and license": {Request{Type: Update, Changes: []Change{ChangeLicense, ChangeStorage}, FromTier: gp, Tier: gp}, RowStorage.Name, 113 * time.Second, 225 * time.Second, 2 * min_,
			[]string{PhaseValidate, PhaseStorageAttach, PhaseFailover, PhaseCleanup}},
		// the longest segment counts: compute's 60 min, not 60 + 5
		"compute and storage": {Request{Type: Update, Changes: []Change{ChangeStorage, ChangeVCores}, FromTier: gp, Tier: gp}, RowCompute.Name, 30 * min_, 60 * min_, 2 * min_, nil},
		"to business critical": {Request{Type: Update, Changes: []Change{ChangeTier, ChangeVCores}, FromTier: gp, Tier: bc, Databases: five}, RowToBC.Name,
			30*min_ + 90*min_, 60*min_ + 2*hour, 20 * time.Second,
			[]string{PhaseValidate, PhaseVMGroup, PhaseStartInstance, PhaseSeeding, PhaseFailover, PhaseCleanup}},
		"zone redundancy on":      {Request{Type: Update, Changes: []Change{ChangeZoneRedundant, ChangeVCores}, FromTier: gp, Tier: gp, ZoneRedundant: true, Databases: five}, RowZROn.Name, 2*hour + 90*min_, 4*hour + 2*hour, 2 * min_, nil},
		"license only":            {Request{Type: Update, Changes: []Change{ChangeLicense}, FromTier: gp, Tier: gp}, RowBasic.Name, 23 * time.Second, 45 * time.Second, 0, []string{PhaseValidate, PhaseApply}},
		"bc resize reseeds":       {Request{Type: Update, Changes: []Change{ChangeVCores}, FromTier: bc, Tier: bc, Databases: five}, RowCompute.Name, 30*min_ + 90*min_, 60*min_ + 2*hour, 20 * time.Second, nil},
		"create":                  {Request{Type: Create, Tier: gp}, RowCreate.Name, 15 * min_, 30 * min_, 0, []string{PhaseValidate, PhaseVMGroup, PhaseStartInstance}},
		"create zone redundant":   {Request{Type: Create, Tier: gp, ZoneRedundant: true}, RowCreateZR.Name, 2 * hour, 4 * hour, 0, nil},
		"create in pool":          {Request{Type: Create, Tier: gp, InPool: true}, RowCreateInPool.Name, 5 * min_, 10 * min_, 0, []string{PhaseValidate, PhaseCreateInPool}},
		"delete":                  {Request{Type: Delete}, RowDelete.Name, 35 * time.Second, 70 * time.Second, 0, []string{PhaseValidate, PhaseTailLogBackup, PhaseCleanup}},
		"delete last in subnet":   {Request{Type: Delete, LastInSubnet: true}, RowDeleteLast.Name, 45 * min_, 90 * min_, 0, []string{PhaseValidate, PhaseTailLogBackup, PhaseCleanup, PhaseDeleteVC}},
		"move into pool":          {Request{Type: MoveIntoPool}, RowMoveIntoPool.Name, 5 * min_, 10 * min_, 0, []string{PhaseValidate, PhaseAllocateVCores}},
		"move out of pool":        {Request{Type: MoveOutOfPool}, RowMoveOutOfPool.Name, 30 * min_, 60 * min_, 0, []string{PhaseValidate, PhaseVMGroup}},
		"back to general purpose": {Request{Type: Update, Changes: []Change{ChangeTier}, FromTier: bc, Tier: gp, Databases: five}, RowToGeneralPurpose.Name, 30*min_ + 90*min_, 60*min_ + 2*hour, 2 * min_, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := NewModel(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			e := m.Estimate()
			if e.Rows[0] != tc.main {
				t.Errorf("main row %q, want %q", e.Rows[0], tc.main)
			}
			if d := e.Typical - tc.typ; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("typical %v, want %v", e.Typical, tc.typ)
			}
			if d := e.P95 - tc.p95; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("p95 %v, want %v", e.P95, tc.p95)
			}
			if e.Unavailable != tc.unavailable {
				t.Errorf("unavailable %v, want %v", e.Unavailable, tc.unavailable)
			}
			if tc.phases != nil && !slices.Equal(m.Phases, tc.phases) {
				t.Errorf("phases %v, want %v", m.Phases, tc.phases)
			}
		})
	}
}

func TestNewModelRefuses(t *testing.T) {
	for name, req := range map[string]Request{
		"empty update":   {Type: Update},
		"unknown type":   {Type: "rename"},
		"unknown change": {Type: Update, Changes: []Change{"colour"}},
	} {
		if _, err := NewModel(req); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Drawn durations have the estimate's typical as their median and its p95
// as their 95th percentile.
func TestDrawsMatchTheEstimate(t *testing.T) {
	five := []Database{{"a", 8}, {"b", 24}, {"c", 48}, {"d", 300}, {"e", 600}}
	for name, req := range map[string]Request{
		"compute": {Type: Update, Changes: []Change{ChangeVCores}, FromTier: GeneralPurpose, Tier: GeneralPurpose},
		"delete":  {Type: Delete},
		"create":  {Type: Create, Tier: GeneralPurpose},
		"to bc":   {Type: Update, Changes: []Change{ChangeTier}, FromTier: GeneralPurpose, Tier: BusinessCritical, Databases: five},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := NewModel(req)
			e := m.Estimate()
			r := rand.New(rand.NewPCG(1, 2))
			var totals []time.Duration
			for range 4000 {
				var sum time.Duration
				for _, d := range m.Draw(r) {
					if d < 0 {
						t.Fatalf("negative phase %v", d)
					}
					sum += d
				}
				totals = append(totals, sum)
			}
			sort.Slice(totals, func(i, j int) bool { return totals[i] < totals[j] })
			med, p95 := totals[len(totals)/2], totals[len(totals)*95/100]
			if rel(med, e.Typical) > 0.10 {
				t.Errorf("median draw %v, estimate typical %v", med, e.Typical)
			}
			if float64(p95) > 1.02*float64(e.P95) {
				t.Errorf("95th percentile of draws %v above the estimate's p95 %v", p95, e.P95)
			}
			if rel(p95, e.P95) > 0.25 {
				t.Errorf("95th percentile of draws %v far below the estimate's p95 %v", p95, e.P95)
			}
		})
	}
}

func TestBlend(t *testing.T) {
	m, _ := NewModel(Request{Type: Update, Changes: []Change{ChangeVCores}, FromTier: GeneralPurpose, Tier: GeneralPurpose})
	e := m.Estimate()
	tests := map[string]struct {
		ms     []Measured
		factor float64
	}{
		"none":           {nil, 1},
		"other type":     {[]Measured{{Delete, time.Minute, 2 * time.Minute}}, 1},
		"five at double": {repeat(Measured{Update, 30 * min_, 60 * min_}, 5), 1.5},
		"one at half":    {[]Measured{{Update, 30 * min_, 15 * min_}}, 1 - 0.5/6},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := Summarise(Update, tc.ms)
			b := Blend(e, h)
			if got := h.Factor(); got < tc.factor-1e-9 || got > tc.factor+1e-9 {
				t.Errorf("factor %v, want %v", got, tc.factor)
			}
			if (b.History != nil) != (h.N > 0) {
				t.Errorf("history recorded %v with %d measurements", b.History != nil, h.N)
			}
			fo := e.Phases[4]
			if b.Phases[4] != fo {
				t.Errorf("failover changed by history: %v -> %v", fo, b.Phases[4])
			}
			want := time.Duration(float64(e.Typical-fo.Typical)*tc.factor) + fo.Typical
			if rel(b.Typical, want) > 0.01 {
				t.Errorf("blended typical %v, want %v", b.Typical, want)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 s", 20 * time.Second: "20 s", 2 * min_: "2 min", 90 * min_: "90 min", 113 * time.Second: "1 min 53 s",
		2 * hour: "2 h", 4*hour + 30*min_: "4 h 30 min", 60 * min_: "1 h",
	} {
		if got := Human(d); got != want {
			t.Errorf("Human(%v) = %q, want %q", d, got, want)
		}
	}
}

func repeat(m Measured, n int) []Measured {
	out := make([]Measured, n)
	for i := range out {
		out[i] = m
	}
	return out
}

func rel(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	r := float64(a-b) / float64(b)
	if r < 0 {
		return -r
	}
	return r
}

func TestWindowNextFit(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	weekend := Window{Days: []time.Weekday{time.Saturday, time.Sunday}, Start: 2 * hour, Duration: 4 * hour, Location: time.UTC}
	wed := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC) // a Wednesday
	sat2 := time.Date(2030, 1, 5, 2, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		w    Window
		at   time.Time
		need time.Duration
		want time.Time
		ok   bool
	}{
		"waits for saturday":     {weekend, wed, hour, sat2, true},
		"inside and fits":        {weekend, sat2.Add(hour), 2 * hour, sat2.Add(hour), true},
		"inside, does not fit":   {weekend, sat2.Add(3 * hour), 2 * hour, sat2.Add(24 * hour), true},
		"sunday late: next week": {weekend, sat2.Add(24*hour + 3*hour), 2 * hour, sat2.Add(7 * 24 * hour), true},
		"longer than the window": {weekend, wed, 5 * hour, time.Time{}, false},
		"exactly the window":     {weekend, wed, 4 * hour, sat2, true},
		"time zone": {Window{Days: []time.Weekday{time.Wednesday}, Start: 22 * hour, Duration: 2 * hour, Location: paris}, wed, hour,
			time.Date(2030, 1, 2, 21, 0, 0, 0, time.UTC), true},
		"overnight window still open": {Window{Days: []time.Weekday{time.Tuesday}, Start: 22 * hour, Duration: 14 * hour, Location: time.UTC}, wed, hour, wed, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := tc.w.NextFit(tc.at, tc.need)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("NextFit = %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if open, _ := weekend.Open(wed); open {
		t.Error("the weekend window is open on a Wednesday")
	}
	if open, closes := weekend.Open(sat2.Add(hour)); !open || !closes.Equal(sat2.Add(4*hour)) {
		t.Errorf("Open(sat 03:00) = %v %v", open, closes)
	}
	w, err := weekend.Spec().Window()
	if err != nil || w.String() != weekend.String() {
		t.Errorf("spec round trip: %v %v", w, err)
	}
}
