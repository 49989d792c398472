package server

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestAdmission: with STRATA_MAX_IN_FLIGHT calls running, the next one is refused at once with
// RESOURCE_EXHAUSTED and RetryInfo, health checks still answer, and once the calls finish new
// ones are served again.
func TestAdmission(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{"STRATA_MAX_IN_FLIGHT": "2"})
	if err := h.emu.SetFaults(emulator.Fault{Stall: 500 * time.Millisecond, Times: 2}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hold on")}); err != nil {
				t.Errorf("a call within the bound: %v", err)
			}
		})
	}
	deadline := time.Now().Add(2 * time.Second)
	for settledInFlight(h) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	_, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("one too many")})
	wantCode(t, err, codes.ResourceExhausted)
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("the refusal took %v: it should come at once", took)
	}
	if info := errorInfo(t, err); info.GetReason() != ReasonOverloaded || retryInfo(err) == nil {
		t.Errorf("reason %q, retry info %v: want OVERLOADED with RetryInfo", info.GetReason(), retryInfo(err))
	}
	if resp, err := h.health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check while full: %v, %v", resp, err)
	}
	wg.Wait()
	if _, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("room again")}); err != nil {
		t.Errorf("after the calls finished: %v", err)
	}
}

// settledInFlight is how many requests the emulator is holding.
func settledInFlight(h *harness) int64 { return h.emu.Stats().InFlight }
