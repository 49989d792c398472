package service

import (
	"slices"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestRouterMatch(t *testing.T) {
	t.Parallel()
	cfg := RouterConfig{
		ChatModel:       "us.amazon.nova-micro-v1:0",
		EmbeddingModel:  "amazon.titan-embed-text-v2:0",
		Temperature:     ptr(0.5),
		ReasoningEffort: "low",
		Region:          "us-east-1",
		Routes: []RouteConfig{
			// Order matters: "coder" is tried before "code", as written.
			{Key: "coder", Model: "anthropic/claude-sonnet-4-5-20250929", Temperature: ptr(0.2), MaxTokens: ptr(2048), ReasoningEffort: "high"},
			{Key: "code", Model: "bedrock/converse/us.amazon.nova-pro-v1:0", ReasoningEffort: "low"},
			{Key: "embed", Model: "cohere.embed-v4:0"},
			{Key: "plain", Model: "us.amazon.nova-lite-v1:0", ReasoningEffort: "turbo"},
		},
	}
	r, warnings, err := NewRouter(testCatalog(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v, want none", warnings)
	}
	tests := []struct {
		tag, model  string
		wantKey     string
		wantModel   string
		wantTemp    *float64
		wantMax     *int
		wantEffort  backend.Effort
		wantErrText string
	}{
		{tag: "", wantKey: "default", wantModel: "us.amazon.nova-micro-v1:0", wantTemp: ptr(0.5), wantEffort: backend.EffortLow},
		{tag: "proposal.coder.v2", wantKey: "coder", wantModel: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", wantTemp: ptr(0.2), wantMax: ptr(2048), wantEffort: backend.EffortHigh},
		// "code" matches as a substring; its unset temperature falls back to the global.
		{tag: "runner.code_fix", wantKey: "code", wantModel: "us.amazon.nova-pro-v1:0", wantTemp: ptr(0.5), wantEffort: backend.EffortLow},
		// An effort other than low/medium/high is off.
		{tag: "plain", wantKey: "plain", wantModel: "us.amazon.nova-lite-v1:0", wantTemp: ptr(0.5), wantEffort: backend.EffortNone},
		{tag: "unmatched", wantKey: "default", wantModel: "us.amazon.nova-micro-v1:0", wantTemp: ptr(0.5), wantEffort: backend.EffortLow},
		// An explicit model wins over the route's model; the route's parameters still apply.
		{tag: "coder", model: "amazon.nova-lite-v1:0", wantKey: "coder", wantModel: "amazon.nova-lite-v1:0", wantTemp: ptr(0.2), wantMax: ptr(2048), wantEffort: backend.EffortHigh},
		{model: "gpt-4o", wantErrText: "unknown model name"},
	}
	for _, tt := range tests {
		t.Run(tt.tag+"|"+tt.model, func(t *testing.T) {
			t.Parallel()
			rt, err := r.chatRoute(tt.tag, tt.model)
			if tt.wantErrText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("chatRoute error = %v, want %q", err, tt.wantErrText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rt.Key != tt.wantKey || rt.Model.ModelID != tt.wantModel || rt.Effort != tt.wantEffort {
				t.Errorf("route = %s %s %q, want %s %s %q", rt.Key, rt.Model.ModelID, rt.Effort, tt.wantKey, tt.wantModel, tt.wantEffort)
			}
			if !equalPtr(rt.Temperature, tt.wantTemp) || !equalPtr(rt.MaxTokens, tt.wantMax) {
				t.Errorf("temperature, max tokens = %v, %v; want %v, %v", deref(rt.Temperature), deref(rt.MaxTokens), deref(tt.wantTemp), deref(tt.wantMax))
			}
		})
	}
	t.Run("embedding", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct{ tag, model, want string }{
			{want: "amazon.titan-embed-text-v2:0"},
			{tag: "embed.docs", want: "cohere.embed-v4:0"},
			{tag: "coder", want: "amazon.titan-embed-text-v2:0"}, // a chat route does not embed
			{model: "cohere.embed-english-v3", want: "cohere.embed-english-v3"},
		} {
			n, _, err := r.embeddingModel(tt.tag, tt.model)
			if err != nil || n.ModelID != tt.want {
				t.Errorf("embeddingModel(%q, %q) = %q, %v; want %q", tt.tag, tt.model, n.ModelID, err, tt.want)
			}
		}
	})
}

func TestNewRouterErrorsAndWarnings(t *testing.T) {
	t.Parallel()
	_, warnings, err := NewRouter(testCatalog(t), RouterConfig{
		ChatModel:      "acme.unreleased-model-v1:0",
		EmbeddingModel: "amazon.titan-embed-text-v2:0",
		Routes:         []RouteConfig{{Key: "x", Model: "no-such-friendly-name"}},
	})
	if err == nil || !strings.Contains(err.Error(), `CHAT_MODEL_MAP["x"].model`) {
		t.Errorf("error = %v, want it to name the map entry", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "acme.unreleased-model-v1:0") {
		t.Errorf("warnings = %v, want one naming the unknown Bedrock id", warnings)
	}
}

// TestNewRouterFallbacks: fallbacks resolve like models, each named by its place in an error; one
// in another region (model@region) resolves for that region.
func TestNewRouterFallbacks(t *testing.T) {
	t.Parallel()
	r, _, err := NewRouter(testCatalog(t), RouterConfig{ChatModel: "amazon.nova-micro-v1:0", EmbeddingModel: "amazon.titan-embed-text-v2:0",
		Region: "eu-west-1", Routes: []RouteConfig{{Key: "x", Model: "amazon.nova-micro-v1:0", Fallbacks: []string{
			"anthropic/claude-sonnet-4-5-20250929", "us.amazon.nova-lite-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0@us-west-2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Routes()[0].Fallbacks {
		got = append(got, f.ModelID+"@"+f.Region)
	}
	// The third is the same model in another region: its profile is that region's geography's.
	if want := []string{"eu.anthropic.claude-sonnet-4-5-20250929-v1:0@", "us.amazon.nova-lite-v1:0@", "us.anthropic.claude-sonnet-4-5-20250929-v1:0@us-west-2"}; !slices.Equal(got, want) {
		t.Errorf("fallbacks %v, want %v", got, want)
	}
	for _, tt := range []struct{ fallback, want string }{
		{"no-such-model", `CHAT_MODEL_MAP["x"].fallbacks[0]`},
		{"amazon.nova-micro-v1:0@moon-base", `"moon-base" is not an AWS region`},
	} {
		_, _, err := NewRouter(testCatalog(t), RouterConfig{ChatModel: "amazon.nova-micro-v1:0", EmbeddingModel: "amazon.titan-embed-text-v2:0",
			Routes: []RouteConfig{{Key: "x", Model: "amazon.nova-micro-v1:0", Fallbacks: []string{tt.fallback}}}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("fallback %q: error %v, want one saying %q", tt.fallback, err, tt.want)
		}
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
