package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// call is what one call of a workload tells the driver that times it.
type call struct {
	// start is when the call was due: its scheduled send time in an open loop, the moment the
	// caller started it in a closed loop. Every duration is measured from it.
	start time.Time
	// first and last are the times to the first and to the last streamed text delta; deltas
	// counts them. Zero for unary calls.
	first, last time.Duration
	deltas      int
}

// delta records the arrival of a streamed text delta.
func (c *call) delta() {
	at := time.Since(c.start)
	if c.deltas == 0 {
		c.first = at
	}
	c.last = at
	c.deltas++
}

// op makes one call of a workload: a direct SDK call, a Strata RPC or a bare health check.
type op func(ctx context.Context, c *call) error

// loop is how a phase drives an op.
type loop struct {
	// workers is the number of closed-loop callers, each making its next call as soon as the
	// previous one returns; 0 for an open loop.
	workers int
	// once makes each closed-loop caller make exactly one call: a round of concurrent calls
	// (the open-streams scenario, whose calls outlast any sensible duration).
	once bool
	// rate is the open loop's schedule, in calls per second.
	rate float64
}

func (l loop) String() string {
	switch {
	case l.workers > 0 && l.once:
		return fmt.Sprintf("one round of %d concurrent calls", l.workers)
	case l.workers == 1:
		return "closed loop, 1 caller"
	case l.workers > 0:
		return fmt.Sprintf("closed loop, %d callers", l.workers)
	}
	return fmt.Sprintf("open loop, %g calls/s", l.rate)
}

// maxOutstanding bounds the calls an open loop keeps in flight. Past it the schedule waits, but
// latency is still measured from each call's scheduled time, so the wait shows.
const maxOutstanding = 20_000

// samples are the observations of one phase.
type samples struct {
	// latency is each successful call's duration: to the reply, or to the end of the stream.
	latency []time.Duration
	// ttft, ttlt and perEvent are each stream's time to the first and to the last text delta,
	// and (ttlt − ttft)/(deltas − 1), the mean spacing of its deltas after the first.
	ttft, ttlt, perEvent []time.Duration
	// sendLag is, in an open loop, how late each call started after its scheduled time: the
	// harness's own delay, which the latencies include.
	sendLag []time.Duration
	errors  int
	// errorSamples keeps the first few distinct error messages.
	errorSamples []string
	// elapsed is the phase's wall time, from its first call's start to its last call's end.
	elapsed time.Duration
	// harnessCPU is the CPU time this process used over the phase, and procs its GOMAXPROCS:
	// a harness short of CPU delays its calls and inflates what it measures.
	harnessCPU time.Duration
	procs      int
}

// maxErrorSamples is how many distinct error messages a phase keeps.
const maxErrorSamples = 5

func (s *samples) add(c *call, took time.Duration, err error) {
	if err != nil {
		s.errors++
		if msg := err.Error(); len(s.errorSamples) < maxErrorSamples && !slices.Contains(s.errorSamples, msg) {
			s.errorSamples = append(s.errorSamples, msg)
		}
		return
	}
	s.latency = append(s.latency, took)
	if c.deltas > 0 {
		s.ttft = append(s.ttft, c.first)
		s.ttlt = append(s.ttlt, c.last)
		if c.deltas > 1 {
			s.perEvent = append(s.perEvent, (c.last-c.first)/time.Duration(c.deltas-1))
		}
	}
}

func (s *samples) merge(o *samples) {
	s.latency = append(s.latency, o.latency...)
	s.ttft = append(s.ttft, o.ttft...)
	s.ttlt = append(s.ttlt, o.ttlt...)
	s.perEvent = append(s.perEvent, o.perEvent...)
	s.sendLag = append(s.sendLag, o.sendLag...)
	s.errors += o.errors
	for _, m := range o.errorSamples {
		if len(s.errorSamples) < maxErrorSamples && !slices.Contains(s.errorSamples, m) {
			s.errorSamples = append(s.errorSamples, m)
		}
	}
}

// calls is how many calls the phase made, failed ones included.
func (s *samples) calls() int { return len(s.latency) + s.errors }

// drive runs fn under l for d (a closed loop stops starting calls after d; an open loop
// schedules d's worth of calls) and waits for the calls in flight. Each call gets at most
// timeout, so a stalled server cannot hold the harness.
func (l loop) drive(ctx context.Context, d, timeout time.Duration, fn op) *samples {
	if l.workers > 0 {
		return closedLoop(ctx, l.workers, l.once, d, timeout, fn)
	}
	return openLoop(ctx, l.rate, d, timeout, fn)
}

// runOne makes one call with its own deadline and returns how long it took since c.start.
func runOne(ctx context.Context, fn op, c *call, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fn(ctx, c)
	return time.Since(c.start), err
}

func closedLoop(ctx context.Context, workers int, once bool, d, timeout time.Duration, fn op) *samples {
	var (
		mu  sync.Mutex
		all samples
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			var mine samples
			for ctx.Err() == nil {
				c := &call{start: time.Now()}
				if !once && !c.start.Before(deadline) {
					break
				}
				took, err := runOne(ctx, fn, c, timeout)
				mine.add(c, took, err)
				if once {
					break
				}
			}
			mu.Lock()
			all.merge(&mine)
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return &all
}

// openLoop sends calls at a fixed rate whatever the server does, each in its own goroutine, and
// measures each from its scheduled send time. A closed loop, and an open loop that measured from
// the actual send, would both stop sending while the server stalls and so leave the stall out of
// the figures (coordinated omission); here every call due during a stall carries its share.
func openLoop(ctx context.Context, rate float64, d, timeout time.Duration, fn op) *samples {
	var (
		mu  sync.Mutex
		all samples
		wg  sync.WaitGroup
	)
	n := int(d.Seconds() * rate)
	sem := make(chan struct{}, maxOutstanding)
	start := time.Now()
schedule:
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break schedule
		}
		wg.Go(func() {
			defer func() { <-sem }()
			lag := time.Since(due)
			c := &call{start: due}
			took, err := runOne(ctx, fn, c, timeout)
			mu.Lock()
			all.add(c, took, err)
			all.sendLag = append(all.sendLag, lag)
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return &all
}
