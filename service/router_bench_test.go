package service

import (
	"testing"

	"github.com/strata-gateway/strata/catalog"
)

// benchRouterConfig is a realistic tag map (CHAT_MODEL_MAP) of 10 entries in RD-Agent's style,
// written with every form of model name the config accepts.
func benchRouterConfig() RouterConfig {
	return RouterConfig{
		ChatModel:       "us.amazon.nova-micro-v1:0",
		EmbeddingModel:  "amazon.titan-embed-text-v2:0",
		Temperature:     ptr(0.5),
		MaxTokens:       ptr(4096),
		ReasoningEffort: "",
		Region:          "us-east-1",
		Routes: []RouteConfig{
			{Key: "coder", Model: "anthropic/claude-sonnet-4-5-20250929", Temperature: ptr(0.2), MaxTokens: ptr(8192), ReasoningEffort: "high"},
			{Key: "code", Model: "bedrock/converse/us.amazon.nova-pro-v1:0"},
			{Key: "proposal", Model: "us.anthropic.claude-haiku-4-5-20251001-v1:0", ReasoningEffort: "low"},
			{Key: "feedback", Model: "amazon.nova-lite-v1:0"},
			{Key: "summar", Model: "amazon.nova-micro-v1:0", MaxTokens: ptr(1024)},
			{Key: "planner", Model: "anthropic/claude-opus-4-1-20250805", ReasoningEffort: "medium"},
			{Key: "research", Model: "openai.gpt-oss-120b-1:0", ReasoningEffort: "medium"},
			{Key: "reason", Model: "us.deepseek.r1-v1:0"},
			{Key: "qwen", Model: "qwen.qwen3-32b-v1:0", ReasoningBudget: 0},
			{Key: "embed", Model: "cohere.embed-v4:0"},
		},
	}
}

func benchRouter(b *testing.B) (*Router, *catalog.Catalog) {
	b.Helper()
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	r, warnings, err := NewRouter(cat, benchRouterConfig())
	if err != nil || len(warnings) > 0 {
		b.Fatalf("NewRouter: %v, warnings %v", err, warnings)
	}
	return r, cat
}

// BenchmarkChatRoute measures tag resolution: the first matching key of a 10-entry map, the
// defaults when none matches (all 10 tried), and an explicit model in Bedrock's form and as a
// friendly name, which goes through catalog.LookupName.
func BenchmarkChatRoute(b *testing.B) {
	r, _ := benchRouter(b)
	tests := []struct {
		name, tag, model string
		wantKey          string
	}{
		{name: "tagFirstEntry", tag: "rdagent.coder.v2", wantKey: "coder"},
		{name: "tagNinthEntry", tag: "rdagent.qwen.eval", wantKey: "qwen"},
		{name: "tagNoMatch", tag: "rdagent.misc.step_07", wantKey: DefaultRoute},
		{name: "modelID", tag: "rdagent.misc.step_07", model: "us.amazon.nova-pro-v1:0", wantKey: DefaultRoute},
		{name: "modelFriendly", tag: "rdagent.misc.step_07", model: "anthropic/claude-sonnet-4-5-20250929", wantKey: DefaultRoute},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rt, err := r.chatRoute(tt.tag, tt.model)
				if err != nil || rt.Key != tt.wantKey {
					b.Fatalf("route %q, %v; want %q", rt.Key, err, tt.wantKey)
				}
			}
		})
	}
}
