package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestFallbacks: when the route's model fails every call with an error retrying could fix, each
// call, unary or streamed, is served by the route's fallback after the model's retries, and says
// so; an error retrying cannot fix is not handed to the fallback.
func TestFallbacks(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{
		"MAX_RETRY":                "2",
		"CIRCUIT_BREAKER_FAILURES": "0", // every call tries the primary: TestCircuitBreaker has the rest
		"CHAT_MODEL_MAP":           `{"research": {"model": "` + novaMicro + `", "fallbacks": ["` + novaLite + `"]}}`,
	})
	if err := h.emu.SetFaults(emulator.Fault{Model: novaMicro, Error: emulator.CodeServiceUnavailable, Every: 1}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "research.summary", Messages: user("Summarize the water cycle.")})
		if err != nil {
			t.Fatalf("Chat: %v", err)
		}
		if resp.GetModel() != novaLite || !resp.GetFallbackUsed() || resp.GetAttempts() != 3 || resp.GetText() == "" {
			t.Errorf("model %q, fallback_used %v, attempts %d: want %s served after 2 attempts on %s", resp.GetModel(), resp.GetFallbackUsed(), resp.GetAttempts(), novaLite, novaMicro)
		}
		wantCost(t, novaLite, resp.GetUsage(), resp.GetCostUsd())
	}
	events, err := chatStream(t, h, &stratav1.ChatRequest{Tag: "research", Messages: user("Stream the water cycle.")})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	start, got, end := joinDeltas(t, events)
	if start.GetModel() != novaLite || !start.GetFallbackUsed() || got.text == "" || end.GetAttempts() != 3 {
		t.Errorf("stream start %v, text %q, attempts %d: want the fallback serving", start, got.text, end.GetAttempts())
	}
	if n := settledStats(t, h.emu).Count(emulator.OpConverse, emulator.CodeServiceUnavailable); n != 10 {
		t.Errorf("failed Converse calls on the primary = %d, want 10 (2 attempts × 5 calls)", n)
	}

	// A request the model refuses is not the model's failure: no fallback.
	if err := h.emu.SetFaults(emulator.Fault{Model: novaMicro, Error: emulator.CodeValidation, Every: 1}); err != nil {
		t.Fatal(err)
	}
	before := settledStats(t, h.emu).Count(emulator.OpConverse, "ok")
	_, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "research", Messages: user("hi")})
	wantCode(t, err, codes.InvalidArgument)
	if after := settledStats(t, h.emu).Count(emulator.OpConverse, "ok"); after != before || strings.Contains(err.Error(), novaLite) {
		t.Errorf("a refused request went to the fallback: %v (%d answered calls, %d before)", err, after, before)
	}
}

// TestCircuitBreaker: a model that fails every call has its circuit opened after
// CIRCUIT_BREAKER_FAILURES calls: later calls go straight to the fallback without touching it,
// HealthCheck and ListModels show it, and once the fault clears a probe closes the circuit.
func TestCircuitBreaker(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{
		"MAX_RETRY": "2", "CIRCUIT_BREAKER_FAILURES": "3", "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "0.2",
		"CHAT_MODEL_MAP": `{"research": {"model": "` + novaMicro + `", "fallbacks": ["` + novaLite + `"]}}`,
	})
	if err := h.emu.SetFaults(emulator.Fault{Model: novaMicro, Error: emulator.CodeServiceUnavailable, Every: 1}); err != nil {
		t.Fatal(err)
	}
	req := &stratav1.ChatRequest{Tag: "research", Messages: user("Summarize the water cycle.")}
	for i := range 6 {
		resp, err := h.client.Chat(t.Context(), req)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		wantAttempts := int32(3) // 2 on the primary, 1 on the fallback
		if i >= 3 {
			wantAttempts = 1 // the circuit is open: straight to the fallback
		}
		if resp.GetModel() != novaLite || resp.GetAttempts() != wantAttempts {
			t.Errorf("call %d: model %s, attempts %d; want %s after %d", i, resp.GetModel(), resp.GetAttempts(), novaLite, wantAttempts)
		}
	}
	if n := settledStats(t, h.emu).Count(emulator.OpConverse, emulator.CodeServiceUnavailable); n != 6 {
		t.Errorf("calls that reached the failing model = %d, want 6: none once its circuit opened", n)
	}
	health, err := h.client.HealthCheck(t.Context(), &stratav1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var shown bool
	for _, c := range health.GetChecks() {
		shown = shown || (c.GetName() == "circuit:"+novaMicro && c.GetStatus() == stratav1.HealthStatus_HEALTH_STATUS_WARN)
	}
	if !shown || health.GetStatus() == stratav1.HealthStatus_HEALTH_STATUS_OK {
		t.Errorf("HealthCheck %v does not show the open circuit", health)
	}
	lm, err := h.client.ListModels(t.Context(), &stratav1.ListModelsRequest{})
	if err != nil || len(lm.GetCircuits()) != 1 || lm.GetCircuits()[0].GetState() != "open" || lm.GetCircuits()[0].GetOpenedAt() == "" {
		t.Errorf("ListModels circuits %v, %v; want %s open", lm.GetCircuits(), err, novaMicro)
	}

	if err := h.emu.SetFaults(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // past the cool-down
	resp, err := h.client.Chat(t.Context(), req)
	if err != nil || resp.GetModel() != novaMicro || resp.GetFallbackUsed() {
		t.Fatalf("after the fault cleared: model %q, fallback %v, %v; want the probe served by %s", resp.GetModel(), resp.GetFallbackUsed(), err, novaMicro)
	}
	if lm, err := h.client.ListModels(t.Context(), &stratav1.ListModelsRequest{}); err != nil || len(lm.GetCircuits()) != 0 {
		t.Errorf("circuits after the probe %v, %v; want none", lm.GetCircuits(), err)
	}
}

// TestThrottledLoad: with exactly two upstream calls in three throttled, 1,000 calls made 8 at a
// time all succeed within their deadline, each reporting the attempts it took, which add up to the
// upstream calls: 3,000, 2,000 of them throttled.
func TestThrottledLoad(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	// Not the default MAX_RETRY of 10: with 8 callers interleaved, an attempt lands on an answered
	// third about one time in three, so all 10 attempts of a call are throttled about (2/3)^10, 1.7%
	// of the time: 16 to 25 calls in 1,000 failed so. With 50 it is (2/3)^50, 2e-9 per call (the
	// most a call took in ten runs was 24 attempts).
	h := startStrata(t, map[string]string{"MAX_RETRY": "50", "RETRY_WAIT_SECONDS": "0.001", "RETRY_MAX_WAIT_SECONDS": "0.004"})
	// Every matching fault counts every request, and the first that fires wins: the first takes
	// every third Converse request and does nothing to it (a 1 ns stall), the second throttles
	// all the others. So requests 1 and 2 are throttled, 3 answered, 4 and 5 throttled, ...
	if err := h.emu.SetFaults(
		emulator.Fault{Operation: emulator.OpConverse, Every: 3, Stall: time.Nanosecond},
		emulator.Fault{Operation: emulator.OpConverse, Error: emulator.CodeThrottling, Every: 1},
	); err != nil {
		t.Fatal(err)
	}
	const calls, workers = 1000, 8
	var (
		mu          sync.Mutex
		attempts    int64
		maxAttempts int32
		failed      int
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				start := time.Now()
				resp, err := h.client.Chat(ctx, &stratav1.ChatRequest{Messages: user("hi")})
				took := time.Since(start)
				cancel()
				mu.Lock()
				if err != nil || took > 5*time.Second {
					failed++
					if failed <= 3 {
						t.Errorf("a call failed after %v: %v", took, err)
					}
				} else {
					attempts += int64(resp.GetAttempts())
					maxAttempts = max(maxAttempts, resp.GetAttempts())
				}
				mu.Unlock()
			}
		})
	}
	for i := range calls {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("%d calls, %d attempts, at most %d for one call", calls, attempts, maxAttempts)
	if failed > 0 {
		t.Fatalf("%d of %d calls failed", failed, calls)
	}
	stats := settledStats(t, h.emu)
	answered, throttled := stats.Count(emulator.OpConverse, "ok"), stats.Count(emulator.OpConverse, emulator.CodeThrottling)
	if answered != calls || throttled != 2*calls || attempts != answered+throttled {
		t.Errorf("upstream: %d answered, %d throttled; attempts reported %d; want %d, %d and their sum", answered, throttled, attempts, calls, 2*calls)
	}
}

// TestFallbackInAnotherRegion: a fallback named model@region is called in that region, signed
// for it, with the same credentials.
func TestFallbackInAnotherRegion(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{
		"MAX_RETRY": "1", "CIRCUIT_BREAKER_FAILURES": "0",
		"CHAT_MODEL_MAP": `{"research": {"model": "` + novaMicro + `", "fallbacks": ["amazon.nova-lite-v1:0@us-west-2"]}}`,
	})
	if err := h.emu.SetFaults(emulator.Fault{Model: novaMicro, Error: emulator.CodeServiceUnavailable, Every: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "research", Messages: user("hi")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if !resp.GetFallbackUsed() || resp.GetModel() != "amazon.nova-lite-v1:0" {
		t.Errorf("model %q, fallback %v; want amazon.nova-lite-v1:0 in us-west-2", resp.GetModel(), resp.GetFallbackUsed())
	}
}
