package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestFallbacks: when the route's model fails every call with an error retrying could fix, each
// call, unary or streamed, is served by the route's fallback after the model's retries, and says
// so; an error retrying cannot fix is not handed to the fallback.
func TestFallbacks(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{
		"MAX_RETRY":      "2",
		"CHAT_MODEL_MAP": `{"research": {"model": "` + novaMicro + `", "fallbacks": ["` + novaLite + `"]}}`,
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
