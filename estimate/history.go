package estimate

import (
	"fmt"
	"sort"
	"time"
)

// Measured is one finished operation: what the estimate said and what it took.
type Measured struct {
	Type     Type
	Typical  time.Duration // the estimate's typical duration, before blending
	Duration time.Duration // measured
}

// History is what earlier runs measured for one operation type.
type History struct {
	Type Type `json:"type"`
	N    int  `json:"n"`
	// Ratio is the median of measured / estimated typical duration.
	Ratio float64 `json:"ratio"`
	// Weight is how much the measurements count (N / (N + priorWeight)).
	Weight float64 `json:"weight"`
}

// priorWeight is how many measurements the table counts as: with five
// measured operations, they and the table count the same.
const priorWeight = 5

// Summarise returns the history of type t among ms (N is 0 when none).
func Summarise(t Type, ms []Measured) History {
	var ratios []float64
	for _, m := range ms {
		if m.Type == t && m.Typical > 0 && m.Duration > 0 {
			ratios = append(ratios, float64(m.Duration)/float64(m.Typical))
		}
	}
	h := History{Type: t, N: len(ratios)}
	if h.N == 0 {
		return h
	}
	sort.Float64s(ratios)
	h.Ratio = ratios[h.N/2]
	if h.N%2 == 0 {
		h.Ratio = (ratios[h.N/2-1] + ratios[h.N/2]) / 2
	}
	h.Weight = float64(h.N) / float64(h.N+priorWeight)
	return h
}

// Factor is what the history multiplies the table's durations by.
func (h History) Factor() float64 {
	if h.N == 0 {
		return 1
	}
	return 1 + h.Weight*(h.Ratio-1)
}

// Blend scales e's phases by h's factor and records h in e; a history
// without measurements leaves e as it is.
func Blend(e Estimate, h History) Estimate {
	if h.N == 0 {
		return e
	}
	f := h.Factor()
	e.Typical, e.P95 = 0, 0
	phases := make([]Phase, len(e.Phases))
	for i, p := range e.Phases {
		phases[i] = Phase{Name: p.Name, Typical: scaleDur(p.Typical, f), P95: scaleDur(p.P95, f)}
		if p.Name == PhaseFailover { // bounded by the service, not by this fleet's history
			phases[i] = p
		}
		e.Typical += phases[i].Typical
		e.P95 += phases[i].P95
	}
	e.Phases = phases
	hc := h
	e.History = &hc
	e.Basis += fmt.Sprintf("; blended with %d measured %s operation(s) (median %.2f× the table, weight %.0f%%)", h.N, h.Type, h.Ratio, h.Weight*100)
	return e
}
