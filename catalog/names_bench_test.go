package catalog

import "testing"

// Benchmarks of the catalog's per-call lookups (issue 5): model names as callers and the tag map
// write them, and the price of a call. Run with
//
//	go test -run '^$' -bench . -benchmem ./catalog

// BenchmarkLookupName resolves each form of name LookupName accepts, from the cheapest (an id in
// the catalog's index) to a friendly alias (a scan of every model's aliases).
func BenchmarkLookupName(b *testing.B) {
	c, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	tests := []struct {
		name, model, wantID string
	}{
		{"foundationID", "amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"},
		{"profileID", "us.anthropic.claude-haiku-4-5-20251001-v1:0", "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"litellmPrefix", "bedrock/converse/us.amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"},
		{"profileOnlyBareID", "anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"foundationARN", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"},
		{"friendlyAlias", "anthropic/claude-sonnet-4-5-20250929", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"unknownBedrockID", "acme.unreleased-model-v1:0", "acme.unreleased-model-v1:0"},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := c.LookupName(tt.model, ProfileRouting{Region: "us-east-1"})
				if err != nil || n.ModelID != tt.wantID {
					b.Fatalf("LookupName(%q) = %q, %v; want %q", tt.model, n.ModelID, err, tt.wantID)
				}
			}
		})
	}
}

// BenchmarkPriceCost prices a typical call with cached input.
func BenchmarkPriceCost(b *testing.B) {
	c, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	m, ok := c.Model("anthropic.claude-sonnet-4-5-20250929-v1:0")
	if !ok {
		b.Fatal("no model")
	}
	b.ReportAllocs()
	for b.Loop() {
		if m.Price.Cost(1200, 350, 8000, 0) <= 0 {
			b.Fatal("no cost")
		}
	}
}
