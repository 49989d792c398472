package server

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/internal/redistest"
)

// upstreamChats is how many Converse calls the emulator answered.
func upstreamChats(t *testing.T, h *harness) int64 {
	t.Helper()
	return settledStats(t, h.emu).Count(emulator.OpConverse, "ok")
}

// TestChatCache: with the memory cache on, a repeated request is answered from it (cached, free,
// its usage kept, no upstream call); a request that differs in anything that changes the answer
// is a miss, one that differs only in tag or metadata a hit; bypass and no-store do what they
// say; entries expire.
func TestChatCache(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CACHE_BACKEND": "memory", "CACHE_TTL": "0.5",
		"CHAT_MODEL_MAP": `{"a": {"model": "` + novaMicro + `"}, "b": {"model": "` + novaMicro + `"}}`})
	base := func() *stratav1.ChatRequest {
		return &stratav1.ChatRequest{Model: novaMicro, Temperature: proto.Float64(0.3), Messages: user("Name a river.")}
	}
	first, err := h.client.Chat(t.Context(), base())
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.client.Chat(t.Context(), base())
	if err != nil {
		t.Fatal(err)
	}
	if first.GetCached() || !second.GetCached() || second.GetCostUsd() != 0 || second.GetAttempts() != 0 ||
		second.GetText() != first.GetText() || !proto.Equal(second.GetUsage(), first.GetUsage()) {
		t.Errorf("first cached=%v; second cached=%v cost=%v attempts=%d usage=%v: want a free cached copy with the usage",
			first.GetCached(), second.GetCached(), second.GetCostUsd(), second.GetAttempts(), second.GetUsage())
	}
	if n := upstreamChats(t, h); n != 1 {
		t.Errorf("%d upstream calls, want 1", n)
	}

	tests := []struct {
		name    string
		edit    func(*stratav1.ChatRequest)
		wantHit bool
	}{
		{"another temperature", func(r *stratav1.ChatRequest) { r.Temperature = proto.Float64(0.4) }, false},
		{"another max_tokens", func(r *stratav1.ChatRequest) { r.MaxTokens = proto.Int32(50) }, false},
		{"another message", func(r *stratav1.ChatRequest) { r.Messages = user("Name a mountain.") }, false},
		{"another model", func(r *stratav1.ChatRequest) { r.Model = novaLite }, false},
		{"a seed", func(r *stratav1.ChatRequest) { r.Seed = proto.Int64(7) }, false},
		{"tools", func(r *stratav1.ChatRequest) { r.Tools = weatherTools }, false},
		{"metadata only", func(r *stratav1.ChatRequest) { r.Metadata = map[string]string{"run": "42"} }, true},
		{"a tag resolving to the same model and parameters", func(r *stratav1.ChatRequest) { r.Model, r.Tag = "", "b" }, true},
	}
	for _, tt := range tests {
		req := base()
		tt.edit(req)
		resp, err := h.client.Chat(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if resp.GetCached() != tt.wantHit {
			t.Errorf("%s: cached = %v, want %v", tt.name, resp.GetCached(), tt.wantHit)
		}
	}

	// Bypass reads nothing, still stores; no-store reads, stores nothing.
	bypass := base()
	bypass.Cache = stratav1.CacheMode_CACHE_MODE_BYPASS
	if resp, err := h.client.Chat(t.Context(), bypass); err != nil || resp.GetCached() {
		t.Errorf("bypass: cached=%v, %v", resp.GetCached(), err)
	}
	fresh := base()
	fresh.Messages = user("Name a lake.")
	fresh.Cache = stratav1.CacheMode_CACHE_MODE_NO_STORE
	if _, err := h.client.Chat(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	fresh.Cache = stratav1.CacheMode_CACHE_MODE_UNSPECIFIED
	if resp, err := h.client.Chat(t.Context(), fresh); err != nil || resp.GetCached() {
		t.Errorf("after a no-store call: cached=%v, %v; want a miss", resp.GetCached(), err)
	}

	time.Sleep(600 * time.Millisecond) // past CACHE_TTL
	if resp, err := h.client.Chat(t.Context(), base()); err != nil || resp.GetCached() {
		t.Errorf("after the TTL: cached=%v, %v; want a miss", resp.GetCached(), err)
	}
}

// TestChatCacheSingleFlight: 100 identical requests at once make one upstream call; the others
// get its reply, as cached.
func TestChatCacheSingleFlight(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CACHE_BACKEND": "memory"})
	if err := h.emu.SetFaults(emulator.Fault{Stall: 200 * time.Millisecond, Times: 1}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	cached := 0
	for range 100 {
		wg.Go(func() {
			resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: novaMicro, Messages: user("the same question")})
			if err != nil {
				t.Errorf("Chat: %v", err)
				return
			}
			mu.Lock()
			if resp.GetCached() {
				cached++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := upstreamChats(t, h); n != 1 || cached != 99 {
		t.Errorf("%d upstream calls, %d cached replies; want 1 and 99", n, cached)
	}
}

// TestChatCacheRedis: two Strata servers sharing one real redis-server: a reply one cached is
// served by the other without a call to Bedrock; with Redis gone, calls still succeed uncached;
// with Redis back, caching resumes.
func TestChatCacheRedis(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	env := map[string]string{"CACHE_BACKEND": redis.URL()}
	a, b := startStrata(t, env), startStrata(t, env)
	req := &stratav1.ChatRequest{Model: novaMicro, Messages: user("Shared between replicas?")}
	first, err := a.client.Chat(t.Context(), req)
	if err != nil || first.GetCached() {
		t.Fatalf("first call on a: cached=%v, %v", first.GetCached(), err)
	}
	fromB, err := b.client.Chat(t.Context(), req)
	if err != nil || !fromB.GetCached() || fromB.GetText() != first.GetText() {
		t.Fatalf("the same request on b: cached=%v, %v; want a's reply from Redis", fromB.GetCached(), err)
	}
	if n := upstreamChats(t, b); n != 0 {
		t.Errorf("b called Bedrock %d times, want 0", n)
	}
	// A hit is one Redis round trip: a's miss was a GET and a SET, b's hit one GET.
	if calls := redis.Calls(t); calls["get"] != 2 || calls["set"] != 1 {
		t.Errorf("Redis ran %v; want 2 GETs and 1 SET", calls)
	}

	cacheCheck := func() stratav1.HealthStatus { return healthCheckNamed(t, a, "cache").GetStatus() }
	if st := cacheCheck(); st != stratav1.HealthStatus_HEALTH_STATUS_OK {
		t.Errorf("cache check with Redis up: %v", st)
	}
	redis.Stop()
	if st := cacheCheck(); st != stratav1.HealthStatus_HEALTH_STATUS_WARN {
		t.Errorf("cache check with Redis gone: %v, want WARN", st)
	}
	other := &stratav1.ChatRequest{Model: novaMicro, Messages: user("Asked while Redis is down.")}
	for range 2 {
		start := time.Now()
		resp, err := a.client.Chat(t.Context(), other)
		if err != nil || resp.GetCached() || time.Since(start) > time.Second {
			t.Errorf("with Redis gone: cached=%v, %v after %v; want an uncached answer, promptly", resp.GetCached(), err, time.Since(start))
		}
	}
	redis.Restart(t)
	// The health check's ping finds Redis back at once (calls alone would after a second).
	if st := cacheCheck(); st != stratav1.HealthStatus_HEALTH_STATUS_OK {
		t.Errorf("cache check with Redis back: %v", st)
	}
	healthCheckNamed(t, b, "cache")
	if _, err := a.client.Chat(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	if resp, err := b.client.Chat(t.Context(), other); err != nil || !resp.GetCached() {
		t.Errorf("with Redis back: cached=%v, %v; want caching resumed", resp.GetCached(), err)
	}
}

// TestEmbedCache: vectors are cached text by text: a batch with some texts cached sends only the
// others to Bedrock and returns every vector in order, the cached ones as they were.
func TestEmbedCache(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CACHE_BACKEND": "memory"})
	calls := func() int64 { return settledStats(t, h.emu).Count(emulator.OpInvoke, "ok") }
	first, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: titanEmbed, Inputs: []string{"alpha", "beta"}})
	if err != nil || first.GetCachedInputs() != 0 || calls() != 2 {
		t.Fatalf("first: cached %d, %v, %d calls; want 0 cached, 2 calls (Titan embeds one text a call)", first.GetCachedInputs(), err, calls())
	}
	second, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: titanEmbed, Inputs: []string{"alpha", "gamma", "beta"}})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetCachedInputs() != 2 || calls() != 3 {
		t.Errorf("second: cached %d, %d calls; want 2 cached and one more call, for gamma", second.GetCachedInputs(), calls())
	}
	got := second.GetEmbeddings()
	if len(got) != 3 || !slices.Equal(got[0].GetValues(), first.GetEmbeddings()[0].GetValues()) ||
		!slices.Equal(got[2].GetValues(), first.GetEmbeddings()[1].GetValues()) || len(got[1].GetValues()) == 0 {
		t.Errorf("vectors out of order or changed: %d vectors", len(got))
	}
	if second.GetUsage().GetInputTokens() >= first.GetUsage().GetInputTokens()*2 {
		t.Errorf("usage %v counts the cached texts too", second.GetUsage())
	}
	// Another dimension is another vector.
	if resp, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: titanEmbed, Inputs: []string{"alpha"}, Dimensions: proto.Int32(256)}); err != nil || resp.GetCachedInputs() != 0 {
		t.Errorf("another dimension: cached %d, %v; want a miss", resp.GetCachedInputs(), err)
	}
}

// TestChatStreamCache: a completed stream is stored joined; the same request, streamed again or
// asked with Chat, is served from the cache, its tool call arguments whole.
func TestChatStreamCache(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CACHE_BACKEND": "memory"})
	for name, req := range map[string]*stratav1.ChatRequest{
		"text": {Model: novaMicro, Messages: user("Stream a short answer, please.")},
		"tool call": {Model: novaMicro, Tools: weatherTools, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_TOOL, Name: "get_time"},
			Messages: user("What time is it in Lima?")},
	} {
		events, err := chatStream(t, h, req)
		if err != nil {
			t.Fatalf("%s: first stream: %v", name, err)
		}
		start, first, end := joinDeltas(t, events)
		if start.GetCached() {
			t.Errorf("%s: the first stream came from the cache", name)
		}
		events, err = chatStream(t, h, req)
		if err != nil {
			t.Fatalf("%s: second stream: %v", name, err)
		}
		start2, second, end2 := joinDeltas(t, events)
		if !start2.GetCached() || second.text != first.text || !proto.Equal(end2.GetUsage(), end.GetUsage()) || end2.GetCostUsd() != 0 {
			t.Errorf("%s: replay cached=%v text %q usage %v cost %v; want the first stream's, free", name, start2.GetCached(), second.text, end2.GetUsage(), end2.GetCostUsd())
		}
		if len(second.toolArgs) != len(first.toolArgs) || (len(first.toolArgs) > 0 && !json.Valid([]byte(second.toolArgs[0]))) {
			t.Errorf("%s: replayed tool arguments %v, first %v", name, second.toolArgs, first.toolArgs)
		}
		unary, err := h.client.Chat(t.Context(), req)
		if err != nil || !unary.GetCached() || unary.GetText() != first.text || len(toolCalls(unary.GetMessage())) != len(first.toolArgs) {
			t.Errorf("%s: Chat after the stream: cached=%v text %q calls %v, %v", name, unary.GetCached(), unary.GetText(), toolCalls(unary.GetMessage()), err)
		}
	}
	if n := settledStats(t, h.emu).Total(emulator.OpConverseStream); n != 2 {
		t.Errorf("%d upstream streams, want 2 (one per request)", n)
	}
}

// TestEmbedCacheRedis: vectors one replica embedded are served by another from Redis, text by
// text: only the texts Redis lacks go to Bedrock, and the vectors come back in order, as stored.
func TestEmbedCacheRedis(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	env := map[string]string{"CACHE_BACKEND": redis.URL()}
	a, b := startStrata(t, env), startStrata(t, env)
	first, err := a.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: titanEmbed, Inputs: []string{"alpha", "beta"}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: titanEmbed, Inputs: []string{"beta", "gamma", "alpha"}})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetCachedInputs() != 2 {
		t.Errorf("b: %d texts from the cache, want 2 (alpha and beta, embedded by a)", second.GetCachedInputs())
	}
	if n := settledStats(t, b.emu).Count(emulator.OpInvoke, "ok"); n != 1 {
		t.Errorf("b called Bedrock %d times, want 1 (gamma)", n)
	}
	got := second.GetEmbeddings()
	if len(got) != 3 || !slices.Equal(got[0].GetValues(), first.GetEmbeddings()[1].GetValues()) ||
		!slices.Equal(got[2].GetValues(), first.GetEmbeddings()[0].GetValues()) || len(got[1].GetValues()) == 0 {
		t.Errorf("vectors out of order or changed: %d vectors", len(got))
	}
}
