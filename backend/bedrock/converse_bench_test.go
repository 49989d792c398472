package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// Benchmarks of the Converse hot path (issue 5): what Strata itself does per call on either side
// of the SDK. Run with
//
//	go test -run '^$' -bench . -benchmem ./backend/bedrock
//
// The inputs are the issue's: a short prompt, an 8 KB prompt and a 3-turn tool conversation.

// benchPrompt8KB is a user prompt of 8 KiB of prose, the large unary scenario.
var benchPrompt8KB = func() string {
	const para = "The lighthouse keeper climbed the spiral stairs every evening at dusk, counting the steps " +
		"as his father had, and wrote the weather, the ships and the state of the lamp in a ledger " +
		"that no one had asked to read in thirty years. "
	var sb strings.Builder
	for sb.Len() < 8192 {
		sb.WriteString(para)
	}
	return sb.String()[:8192]
}()

// benchTools are the tools of the tool conversation: two, with JSON Schemas as a caller writes them.
var benchTools = []backend.Tool{
	{
		Name:        "get_weather",
		Description: "Current weather and a short forecast for a city.",
		Schema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"city": map[string]any{"type": "string", "description": "City name, e.g. Paris"},
				"unit": map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}},
				"days": map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
			},
			"required": []any{"city"},
		},
	},
	{
		Name:        "web_search",
		Description: "Search the web and return the top results.",
		Schema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"query": map[string]any{"type": "string"}, "max_results": map[string]any{"type": "integer"}},
			"required":   []any{"query"},
		},
	},
}

// benchRequests returns the three requests, each with the catalog entry the service would have
// resolved (as service.prepareChat passes it).
func benchRequests(b testing.TB) []struct {
	name string
	req  *backend.ChatRequest
} {
	b.Helper()
	cat, err := loadCatalog()
	if err != nil {
		b.Fatal(err)
	}
	model := func(id string) *catalog.Model {
		res, err := cat.Resolve(id)
		if err != nil {
			b.Fatalf("resolve %s: %v", id, err)
		}
		return res.Model
	}
	short := &backend.ChatRequest{
		ModelID:     "us.amazon.nova-micro-v1:0",
		Model:       model("us.amazon.nova-micro-v1:0"),
		System:      system("You are a concise assistant. Answer in one or two sentences."),
		Messages:    []backend.Message{userText("What is the capital of Australia, and why was it chosen over Sydney?")},
		MaxTokens:   ptr(512),
		Temperature: ptr(0.2),
		Metadata:    map[string]string{"tag": "rdagent.summarize"},
	}
	large := *short
	large.Messages = []backend.Message{userText("Summarize the following text in three sentences.\n\n" + benchPrompt8KB)}
	tools := &backend.ChatRequest{
		ModelID:   "anthropic.claude-haiku-4-5-20251001-v1:0",
		Model:     model("anthropic.claude-haiku-4-5-20251001-v1:0"),
		System:    system("You help travellers plan their day. Use the tools when you need facts."),
		MaxTokens: ptr(1024),
		Tools:     benchTools,
		Messages: []backend.Message{
			userText("Should I take an umbrella in Paris tomorrow? I'm out from 9 to 18."),
			{Role: backend.RoleAssistant, Parts: []backend.Part{
				{Kind: backend.PartText, Text: "Let me check the forecast for Paris."},
				{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{
					ID: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", Name: "get_weather",
					Arguments: map[string]any{"city": "Paris", "unit": "celsius", "days": float64(2)},
				}},
			}},
			{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartToolResult, ToolResult: &backend.ToolResult{
				ID:      "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
				Content: `{"city":"Paris","today":{"summary":"cloudy","high_c":14,"low_c":8},"tomorrow":{"summary":"showers after 13:00","high_c":12,"low_c":7,"precip_mm":6.5,"precip_prob":0.8}}`,
			}}}},
		},
	}
	return []struct {
		name string
		req  *backend.ChatRequest
	}{{"short", short}, {"prompt8KB", &large}, {"tools3turn", tools}}
}

// cannedTransport answers every request with body, after reading the request's body as the
// network would: a Converse call that never leaves the process.
type cannedTransport struct{ body []byte }

func (c *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/json"},
			"X-Amzn-Requestid": {"5f8b2c1e-2a8e-4d0e-9d2b-6f1f1d3c9a11"},
			"Content-Length":   {strconv.Itoa(len(c.body))},
		},
		ContentLength: int64(len(c.body)),
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		Request:       r,
	}, nil
}

// Converse response bodies as Bedrock sends them (bedrock-wire.md §2.3).
var (
	benchReplyText = []byte(`{"metrics":{"latencyMs":412},"output":{"message":{"content":[{"text":"Canberra is the capital of Australia. It was chosen in 1908 as a compromise between Sydney and Melbourne, the two largest cities, which each wanted to be the capital."}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":38,"outputTokens":41,"totalTokens":79}}`)

	benchReplyToolUse = []byte(`{"metrics":{"latencyMs":820},"output":{"message":{"content":[{"text":"Let me check the forecast for Paris."},{"toolUse":{"input":{"city":"Paris","unit":"celsius","days":2},"name":"get_weather","toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"}}],"role":"assistant"}},"stopReason":"tool_use","usage":{"inputTokens":512,"outputTokens":67,"totalTokens":579}}`)

	benchReplyReasoning = []byte(`{"metrics":{"latencyMs":2310},"output":{"message":{"content":[{"reasoningContent":{"reasoningText":{"text":"The forecast says showers after 13:00 with 80% probability and 6.5 mm. The user is out until 18:00, so they will be outside during the rain. An umbrella is warranted.","signature":"EqQBCkgIAxABGAIiQL9zJ3bWq1tH1s8yGzNnX3kq0Jf3a8Vb2mC5xT7wR9pLdE4uN6yK1hQ0sZ2vF8gA3eB5cD7iJ9kM1nP3rS5tU7wYEgz"}}},{"text":"Yes, take an umbrella: showers are expected from about 13:00 (80% chance, around 6.5 mm), while you are still out. Highs of 12 °C, so a light jacket too."}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":688,"outputTokens":143,"totalTokens":831}}`)
)

// benchBackend is the real adapter (SigV4 on, static credentials) over an HTTP client that never
// leaves the process.
func benchBackend(b *testing.B, rt http.RoundTripper) *Backend {
	b.Helper()
	cat, err := loadCatalog()
	if err != nil {
		b.Fatal(err)
	}
	be, err := New(Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		HTTPClient:  &http.Client{Transport: rt},
		Catalog:     cat,
	})
	if err != nil {
		b.Fatal(err)
	}
	return be
}

// BenchmarkConverseParams measures request translation: backend.ChatRequest to the Converse
// request body as sent (converseParams, then its JSON encoding).
func BenchmarkConverseParams(b *testing.B) {
	be := benchBackend(b, &cannedTransport{body: benchReplyText})
	for _, tc := range benchRequests(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := be.converseParams(tc.req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(&p.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConverseResponse measures response translation: the Converse reply body as received
// to backend.ChatResponse, the same steps as Chat after the reply is read.
func BenchmarkConverseResponse(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
	}{{"text", benchReplyText}, {"toolUse", benchReplyToolUse}, {"reasoning", benchReplyReasoning}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := decodeConverse(tc.body)
				if err != nil {
					b.Fatal(err)
				}
				resp := &backend.ChatResponse{StopReason: backend.StopReason(out.StopReason), Usage: usageOf(out.Usage)}
				resp.Parts = partsOf(out.Output.Message.Content)
				if len(resp.Parts) == 0 {
					b.Fatal("no parts")
				}
			}
		})
	}
}

// BenchmarkChatInMemory is a whole Converse call against a transport that answers at once, side
// by side: (a) the SDK's bedrockruntime client as an application uses it (retryer off, SigV4),
// and (b) Backend.Chat: translation, encoding, SigV4 signing, decoding and response translation.
// The difference is the SDK's per-call machinery, which is why the adapter sends the hot
// operations itself (BENCHMARKS.md). The SDK side runs the text requests only; building its
// typed input is the caller's work and is done once, outside the loop.
func BenchmarkChatInMemory(b *testing.B) {
	replies := map[string][]byte{"short": benchReplyText, "prompt8KB": benchReplyText, "tools3turn": benchReplyReasoning}
	ctx := context.Background()
	for _, tc := range benchRequests(b) {
		if sdkIn := sdkConverseInput(tc.req); sdkIn != nil {
			b.Run("a_sdk/"+tc.name, func(b *testing.B) {
				client := bedrockruntime.New(bedrockruntime.Options{
					Region:      "us-east-1",
					Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
					HTTPClient:  &http.Client{Transport: &cannedTransport{body: replies[tc.name]}},
					Retryer:     aws.NopRetryer{},
				})
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Converse(ctx, sdkIn); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run("b_strata/"+tc.name, func(b *testing.B) {
			be := benchBackend(b, &cannedTransport{body: replies[tc.name]})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Chat(ctx, tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sdkConverseInput is the SDK's input for a text-only request, or nil.
func sdkConverseInput(req *backend.ChatRequest) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(req.ModelID), RequestMetadata: req.Metadata}
	for _, s := range req.System {
		in.System = append(in.System, &types.SystemContentBlockMemberText{Value: s.Text})
	}
	for _, m := range req.Messages {
		msg := types.Message{Role: types.ConversationRole(m.Role)}
		for _, p := range m.Parts {
			if p.Kind != backend.PartText {
				return nil
			}
			msg.Content = append(msg.Content, &types.ContentBlockMemberText{Value: p.Text})
		}
		in.Messages = append(in.Messages, msg)
	}
	in.InferenceConfig = &types.InferenceConfiguration{}
	if req.MaxTokens != nil {
		in.InferenceConfig.MaxTokens = aws.Int32(int32(*req.MaxTokens))
	}
	if req.Temperature != nil {
		in.InferenceConfig.Temperature = aws.Float32(float32(*req.Temperature))
	}
	return in
}
