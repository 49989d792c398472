package emulator

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-gateway/strata/catalog"
)

// sdkInvoke runs InvokeModel with a JSON body and returns the decoded body and the raw headers.
func sdkInvoke(t testing.TB, te *testEmulator, model string, body any) (map[string]any, http.Header) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := te.runtime.InvokeModel(testContext(t), &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String(model),
		Body:        raw,
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	})
	if err != nil {
		t.Fatalf("InvokeModel(%s): %v", model, err)
	}
	if ct := aws.ToString(out.ContentType); ct != "application/json" {
		t.Errorf("ContentType = %q, want application/json", ct)
	}
	resp, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if !ok {
		t.Fatalf("raw response is %T", awsmiddleware.GetRawResponse(out.ResultMetadata))
	}
	var decoded map[string]any
	if err := json.Unmarshal(out.Body, &decoded); err != nil {
		t.Fatalf("InvokeModel body %s: %v", out.Body, err)
	}
	return decoded, resp.Header
}

// sdkHeaderInt reads an integer response header, failing if it is absent or not a number.
func sdkHeaderInt(t testing.TB, h http.Header, name string) int {
	t.Helper()
	v := h.Get(name)
	if v == "" {
		t.Fatalf("header %s is missing (headers %v)", name, h)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("header %s = %q: %v", name, v, err)
	}
	return n
}

// sdkNum reads a JSON number at a path of object keys.
func sdkNum(t testing.TB, v any, path ...string) int {
	t.Helper()
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %s: %T is not an object", k, v)
		}
		v = m[k]
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		t.Fatalf("%v = %v (%T), want an integer", path, v, v)
	}
	return int(f)
}

func sdkClaudeBody(text string, extra map[string]any) map[string]any {
	body := map[string]any{
		"anthropic_version": "bedrock-2023-05-31",
		"max_tokens":        1024,
		"messages":          []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": text}}}},
	}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

func TestInvokeAnthropic(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tool := map[string]any{"name": "get_weather", "description": "Weather.", "input_schema": map[string]any{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer", "minimum": 1, "maximum": 3}},
		"required": []any{"city", "days"}}}
	tests := []struct {
		name, model string
		body        map[string]any
		wantStop    string
		wantTypes   []string // content block types, in order
	}{
		{"text", sdkHaiku45, sdkClaudeBody("Hello there, Claude.", nil), "end_turn", []string{"text"}},
		{"string system and content", sdkSonnet45, map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "system": "You are concise.",
			"messages": []any{map[string]any{"role": "user", "content": "Hello there, Claude."}}}, "end_turn", []string{"text"}},
		{"max tokens", sdkHaiku45, sdkClaudeBody("Write at length about owls.", map[string]any{"max_tokens": 4}), "max_tokens", []string{"text"}},
		{"stop sequence", sdkHaiku45, sdkClaudeBody("say FIN now", map[string]any{"stop_sequences": []any{"FIN"}}), "stop_sequence", []string{"text"}},
		{"tool use", sdkHaiku45, sdkClaudeBody("Weather in Lima?", map[string]any{"tools": []any{tool}}), "tool_use", []string{"text", "tool_use"}},
		{"forced tool", sdkHaiku45, sdkClaudeBody("Weather in Lima?", map[string]any{"tools": []any{tool}, "tool_choice": map[string]any{"type": "tool", "name": "get_weather"}}), "tool_use", []string{"tool_use"}},
		{"tool choice none", sdkHaiku45, sdkClaudeBody("Weather in Lima?", map[string]any{"tools": []any{tool}, "tool_choice": map[string]any{"type": "none"}}), "end_turn", []string{"text"}},
		{"thinking", sdkSonnet45, sdkClaudeBody("Why is the sea salty?", map[string]any{"max_tokens": 3000, "thinking": map[string]any{"type": "enabled", "budget_tokens": 1024}}), "end_turn", []string{"thinking", "text"}},
		{"adaptive thinking", sdkSonnet46, sdkClaudeBody("Why is the sea salty?", map[string]any{"thinking": map[string]any{"type": "adaptive"}}), "end_turn", []string{"thinking", "text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, h := sdkInvoke(t, te, tt.model, tt.body)
			id, _ := resp["id"].(string)
			if !strings.HasPrefix(id, "msg_bdrk_01") || resp["type"] != "message" || resp["role"] != "assistant" {
				t.Errorf("id/type/role = %v/%v/%v", resp["id"], resp["type"], resp["role"])
			}
			if model, _ := resp["model"].(string); model == "" || strings.Contains(model, "anthropic.") || strings.Contains(model, ":") {
				t.Errorf("model = %q, want Claude's own name without provider or version", model)
			}
			if resp["stop_reason"] != tt.wantStop {
				t.Errorf("stop_reason = %v, want %s", resp["stop_reason"], tt.wantStop)
			}
			content, _ := resp["content"].([]any)
			var kinds []string
			var text string
			for _, c := range content {
				block := c.(map[string]any)
				kinds = append(kinds, block["type"].(string))
				switch block["type"] {
				case "text":
					text += block["text"].(string)
				case "thinking":
					if s, _ := block["signature"].(string); s == "" {
						t.Error("thinking block without a signature")
					}
				case "tool_use":
					if id, _ := block["id"].(string); !strings.HasPrefix(id, "toolu_bdrk_") || block["name"] != "get_weather" {
						t.Errorf("tool_use block %v", block)
					}
					raw, _ := json.Marshal(block["input"])
					sdkValidate(t, sdkSchema(t, mustJSON(t, tool["input_schema"])), raw)
				}
			}
			if !slices.Equal(kinds, tt.wantTypes) {
				t.Errorf("content types %v, want %v", kinds, tt.wantTypes)
			}
			if tt.wantStop == "stop_sequence" {
				if resp["stop_sequence"] != "FIN" || strings.Contains(text, "FIN") {
					t.Errorf("stop_sequence = %v, text %q", resp["stop_sequence"], text)
				}
			} else if v, ok := resp["stop_sequence"]; !ok || v != nil {
				t.Errorf("stop_sequence = %v (present %v), want null", v, ok)
			}
			in, out := sdkNum(t, resp, "usage", "input_tokens"), sdkNum(t, resp, "usage", "output_tokens")
			if got := sdkHeaderInt(t, h, "X-Amzn-Bedrock-Input-Token-Count"); got != in {
				t.Errorf("input token header %d, usage.input_tokens %d", got, in)
			}
			if got := sdkHeaderInt(t, h, "X-Amzn-Bedrock-Output-Token-Count"); got != out {
				t.Errorf("output token header %d, usage.output_tokens %d", got, out)
			}
			if sdkHeaderInt(t, h, "X-Amzn-Bedrock-Invocation-Latency") <= 0 {
				t.Error("invocation latency header is not positive")
			}
			if mt := tt.body["max_tokens"].(int); out > mt {
				t.Errorf("output_tokens %d above max_tokens %d", out, mt)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInvokeMatchesConverse checks that one request in two dialects is one request: the same
// input tokens and the same reply.
func TestInvokeMatchesConverse(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	const system, prompt = "You are concise.", "Name a famous bridge."
	converse := &bedrockruntime.ConverseInput{
		Messages: []types.Message{sdkUser(sdkText(prompt))},
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: system}},
	}
	tests := []struct {
		name, model string
		body        map[string]any
		text        func(map[string]any) string
		usage       func(map[string]any) (int, int)
	}{
		{"claude", sdkHaiku45, map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 500, "system": system,
			"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": prompt}}}}},
			func(r map[string]any) string { return r["content"].([]any)[0].(map[string]any)["text"].(string) },
			func(r map[string]any) (int, int) {
				return sdkNum(t, r, "usage", "input_tokens"), sdkNum(t, r, "usage", "output_tokens")
			}},
		{"nova", sdkNova, map[string]any{"schemaVersion": "messages-v1", "system": []any{map[string]any{"text": system}},
			"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": prompt}}}},
			"inferenceConfig": map[string]any{"maxTokens": 500, "temperature": 0.5, "topP": 0.9, "topK": 20}},
			func(r map[string]any) string {
				return r["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
			},
			func(r map[string]any) (int, int) {
				return sdkNum(t, r, "usage", "inputTokens"), sdkNum(t, r, "usage", "outputTokens")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := *converse
			in.ModelId = aws.String(tt.model)
			want := sdkConverse(t, te, &in)
			resp, h := sdkInvoke(t, te, tt.model, tt.body)
			if got := tt.text(resp); got != sdkReplyText(t, want) {
				t.Errorf("invoke text %q\nconverse text %q", got, sdkReplyText(t, want))
			}
			inTok, outTok := tt.usage(resp)
			if inTok != sdkI32(want.Usage.InputTokens) || outTok != sdkI32(want.Usage.OutputTokens) {
				t.Errorf("invoke usage %d/%d, converse %d/%d", inTok, outTok, sdkI32(want.Usage.InputTokens), sdkI32(want.Usage.OutputTokens))
			}
			if sdkHeaderInt(t, h, "X-Amzn-Bedrock-Input-Token-Count") != inTok || sdkHeaderInt(t, h, "X-Amzn-Bedrock-Output-Token-Count") != outTok {
				t.Errorf("headers %v disagree with usage %d/%d", h, inTok, outTok)
			}
		})
	}
}

func TestInvokeNova(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	resp, h := sdkInvoke(t, te, "us.amazon.nova-lite-v1:0", map[string]any{
		"schemaVersion":   "messages-v1",
		"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "Write a long story about a fox."}}}},
		"inferenceConfig": map[string]any{"max_new_tokens": 5},
	})
	if resp["stopReason"] != "max_tokens" {
		t.Errorf("stopReason = %v, want max_tokens (max_new_tokens is Nova's alias)", resp["stopReason"])
	}
	msg := resp["output"].(map[string]any)["message"].(map[string]any)
	if msg["role"] != "assistant" || len(msg["content"].([]any)) != 1 {
		t.Errorf("output.message = %v", msg)
	}
	in, out, total := sdkNum(t, resp, "usage", "inputTokens"), sdkNum(t, resp, "usage", "outputTokens"), sdkNum(t, resp, "usage", "totalTokens")
	if total != in+out || out > 5 {
		t.Errorf("usage %d + %d = %d, want total = in + out and out <= 5", in, out, total)
	}
	if sdkHeaderInt(t, h, "X-Amzn-Bedrock-Output-Token-Count") != out || sdkHeaderInt(t, h, "X-Amzn-Bedrock-Input-Token-Count") != in {
		t.Errorf("token headers disagree with usage: %v", h)
	}
}

func TestInvokePromptCacheHeaders(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	body := sdkClaudeBody("A question after the cached system prompt.", map[string]any{"system": []any{map[string]any{
		"type": "text", "text": sdkLongSystem("ships"), "cache_control": map[string]any{"type": "ephemeral"}}}})
	first, h1 := sdkInvoke(t, te, sdkSonnet45, body)
	second, h2 := sdkInvoke(t, te, sdkSonnet45, body)
	write := sdkNum(t, first, "usage", "cache_creation_input_tokens")
	if write < 1024 || sdkNum(t, first, "usage", "cache_read_input_tokens") != 0 {
		t.Errorf("first call usage %v, want the prefix written", first["usage"])
	}
	if sdkNum(t, second, "usage", "cache_read_input_tokens") != write || sdkNum(t, second, "usage", "cache_creation_input_tokens") != 0 {
		t.Errorf("second call usage %v, want %d read", second["usage"], write)
	}
	if sdkHeaderInt(t, h1, "X-Amzn-Bedrock-Cache-Write-Input-Token-Count") != write || sdkHeaderInt(t, h2, "X-Amzn-Bedrock-Cache-Read-Input-Token-Count") != write {
		t.Errorf("cache headers %v / %v, want %d", h1, h2, write)
	}
	if sdkNum(t, first, "usage", "input_tokens") != sdkNum(t, second, "usage", "input_tokens") {
		t.Errorf("input_tokens %v vs %v: the uncached part should not change", first["usage"], second["usage"])
	}
}

// sdkVector reads a JSON array of numbers.
func sdkVector(t testing.TB, v any) []float64 {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("%T is not an array", v)
	}
	out := make([]float64, len(arr))
	for i, x := range arr {
		f, ok := x.(float64)
		if !ok {
			t.Fatalf("element %d is %T", i, x)
		}
		out[i] = f
	}
	return out
}

func sdkNorm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// sdkEmbedHeaders checks the embedding headers: input count and latency, no output count.
func sdkEmbedHeaders(t testing.TB, h http.Header) int {
	t.Helper()
	if v := h.Get("X-Amzn-Bedrock-Output-Token-Count"); v != "" {
		t.Errorf("an embedding answered an output token count %q", v)
	}
	if sdkHeaderInt(t, h, "X-Amzn-Bedrock-Invocation-Latency") <= 0 {
		t.Error("invocation latency is not positive")
	}
	return sdkHeaderInt(t, h, "X-Amzn-Bedrock-Input-Token-Count")
}

func TestInvokeTitanEmbeddings(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name, model string
		body        map[string]any
		wantDims    int
		wantUnit    bool // v2 always answers unit vectors; v1 never normalizes (recorded |v| = 18.70)
		wantBinary  bool
	}{
		{"v2 default", sdkTitanV2, map[string]any{"inputText": "Hello, world!"}, 1024, true, false},
		{"v2 256", sdkTitanV2, map[string]any{"inputText": "Hello, world!", "dimensions": 256}, 256, true, false},
		{"v2 512 normalized", sdkTitanV2, map[string]any{"inputText": "Hello, world!", "dimensions": 512, "normalize": true}, 512, true, false},
		{"v2 1024 with binary", sdkTitanV2, map[string]any{"inputText": "Hello, world!", "dimensions": 1024, "embeddingTypes": []any{"float", "binary"}}, 1024, true, true},
		{"v1", "amazon.titan-embed-text-v1", map[string]any{"inputText": "Hello, world!"}, 1536, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, h := sdkInvoke(t, te, tt.model, tt.body)
			vec := sdkVector(t, resp["embedding"])
			if len(vec) != tt.wantDims {
				t.Errorf("%d dimensions, want %d", len(vec), tt.wantDims)
			}
			if n := sdkNorm(vec); tt.wantUnit && math.Abs(n-1) > 1e-6 {
				t.Errorf("norm %v, want a unit vector", n)
			} else if !tt.wantUnit && n < 2 {
				t.Errorf("norm %v, want an unnormalized vector", n)
			}
			tokens := sdkNum(t, resp, "inputTextTokenCount")
			if got := sdkEmbedHeaders(t, h); got != tokens || tokens < 3 {
				t.Errorf("input token header %d, inputTextTokenCount %d", got, tokens)
			}
			byType, isV2 := resp["embeddingsByType"].(map[string]any)
			if isV2 != (tt.model == sdkTitanV2) {
				t.Errorf("embeddingsByType present = %v on %s", isV2, tt.model)
			}
			if isV2 && !slices.Equal(sdkVector(t, byType["float"]), vec) {
				t.Error("embeddingsByType.float differs from embedding")
			}
			if bin, ok := byType["binary"]; ok != tt.wantBinary {
				t.Errorf("binary present = %v, want %v", ok, tt.wantBinary)
			} else if ok {
				bits := sdkVector(t, bin)
				for i, b := range bits {
					if (b == 1) != (vec[i] > 0) || (b != 0 && b != 1) {
						t.Fatalf("binary[%d] = %v for float %v", i, b, vec[i])
					}
				}
			}
		})
	}
	t.Run("same text same vector, different text different", func(t *testing.T) {
		t.Parallel()
		embed := func(text string) []float64 {
			resp, _ := sdkInvoke(t, te, sdkTitanV2, map[string]any{"inputText": text, "dimensions": 256})
			return sdkVector(t, resp["embedding"])
		}
		a, b, c := embed("The cat sat on the mat."), embed("The cat sat on the mat."), embed("Stock markets fell sharply today.")
		if !slices.Equal(a, b) {
			t.Error("the same text gave different vectors")
		}
		if slices.Equal(a, c) {
			t.Error("different texts gave the same vector")
		}
		near := embed("The cat sat on a mat.")
		if dot(a, near) <= dot(a, c) {
			t.Errorf("similar texts are no closer (%v) than unrelated ones (%v)", dot(a, near), dot(a, c))
		}
	})
	t.Run("unnormalized", func(t *testing.T) {
		t.Parallel()
		resp, _ := sdkInvoke(t, te, sdkTitanV2, map[string]any{"inputText": "magnitude test", "normalize": false})
		if n := sdkNorm(sdkVector(t, resp["embedding"])); n == 0 || math.IsNaN(n) {
			t.Errorf("norm %v", n)
		}
	})
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestInvokeCohereEmbeddings(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	texts := []any{"Hello, World!", "Bonjour le Monde"}
	tests := []struct {
		name, model string
		body        map[string]any
		wantType    string
		wantDims    int
		wantTexts   []string
		wantByType  []string
	}{
		{"english v3 floats", "cohere.embed-english-v3", map[string]any{"texts": texts, "input_type": "search_document"},
			"embeddings_floats", 1024, []string{"hello, world!", "bonjour le monde"}, nil},
		{"multilingual v3 keeps case", "cohere.embed-multilingual-v3", map[string]any{"texts": texts, "input_type": "search_query", "truncate": "END"},
			"embeddings_floats", 1024, []string{"Hello, World!", "Bonjour le Monde"}, nil},
		{"english v3 by type", "cohere.embed-english-v3", map[string]any{"texts": texts, "input_type": "classification", "embedding_types": []any{"float", "int8", "binary"}},
			"embeddings_by_type", 1024, []string{"hello, world!", "bonjour le monde"}, []string{"float", "int8", "binary"}},
		{"v4 default", "cohere.embed-v4:0", map[string]any{"texts": texts, "input_type": "clustering"},
			"embeddings_by_type", 1536, []string{"Hello, World!", "Bonjour le Monde"}, []string{"float"}},
		{"v4 profile with output dimension", "us.cohere.embed-v4:0", map[string]any{"texts": texts, "input_type": "search_document", "output_dimension": 512, "max_tokens": 1000},
			"embeddings_by_type", 512, []string{"Hello, World!", "Bonjour le Monde"}, []string{"float"}},
		{"96 texts", "cohere.embed-english-v3", map[string]any{"texts": sdkManyTexts(96), "input_type": "search_document"},
			"embeddings_floats", 1024, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, h := sdkInvoke(t, te, tt.model, tt.body)
			if resp["response_type"] != tt.wantType {
				t.Errorf("response_type = %v, want %s", resp["response_type"], tt.wantType)
			}
			if id, _ := resp["id"].(string); len(id) != 36 {
				t.Errorf("id = %v, want a UUID", resp["id"])
			}
			inputs := tt.body["texts"].([]any)
			if tt.wantTexts != nil {
				var echoed []string
				for _, s := range resp["texts"].([]any) {
					echoed = append(echoed, s.(string))
				}
				if !slices.Equal(echoed, tt.wantTexts) {
					t.Errorf("texts = %q, want %q", echoed, tt.wantTexts)
				}
			}
			var floats []any
			if tt.wantType == "embeddings_floats" {
				floats = resp["embeddings"].([]any)
			} else {
				byType := resp["embeddings"].(map[string]any)
				var keys []string
				for k := range byType {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				want := slices.Sorted(slices.Values(tt.wantByType))
				if !slices.Equal(keys, want) {
					t.Errorf("embedding types %v, want %v", keys, want)
				}
				floats = byType["float"].([]any)
				if q, ok := byType["int8"].([]any); ok {
					for _, x := range sdkVector(t, q[0]) {
						if x < -128 || x > 127 {
							t.Fatalf("int8 value %v out of range", x)
						}
					}
				}
				if q, ok := byType["binary"].([]any); ok && len(sdkVector(t, q[0])) != tt.wantDims/8 {
					t.Errorf("binary embedding has %d bytes, want %d", len(sdkVector(t, q[0])), tt.wantDims/8)
				}
			}
			if len(floats) != len(inputs) {
				t.Fatalf("%d embeddings for %d texts", len(floats), len(inputs))
			}
			for i, f := range floats {
				vec := sdkVector(t, f)
				if len(vec) != tt.wantDims || math.Abs(sdkNorm(vec)-1) > 1e-6 {
					t.Errorf("embedding %d: %d dims, norm %v", i, len(vec), sdkNorm(vec))
				}
			}
			if slices.Equal(sdkVector(t, floats[0]), sdkVector(t, floats[1])) {
				t.Error("two different texts share a vector")
			}
			if sdkEmbedHeaders(t, h) < len(inputs) {
				t.Error("input token count below one per text")
			}
		})
	}
}

func sdkManyTexts(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "document number " + strconv.Itoa(i)
	}
	return out
}

func TestInvokeNovaEmbeddings(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	body := func(text string, dims int) map[string]any {
		p := map[string]any{"embeddingPurpose": "GENERIC_RETRIEVAL", "text": map[string]any{"value": text, "truncationMode": "NONE"}}
		if dims > 0 {
			p["embeddingDimension"] = dims
		}
		return map[string]any{"schemaVersion": "nova-multimodal-embed-v1", "taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": p}
	}
	for _, dims := range []int{0, 256, 384, 1024, 3072} {
		t.Run(strconv.Itoa(dims), func(t *testing.T) {
			t.Parallel()
			resp, h := sdkInvoke(t, te, "amazon.nova-2-multimodal-embeddings-v1:0", body("Hello, world!", dims))
			embs := resp["embeddings"].([]any)
			if len(embs) != 1 {
				t.Fatalf("%d embeddings", len(embs))
			}
			e := embs[0].(map[string]any)
			vec := sdkVector(t, e["embedding"])
			want := dims
			if want == 0 {
				want = 3072
			}
			if len(vec) != want || e["embeddingType"] != "TEXT" {
				t.Errorf("%d dims (want %d), type %v", len(vec), want, e["embeddingType"])
			}
			if sdkEmbedHeaders(t, h) < 3 {
				t.Error("input token count too small")
			}
		})
	}
}

// sdkInvokeStream runs InvokeModelWithResponseStream and returns the decoded native events.
func sdkInvokeStream(t testing.TB, te *testEmulator, model string, body any) []map[string]any {
	t.Helper()
	raw, _ := json.Marshal(body)
	out, err := sdkStreamClient(te).InvokeModelWithResponseStream(testContext(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(model), Body: raw, ContentType: aws.String("application/json"),
	})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream(%s): %v", model, err)
	}
	if ct := aws.ToString(out.ContentType); ct != "application/json" {
		t.Errorf("ContentType = %q, want application/json", ct)
	}
	stream := out.GetStream()
	defer stream.Close()
	var events []map[string]any
	for ev := range stream.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T, want a chunk", ev)
		}
		var m map[string]any
		if err := json.Unmarshal(chunk.Value.Bytes, &m); err != nil {
			t.Fatalf("chunk %q: %v", chunk.Value.Bytes, err)
		}
		events = append(events, m)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream.Err() = %v", err)
	}
	return events
}

func TestInvokeStreamAnthropic(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tool := map[string]any{"name": "lookup", "input_schema": map[string]any{"type": "object",
		"properties": map[string]any{"q": map[string]any{"type": "string", "minLength": 40}}, "required": []any{"q"}}}
	tests := []struct {
		name, model string
		body        map[string]any
	}{
		{"text", sdkHaiku45, sdkClaudeBody("Stream a tale about a clockmaker.", nil)},
		{"max tokens", sdkHaiku45, sdkClaudeBody("Stream a tale about a clockmaker.", map[string]any{"max_tokens": 5})},
		{"thinking", sdkSonnet45, sdkClaudeBody("Think first.", map[string]any{"max_tokens": 2048, "thinking": map[string]any{"type": "enabled", "budget_tokens": 1024}})},
		{"tool", sdkHaiku45, sdkClaudeBody("Look it up.", map[string]any{"tools": []any{tool}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			unary, _ := sdkInvoke(t, te, tt.model, tt.body)
			events := sdkInvokeStream(t, te, tt.model, tt.body)
			if len(events) < 5 {
				t.Fatalf("%d events", len(events))
			}
			var kinds []string
			for _, ev := range events {
				kinds = append(kinds, ev["type"].(string))
			}
			if kinds[0] != "message_start" || kinds[len(kinds)-2] != "message_delta" || kinds[len(kinds)-1] != "message_stop" {
				t.Fatalf("event order %v", kinds)
			}
			start := events[0]["message"].(map[string]any)
			if start["id"] != unary["id"] || start["role"] != "assistant" || start["model"] != unary["model"] {
				t.Errorf("message_start %v, unary id %v", start, unary["id"])
			}
			if sdkNum(t, start, "usage", "input_tokens") != sdkNum(t, unary, "usage", "input_tokens") {
				t.Errorf("message_start input_tokens %v, unary %v", start["usage"], unary["usage"])
			}
			// Rebuild the content blocks from start/delta/stop and compare with the unary reply.
			var blocks []map[string]any
			open := -1
			for i, ev := range events[1 : len(events)-2] {
				idx := -1
				if v, ok := ev["index"].(float64); ok {
					idx = int(v)
				}
				switch ev["type"] {
				case "content_block_start":
					if open != -1 || idx != len(blocks) {
						t.Fatalf("event %d: block %d starts while %d is open", i+1, idx, open)
					}
					cb := ev["content_block"].(map[string]any)
					blocks = append(blocks, map[string]any{"type": cb["type"], "text": "", "thinking": "", "signature": "", "json": "", "id": cb["id"], "name": cb["name"]})
					open = idx
				case "content_block_delta":
					if idx != open {
						t.Fatalf("event %d: delta for %d while %d is open", i+1, idx, open)
					}
					d, b := ev["delta"].(map[string]any), blocks[idx]
					switch d["type"] {
					case "text_delta":
						b["text"] = b["text"].(string) + d["text"].(string)
					case "thinking_delta":
						b["thinking"] = b["thinking"].(string) + d["thinking"].(string)
					case "signature_delta":
						b["signature"] = b["signature"].(string) + d["signature"].(string)
					case "input_json_delta":
						b["json"] = b["json"].(string) + d["partial_json"].(string)
					default:
						t.Errorf("delta type %v", d["type"])
					}
				case "content_block_stop":
					if idx != open {
						t.Fatalf("event %d: stop for %d while %d is open", i+1, idx, open)
					}
					open = -1
				default:
					t.Fatalf("event %d: unexpected %v", i+1, ev["type"])
				}
			}
			content := unary["content"].([]any)
			if len(blocks) != len(content) {
				t.Fatalf("streamed %d blocks, unary %d", len(blocks), len(content))
			}
			for i, c := range content {
				want, got := c.(map[string]any), blocks[i]
				if want["type"] != got["type"] {
					t.Errorf("block %d: type %v, unary %v", i, got["type"], want["type"])
					continue
				}
				switch want["type"] {
				case "text":
					if got["text"] != want["text"] {
						t.Errorf("block %d: streamed %q, unary %q", i, got["text"], want["text"])
					}
				case "thinking":
					if got["thinking"] != want["thinking"] || got["signature"] != want["signature"] || got["signature"] == "" {
						t.Errorf("block %d: streamed thinking %v, unary %v", i, got, want)
					}
				case "tool_use":
					if got["id"] != want["id"] || got["name"] != want["name"] {
						t.Errorf("block %d: tool %v/%v, unary %v/%v", i, got["id"], got["name"], want["id"], want["name"])
					}
					raw, _ := json.Marshal(want["input"])
					if !sdkSameJSON(t, []byte(got["json"].(string)), raw) {
						t.Errorf("block %d: streamed input %v, unary %s", i, got["json"], raw)
					}
				}
			}
			delta := events[len(events)-2]
			if d := delta["delta"].(map[string]any); d["stop_reason"] != unary["stop_reason"] {
				t.Errorf("message_delta stop_reason %v, unary %v", d["stop_reason"], unary["stop_reason"])
			}
			if sdkNum(t, delta, "usage", "output_tokens") != sdkNum(t, unary, "usage", "output_tokens") {
				t.Errorf("message_delta usage %v, unary %v", delta["usage"], unary["usage"])
			}
			metrics, ok := events[len(events)-1]["amazon-bedrock-invocationMetrics"].(map[string]any)
			if !ok {
				t.Fatalf("message_stop has no invocation metrics: %v", events[len(events)-1])
			}
			if sdkNum(t, metrics, "inputTokenCount") != sdkNum(t, unary, "usage", "input_tokens") ||
				sdkNum(t, metrics, "outputTokenCount") != sdkNum(t, unary, "usage", "output_tokens") ||
				sdkNum(t, metrics, "invocationLatency") <= 0 || sdkNum(t, metrics, "firstByteLatency") <= 0 {
				t.Errorf("invocation metrics %v, unary usage %v", metrics, unary["usage"])
			}
		})
	}
}

func TestInvokeStreamNova(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	body := map[string]any{"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "Stream a haiku about frost."}}}}}
	unary, _ := sdkInvoke(t, te, sdkNova, body)
	events := sdkInvokeStream(t, te, sdkNova, body)
	var keys []string
	var text string
	for _, ev := range events {
		var k string
		for key := range ev {
			if key != "amazon-bedrock-invocationMetrics" {
				k = key
			}
		}
		keys = append(keys, k)
		if d, ok := ev["contentBlockDelta"].(map[string]any); ok {
			text += d["delta"].(map[string]any)["text"].(string)
		}
	}
	if keys[0] != "messageStart" || keys[len(keys)-2] != "messageStop" || keys[len(keys)-1] != "metadata" {
		t.Fatalf("event order %v", keys)
	}
	want := unary["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"]
	if text != want {
		t.Errorf("streamed %q, unary %q", text, want)
	}
	last := events[len(events)-1]
	if sdkNum(t, last, "metadata", "usage", "outputTokens") != sdkNum(t, unary, "usage", "outputTokens") {
		t.Errorf("metadata usage %v, unary %v", last["metadata"], unary["usage"])
	}
	if sdkNum(t, last, "amazon-bedrock-invocationMetrics", "inputTokenCount") != sdkNum(t, unary, "usage", "inputTokens") {
		t.Errorf("invocation metrics %v", last["amazon-bedrock-invocationMetrics"])
	}
}

func TestCountTokens(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tools := &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", `{"type":"object","properties":{"city":{"type":"string"}}}`)}}
	system := []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are a meteorologist with forty years of experience."}}
	tests := []struct {
		name, model string
		req         types.ConverseTokensRequest
	}{
		{"plain", sdkHaiku45, types.ConverseTokensRequest{Messages: []types.Message{sdkUser(sdkText("Hello, world!"))}}},
		{"profile id", sdkSonnet45, types.ConverseTokensRequest{Messages: []types.Message{sdkUser(sdkText("Hello, world!"))}}},
		{"system and tools", sdkHaiku45, types.ConverseTokensRequest{Messages: []types.Message{sdkUser(sdkText("Will it rain?"))}, System: system, ToolConfig: tools}},
		{"multi turn", sdkSonnet45, types.ConverseTokensRequest{Messages: []types.Message{
			sdkUser(sdkText("Hi.")), sdkAssistant(sdkText("Hello! How can I help you today?")), sdkUser(sdkText("Tell me a joke about clouds."))}}},
		{"thinking fields", sdkSonnet45, types.ConverseTokensRequest{Messages: []types.Message{sdkUser(sdkText("Ponder this."))}, AdditionalModelRequestFields: sdkThinking(1024)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct, err := te.runtime.CountTokens(testContext(t), &bedrockruntime.CountTokensInput{
				ModelId: aws.String(tt.model), Input: &types.CountTokensInputMemberConverse{Value: tt.req},
			})
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			out := sdkConverse(t, te, &bedrockruntime.ConverseInput{
				ModelId: aws.String(tt.model), Messages: tt.req.Messages, System: tt.req.System, ToolConfig: tt.req.ToolConfig,
				AdditionalModelRequestFields: tt.req.AdditionalModelRequestFields,
				InferenceConfig:              &types.InferenceConfiguration{MaxTokens: aws.Int32(2048)},
			})
			if got, want := sdkI32(ct.InputTokens), sdkI32(out.Usage.InputTokens); got != want || got == 0 {
				t.Errorf("CountTokens = %d, Converse inputTokens = %d", got, want)
			}
		})
	}
	t.Run("invoke body", func(t *testing.T) {
		t.Parallel()
		body := sdkClaudeBody("Count me, please.", map[string]any{"system": "Be terse.", "tools": []any{map[string]any{"name": "t", "input_schema": map[string]any{"type": "object"}}}})
		resp, h := sdkInvoke(t, te, sdkHaiku45, body)
		raw, _ := json.Marshal(body)
		ct, err := te.runtime.CountTokens(testContext(t), &bedrockruntime.CountTokensInput{
			ModelId: aws.String(sdkHaiku45), Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: raw}},
		})
		if err != nil {
			t.Fatalf("CountTokens: %v", err)
		}
		if got := sdkI32(ct.InputTokens); got != sdkNum(t, resp, "usage", "input_tokens") || got != sdkHeaderInt(t, h, "X-Amzn-Bedrock-Input-Token-Count") {
			t.Errorf("CountTokens = %d, InvokeModel usage %v", got, resp["usage"])
		}
	})
	t.Run("recorded counts", func(t *testing.T) {
		t.Parallel()
		// Claude Sonnet 4's counts in the corpus (test_bedrock_inference_profile_count_tokens.yaml,
		// test_bedrock_model_usage_limit_*.yaml); the emulator's tokenizer is an estimate, so
		// within three tokens.
		tests := []struct {
			blocks []types.ContentBlock
			want   int
		}{
			{[]types.ContentBlock{sdkText("Hello, world!")}, 11},
			{[]types.ContentBlock{sdkText("The quick brown fox jumps over the lazydog.")}, 19},
			{[]types.ContentBlock{sdkText("The quick brown fox jumps over the lazydog."),
				&types.ContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}, sdkText("What was next?")}, 23},
		}
		for _, tt := range tests {
			ct, err := te.runtime.CountTokens(testContext(t), &bedrockruntime.CountTokensInput{
				ModelId: aws.String(sdkHaiku45), Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: []types.Message{sdkUser(tt.blocks...)}}},
			})
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			if got := sdkI32(ct.InputTokens); got < tt.want-3 || got > tt.want+3 {
				t.Errorf("CountTokens(%v) = %d, recorded %d", tt.blocks, got, tt.want)
			}
		}
	})
}

func TestControlPlane(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	count := func(keep func(m *catalog.Model) bool) int {
		n := 0
		for i := range cat.Models() {
			if keep(&cat.Models()[i]) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name  string
		in    bedrock.ListFoundationModelsInput
		want  int
		check func(s bedrocktypes.FoundationModelSummary) bool
	}{
		{"all", bedrock.ListFoundationModelsInput{}, len(cat.Models()), func(bedrocktypes.FoundationModelSummary) bool { return true }},
		{"by provider", bedrock.ListFoundationModelsInput{ByProvider: aws.String("Anthropic")},
			count(func(m *catalog.Model) bool { return m.Provider == "Anthropic" }),
			func(s bedrocktypes.FoundationModelSummary) bool { return aws.ToString(s.ProviderName) == "Anthropic" }},
		{"by provider, any case", bedrock.ListFoundationModelsInput{ByProvider: aws.String("amazon")},
			count(func(m *catalog.Model) bool { return m.Provider == "Amazon" }),
			func(s bedrocktypes.FoundationModelSummary) bool { return aws.ToString(s.ProviderName) == "Amazon" }},
		{"embeddings", bedrock.ListFoundationModelsInput{ByOutputModality: bedrocktypes.ModelModalityEmbedding},
			count(func(m *catalog.Model) bool { return m.IsEmbedding() }),
			func(s bedrocktypes.FoundationModelSummary) bool {
				return slices.Contains(s.OutputModalities, bedrocktypes.ModelModalityEmbedding)
			}},
		{"on demand", bedrock.ListFoundationModelsInput{ByInferenceType: bedrocktypes.InferenceTypeOnDemand},
			count(func(m *catalog.Model) bool { return m.OnDemand }),
			func(s bedrocktypes.FoundationModelSummary) bool {
				return slices.Contains(s.InferenceTypesSupported, bedrocktypes.InferenceTypeOnDemand)
			}},
		{"provider and modality", bedrock.ListFoundationModelsInput{ByProvider: aws.String("Amazon"), ByOutputModality: bedrocktypes.ModelModalityText},
			count(func(m *catalog.Model) bool { return m.Provider == "Amazon" && !m.IsEmbedding() }),
			func(s bedrocktypes.FoundationModelSummary) bool {
				return aws.ToString(s.ProviderName) == "Amazon" && slices.Contains(s.OutputModalities, bedrocktypes.ModelModalityText)
			}},
		{"unknown provider", bedrock.ListFoundationModelsInput{ByProvider: aws.String("Nobody")}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := te.control.ListFoundationModels(testContext(t), &tt.in)
			if err != nil {
				t.Fatalf("ListFoundationModels: %v", err)
			}
			if len(out.ModelSummaries) != tt.want {
				t.Errorf("%d models, want %d", len(out.ModelSummaries), tt.want)
			}
			for _, s := range out.ModelSummaries {
				id := aws.ToString(s.ModelId)
				if !tt.check(s) {
					t.Errorf("%s does not match the filter: %+v", id, s)
				}
				if aws.ToString(s.ModelArn) != "arn:aws:bedrock:us-east-1::foundation-model/"+id || aws.ToString(s.ModelName) == "" ||
					s.ResponseStreamingSupported == nil || s.ModelLifecycle == nil || s.ModelLifecycle.Status == "" || len(s.InputModalities) == 0 {
					t.Errorf("%s: incomplete summary %+v", id, s)
				}
			}
		})
	}
	t.Run("get", func(t *testing.T) {
		t.Parallel()
		for _, id := range []string{sdkSonnet45Bare, sdkTitanV2, "arn:aws:bedrock:us-east-1::foundation-model/" + sdkNova} {
			out, err := te.control.GetFoundationModel(testContext(t), &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(id)})
			if err != nil {
				t.Fatalf("GetFoundationModel(%s): %v", id, err)
			}
			d := out.ModelDetails
			if d == nil || !strings.HasSuffix(id, aws.ToString(d.ModelId)) || d.ModelLifecycle == nil || d.ModelLifecycle.StartOfLifeTime == nil {
				t.Errorf("GetFoundationModel(%s) = %+v", id, d)
			}
		}
		out, _ := te.control.GetFoundationModel(testContext(t), &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(sdkSonnet45Bare)})
		if d := out.ModelDetails; !slices.Contains(d.InputModalities, bedrocktypes.ModelModalityImage) || !aws.ToBool(d.ResponseStreamingSupported) ||
			slices.Contains(d.InferenceTypesSupported, bedrocktypes.InferenceTypeOnDemand) {
			t.Errorf("Claude Sonnet 4.5 details %+v: want image input, streaming, profile-only", d)
		}
	})
}

// TestGetInferenceProfile: the SDK's GetInferenceProfile reads the foundation model behind a
// system-defined profile (by id or ARN) and behind an application profile the emulator knows.
func TestGetInferenceProfile(t *testing.T) {
	t.Parallel()
	const app = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/team-claude"
	te := sdkStart(t, Options{ApplicationProfiles: map[string]string{"team-claude": sdkSonnet45Bare}})
	tests := []struct {
		id, wantType, wantModel string
	}{
		{"us." + sdkSonnet45Bare, "SYSTEM_DEFINED", sdkSonnet45Bare},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us." + sdkNova, "SYSTEM_DEFINED", sdkNova},
		{app, "APPLICATION", sdkSonnet45Bare},
	}
	for _, tt := range tests {
		out, err := te.control.GetInferenceProfile(testContext(t), &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(tt.id)})
		if err != nil {
			t.Fatalf("GetInferenceProfile(%s): %v", tt.id, err)
		}
		if string(out.Type) != tt.wantType || out.Status != bedrocktypes.InferenceProfileStatusActive || len(out.Models) != 1 ||
			aws.ToString(out.Models[0].ModelArn) != "arn:aws:bedrock:us-east-1::foundation-model/"+tt.wantModel || aws.ToString(out.InferenceProfileArn) == "" {
			t.Errorf("GetInferenceProfile(%s) = type %s, models %v, arn %s", tt.id, out.Type, out.Models, aws.ToString(out.InferenceProfileArn))
		}
	}
	for _, id := range []string{sdkSonnet45Bare, "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/unknown"} {
		_, err := te.control.GetInferenceProfile(testContext(t), &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
		var nf *bedrocktypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("GetInferenceProfile(%s): %v, want ResourceNotFoundException", id, err)
		}
	}
}
