package server

import (
	"math"
	"strings"
	"testing"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestCacheWriteTTLPrice: a cache write with a one-hour TTL is priced at the one-hour rate (2×
// input for Claude Sonnet 4.5: $6 per million, $6.60 through us.), a five-minute one at 1.25×.
func TestCacheWriteTTLPrice(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	long := strings.Repeat("You are a careful research assistant who checks every figure twice. ", 120)
	tests := []struct {
		ttl       string
		writeRate float64
	}{{"5m", 3.75}, {"1h", 6}}
	for _, tt := range tests {
		t.Run(tt.ttl, func(t *testing.T) {
			t.Parallel()
			resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: claudeSonnet, Messages: []*stratav1.Message{
				{Role: stratav1.Role_ROLE_SYSTEM, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Text{Text: long + tt.ttl}}, {Kind: &stratav1.Part_CachePoint{CachePoint: &stratav1.CachePoint{Ttl: tt.ttl}}}}},
				{Role: stratav1.Role_ROLE_USER, Text: "hi"}}})
			if err != nil {
				t.Fatal(err)
			}
			u := resp.GetUsage()
			want := (float64(u.GetInputTokens())*3 + float64(u.GetOutputTokens())*15 + float64(u.GetCacheWriteTokens())*tt.writeRate) / 1e6 * 1.1
			if u.GetCacheWriteTokens() < 1024 || math.Abs(resp.GetCostUsd()-want) > 1e-12 {
				t.Errorf("cost %v, want %v for usage %v", resp.GetCostUsd(), want, u)
			}
		})
	}
}
