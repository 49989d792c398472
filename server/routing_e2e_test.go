package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// rdAgentModelMap is a CHAT_MODEL_MAP as RD-Agent users write it: numbers as strings, keys tried
// in the order written. "coder" comes before "code", so a tag holding both takes "coder".
const rdAgentModelMap = `{
  "coder":   {"model": "bedrock/` + claudeHaiku + `", "temperature": "0.2", "max_tokens": "512"},
  "code":    {"model": "` + novaLite + `", "max_tokens": "5"},
  "summary": {"model": "bedrock/converse/` + novaPro + `", "temperature": 0.9}
}`

func TestTagRouting(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{
		"CHAT_MODEL_MAP":  rdAgentModelMap,
		"CHAT_MAX_TOKENS": "7",
	})
	tests := []struct {
		name      string
		tag       string
		model     string
		maxTokens *int32
		wantRoute string
		wantModel string
		wantStop  stratav1.StopReason
		maxOutput int64 // the reply's output tokens must not exceed this
	}{
		{name: "first key that is a substring wins", tag: "evolving.coder.code_gen", wantRoute: "coder", wantModel: claudeHaiku, wantStop: stratav1.StopReason_STOP_REASON_END_TURN, maxOutput: 512},
		{name: "substring match", tag: "task:code-review", wantRoute: "code", wantModel: novaLite, wantStop: stratav1.StopReason_STOP_REASON_MAX_TOKENS, maxOutput: 5},
		{name: "map beats the global default", tag: "exp_summary_v2", wantRoute: "summary", wantModel: novaPro, wantStop: stratav1.StopReason_STOP_REASON_MAX_TOKENS, maxOutput: 7},
		{name: "no match takes the defaults", tag: "feedback", wantRoute: "default", wantModel: novaMicro, wantStop: stratav1.StopReason_STOP_REASON_MAX_TOKENS, maxOutput: 7},
		{name: "no tag takes the defaults", wantRoute: "default", wantModel: novaMicro, wantStop: stratav1.StopReason_STOP_REASON_MAX_TOKENS, maxOutput: 7},
		{name: "request beats the map", tag: "task:code-review", maxTokens: ptr[int32](400), wantRoute: "code", wantModel: novaLite, wantStop: stratav1.StopReason_STOP_REASON_END_TURN, maxOutput: 400},
		{name: "request beats the global default", maxTokens: ptr[int32](400), wantRoute: "default", wantModel: novaMicro, wantStop: stratav1.StopReason_STOP_REASON_END_TURN, maxOutput: 400},
		{name: "explicit model wins over the tag's", tag: "task:code-review", model: "bedrock/" + novaMicro, wantRoute: "code", wantModel: novaMicro, wantStop: stratav1.StopReason_STOP_REASON_MAX_TOKENS, maxOutput: 5},
		{name: "explicit friendly name", model: "anthropic/claude-3-haiku-20240307", maxTokens: ptr[int32](400), wantRoute: "default", wantModel: "anthropic.claude-3-haiku-20240307-v1:0", wantStop: stratav1.StopReason_STOP_REASON_END_TURN, maxOutput: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := &stratav1.ChatRequest{Tag: tt.tag, Model: tt.model, MaxTokens: tt.maxTokens, Messages: user("Summarise the design of a river delta in detail.")}
			resp, err := h.client.Chat(t.Context(), req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.GetRoute() != tt.wantRoute || resp.GetModel() != tt.wantModel {
				t.Errorf("route, model = %q, %q; want %q, %q", resp.GetRoute(), resp.GetModel(), tt.wantRoute, tt.wantModel)
			}
			if resp.GetStopReason() != tt.wantStop {
				t.Errorf("stop_reason = %v, want %v", resp.GetStopReason(), tt.wantStop)
			}
			if out := resp.GetUsage().GetOutputTokens(); out > tt.maxOutput || out == 0 {
				t.Errorf("output tokens = %d, want 1..%d", out, tt.maxOutput)
			}
			// The stream resolves the same way.
			events, err := chatStream(t, h, req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			start, _, end := joinDeltas(t, events)
			if start.GetRoute() != tt.wantRoute || start.GetModel() != tt.wantModel || end.GetStopReason() != tt.wantStop {
				t.Errorf("stream: start %v, end stop %v; want %s, %s, %v", start, end.GetStopReason(), tt.wantRoute, tt.wantModel, tt.wantStop)
			}
		})
	}

	// ListModels shows the map as resolved, in the order written, string numbers parsed.
	lm, err := h.client.ListModels(t.Context(), &stratav1.ListModelsRequest{})
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	var keys []string
	for _, r := range lm.GetRoutes() {
		keys = append(keys, r.GetKey())
	}
	if len(keys) != 3 || keys[0] != "coder" || keys[1] != "code" || keys[2] != "summary" {
		t.Fatalf("routes = %v, want coder, code, summary", keys)
	}
	coder := lm.GetRoutes()[0]
	if coder.GetModel() != claudeHaiku || coder.GetTemperature() != 0.2 || coder.GetMaxTokens() != 512 || !coder.GetKnown() {
		t.Errorf("coder route = %v, want %s, temperature 0.2, max_tokens 512, known", coder, claudeHaiku)
	}
	if s := lm.GetRoutes()[2]; s.GetModel() != novaPro || s.GetTemperature() != 0.9 || s.MaxTokens != nil {
		t.Errorf("summary route = %v, want %s, temperature 0.9 and no max_tokens of its own", s, novaPro)
	}
}

// TestTagRoutingOrder swaps the keys: now "code" is written first and takes every coder tag.
func TestTagRoutingOrder(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{
		"CHAT_MODEL_MAP": `{"code": {"model": "` + novaLite + `"}, "coder": {"model": "` + novaPro + `"}}`,
	})
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "evolving.coder", Messages: user("hi")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if resp.GetRoute() != "code" || resp.GetModel() != novaLite {
		t.Errorf("route, model = %q, %q; want code, %s", resp.GetRoute(), resp.GetModel(), novaLite)
	}
}

// TestEnvFile loads an RD-Agent .env as is: comments, export lines, LITELLM_ names, a multi-line
// single-quoted CHAT_MODEL_MAP, settings Strata does not know; and the environment wins over it.
func TestEnvFile(t *testing.T) {
	t.Parallel()
	envFile := filepath.Join(t.TempDir(), ".env")
	const dotenv = `# RD-Agent with LiteLLM on Bedrock
BACKEND=rdagent.oai.backend.LiteLLMAPIBackend
export CHAT_STREAM=False

# LiteLLM names win over the plain ones
CHAT_MODEL=bedrock/` + novaPro + `
LITELLM_CHAT_MODEL=bedrock/converse/` + novaMicro + `   # the model for everything untagged
export EMBEDDING_MODEL="bedrock/amazon.titan-embed-text-v2:0"
LITELLM_EMBEDDING_MAX_STR_NUM=10
CHAT_TEMPERATURE=0.3
MAX_RETRY=5
export LITELLM_CHAT_MODEL_MAP='{
    "coder": {"model": "bedrock/` + novaLite + `", "temperature": "0.1", "max_tokens": "6"},
    "runner": {
        "model": "` + claudeSonnet + `",
        "reasoning_effort": "low"
    }
}'
AWS_REGION_NAME=us-east-1
`
	if err := os.WriteFile(envFile, []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	// The process environment wins over the file: one attempt, not five.
	h := startStrataWith(t, harnessOptions{environ: map[string]string{"MAX_RETRY": "1"}, envFile: envFile})

	if h.cfg.EnvFile != envFile {
		t.Errorf("EnvFile = %q, want %q", h.cfg.EnvFile, envFile)
	}
	lm, err := h.client.ListModels(t.Context(), &stratav1.ListModelsRequest{})
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	if lm.GetDefaultChatModel() != novaMicro || lm.GetDefaultEmbeddingModel() != titanEmbed {
		t.Errorf("defaults = %q, %q; want %s, %s", lm.GetDefaultChatModel(), lm.GetDefaultEmbeddingModel(), novaMicro, titanEmbed)
	}
	if len(lm.GetRoutes()) != 2 || lm.GetRoutes()[0].GetKey() != "coder" || lm.GetRoutes()[1].GetKey() != "runner" {
		t.Fatalf("routes = %v, want coder then runner", lm.GetRoutes())
	}
	if r := lm.GetRoutes()[0]; r.GetModel() != novaLite || r.GetTemperature() != 0.1 || r.GetMaxTokens() != 6 {
		t.Errorf("coder = %v", r)
	}
	if r := lm.GetRoutes()[1]; r.GetModel() != claudeSonnet || r.GetReasoningEffort() != stratav1.ReasoningEffort_REASONING_EFFORT_LOW || r.Temperature != nil {
		t.Errorf("runner = %v, want %s, effort LOW, no temperature of its own", r, claudeSonnet)
	}

	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "evolving.coder", Messages: user("Write the function.")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if resp.GetModel() != novaLite || resp.GetStopReason() != stratav1.StopReason_STOP_REASON_MAX_TOKENS {
		t.Errorf("coder: model %q stop %v; want %s cut at 6 tokens", resp.GetModel(), resp.GetStopReason(), novaLite)
	}
	resp, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Tag: "runner", Messages: user("Run it.")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if resp.GetModel() != claudeSonnet || resp.GetReasoning() == "" {
		t.Errorf("runner: model %q reasoning %q; want %s thinking", resp.GetModel(), resp.GetReasoning(), claudeSonnet)
	}

	// LITELLM_EMBEDDING_MAX_STR_NUM=10 batches Cohere by ten.
	before := settledStats(t, h.emu).Total("invoke")
	if _, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: cohereEmbed, Inputs: texts(25)}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if calls := settledStats(t, h.emu).Total("invoke") - before; calls != 3 {
		t.Errorf("cohere calls for 25 texts = %d, want 3", calls)
	}

	// MAX_RETRY=1 from the environment: one throttle fails the call.
	if err := h.emu.SetFaults(mustFault(t, "error=ThrottlingException,times=1,op=converse")); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hi")})
	wantCode(t, err, codes.ResourceExhausted)
}

// TestInferenceProfileRouting: the bare id of a model Bedrock serves only through inference
// profiles is called through the global profile with PREFER_GLOBAL_PROFILES, said once in the
// log and in model; with INFERENCE_PROFILE_ROUTING=off it goes as written and Bedrock's refusal
// comes back.
func TestInferenceProfileRouting(t *testing.T) {
	t.Parallel()
	const bare = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	global := startStrata(t, map[string]string{"PREFER_GLOBAL_PROFILES": "true"})
	for range 2 {
		resp, err := global.client.Chat(t.Context(), &stratav1.ChatRequest{Model: bare, Messages: user("hi")})
		if err != nil {
			t.Fatalf("Chat: %v", err)
		}
		if resp.GetModel() != "global."+bare {
			t.Errorf("model %q, want global.%s", resp.GetModel(), bare)
		}
	}
	if n := strings.Count(global.logs.String(), "called through one"); n != 1 {
		t.Errorf("the routing was logged %d times, want once:\n%s", n, global.logs.String())
	}

	off := startStrata(t, map[string]string{"INFERENCE_PROFILE_ROUTING": "off"})
	_, err := off.client.Chat(t.Context(), &stratav1.ChatRequest{Model: bare, Messages: user("hi")})
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(err.Error(), "on-demand throughput") {
		t.Errorf("error %v, want Bedrock's on-demand refusal", err)
	}
}
