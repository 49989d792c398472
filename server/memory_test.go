package server

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

// TestIdleTrimmer: after a burst the held heap goes back to the operating system once nothing is
// in flight, and never while a call runs.
func TestIdleTrimmer(t *testing.T) {
	var keep [][]byte
	burst := func() {
		for range 64 {
			keep = append(keep, make([]byte, 1<<20))
		}
	}
	calls := &inflight{}
	before := heldMemory()
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
	time.Sleep(50 * time.Millisecond) // the trimmer's first idle look sets its baseline

	calls.begin()
	burst()
	keep = nil // garbage now, and no GC has run: an idle process would hold it for minutes
	time.Sleep(100 * time.Millisecond)
	if held := heldMemory(); held < before+trimAbove {
		t.Fatalf("held %d MB with a call in flight, %d MB before the burst: the trimmer ran, or the burst took nothing", held>>20, before>>20)
	}
	calls.end()
	deadline := time.Now().Add(5 * time.Second)
	for heldMemory() >= before+trimAbove {
		if time.Now().After(deadline) {
			t.Fatalf("held %d MB 5 s after the server went idle, %d MB before the burst", heldMemory()>>20, before>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(keep)
}
