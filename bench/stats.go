package bench

import (
	"math"
	"slices"
	"time"
)

// Percentiles are points of a latency distribution, in microseconds.
type Percentiles struct {
	P50 float64 `json:"p50_us"`
	P90 float64 `json:"p90_us"`
	P99 float64 `json:"p99_us"`
	Max float64 `json:"max_us"`
}

// Summary is the distribution of one measure over every successful call of a phase.
//
// It is exact: the harness records every call's duration and sorts them, rather than filling an
// HDR-style histogram. A phase records at most a few hundred thousand calls (seconds at tens of
// thousands of calls per second), a few megabytes of durations that sort in milliseconds, so
// exactness costs nothing, and a difference of two percentiles (Strata's added latency) carries
// no bucket error, which at tens of microseconds would be as large as what is measured.
type Summary struct {
	// N is how many calls the distribution holds.
	N int `json:"n"`
	Percentiles
	// Mean is the arithmetic mean, in microseconds.
	Mean float64 `json:"mean_us"`
}

// percentile returns the q-quantile (0 < q ≤ 1) of sorted by the nearest-rank method: the
// smallest recorded value with at least a fraction q of the values at or below it. It is always
// a value that was measured, never an interpolation. Zero for no values.
func percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// summarize sorts d in place and summarizes it.
func summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return Summary{
		N: len(d),
		Percentiles: Percentiles{
			P50: micros(percentile(d, 0.50)),
			P90: micros(percentile(d, 0.90)),
			P99: micros(percentile(d, 0.99)),
			Max: micros(d[len(d)-1]),
		},
		Mean: micros(sum / time.Duration(len(d))),
	}
}

// Delta is a difference of two distributions at each percentile, in microseconds. It has no
// max: the difference of two maxima is two outliers' difference, not a latency.
type Delta struct {
	P50 float64 `json:"p50_us"`
	P90 float64 `json:"p90_us"`
	P99 float64 `json:"p99_us"`
}

// minus returns p − q at each percentile. It is a difference of percentiles, not a percentile of
// differences: the calls of two paths are not paired, so "added p99" is Strata's p99 minus the
// direct p99.
func (p Percentiles) minus(q Percentiles) Delta {
	return Delta{P50: tenth(p.P50 - q.P50), P90: tenth(p.P90 - q.P90), P99: tenth(p.P99 - q.P99)}
}

// minus returns d − p at each percentile: an added latency less the bare hop's.
func (d Delta) minus(p Percentiles) Delta {
	return Delta{P50: tenth(d.P50 - p.P50), P90: tenth(d.P90 - p.P90), P99: tenth(d.P99 - p.P99)}
}

// tenth rounds v to a tenth, the precision of the figures it is computed from.
func tenth(v float64) float64 { return math.Round(v*10) / 10 }

// micros converts d to microseconds, kept to a tenth.
func micros(d time.Duration) float64 {
	return tenth(float64(d) / float64(time.Microsecond))
}
