package catalog

import "strings"

// Pricing by routing and service tier (issue 6). A call's price depends on more than its model:
//
//   - Routing tier: Claude 4.5 and later cost 10% more when the call stays in a region or a
//     geography (a bare id, or a us., eu., apac., ... profile) than through the global. profile
//     (Anthropic's regional-endpoint premium, which Bedrock's price list applies; Price.RegionalPremium).
//     For the other models a cross-region profile costs what the source region does.
//   - Service tier: priority costs 75% more than the standard tier, flex 50% less (Bedrock's
//     service tiers, November 2025). The tier is the one Bedrock reports it served the call at.
//
// The catalog's prices are the global (for models with a regional premium) or in-region price,
// standard tier, us-east-1, on demand, per million tokens (models.json, "prices_as_of").

// RoutingTier is how a call was routed: kept in its region, across a geography, or globally.
type RoutingTier int

// The routing tiers.
const (
	TierInRegion RoutingTier = iota
	TierGeographic
	TierGlobal
)

func (t RoutingTier) String() string {
	switch t {
	case TierGeographic:
		return "geographic"
	case TierGlobal:
		return "global"
	}
	return "in-region"
}

// RoutingTierOf reads the tier from the id a call went to: global.… is global, another profile
// prefix geographic, a foundation id or ARN in-region. An application profile's routing is its
// owner's to know; it counts as in-region.
func RoutingTierOf(modelID string) RoutingTier {
	id := modelID
	if strings.HasPrefix(id, "arn:") {
		_, rest, ok := strings.Cut(id, ":inference-profile/")
		if !ok {
			return TierInRegion
		}
		id = rest
	}
	prefix, _, ok := strings.Cut(id, ".")
	switch {
	case !ok || !IsProfilePrefix(prefix):
		return TierInRegion
	case prefix == "global":
		return TierGlobal
	}
	return TierGeographic
}

// Service tier multipliers of the standard price.
const (
	priorityMultiplier = 1.75
	flexMultiplier     = 0.5
)

// ServiceTierMultiplier is what a service tier (priority, default, flex) costs against the
// standard tier.
func ServiceTierMultiplier(serviceTier string) float64 {
	switch serviceTier {
	case "priority":
		return priorityMultiplier
	case "flex":
		return flexMultiplier
	}
	return 1
}

// CostAt prices a call's tokens at the routing tier and service tier it took.
func (p Price) CostAt(tier RoutingTier, serviceTier string, input, output, cacheRead, cacheWrite int64) float64 {
	m := ServiceTierMultiplier(serviceTier)
	if tier != TierGlobal {
		m *= 1 + p.RegionalPremium
	}
	return p.Cost(input, output, cacheRead, cacheWrite) * m
}

// CacheWriteRate is the price per million tokens of a cache write with the given TTL ("5m", "1h"
// or "" for the default five minutes): the one-hour rate where the catalog knows it, else the
// five-minute one.
func (p Price) CacheWriteRate(ttl string) float64 {
	if ttl == "1h" && p.CacheWrite1hPerMTok > 0 {
		return p.CacheWrite1hPerMTok
	}
	return p.CacheWritePerMTok
}

// CostWithTTLAt is CostAt with the cache writes split by TTL, as Bedrock's usage reports them
// (usage.cacheDetails: one entry per TTL written): cacheWrite5m tokens at the five-minute rate,
// cacheWrite1h at the one-hour rate.
func (p Price) CostWithTTLAt(tier RoutingTier, serviceTier string, input, output, cacheRead, cacheWrite5m, cacheWrite1h int64) float64 {
	const perMillion = 1e-6
	oneHour := float64(cacheWrite1h) * (p.CacheWriteRate("1h") - p.CacheWritePerMTok) * perMillion
	m := ServiceTierMultiplier(serviceTier)
	if tier != TierGlobal {
		m *= 1 + p.RegionalPremium
	}
	return p.CostAt(tier, serviceTier, input, output, cacheRead, cacheWrite5m+cacheWrite1h) + oneHour*m
}
