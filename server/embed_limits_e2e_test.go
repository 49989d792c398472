package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestEmbedLimits: an embedding model's limits hold as a chat model's do, each upstream call of
// a fan-out counting as the request Bedrock counts: a Titan batch of three texts waits for three
// turns; a call whose turn comes after its deadline is refused at once with RetryInfo.
func TestEmbedLimits(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"MODEL_LIMITS": `{"` + titanEmbed + `": {"requests_per_minute": 240}}`}) // one every 250 ms
	embed := func(deadline time.Duration, texts ...string) error {
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		_, err := h.client.Embed(ctx, &stratav1.EmbedRequest{Model: titanEmbed, Inputs: texts})
		return err
	}
	start := time.Now()
	if err := embed(5*time.Second, "one", "two", "three"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("three Titan calls went through in %v; want three turns 250 ms apart", took)
	}
	err := embed(100*time.Millisecond, "four")
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a call whose turn comes after its deadline: %v, want RESOURCE_EXHAUSTED", err)
	}
	if ri := retryInfo(err); ri == nil || ri.GetRetryDelay().AsDuration() <= 0 {
		t.Errorf("RetryInfo %v, want the time to the next turn", ri)
	}
	if n := settledStats(t, h.emu).Total(emulator.OpInvoke); n != 3 {
		t.Errorf("%d calls reached Bedrock, want 3: the refused one never went", n)
	}
}

// TestEmbedCircuitBreaker: an embedding model that keeps failing has its circuit opened, and
// calls then fail at once, without reaching it, as a chat model's do.
func TestEmbedCircuitBreaker(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CIRCUIT_BREAKER_FAILURES": "2", "MAX_RETRY": "1", "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "60"})
	if err := h.emu.SetFaults(emulator.Fault{Operation: emulator.OpInvoke, Error: "ServiceUnavailableException"}); err != nil {
		t.Fatal(err)
	}
	req := &stratav1.EmbedRequest{Model: titanEmbed, Inputs: []string{"failing"}}
	for i := range 2 {
		if _, err := h.client.Embed(t.Context(), req); status.Code(err) != codes.Unavailable {
			t.Fatalf("call %d: %v, want UNAVAILABLE from Bedrock", i+1, err)
		}
	}
	_, err := h.client.Embed(t.Context(), req)
	if status.Code(err) != codes.Unavailable || errorInfo(t, err).GetReason() != "CIRCUIT_OPEN" {
		t.Fatalf("after two failures: %v, want UNAVAILABLE / CIRCUIT_OPEN", err)
	}
	if n := settledStats(t, h.emu).Total(emulator.OpInvoke); n != 2 {
		t.Errorf("%d calls reached Bedrock, want 2: none once the circuit opened", n)
	}
}
