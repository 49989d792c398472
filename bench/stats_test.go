package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func ms(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "no values", sorted: nil, q: 0.5, want: 0},
		{name: "one value is every percentile", sorted: ms(7), q: 0.99, want: 7 * time.Millisecond},
		{name: "median of 1..100", sorted: ms(seq(1, 100)...), q: 0.50, want: 50 * time.Millisecond},
		{name: "p90 of 1..100", sorted: ms(seq(1, 100)...), q: 0.90, want: 90 * time.Millisecond},
		{name: "p99 of 1..100", sorted: ms(seq(1, 100)...), q: 0.99, want: 99 * time.Millisecond},
		{name: "p100 is the max", sorted: ms(seq(1, 100)...), q: 1, want: 100 * time.Millisecond},
		// Nearest rank: ceil(0.99 × 10) = 10th value; never an interpolation between values.
		{name: "p99 of 10 values is the largest", sorted: ms(seq(1, 10)...), q: 0.99, want: 10 * time.Millisecond},
		{name: "median of an even count is the lower middle", sorted: ms(1, 2, 3, 4), q: 0.5, want: 2 * time.Millisecond},
		{name: "tiny q is the min", sorted: ms(3, 4, 5), q: 0.0001, want: 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	d := ms(seq(1, 1000)...)
	rand.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	got := summarize(d)
	want := Summary{N: 1000, Percentiles: Percentiles{P50: 500_000, P90: 900_000, P99: 990_000, Max: 1_000_000}, Mean: 500_500}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Summary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
	if got := summarize([]time.Duration{1234567 * time.Nanosecond}); got.P50 != 1234.6 {
		t.Errorf("microseconds keep a tenth: p50 = %v, want 1234.6", got.P50)
	}
}

func TestMinus(t *testing.T) {
	t.Parallel()
	b := Percentiles{P50: 300, P90: 500, P99: 900, Max: 5000}
	a := Percentiles{P50: 200, P90: 450, P99: 1000, Max: 100}
	hop := Percentiles{P50: 40, P90: 60, P99: 150}
	added := b.minus(a)
	if want := (Delta{P50: 100, P90: 50, P99: -100}); added != want {
		t.Errorf("b − a = %+v, want %+v", added, want)
	}
	if got, want := added.minus(hop), (Delta{P50: 60, P90: -10, P99: -250}); got != want {
		t.Errorf("b − a − c = %+v, want %+v", got, want)
	}
}
