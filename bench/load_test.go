package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClosedLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		l                    loop
		d                    time.Duration
		fn                   op
		minCalls, maxCalls   int
		wantErrors           int
		wantErrorSamples     int
		wantStreams          bool
		wantLatencyAtLeast   time.Duration
		wantElapsedUnderThan time.Duration
	}{{
		name: "callers keep calling until the duration ends",
		l:    loop{workers: 4}, d: 100 * time.Millisecond,
		fn:       func(context.Context, *call) error { time.Sleep(time.Millisecond); return nil },
		minCalls: 40, maxCalls: 400, wantLatencyAtLeast: time.Millisecond, wantElapsedUnderThan: time.Second,
	}, {
		name: "once makes one call per caller, however long it takes",
		l:    loop{workers: 7, once: true}, d: time.Millisecond,
		fn:       func(context.Context, *call) error { time.Sleep(20 * time.Millisecond); return nil },
		minCalls: 7, maxCalls: 7, wantLatencyAtLeast: 20 * time.Millisecond, wantElapsedUnderThan: time.Second,
	}, {
		name: "failures are counted, and a few distinct messages kept",
		l:    loop{workers: 2, once: true}, d: time.Millisecond,
		fn:       func(context.Context, *call) error { return errors.New("boom") },
		minCalls: 2, maxCalls: 2, wantErrors: 2, wantErrorSamples: 1, wantElapsedUnderThan: time.Second,
	}, {
		name: "streams record their deltas",
		l:    loop{workers: 1, once: true}, d: time.Millisecond,
		fn: func(_ context.Context, c *call) error {
			for range 3 {
				time.Sleep(2 * time.Millisecond)
				c.delta()
			}
			return nil
		},
		minCalls: 1, maxCalls: 1, wantStreams: true, wantLatencyAtLeast: 6 * time.Millisecond, wantElapsedUnderThan: time.Second,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.l.drive(context.Background(), tt.d, time.Second, tt.fn)
			if n := s.calls(); n < tt.minCalls || n > tt.maxCalls {
				t.Errorf("calls = %d, want %d to %d", n, tt.minCalls, tt.maxCalls)
			}
			if s.errors != tt.wantErrors || len(s.errorSamples) != tt.wantErrorSamples {
				t.Errorf("errors = %d with samples %q, want %d and %d samples", s.errors, s.errorSamples, tt.wantErrors, tt.wantErrorSamples)
			}
			for _, l := range s.latency {
				if l < tt.wantLatencyAtLeast {
					t.Fatalf("latency %v is below the %v each call takes", l, tt.wantLatencyAtLeast)
				}
			}
			if s.elapsed <= 0 || s.elapsed > tt.wantElapsedUnderThan {
				t.Errorf("elapsed = %v", s.elapsed)
			}
			if got := len(s.ttft) > 0; got != tt.wantStreams {
				t.Fatalf("stream measures recorded = %v, want %v", got, tt.wantStreams)
			}
			if tt.wantStreams {
				ttft, ttlt, pe := s.ttft[0], s.ttlt[0], s.perEvent[0]
				if ttft < 2*time.Millisecond || ttlt < ttft+4*time.Millisecond || pe != (ttlt-ttft)/2 {
					t.Errorf("ttft %v, ttlt %v, per event %v: want ttft ≥ 2ms, ttlt ≥ ttft + 4ms, per event (ttlt − ttft)/2", ttft, ttlt, pe)
				}
			}
		})
	}
}

func TestErrorSamplesAreBounded(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	s := loop{workers: 1}.drive(context.Background(), 20*time.Millisecond, time.Second, func(context.Context, *call) error {
		return fmt.Errorf("failure %d", n.Add(1))
	})
	if len(s.errorSamples) != maxErrorSamples || s.errors != s.calls() {
		t.Errorf("%d errors kept %d samples, want every call failed and %d samples", s.errors, len(s.errorSamples), maxErrorSamples)
	}
}

// TestOpenLoopKeepsItsSchedule checks what makes an open loop immune to coordinated omission:
// calls are due on a fixed schedule whatever the server does, and each is timed from when it was
// due, so a stall shows in every call that fell due during it.
func TestOpenLoopKeepsItsSchedule(t *testing.T) {
	t.Parallel()
	const rate = 500 // calls/s: one every 2 ms
	const stall = 100 * time.Millisecond
	var (
		mu     sync.Mutex
		starts []time.Time
		opened = make(chan struct{})
	)
	time.AfterFunc(stall, func() { close(opened) }) // the server answers nothing for the first 100 ms
	s := loop{rate: rate}.drive(context.Background(), 300*time.Millisecond, time.Second, func(_ context.Context, c *call) error {
		mu.Lock()
		starts = append(starts, c.start)
		mu.Unlock()
		<-opened
		return nil
	})
	if s.calls() != 150 || s.errors != 0 {
		t.Fatalf("calls = %d, errors = %d; want 150 calls (300 ms at 500/s), no errors", s.calls(), s.errors)
	}
	first := starts[0]
	for _, st := range starts {
		if st.Before(first) {
			first = st
		}
	}
	for _, st := range starts {
		if off := st.Sub(first); off%(2*time.Millisecond) != 0 {
			t.Fatalf("a call was timed from %v after the first, off the 2 ms schedule", off)
		}
	}
	sum := summarize(s.latency)
	// The first call was due at the start of the stall and waited all of it.
	if sum.Max < micros(stall-5*time.Millisecond) {
		t.Errorf("max latency %vµs: the %v stall does not show", sum.Max, stall)
	}
	// A third of the calls fell due during the stall, each waiting for what was left of it (100
	// ms down to 0): p90 is the 35th of those 50, some 70 ms. Timed from their actual start, or
	// not sent during the stall at all, they would show nothing.
	if got := percentile(s.latency, 0.9); got < 50*time.Millisecond {
		t.Errorf("p90 latency %v: the calls due during the stall do not carry their wait", got)
	}
	if len(s.sendLag) != s.calls() {
		t.Errorf("%d send lags for %d calls", len(s.sendLag), s.calls())
	}
}

func TestOpenLoopStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	s := loop{rate: 1000}.drive(ctx, time.Minute, time.Second, func(ctx context.Context, _ *call) error { return ctx.Err() })
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a canceled open loop ran %v", took)
	}
	if s.calls() == 0 || s.calls() > 1000 {
		t.Errorf("calls = %d, want some, about 50", s.calls())
	}
}
