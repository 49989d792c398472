package catalog_test

import (
	"errors"
	"math"
	"testing"

	"github.com/strata-gateway/strata/catalog"
)

func TestLookupName(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)
	tests := []struct {
		name, region string
		wantID       string
		wantKnown    bool
		wantErr      error
	}{
		{name: "amazon.nova-micro-v1:0", wantID: "amazon.nova-micro-v1:0", wantKnown: true},
		{name: "us.amazon.nova-micro-v1:0", wantID: "us.amazon.nova-micro-v1:0", wantKnown: true},
		{name: "bedrock/us.amazon.nova-micro-v1:0", wantID: "us.amazon.nova-micro-v1:0", wantKnown: true},
		{name: "bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0", wantID: "anthropic.claude-3-haiku-20240307-v1:0", wantKnown: true},
		{name: "bedrock/invoke/amazon.titan-embed-text-v2:0", wantID: "amazon.titan-embed-text-v2:0", wantKnown: true},
		{name: "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", wantID: "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", wantKnown: true},
		{name: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", wantID: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"},
		// Friendly names: LiteLLM's provider/name form, and the bare name.
		{name: "anthropic/claude-3-sonnet-20240229", wantID: "anthropic.claude-3-sonnet-20240229-v1:0", wantKnown: true},
		{name: "claude-3-haiku-20240307", wantID: "anthropic.claude-3-haiku-20240307-v1:0", wantKnown: true},
		{name: "amazon/titan-embed-text-v2", wantID: "amazon.titan-embed-text-v2:0", wantKnown: true},
		// Profile-only models resolve to the profile of the region's geography.
		{name: "anthropic/claude-sonnet-4-5-20250929", region: "us-east-1", wantID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKnown: true},
		{name: "anthropic/claude-sonnet-4-5-20250929", region: "eu-west-1", wantID: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKnown: true},
		{name: "anthropic/claude-sonnet-4-5-20250929", region: "sa-east-1", wantID: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKnown: true},
		// The bare id of a profile-only model becomes its profile.
		{name: "anthropic.claude-sonnet-4-5-20250929-v1:0", region: "us-west-2", wantID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKnown: true},
		{name: "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", region: "eu-central-1", wantID: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", wantKnown: true},
		// A Bedrock-shaped id the catalog does not know passes through, unknown.
		{name: "acme.brand-new-model-v1:0", wantID: "acme.brand-new-model-v1:0"},
		{name: "gpt-4o", wantErr: catalog.ErrUnknownName},
		{name: "openai/gpt-4o", wantErr: catalog.ErrUnknownName},
		{name: "  ", wantErr: catalog.ErrUnknownName},
	}
	for _, tt := range tests {
		t.Run(tt.name+"@"+tt.region, func(t *testing.T) {
			t.Parallel()
			got, err := c.LookupName(tt.name, catalog.ProfileRouting{Region: tt.region})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LookupName(%q) error = %v, want %v", tt.name, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.ModelID != tt.wantID || got.Known() != tt.wantKnown {
				t.Errorf("LookupName(%q) = %q known=%v, want %q known=%v", tt.name, got.ModelID, got.Known(), tt.wantID, tt.wantKnown)
			}
		})
	}
}

func TestPriceCost(t *testing.T) {
	t.Parallel()
	p := catalog.Price{InputPerMTok: 3, OutputPerMTok: 15, CacheReadPerMTok: 0.3, CacheWritePerMTok: 3.75}
	tests := []struct {
		name                             string
		input, output, cacheRead, cacheW int64
		want                             float64
	}{
		{"nothing", 0, 0, 0, 0, 0},
		{"input and output", 1000, 100, 0, 0, 0.003 + 0.0015},
		{"cache read and write", 2, 5, 1322, 1712, 2*3e-6 + 5*15e-6 + 1322*0.3e-6 + 1712*3.75e-6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.Cost(tt.input, tt.output, tt.cacheRead, tt.cacheW); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Cost = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLookupNameProfileRouting(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)
	const sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	tests := []struct {
		name       string
		model      string
		routing    catalog.ProfileRouting
		wantID     string
		wantRouted bool
	}{
		{"the region's geography", sonnet, catalog.ProfileRouting{Region: "eu-west-3"}, "eu." + sonnet, true},
		{"global first when preferred", sonnet, catalog.ProfileRouting{Region: "eu-west-3", PreferGlobal: true}, "global." + sonnet, true},
		{"off: the bare id, for Bedrock to refuse", sonnet, catalog.ProfileRouting{Region: "us-east-1", Off: true}, sonnet, false},
		{"off still resolves a friendly name", "anthropic/claude-sonnet-4-5-20250929", catalog.ProfileRouting{Region: "us-east-1", Off: true}, "us." + sonnet, false},
		{"an on-demand model is never routed", "amazon.nova-micro-v1:0", catalog.ProfileRouting{Region: "us-east-1", PreferGlobal: true}, "amazon.nova-micro-v1:0", false},
		{"a profile id as written", "us." + sonnet, catalog.ProfileRouting{Region: "eu-west-1", PreferGlobal: true}, "us." + sonnet, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.LookupName(tt.model, tt.routing)
			if err != nil {
				t.Fatal(err)
			}
			if got.ModelID != tt.wantID || got.Routed != tt.wantRouted {
				t.Errorf("LookupName(%q, %+v) = %q routed=%v, want %q routed=%v", tt.model, tt.routing, got.ModelID, got.Routed, tt.wantID, tt.wantRouted)
			}
		})
	}
}
