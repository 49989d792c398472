package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Returning memory after a burst. Go keeps the heap a burst grew (1,000 open streams take the
// server from 25 to 85 MB) until a GC cycle lowers its goal, and an idle server allocates nothing,
// so none comes for minutes: RSS stayed at the peak (BENCHMARKS.md). idleTrimmer watches for the
// server going idle holding much more than before the burst, and then returns what it can to the
// operating system: one GC cycle and a scavenge, when nothing is in flight to notice the pause.

const (
	// trimEvery is how often the trimmer looks.
	trimEvery = 2 * time.Second
	// trimAbove is how much growth since the last trim is worth a GC cycle to return.
	trimAbove = 16 << 20
)

// inflight counts the calls the server is running; the call-log interceptors keep it.
type inflight struct{ n atomic.Int64 }

func (f *inflight) begin() { f.n.Add(1) }
func (f *inflight) end()   { f.n.Add(-1) }

// idleTrimmer returns memory to the operating system when a look finds no call in flight and the
// process holds trimAbove bytes more than it did after the last trim (or the first idle look):
// a burst came and went. It forces the GC cycle an idle process would not run for minutes, then
// returns what is free. Until ctx ends.
func idleTrimmer(ctx context.Context, calls *inflight, every time.Duration, log *slog.Logger) {
	baseline := uint64(0) // what the process held after the last trim; 0 until the first idle look
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if calls.n.Load() != 0 {
			continue
		}
		held := heldMemory()
		if baseline == 0 {
			baseline = held
		}
		if held < baseline+trimAbove {
			baseline = min(baseline, held)
			continue
		}
		debug.FreeOSMemory()
		baseline = heldMemory()
		log.Debug("idle after a burst: returned memory to the operating system", "held_before", held, "held_after", baseline)
	}
}

// heldMemory is what the Go runtime has mapped and not returned to the operating system.
func heldMemory() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}
