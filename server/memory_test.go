package server

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// heapFree is the heap Go holds free but has not returned to the operating system.
func heapFree() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestIdleTrimmer: after a burst the held heap goes back to the operating system once nothing is
// in flight, and never while a call runs.
func TestIdleTrimmer(t *testing.T) {
	burst := func() {
		var keep [][]byte
		for range 64 {
			keep = append(keep, make([]byte, 1<<20))
		}
		runtime.KeepAlive(keep)
		runtime.GC() // the burst's memory is now free, and held
	}
	calls := &inflight{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		idleTrimmer(ctx, calls, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		<-done
	}()

	calls.begin()
	burst()
	time.Sleep(100 * time.Millisecond)
	if free := heapFree(); free < trimAbove {
		t.Fatalf("free heap %d MB right after a burst with a call in flight: the trimmer ran, or the burst freed nothing", free>>20)
	}
	calls.end()
	deadline := time.Now().Add(5 * time.Second)
	for heapFree() >= trimAbove {
		if time.Now().After(deadline) {
			t.Fatalf("free heap still %d MB 5 s after the server went idle", heapFree()>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
