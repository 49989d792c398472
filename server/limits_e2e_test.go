package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/service"
)

// TestModelLimits: with 4 requests a second allowed for a model, 10 concurrent calls are spaced
// out (~2.25 s) and all succeed within their deadline; a call whose turn would come after its
// deadline gets RESOURCE_EXHAUSTED with RetryInfo at once. A tag map entry's limit applies too.
func TestModelLimits(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{
		"MODEL_LIMITS":   `{"amazon.nova-micro-v1:0": {"requests_per_minute": "240"}}`,
		"CHAT_MODEL_MAP": `{"solo": {"model": "` + novaLite + `", "limits": {"concurrency": 1}}}`,
	})
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := h.client.Chat(ctx, &stratav1.ChatRequest{Model: novaMicro, Messages: user("hi")}); err != nil {
				t.Errorf("a call within its deadline: %v", err)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took < 2*time.Second || took > 4*time.Second {
		t.Errorf("10 calls at 4 a second took %v, want about 2.25 s", took)
	}

	// Take a turn, then ask for the next with a deadline shorter than the 250 ms until it.
	if _, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: novaMicro, Messages: user("hi")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Model: novaMicro, Messages: user("hi")})
	wantCode(t, err, codes.ResourceExhausted)
	if info := errorInfo(t, err); info.GetReason() != service.ReasonRateLimited || retryInfo(err) == nil {
		t.Errorf("reason %q, retry info %v: want RATE_LIMITED with RetryInfo", info.GetReason(), retryInfo(err))
	}

	// The tag map entry takes one call at once: a second waits for the first, up to its deadline.
	if err := h.emu.SetFaults(emulator.Fault{Model: novaLite, Stall: 400 * time.Millisecond, Times: 1}); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "solo", Messages: user("slow")})
		held <- err
	}()
	for h.emu.Stats().InFlight == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	short, cancelShort := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelShort()
	_, err = h.client.Chat(short, &stratav1.ChatRequest{Tag: "solo", Messages: user("me too")})
	wantCode(t, err, codes.ResourceExhausted)
	if err := <-held; err != nil {
		t.Errorf("the call holding the slot: %v", err)
	}
}
