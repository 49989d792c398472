package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/strata-gateway/strata/catalog"
)

// turn is one model call in dialect-free form: what Converse, Anthropic Messages and Nova bodies
// all reduce to, and all the generator needs to answer.
type turn struct {
	model *catalog.Model
	// fingerprint identifies the request's content; the reply is seeded from it.
	fingerprint []byte
	// lastUserText is the text of the last user message; the reply quotes it.
	lastUserText string
	// answeringToolResult is true when the last user message carries tool results.
	answeringToolResult bool
	inputTokens         int
	cache               cacheRequest
	maxTokens           int
	stopSequences       []string
	tools               []toolDef
	choice              choiceKind
	forcedTool          string
	reasoning           reasoningMode
	// serverTools is true when the request declares a system tool (toolConfig.tools[].systemTool).
	serverTools bool
	// jsonSchema, when set, makes the reply a JSON text that validates against it.
	jsonSchema map[string]any
	// guardrail, when set, is the guardrail that blocks this request.
	guardrail *guardrailHit
	// redactThinking is true when a user message carries Anthropic's test trigger for redacted
	// thinking (redactedThinkingTrigger): Claude's reasoning then comes back encrypted.
	redactThinking bool
}

// guardrailHit is a guardrail blocking a request for a word of its list.
type guardrailHit struct {
	id, word string
	trace    bool
}

type toolDef struct {
	name, description string
	schema            map[string]any
}

type choiceKind int

const (
	choiceAuto choiceKind = iota
	choiceAny
	choiceTool
	choiceNone
)

type reasoningMode struct {
	enabled bool
	// budget caps the reasoning tokens; zero leaves it to the model.
	budget int
	// signed adds a signature to the reasoning, as Claude does.
	signed bool
}

// cacheRequest is the prompt-cache prefix a request marked with cache points.
type cacheRequest struct {
	requested bool
	key       [32]byte
	tokens    int
	ttl       time.Duration
}

// tokenTally accumulates a request's input tokens and the prefix before its last cache point.
type tokenTally struct {
	tokens int
	hash   [32]byte
	cache  cacheRequest
}

func (t *tokenTally) add(n int, content any) {
	t.tokens += n
	b, _ := json.Marshal(content) // request content decoded from JSON always marshals
	h := sha256.New()
	h.Write(t.hash[:])
	h.Write(b)
	copy(t.hash[:], h.Sum(nil))
}

func (t *tokenTally) cachePoint(cp *cachePointBlock) {
	ttl := 5 * time.Minute
	if cp.TTL == "1h" {
		ttl = time.Hour
	}
	t.cache = cacheRequest{requested: true, key: t.hash, tokens: t.tokens, ttl: ttl}
}

// reply is the generated answer, before it is written in a dialect.
type reply struct {
	blocks       []replyBlock
	stopReason   string
	stopSequence string
	usage        tokenUsage
	// trace is the response's trace member, when the request asked for one.
	trace map[string]any
}

type blockKind int

const (
	blockText blockKind = iota
	blockReasoning
	blockToolUse
	// blockRedacted is reasoning Claude returns encrypted: redacted holds the opaque data.
	blockRedacted
)

type replyBlock struct {
	kind blockKind
	// pieces are the block's text (or tool input JSON) as the model emits it, a token or so each.
	pieces    []string
	signature string
	toolID    string
	toolName  string
	// toolType is "tool_use" when the request declared a system tool, else empty.
	toolType string
	// redacted is a blockRedacted's opaque data: Anthropic's base64 text, whose bytes are
	// Bedrock's redactedContent blob.
	redacted []byte
}

func (b *replyBlock) text() string { return strings.Join(b.pieces, "") }

type tokenUsage struct {
	input, output, cacheRead, cacheWrite int
	// cacheReported is true where the response carries the cache fields.
	cacheReported bool
	// cacheTTL is the TTL ("5m" or "1h") of the cache point a cache write wrote.
	cacheTTL string
}

func (u tokenUsage) total() int { return u.input + u.output + u.cacheRead + u.cacheWrite }

// promptCache remembers which cache-point prefixes were written, and until when, so a second
// request with the same prefix reads it (as test_bedrock_cache_write_and_read.yaml records).
type promptCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

const promptCacheMaxEntries = 100_000

func newPromptCache() *promptCache {
	return &promptCache{entries: map[[32]byte]time.Time{}}
}

// lookup reports whether key is cached, and caches it (again) for ttl either way.
func (p *promptCache) lookup(key [32]byte, ttl time.Duration, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, hit := p.entries[key]
	hit = hit && now.Before(exp)
	if len(p.entries) >= promptCacheMaxEntries {
		for k, e := range p.entries {
			if !now.Before(e) {
				delete(p.entries, k)
			}
		}
		if len(p.entries) >= promptCacheMaxEntries {
			clear(p.entries)
		}
	}
	p.entries[key] = now.Add(ttl)
	return hit
}

// minCacheTokens is the shortest prefix a cache point caches; shorter ones are silently ignored.
func minCacheTokens(m *catalog.Model) int {
	if m.MinCacheTokens > 0 {
		return m.MinCacheTokens
	}
	return 1024
}

// settleCache turns a cache request into cache-read or cache-write tokens.
func (e *Emulator) settleCache(t *turn) tokenUsage {
	u := tokenUsage{input: t.inputTokens}
	// Claude models that cache report the cache fields on every answer, others only when asked to
	// cache; a model without prompt caching never does (anthropic.claude-v2: test_text_document_url_input.yaml).
	if t.model.CachePoints && (t.model.Family == catalog.FamilyClaude || t.cache.requested) {
		u.cacheReported = true
	}
	if !t.cache.requested || !t.model.CachePoints || t.cache.tokens < minCacheTokens(t.model) {
		return u
	}
	key := sha256.Sum256(append([]byte(t.model.ID+"\x00"), t.cache.key[:]...))
	if e.prompts.lookup(key, t.cache.ttl, e.now()) {
		u.cacheRead = t.cache.tokens
	} else {
		u.cacheWrite, u.cacheTTL = t.cache.tokens, "5m"
		if t.cache.ttl == time.Hour {
			u.cacheTTL = "1h"
		}
	}
	u.input -= t.cache.tokens
	return u
}

// signature makes a Claude-like opaque reasoning signature that depends on the reasoning text.
func signature(seed uint64, text string) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(seed) + "\x00" + text))
	raw := make([]byte, 0, 4*len(sum))
	for i := range 4 {
		s := sha256.Sum256(append(sum[:], byte(i)))
		raw = append(raw, s[:]...)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
