package catalog_test

import (
	"math"
	"testing"

	"github.com/strata-gateway/strata/catalog"
)

func TestRoutingTierOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want catalog.RoutingTier
	}{
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", catalog.TierInRegion},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", catalog.TierGeographic},
		{"eu.amazon.nova-micro-v1:0", catalog.TierGeographic},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", catalog.TierGlobal},
		{"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", catalog.TierInRegion},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", catalog.TierGlobal},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/apac.amazon.nova-lite-v1:0", catalog.TierGeographic},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", catalog.TierInRegion},
		{"acme.new-model-v1:0", catalog.TierInRegion},
	}
	for _, tt := range tests {
		if got := catalog.RoutingTierOf(tt.id); got != tt.want {
			t.Errorf("RoutingTierOf(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// TestPricePerRow prices one call of a million tokens of each kind for every model of the
// catalog at every routing and service tier, against the arithmetic written out: each row of the
// price table is checked, and the rows' date and source are there.
func TestPricePerRow(t *testing.T) {
	t.Parallel()
	c := mustLoad(t)
	if date, source := c.PricesAsOf(); date == "" || source == "" {
		t.Fatalf("the catalog's prices have no date (%q) or source (%q)", date, source)
	}
	const million = 1_000_000
	for _, m := range c.Models() {
		p := m.Price
		if p.InputPerMTok <= 0 {
			t.Errorf("%s: no input price", m.ID)
			continue
		}
		if !m.IsEmbedding() && p.OutputPerMTok <= 0 {
			t.Errorf("%s: no output price", m.ID)
		}
		if m.CachePoints && p.CacheReadPerMTok <= 0 {
			t.Errorf("%s: caches prompts but has no cache-read price", m.ID)
		}
		base := p.InputPerMTok + p.OutputPerMTok + p.CacheReadPerMTok + p.CacheWritePerMTok
		for _, tier := range []catalog.RoutingTier{catalog.TierInRegion, catalog.TierGeographic, catalog.TierGlobal} {
			for service, mult := range map[string]float64{"": 1, "default": 1, "priority": 1.75, "flex": 0.5} {
				want := base * mult
				if tier != catalog.TierGlobal {
					want *= 1 + p.RegionalPremium
				}
				got := p.CostAt(tier, service, million, million, million, million)
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s at %v, service tier %q: $%v, want $%v", m.ID, tier, service, got, want)
				}
			}
		}
	}
	// The one-hour cache write: Anthropic bills it at 2× the input price (a five-minute write at
	// 1.25×); priced per row at every tier, and at the five-minute rate where the model has no 1h TTL.
	for _, m := range c.Models() {
		p := m.Price
		if p.CacheWrite1hPerMTok > 0 && (!m.CachePoints || math.Abs(p.CacheWrite1hPerMTok-2*p.InputPerMTok) > 1e-9 || math.Abs(p.CacheWritePerMTok-1.25*p.InputPerMTok) > 1e-9) {
			t.Errorf("%s: cache writes $%v (5m) and $%v (1h) per million, input $%v: want 1.25× and 2× input", m.ID, p.CacheWritePerMTok, p.CacheWrite1hPerMTok, p.InputPerMTok)
		}
		wantHour := p.CacheWrite1hPerMTok
		if wantHour == 0 {
			wantHour = p.CacheWritePerMTok
		}
		for _, tier := range []catalog.RoutingTier{catalog.TierInRegion, catalog.TierGeographic, catalog.TierGlobal} {
			for service, mult := range map[string]float64{"": 1, "priority": 1.75, "flex": 0.5} {
				want := (p.InputPerMTok + p.OutputPerMTok + p.CacheReadPerMTok + p.CacheWritePerMTok + wantHour) * mult
				if tier != catalog.TierGlobal {
					want *= 1 + p.RegionalPremium
				}
				if got := p.CostWithTTLAt(tier, service, million, million, million, million, million); math.Abs(got-want) > 1e-9 {
					t.Errorf("%s at %v, service tier %q, with a 1h write: $%v, want $%v", m.ID, tier, service, got, want)
				}
			}
		}
	}
	// The premium rows by name: Claude Sonnet 4.5 through the us. profile costs 10% more than
	// through global., as Bedrock's price list has it ($3.30 against $3.00 per million input tokens).
	sonnet, _ := c.Model("anthropic.claude-sonnet-4-5-20250929-v1:0")
	if got := sonnet.Price.CostAt(catalog.TierGeographic, "", million, 0, 0, 0); math.Abs(got-3.3) > 1e-9 {
		t.Errorf("Sonnet 4.5 geographic input: $%v per million, want $3.30", got)
	}
	if got := sonnet.Price.CostAt(catalog.TierGlobal, "flex", million, 0, 0, 0); math.Abs(got-1.5) > 1e-9 {
		t.Errorf("Sonnet 4.5 global flex input: $%v per million, want $1.50", got)
	}
	// Sonnet 4.5's one-hour cache write: $6.00 per million through global., $6.60 through us.
	if got := sonnet.Price.CostWithTTLAt(catalog.TierGlobal, "", 0, 0, 0, 0, million); math.Abs(got-6) > 1e-9 {
		t.Errorf("Sonnet 4.5 global 1h cache write: $%v per million, want $6.00", got)
	}
	if got := sonnet.Price.CostWithTTLAt(catalog.TierGeographic, "", 0, 0, 0, 0, million); math.Abs(got-6.6) > 1e-9 {
		t.Errorf("Sonnet 4.5 geographic 1h cache write: $%v per million, want $6.60", got)
	}
	nova, _ := c.Model("amazon.nova-micro-v1:0")
	if got, want := nova.Price.CostAt(catalog.TierGeographic, "", million, 0, 0, 0), nova.Price.CostAt(catalog.TierInRegion, "", million, 0, 0, 0); got != want {
		t.Errorf("Nova Micro through us.: $%v, in region $%v: a profile without a premium costs what the region does", got, want)
	}
}
