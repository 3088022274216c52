package estimate

import (
	"math"
	"math/rand/v2"
	"time"
)

// Dist is a duration distribution: a split log-normal whose median is
// Typical and whose 95th percentile is P95. Above the median the spread is
// what puts the 95th percentile on P95; below it durations vary by
// LowSpread (σ of the log), because an operation cannot go much faster than
// the work it has to do.
type Dist struct {
	Typical time.Duration
	P95     time.Duration
}

// LowSpread is σ of the log of durations below the median.
const LowSpread = 0.15

// z-scores of the percentiles the tables use.
var zScore = map[float64]float64{0.5: 0, 0.9: 1.2816, 0.95: 1.6449, 0.99: 2.3263}

// typicalShare is the median of an operation whose table gives only a
// percentile, as a fraction of its 95th percentile: DOMAIN.md publishes no
// typical durations for control-plane segments, so fleetplan takes half the
// p95, and blends in measured durations once there are some (see Blend).
const typicalShare = 0.5

// fromPercentile is the distribution whose percentile q is v, with the
// median at typicalShare of the p95.
func fromPercentile(q float64, v time.Duration) Dist {
	sigma := math.Log(1/typicalShare) / zScore[0.95]
	median := float64(v) / math.Exp(sigma*zScore[q])
	return Dist{Typical: time.Duration(median).Round(time.Second), P95: time.Duration(median / typicalShare).Round(time.Second)}
}

// high is σ of the log above the median.
func (d Dist) high() float64 {
	if d.Typical <= 0 || d.P95 <= d.Typical {
		return 0
	}
	return math.Log(float64(d.P95)/float64(d.Typical)) / zScore[0.95]
}

// Quantile returns the duration below which fraction p of draws fall, for
// the percentiles the tables use (0.5, 0.9, 0.95, 0.99).
func (d Dist) Quantile(p float64) time.Duration {
	return d.at(zScore[p])
}

func (d Dist) at(z float64) time.Duration {
	sigma := d.high()
	if z < 0 {
		sigma = LowSpread
	}
	return time.Duration(float64(d.Typical) * math.Exp(sigma*z))
}

// Draw returns one duration drawn from d.
func (d Dist) Draw(r *rand.Rand) time.Duration { return d.at(r.NormFloat64()) }

// Scale multiplies both points of d by f.
func (d Dist) Scale(f float64) Dist {
	return Dist{Typical: time.Duration(float64(d.Typical) * f), P95: time.Duration(float64(d.P95) * f)}
}
