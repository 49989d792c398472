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
// server going idle with much heap free but held, and then returns it to the operating system:
// one GC cycle and a scavenge, when nothing is in flight to notice the pause.

const (
	// trimEvery is how often the trimmer looks.
	trimEvery = 2 * time.Second
	// trimAbove is how much free heap is worth a GC cycle to return.
	trimAbove = 16 << 20
)

// inflight counts the calls the server is running; the call-log interceptors keep it.
type inflight struct{ n atomic.Int64 }

func (f *inflight) begin() { f.n.Add(1) }
func (f *inflight) end()   { f.n.Add(-1) }

// idleTrimmer returns held heap to the operating system whenever a look finds no call in flight
// and more than trimAbove bytes of heap free but not yet returned, until ctx ends.
func idleTrimmer(ctx context.Context, calls *inflight, every time.Duration, log *slog.Logger) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
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
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 || sample[0].Value.Uint64() < trimAbove {
			continue
		}
		held := sample[0].Value.Uint64()
		debug.FreeOSMemory()
		log.Debug("idle: returned free heap to the operating system", "bytes", held)
	}
}
