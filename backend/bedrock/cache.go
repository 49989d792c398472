package bedrock

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

func cachePoint(ttl string) *wireCachePoint { return &wireCachePoint{Type: "default", TTL: ttl} }

// promptCache settles the request's cache points (issue 6): the automatic ones a route asks for
// ("cache": "auto") after the tools and the system prompt when each prefix is long enough to be
// cached, then the model's rules: none at all for a model without prompt caching, and at most
// the model's limit of cache points (catalog.Model.CachePointLimit: Bedrock takes four on Claude
// and Nova), keeping the last ones, which cache the longest prefixes. A model the catalog does
// not know keeps what the caller sent, for Bedrock to judge.
func (b *Backend) promptCache(req *backend.ChatRequest, m *catalog.Model, p *converseParams) {
	if req.AutoCache && m != nil && m.CachePoints {
		autoCachePoints(m, p)
	}
	n := countCachePoints(p)
	if n == 0 || m == nil {
		return
	}
	if !m.CachePoints {
		dropCachePoints(p, n)
		p.warnings = append(p.warnings, fmt.Sprintf("%d cache points dropped: %s has no prompt caching", n, m.ID))
		return
	}
	if tc := p.body.ToolConfig; tc != nil && !m.CachesTools() {
		before := len(tc.Tools)
		tc.Tools = slices.DeleteFunc(tc.Tools, func(t wireTool) bool { return t.CachePoint != nil })
		if dropped := before - len(tc.Tools); dropped > 0 {
			n -= dropped
			p.warnings = append(p.warnings, fmt.Sprintf("%d cache points dropped from the tool list: %s caches system prompts and messages only", dropped, m.ID))
		}
	}
	if limit := m.CachePointLimit(); n > limit {
		dropCachePoints(p, n-limit)
		p.warnings = append(p.warnings, fmt.Sprintf("%d cache points dropped: Bedrock takes at most %d in a request to %s, and the last ones were kept", n-limit, limit, m.ID))
	}
}

// autoCachePoints puts a cache point after the tool list (where the model caches tools) and after
// the system prompt where the prefix up to it reaches the model's minimum and none is there yet.
func autoCachePoints(m *catalog.Model, p *converseParams) {
	minTokens := max(m.MinCacheTokens, 1)
	prefix := 0
	if tc := p.body.ToolConfig; tc != nil && len(tc.Tools) > 0 {
		raw, _ := json.Marshal(tc.Tools) // built from decoded JSON: always encodes
		prefix += (len(raw) + charsPerToken - 1) / charsPerToken
		if prefix >= minTokens && m.CachesTools() && tc.Tools[len(tc.Tools)-1].CachePoint == nil {
			tc.Tools = append(tc.Tools, wireTool{CachePoint: cachePoint("")})
		}
	}
	if sys := p.body.System; len(sys) > 0 {
		for _, s := range sys {
			if s.Text != nil {
				prefix += (len(*s.Text) + charsPerToken - 1) / charsPerToken
			}
		}
		if prefix >= minTokens && sys[len(sys)-1].CachePoint == nil {
			p.body.System = append(p.body.System, wireSystemBlock{CachePoint: cachePoint("")})
		}
	}
}

// countCachePoints counts the request's cache points, in the tools, system and messages.
func countCachePoints(p *converseParams) int {
	n := 0
	if tc := p.body.ToolConfig; tc != nil {
		for _, t := range tc.Tools {
			if t.CachePoint != nil {
				n++
			}
		}
	}
	for _, s := range p.body.System {
		if s.CachePoint != nil {
			n++
		}
	}
	for _, msg := range p.body.Messages {
		for _, block := range msg.Content {
			if block.CachePoint != nil {
				n++
			}
		}
	}
	return n
}

// dropCachePoints removes the first n cache points in prompt order: tools, system, messages.
func dropCachePoints(p *converseParams, n int) {
	take := func(isPoint bool) bool {
		drop := n > 0 && isPoint
		if drop {
			n--
		}
		return drop
	}
	if tc := p.body.ToolConfig; tc != nil {
		tc.Tools = slices.DeleteFunc(tc.Tools, func(t wireTool) bool { return take(t.CachePoint != nil) })
	}
	p.body.System = slices.DeleteFunc(p.body.System, func(s wireSystemBlock) bool { return take(s.CachePoint != nil) })
	for i := range p.body.Messages {
		msg := &p.body.Messages[i]
		msg.Content = slices.DeleteFunc(msg.Content, func(b wireBlock) bool { return take(b.CachePoint != nil) })
	}
}
