package service

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// Benchmarks of the service's translations (issue 5): the proto request into a backend request,
// the backend reply into the proto reply, and each streamed event into its proto message. Run with
//
//	go test -run '^$' -bench . -benchmem ./service
//
// The inputs are the issue's: a short prompt, an 8 KB prompt and a 3-turn tool conversation.

func benchPrompt8KB() string {
	const para = "The lighthouse keeper climbed the spiral stairs every evening at dusk, counting the steps " +
		"as his father had, and wrote the weather, the ships and the state of the lamp in a ledger " +
		"that no one had asked to read in thirty years. "
	return strings.Repeat(para, 8192/len(para)+1)[:8192]
}

func benchStruct(b *testing.B, v map[string]any) *structpb.Struct {
	b.Helper()
	s, err := structpb.NewStruct(v)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchChatRequests are the three requests as a caller sends them; their tags route through
// benchRouterConfig's map.
func benchChatRequests(b *testing.B) []struct {
	name string
	req  *stratav1.ChatRequest
} {
	b.Helper()
	text := func(role stratav1.Role, s string) *stratav1.Message { return &stratav1.Message{Role: role, Text: s} }
	system := text(stratav1.Role_ROLE_SYSTEM, "You are a concise assistant. Answer in one or two sentences.")
	short := &stratav1.ChatRequest{
		Tag:         "rdagent.summarize.step_03",
		Messages:    []*stratav1.Message{system, text(stratav1.Role_ROLE_USER, "What is the capital of Australia, and why was it chosen over Sydney?")},
		Temperature: ptr(0.2),
		MaxTokens:   ptr(int32(512)),
		Metadata:    map[string]string{"run": "r-2026-11-25-001"},
	}
	large := &stratav1.ChatRequest{
		Tag:       "rdagent.summarize.step_03",
		Messages:  []*stratav1.Message{system, text(stratav1.Role_ROLE_USER, "Summarize the following text in three sentences.\n\n"+benchPrompt8KB())},
		MaxTokens: ptr(int32(512)),
	}
	tools := &stratav1.ChatRequest{
		Tag:       "rdagent.proposal.step_04",
		MaxTokens: ptr(int32(1024)),
		Tools: []*stratav1.Tool{
			{Name: "get_weather", Description: "Current weather and a short forecast for a city.", InputSchema: benchStruct(b, map[string]any{
				"type": "object",
				"properties": map[string]any{
					"city": map[string]any{"type": "string", "description": "City name, e.g. Paris"},
					"unit": map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}},
					"days": map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
				},
				"required": []any{"city"},
			})},
			{Name: "web_search", Description: "Search the web and return the top results.", InputSchema: benchStruct(b, map[string]any{
				"type":       "object",
				"properties": map[string]any{"query": map[string]any{"type": "string"}, "max_results": map[string]any{"type": "integer"}},
				"required":   []any{"query"},
			})},
		},
		Messages: []*stratav1.Message{
			text(stratav1.Role_ROLE_SYSTEM, "You help travellers plan their day. Use the tools when you need facts."),
			text(stratav1.Role_ROLE_USER, "Should I take an umbrella in Paris tomorrow? I'm out from 9 to 18."),
			{Role: stratav1.Role_ROLE_ASSISTANT, Parts: []*stratav1.Part{
				{Kind: &stratav1.Part_Text{Text: "Let me check the forecast for Paris."}},
				{Kind: &stratav1.Part_ToolCall{ToolCall: &stratav1.ToolCall{
					Id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", Name: "get_weather",
					Arguments: benchStruct(b, map[string]any{"city": "Paris", "unit": "celsius", "days": 2}),
				}}},
			}},
			{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolResult{ToolResult: &stratav1.ToolResult{
				Id:      "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
				Content: `{"city":"Paris","today":{"summary":"cloudy","high_c":14,"low_c":8},"tomorrow":{"summary":"showers after 13:00","high_c":12,"low_c":7,"precip_mm":6.5,"precip_prob":0.8}}`,
			}}}}},
		},
	}
	return []struct {
		name string
		req  *stratav1.ChatRequest
	}{{"short", short}, {"prompt8KB", large}, {"tools3turn", tools}}
}

// BenchmarkToBackendConversation measures the message translation alone.
func BenchmarkToBackendConversation(b *testing.B) {
	for _, tc := range benchChatRequests(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, msgs := toBackendConversation(tc.req.GetMessages()); len(msgs) == 0 {
					b.Fatal("no messages")
				}
			}
		})
	}
}

// BenchmarkToBackendTools measures the tool translation alone (two tools, their schemas
// converted from structpb.Struct to map[string]any).
func BenchmarkToBackendTools(b *testing.B) {
	req := benchChatRequests(b)[2].req
	b.ReportAllocs()
	for b.Loop() {
		if tools := toBackendTools(req.GetTools()); len(tools) != 2 {
			b.Fatal("want 2 tools")
		}
	}
}

// BenchmarkPrepareChat measures the whole proto request → backend request step of Chat and
// ChatStream: routing by tag (10-entry map), validation and translation.
func BenchmarkPrepareChat(b *testing.B) {
	r, cat := benchRouter(b)
	s := &Service{opts: Options{Router: r, Catalog: cat}}
	for _, tc := range benchChatRequests(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.prepareChat(context.Background(), tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchModel(b *testing.B, id string) *catalog.Model {
	b.Helper()
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	m, ok := cat.Model(id)
	if !ok {
		b.Fatalf("no model %s", id)
	}
	return m
}

// benchReplies are backend replies as the Bedrock adapter returns them.
var benchReplies = []struct {
	name string
	resp backend.ChatResponse
}{
	{"text", backend.ChatResponse{
		Parts:      []backend.Part{{Kind: backend.PartText, Text: "Canberra is the capital of Australia. It was chosen in 1908 as a compromise between Sydney and Melbourne, the two largest cities, which each wanted to be the capital."}},
		StopReason: backend.StopEndTurn, Usage: backend.Usage{Input: 38, Output: 41},
	}},
	{"toolUse", backend.ChatResponse{
		Parts: []backend.Part{
			{Kind: backend.PartText, Text: "Let me check the forecast for Paris."},
			{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{ID: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", Name: "get_weather",
				Arguments: map[string]any{"city": "Paris", "unit": "celsius", "days": float64(2)}}},
		},
		StopReason: backend.StopToolUse, Usage: backend.Usage{Input: 512, Output: 67},
	}},
	{"reasoning", backend.ChatResponse{
		Parts: []backend.Part{
			{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{
				Text:      "The forecast says showers after 13:00 with 80% probability and 6.5 mm. The user is out until 18:00, so they will be outside during the rain. An umbrella is warranted.",
				Signature: "EqQBCkgIAxABGAIiQL9zJ3bWq1tH1s8yGzNnX3kq0Jf3a8Vb2mC5xT7wR9pLdE4uN6yK1hQ0sZ2vF8gA3eB5cD7iJ9kM1nP3rS5tU7wYEgz",
			}},
			{Kind: backend.PartText, Text: "Yes, take an umbrella: showers are expected from about 13:00 (80% chance, around 6.5 mm), while you are still out."},
		},
		StopReason: backend.StopEndTurn, Usage: backend.Usage{Input: 688, Output: 143},
	}},
}

// BenchmarkChatResponse measures response translation: backend.ChatResponse to
// stratav1.ChatResponse as Chat builds it (fromBackendParts, toUsage, toStopReason, cost).
func BenchmarkChatResponse(b *testing.B) {
	model := benchModel(b, "anthropic.claude-haiku-4-5-20251001-v1:0")
	for _, tc := range benchReplies {
		b.Run(tc.name, func(b *testing.B) {
			resp := &tc.resp
			b.ReportAllocs()
			for b.Loop() {
				msg, text, reasoning := fromBackendParts(resp.Parts)
				out := &stratav1.ChatResponse{
					Text:       text,
					Message:    msg,
					Reasoning:  reasoning,
					StopReason: toStopReason(resp.StopReason),
					Usage:      toUsage(resp.Usage),
					Model:      model.ID,
					Route:      "proposal",
					CostUsd:    cost(model, model.ID, "", resp.Usage),
					Attempts:   1,
				}
				if out.GetMessage() == nil {
					b.Fatal("no message")
				}
			}
		})
	}
}

// benchStreamEvents is a 100-event reply as the backend returns it: 94 text deltas, a tool call
// opened and its arguments in 4 deltas, and the end event.
func benchStreamEvents() []backend.Event {
	words := strings.Fields("Let me check the forecast for Paris before I answer , since showers are common in the " +
		"spring and the model of the day matters more than the season . Tomorrow looks cloudy in the " +
		"morning with a chance of rain after lunch , so an umbrella is a good idea if you are out in the afternoon .")
	var evs []backend.Event
	for i := range 94 {
		evs = append(evs, backend.Event{Kind: backend.EventText, Text: " " + words[i%len(words)]})
	}
	evs = append(evs, backend.Event{Kind: backend.EventToolCallStart, ToolID: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", ToolName: "get_weather"})
	for _, chunk := range []string{`{"city": `, `"Paris", `, `"unit": "celsius"`, `}`} {
		evs = append(evs, backend.Event{Kind: backend.EventToolCallArgs, Text: chunk})
	}
	return append(evs, backend.Event{Kind: backend.EventEnd, StopReason: backend.StopToolUse, Usage: backend.Usage{Input: 512, Output: 96}})
}

// BenchmarkStreamForward measures stream event forwarding on the service side: each of a
// 100-event reply turned into the ChatStreamResponse that ChatStream sends (toDelta, and for
// the end event cost and toUsage). "encoded" adds proto.Marshal of each message, the work gRPC's
// codec does in Send, for scale. One op is the whole stream; ns/event is per event.
func BenchmarkStreamForward(b *testing.B) {
	model := benchModel(b, "anthropic.claude-haiku-4-5-20251001-v1:0")
	evs := benchStreamEvents()
	if len(evs) != 100 {
		b.Fatalf("%d events, want 100", len(evs))
	}
	for _, encode := range []bool{false, true} {
		name := "toDelta"
		if encode {
			name = "encoded"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, ev := range evs {
					var msg *stratav1.ChatStreamResponse
					if ev.Kind == backend.EventEnd {
						msg = &stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_End{End: &stratav1.StreamEnd{
							StopReason: toStopReason(ev.StopReason),
							Usage:      toUsage(ev.Usage),
							CostUsd:    cost(model, model.ID, "", ev.Usage),
							Attempts:   1,
						}}}
					} else if msg = toDelta(ev); msg == nil {
						b.Fatalf("event %v not forwarded", ev.Kind)
					}
					if encode {
						if _, err := proto.Marshal(msg); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
		})
	}
}
