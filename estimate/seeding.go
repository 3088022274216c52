package estimate

import (
	"fmt"
	"sort"
	"time"
)

// Channels is how many databases seed at once (DOMAIN.md §4): the next
// database takes a channel as soon as one frees.
const Channels = 8

// Band is one row of the seeding table.
type Band struct {
	Label string  // "32 - 256 GB"
	MaxGB float64 // upper bound (inclusive); 0 for the last, open band
	Dist
}

// Bands is DOMAIN.md §4's seeding table: typical and 95% max per size band.
var Bands = []Band{
	{"0 - 32 GB", 32, Dist{30 * time.Minute, time.Hour}},
	{"32 - 256 GB", 256, Dist{90 * time.Minute, 2 * time.Hour}},
	{"256 - 512 GB", 512, Dist{2 * time.Hour, 5 * time.Hour}},
	{"512 - 1024 GB", 1024, Dist{5 * time.Hour, 9 * time.Hour}},
	{"1024 - 2048 GB", 2048, Dist{9 * time.Hour, 15 * time.Hour}},
	{"2048 - 3072 GB", 3072, Dist{10 * time.Hour, 16 * time.Hour}},
	{"3072 - 4096 GB", 4096, Dist{12 * time.Hour, 18 * time.Hour}},
	{"over 4096 GB", 0, Dist{15 * time.Hour, 20 * time.Hour}},
}

// BandOf returns the band of a database of sizeGB.
func BandOf(sizeGB float64) Band {
	for _, b := range Bands {
		if b.MaxGB == 0 || sizeGB <= b.MaxGB {
			return b
		}
	}
	return Bands[len(Bands)-1]
}

// Database is one database of an instance, with its size.
type Database struct {
	Name   string  `json:"name"`
	SizeGB float64 `json:"sizeGB"`
}

// Slot is where one database seeds: its channel and start, both for the
// typical and for the 95% durations (longest-first scheduling can place a
// database differently in the two).
type Slot struct {
	Database
	Band    string        `json:"band"`
	Typical time.Duration `json:"typical"`
	P95     time.Duration `json:"p95"`
	Channel int           `json:"channel"` // 1-based, typical schedule
	Start   time.Duration `json:"start"`   // typical schedule
}

// Seeding is the seeding schedule of an operation.
type Seeding struct {
	Channels  int           `json:"channels"`
	Databases []Slot        `json:"databases"`
	Typical   time.Duration `json:"typical"` // makespan of the typical durations
	P95       time.Duration `json:"p95"`     // makespan of the 95% durations
	TotalGB   float64       `json:"totalGB"`
}

// PlanSeeding schedules dbs onto Channels longest-first, once with the
// typical and once with the 95% durations of their bands.
func PlanSeeding(dbs []Database) Seeding {
	s := Seeding{Channels: Channels}
	typ := make([]time.Duration, len(dbs))
	p95 := make([]time.Duration, len(dbs))
	for i, db := range dbs {
		b := BandOf(db.SizeGB)
		typ[i], p95[i] = b.Typical, b.P95
		s.Databases = append(s.Databases, Slot{Database: db, Band: b.Label, Typical: b.Typical, P95: b.P95})
		s.TotalGB += db.SizeGB
	}
	var chans []int
	var starts []time.Duration
	s.Typical, chans, starts = Schedule(typ, sizes(dbs), Channels)
	for i := range s.Databases {
		s.Databases[i].Channel, s.Databases[i].Start = chans[i]+1, starts[i]
	}
	s.P95, _, _ = Schedule(p95, sizes(dbs), Channels)
	return s
}

func sizes(dbs []Database) []float64 {
	out := make([]float64, len(dbs))
	for i, d := range dbs {
		out[i] = d.SizeGB
	}
	return out
}

// Schedule places jobs onto n channels longest-first (ties: the larger
// database, then the earlier index): each job takes the channel that frees
// first (the lowest-numbered one among equals). It returns the makespan and
// each job's channel (0-based) and start.
func Schedule(d []time.Duration, size []float64, n int) (makespan time.Duration, channel []int, start []time.Duration) {
	if n < 1 {
		n = 1
	}
	order := make([]int, len(d))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if d[i] != d[j] {
			return d[i] > d[j]
		}
		return size[i] > size[j]
	})
	free := make([]time.Duration, n)
	channel, start = make([]int, len(d)), make([]time.Duration, len(d))
	for _, i := range order {
		c := 0
		for k := 1; k < n; k++ {
			if free[k] < free[c] {
				c = k
			}
		}
		channel[i], start[i] = c, free[c]
		free[c] += d[i]
		makespan = max(makespan, free[c])
	}
	return makespan, channel, start
}

// String summarises a schedule: "5 databases, 1,024 GB on 8 channels".
func (s Seeding) String() string {
	return fmt.Sprintf("%d databases, %s GB on %d channels", len(s.Databases), formatGB(s.TotalGB), s.Channels)
}

func formatGB(gb float64) string {
	if gb == float64(int64(gb)) {
		return fmt.Sprintf("%d", int64(gb))
	}
	return fmt.Sprintf("%.1f", gb)
}
