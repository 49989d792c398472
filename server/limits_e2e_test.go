package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/service"
)

// TestModelLimits: with 2 requests a second allowed for a model (requests_per_minute 120), 10
// concurrent calls are spaced out, ~4.5 s from the first turn to the last, and all succeed within
// their deadline. With a deadline shorter than the wait for a turn, the calls beyond the one turn
// there is get RESOURCE_EXHAUSTED, each with RetryInfo, at once. A tag map entry's limit applies too.
func TestModelLimits(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{
		"MODEL_LIMITS":   `{"amazon.nova-micro-v1:0": {"requests_per_minute": "120"}}`,
		"CHAT_MODEL_MAP": `{"solo": {"model": "` + novaLite + `", "limits": {"concurrency": 1}}}`,
	})
	const calls = 10
	chat := func(deadline time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Model: novaMicro, Messages: user("hi")})
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			if err := chat(10 * time.Second); err != nil {
				t.Errorf("a call within its deadline: %v", err)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if took < 4*time.Second || took > 6500*time.Millisecond {
		t.Errorf("10 calls at 2 a second took %v, want about 5 s (9 turns 500 ms apart)", took)
	}
	t.Logf("10 concurrent calls at 2 a second took %v", took.Round(time.Millisecond))

	// Past the last call's turn the next is free: of 10 calls at once with 400 ms each, one takes
	// it and the 9 others, whose turns are 500 ms or more away, are refused without waiting.
	time.Sleep(600 * time.Millisecond)
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() { errs[i] = chat(400 * time.Millisecond) })
	}
	wg.Wait()
	served := 0
	for i, err := range errs {
		if err == nil {
			served++
			continue
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("call %d: %v, want RESOURCE_EXHAUSTED", i, err)
			continue
		}
		ri := retryInfo(err)
		if info := errorInfo(t, err); info.GetReason() != service.ReasonRateLimited || ri == nil {
			t.Errorf("call %d: reason %q, retry info %v; want RATE_LIMITED with RetryInfo", i, info.GetReason(), ri)
		} else if d := ri.GetRetryDelay().AsDuration(); d <= 0 || d > 500*time.Millisecond {
			// Not more: a refused call takes no turn, so the next is the same for all of them.
			t.Errorf("call %d: RetryInfo delay %v, want the wait for the next turn, at most 500 ms", i, d)
		}
	}
	if served != 1 {
		t.Errorf("%d of %d calls with a short deadline were served, want 1: the one free turn", served, calls)
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
	_, err := h.client.Chat(short, &stratav1.ChatRequest{Tag: "solo", Messages: user("me too")})
	wantCode(t, err, codes.ResourceExhausted)
	if info, ri := errorInfo(t, err), retryInfo(err); info.GetReason() != service.ReasonRateLimited || info.GetMetadata()["limit"] == "" || ri.GetRetryDelay().AsDuration() <= 0 {
		t.Errorf("the tag's refusal: ErrorInfo %v, RetryInfo %v; want RATE_LIMITED naming the limit, with a delay", info, ri)
	}
	if err := <-held; err != nil {
		t.Errorf("the call holding the slot: %v", err)
	}
}
