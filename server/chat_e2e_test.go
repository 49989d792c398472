package server

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-gateway/strata/catalog"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// wantCost checks cost_usd against the catalog's list price for the usage reported.
func wantCost(t *testing.T, modelID string, u *stratav1.Usage, got float64) {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	res, err := cat.Resolve(modelID)
	if err != nil || res.Model == nil {
		t.Fatalf("catalog does not know %s: %v", modelID, err)
	}
	p := res.Model.Price
	want := (float64(u.GetInputTokens())*p.InputPerMTok + float64(u.GetOutputTokens())*p.OutputPerMTok +
		float64(u.GetCacheReadTokens())*p.CacheReadPerMTok + float64(u.GetCacheWriteTokens())*p.CacheWritePerMTok) / 1e6
	if catalog.RoutingTierOf(modelID) != catalog.TierGlobal {
		want *= 1 + p.RegionalPremium // Claude 4.5+ costs 10% more routed in a region or geography
	}
	if want <= 0 {
		t.Fatalf("price of %s × usage %v is %v: a test of cost needs a priced call", modelID, u, want)
	}
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("cost_usd = %v, want %v (catalog price × usage %v)", got, want, u)
	}
}

func wantUsage(t *testing.T, u *stratav1.Usage) {
	t.Helper()
	if u.GetInputTokens() <= 0 || u.GetOutputTokens() <= 0 {
		t.Errorf("usage = %v, want input and output tokens", u)
	}
	if sum := u.GetInputTokens() + u.GetOutputTokens() + u.GetCacheReadTokens() + u.GetCacheWriteTokens(); u.GetTotalTokens() != sum {
		t.Errorf("total_tokens = %d, want input+output+cache = %d", u.GetTotalTokens(), sum)
	}
}

func TestChat(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("Say hello to the gateway.")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if resp.GetText() == "" || !strings.Contains(resp.GetText(), "Say hello to the gateway.") {
		t.Errorf("text = %q, want a reply quoting the prompt", resp.GetText())
	}
	if resp.GetModel() != novaMicro || resp.GetRoute() != "default" {
		t.Errorf("model, route = %q, %q; want %q, default", resp.GetModel(), resp.GetRoute(), novaMicro)
	}
	if resp.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN {
		t.Errorf("stop_reason = %v", resp.GetStopReason())
	}
	wantUsage(t, resp.GetUsage())
	wantCost(t, resp.GetModel(), resp.GetUsage(), resp.GetCostUsd())
	if resp.GetAttempts() != 1 {
		t.Errorf("attempts = %d, want 1", resp.GetAttempts())
	}
	if resp.GetLatencyMs() < 0 {
		t.Errorf("latency_ms = %d", resp.GetLatencyMs())
	}
	if resp.GetCached() {
		t.Error("cached = true on a first call")
	}
	msg := resp.GetMessage()
	if msg.GetRole() != stratav1.Role_ROLE_ASSISTANT || len(msg.GetParts()) != 1 || msg.GetParts()[0].GetText() != resp.GetText() {
		t.Errorf("message = %v, want one assistant text part equal to text", msg)
	}
	if resp.GetReasoning() != "" {
		t.Errorf("reasoning = %q without a reasoning effort", resp.GetReasoning())
	}
}

func TestChatReasoning(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{
		"CHAT_MODEL_MAP": `{"think": {"model": "` + claudeSonnet + `", "reasoning_effort": "high"}, "max": {"model": "` + claudeSonnet + `", "reasoning_effort": "max"}}`,
	})
	tests := []struct {
		name string
		req  *stratav1.ChatRequest
		off  bool // reasoning is off
	}{
		{
			name: "explicit model and effort, max_tokens below any thinking budget",
			req: &stratav1.ChatRequest{
				Model: claudeSonnet, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_HIGH,
				MaxTokens: ptr[int32](100), Temperature: ptr(0.2), TopP: ptr(0.5),
				Messages: user("Why is the sky blue?"),
			},
		},
		{
			name: "effort from the tag map",
			req:  &stratav1.ChatRequest{Tag: "think.hard", Messages: user("Why is the sky blue?")},
		},
		{
			name: "the request turns the map's effort off",
			req:  &stratav1.ChatRequest{Tag: "think.hard", ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_NONE, Messages: user("Why is the sky blue?")},
			off:  true,
		},
		{
			// RD-Agent's rule: an effort other than low, medium or high means off.
			name: "an effort the map does not know is off",
			req:  &stratav1.ChatRequest{Tag: "max", Messages: user("Why is the sky blue?")},
			off:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := h.client.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.GetModel() != claudeSonnet {
				t.Errorf("model = %q", resp.GetModel())
			}
			if resp.GetText() == "" {
				t.Error("text is empty")
			}
			if tt.off {
				if resp.GetReasoning() != "" || resp.GetMessage().GetParts()[0].GetReasoning() != nil {
					t.Errorf("reasoning %q with reasoning off", resp.GetReasoning())
				}
				return
			}
			if resp.GetReasoning() == "" {
				t.Error("reasoning is empty")
			}
			parts := resp.GetMessage().GetParts()
			if len(parts) == 0 || parts[0].GetReasoning() == nil {
				t.Fatalf("parts = %v, want a reasoning part first", parts)
			}
			r := parts[0].GetReasoning()
			if r.GetText() != resp.GetReasoning() || r.GetSignature() == "" {
				t.Errorf("reasoning part = %v, want the reasoning text with a signature", r)
			}
			wantUsage(t, resp.GetUsage())
			wantCost(t, claudeSonnet, resp.GetUsage(), resp.GetCostUsd())
		})
	}
}

var weatherTools = []*stratav1.Tool{
	{Name: "get_weather", Description: "Current weather in a city", InputSchema: mustStruct(map[string]any{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required":   []any{"city"},
	})},
	{Name: "get_time", Description: "Local time in a city", InputSchema: mustStruct(map[string]any{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}, "24h": map[string]any{"type": "boolean"}},
		"required":   []any{"city", "24h"},
	})},
}

func mustStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		panic(err)
	}
	return s
}

// toolCalls returns the tool call parts of a message.
func toolCalls(m *stratav1.Message) []*stratav1.ToolCall {
	var out []*stratav1.ToolCall
	for _, p := range m.GetParts() {
		if tc := p.GetToolCall(); tc != nil {
			out = append(out, tc)
		}
	}
	return out
}

func TestChatToolRoundTrip(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	tests := []struct {
		name          string
		model         string
		effort        stratav1.ReasoningEffort
		wantReasoning bool
	}{
		{name: "nova", model: novaMicro},
		{name: "claude thinking", model: claudeSonnet, effort: stratav1.ReasoningEffort_REASONING_EFFORT_MEDIUM, wantReasoning: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			question := &stratav1.Message{Role: stratav1.Role_ROLE_USER, Text: "What is the weather in Paris right now?"}
			first, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{
				Model: tt.model, ReasoningEffort: tt.effort, Tools: weatherTools,
				Messages: []*stratav1.Message{question},
			})
			if err != nil {
				t.Fatalf("Chat (tool call): %v", err)
			}
			if first.GetStopReason() != stratav1.StopReason_STOP_REASON_TOOL_USE {
				t.Errorf("stop_reason = %v, want TOOL_USE", first.GetStopReason())
			}
			calls := toolCalls(first.GetMessage())
			if len(calls) != 1 {
				t.Fatalf("tool calls = %v, want one", calls)
			}
			call := calls[0]
			if call.GetId() == "" || call.GetName() != "get_weather" {
				t.Errorf("tool call = %v, want an id and get_weather", call)
			}
			if _, ok := call.GetArguments().GetFields()["city"].GetKind().(*structpb.Value_StringValue); !ok {
				t.Errorf("arguments = %v, want a string city", call.GetArguments())
			}
			parts := first.GetMessage().GetParts()
			if got := parts[0].GetReasoning() != nil; got != tt.wantReasoning {
				t.Errorf("first part is reasoning: %v, want %v (parts %v)", got, tt.wantReasoning, parts)
			}

			// Send the whole assistant message back (thinking block included: Claude requires it
			// when thinking is on) with the tool's result.
			second, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{
				Model: tt.model, ReasoningEffort: tt.effort, Tools: weatherTools,
				Messages: []*stratav1.Message{
					question,
					first.GetMessage(),
					{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolResult{ToolResult: &stratav1.ToolResult{
						Id: call.GetId(), Content: `{"temperature_c": 18, "sky": "clear"}`,
					}}}}},
				},
			})
			if err != nil {
				t.Fatalf("Chat (tool result): %v", err)
			}
			if second.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN || len(toolCalls(second.GetMessage())) != 0 {
				t.Errorf("second reply: stop %v, parts %v; want a plain answer", second.GetStopReason(), second.GetMessage().GetParts())
			}
			if !strings.Contains(second.GetText(), "Based on the tool result") {
				t.Errorf("text = %q, want an answer from the tool result", second.GetText())
			}
			if second.GetUsage().GetInputTokens() <= first.GetUsage().GetInputTokens() {
				t.Errorf("input tokens %d then %d: the second call carries the whole conversation", first.GetUsage().GetInputTokens(), second.GetUsage().GetInputTokens())
			}

			// A third turn on the same conversation: a new question that needs the tool again.
			// Bedrock accepts the whole history (every thinking block where it was) and the model
			// thinks and calls the tool again.
			third, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{
				Model: tt.model, ReasoningEffort: tt.effort, Tools: weatherTools,
				Messages: []*stratav1.Message{
					question,
					first.GetMessage(),
					{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolResult{ToolResult: &stratav1.ToolResult{
						Id: call.GetId(), Content: `{"temperature_c": 18, "sky": "clear"}`,
					}}}}},
					second.GetMessage(),
					{Role: stratav1.Role_ROLE_USER, Text: "And what is the weather in Lyon?"},
				},
			})
			if err != nil {
				t.Fatalf("Chat (third turn): %v", err)
			}
			if third.GetStopReason() != stratav1.StopReason_STOP_REASON_TOOL_USE || len(toolCalls(third.GetMessage())) != 1 {
				t.Errorf("third reply: stop %v, parts %v; want another tool call", third.GetStopReason(), third.GetMessage().GetParts())
			}
			if got := third.GetMessage().GetParts()[0].GetReasoning() != nil; got != tt.wantReasoning {
				t.Errorf("third reply starts with reasoning: %v, want %v", got, tt.wantReasoning)
			}
			if w := third.GetWarnings(); tt.wantReasoning && len(w) > 0 && strings.Contains(strings.Join(w, " "), "reasoning off") {
				t.Errorf("thinking was turned off on the third turn: %q", w)
			}
		})
	}
}

func TestChatToolChoice(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	tests := []struct {
		name   string
		model  string
		effort stratav1.ReasoningEffort
		choice *stratav1.ToolChoice
		want   string // the tool called, "" for none
	}{
		{name: "auto calls the first tool", model: novaMicro, choice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_AUTO}, want: "get_weather"},
		{name: "a named tool is forced", model: novaMicro, choice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_TOOL, Name: "get_time"}, want: "get_time"},
		{name: "any", model: novaMicro, choice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_ANY}, want: "get_weather"},
		{name: "none calls no tool", model: novaMicro, choice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_NONE}},
		// Claude refuses thinking with a forced tool: the adapter turns thinking off rather than fail.
		{name: "forced tool on a thinking claude", model: claudeSonnet, effort: stratav1.ReasoningEffort_REASONING_EFFORT_HIGH,
			choice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_TOOL, Name: "get_time"}, want: "get_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{
				Model: tt.model, ReasoningEffort: tt.effort, Tools: weatherTools, ToolChoice: tt.choice,
				Messages: user("What is the weather in Paris right now?"),
			})
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			calls := toolCalls(resp.GetMessage())
			switch {
			case tt.want == "" && len(calls) != 0:
				t.Errorf("tool calls = %v, want none", calls)
			case tt.want != "" && (len(calls) != 1 || calls[0].GetName() != tt.want):
				t.Errorf("tool calls = %v, want one to %s", calls, tt.want)
			}
			if tt.want == "get_time" {
				args := calls[0].GetArguments().GetFields()
				if _, ok := args["24h"].GetKind().(*structpb.Value_BoolValue); !ok {
					t.Errorf("arguments = %v, want a boolean 24h", args)
				}
			}
		})
	}
}

func TestChatMedia(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	plain := &stratav1.ChatRequest{Model: novaLite, Messages: user("Describe what I sent.")}
	withMedia := &stratav1.ChatRequest{Model: novaLite, Messages: []*stratav1.Message{{
		Role: stratav1.Role_ROLE_USER,
		Text: "Describe what I sent.",
		Parts: []*stratav1.Part{
			{Kind: &stratav1.Part_Image{Image: &stratav1.Image{Data: png, Format: stratav1.ImageFormat_IMAGE_FORMAT_PNG}}},
			// A name Bedrock would refuse ("."); the adapter makes it acceptable.
			{Kind: &stratav1.Part_Document{Document: &stratav1.Document{Data: []byte(strings.Repeat("quarterly numbers ", 200)), Format: stratav1.DocumentFormat_DOCUMENT_FORMAT_TXT, Name: "report.q3.txt"}}},
		},
	}}}
	base, err := h.client.Chat(t.Context(), plain)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	resp, err := h.client.Chat(t.Context(), withMedia)
	if err != nil {
		t.Fatalf("Chat with an image and a document: %v", err)
	}
	if resp.GetText() == "" {
		t.Error("empty reply")
	}
	if resp.GetUsage().GetInputTokens() <= base.GetUsage().GetInputTokens()+100 {
		t.Errorf("input tokens with media = %d, without = %d: the image and document did not reach the model",
			resp.GetUsage().GetInputTokens(), base.GetUsage().GetInputTokens())
	}
}

// chatStream runs a ChatStream to its end.
func chatStream(t *testing.T, h *harness, req *stratav1.ChatRequest) ([]*stratav1.ChatStreamResponse, error) {
	t.Helper()
	stream, err := h.client.ChatStream(t.Context(), req)
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	return streamEvents(stream)
}

// joined is what a stream's deltas add up to.
type joined struct {
	text, reasoning, signature string
	toolIDs, toolNames         map[int32]string
	toolArgs                   map[int32]string
}

func joinDeltas(t *testing.T, events []*stratav1.ChatStreamResponse) (*stratav1.StreamStart, joined, *stratav1.StreamEnd) {
	t.Helper()
	if len(events) < 2 {
		t.Fatalf("%d events, want at least a start and an end", len(events))
	}
	start, end := events[0].GetStart(), events[len(events)-1].GetEnd()
	if start == nil {
		t.Fatalf("first event = %v, want start", events[0])
	}
	if end == nil {
		t.Fatalf("last event = %v, want end", events[len(events)-1])
	}
	j := joined{toolIDs: map[int32]string{}, toolNames: map[int32]string{}, toolArgs: map[int32]string{}}
	var text, reasoning strings.Builder
	for i, ev := range events[1 : len(events)-1] {
		d := ev.GetDelta()
		if d == nil {
			t.Fatalf("event %d = %v, want a delta between start and end", i+1, ev)
		}
		text.WriteString(d.GetText())
		reasoning.WriteString(d.GetReasoning())
		if s := d.GetReasoningSignature(); s != "" {
			j.signature = s
		}
		if tc := d.GetToolCall(); tc != nil {
			if tc.GetId() != "" {
				j.toolIDs[tc.GetIndex()] = tc.GetId()
				j.toolNames[tc.GetIndex()] = tc.GetName()
			}
			j.toolArgs[tc.GetIndex()] += tc.GetArgumentsJson()
		}
	}
	j.text, j.reasoning = text.String(), reasoning.String()
	return start, j, end
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	tests := []struct {
		name string
		req  *stratav1.ChatRequest
	}{
		{name: "text", req: &stratav1.ChatRequest{Messages: user("Stream a short answer, please.")}},
		{name: "tool call", req: &stratav1.ChatRequest{Tools: weatherTools, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_TOOL, Name: "get_time"},
			Messages: user("What time is it in Lima?")}},
		{name: "reasoning", req: &stratav1.ChatRequest{Model: claudeSonnet, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW, MaxTokens: ptr[int32](300),
			Messages: user("Think about why the sea is salty.")}},
		{name: "cut by max_tokens", req: &stratav1.ChatRequest{MaxTokens: ptr[int32](3), Messages: user("Write a long essay about rivers.")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			unary, err := h.client.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			events, err := chatStream(t, h, tt.req)
			if err != nil {
				t.Fatalf("stream ended with %v after %d events", err, len(events))
			}
			start, got, end := joinDeltas(t, events)
			if start.GetModel() != unary.GetModel() || start.GetRoute() != "default" {
				t.Errorf("start = %v, want model %s, route default", start, unary.GetModel())
			}
			if !slices.Equal(start.GetWarnings(), unary.GetWarnings()) {
				t.Errorf("start warnings = %q, unary %q", start.GetWarnings(), unary.GetWarnings())
			}
			if got.text != unary.GetText() {
				t.Errorf("joined text deltas = %q\nunary text          = %q", got.text, unary.GetText())
			}
			if got.reasoning != unary.GetReasoning() {
				t.Errorf("joined reasoning deltas = %q\nunary reasoning          = %q", got.reasoning, unary.GetReasoning())
			}
			if unary.GetReasoning() != "" {
				var sig string
				for _, p := range unary.GetMessage().GetParts() {
					if r := p.GetReasoning(); r != nil {
						sig = r.GetSignature()
					}
				}
				if got.signature == "" || got.signature != sig {
					t.Errorf("streamed signature = %q, unary %q", got.signature, sig)
				}
			}
			calls := toolCalls(unary.GetMessage())
			if len(got.toolArgs) != len(calls) {
				t.Fatalf("streamed %d tool calls, unary %d", len(got.toolArgs), len(calls))
			}
			for i, call := range calls {
				idx := int32(i)
				var args map[string]any
				if err := json.Unmarshal([]byte(got.toolArgs[idx]), &args); err != nil {
					t.Fatalf("tool call %d: joined arguments %q are not JSON: %v", i, got.toolArgs[idx], err)
				}
				if got.toolIDs[idx] == "" || got.toolNames[idx] != call.GetName() {
					t.Errorf("tool call %d: id %q name %q, want an id and %s", i, got.toolIDs[idx], got.toolNames[idx], call.GetName())
				}
				if !reflect.DeepEqual(args, call.GetArguments().AsMap()) {
					t.Errorf("tool call %d: streamed arguments %v, unary %v", i, args, call.GetArguments().AsMap())
				}
			}
			if end.GetStopReason() != unary.GetStopReason() {
				t.Errorf("end stop_reason = %v, unary %v", end.GetStopReason(), unary.GetStopReason())
			}
			if !proto.Equal(end.GetUsage(), unary.GetUsage()) {
				t.Errorf("end usage = %v, unary %v", end.GetUsage(), unary.GetUsage())
			}
			wantUsage(t, end.GetUsage())
			wantCost(t, start.GetModel(), end.GetUsage(), end.GetCostUsd())
			if end.GetAttempts() != 1 {
				t.Errorf("end attempts = %d, want 1", end.GetAttempts())
			}
		})
	}
}

// TestChatWarnings: what the adapter changed to make a request valid is told to the caller, in
// ChatResponse.warnings and in the stream's start event, and nothing is said when nothing changed.
func TestChatWarnings(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	tests := []struct {
		name string
		req  *stratav1.ChatRequest
		want string // a substring of the one warning; "" for none
	}{
		{name: "none", req: &stratav1.ChatRequest{Model: novaMicro}},
		{name: "effort on a model that cannot reason", want: "cannot reason",
			req: &stratav1.ChatRequest{Model: novaMicro, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW}},
		{name: "forced tool on a thinking claude", want: "reasoning off",
			req: &stratav1.ChatRequest{Model: claudeSonnet, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_HIGH, Tools: weatherTools,
				ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_TOOL, Name: "get_time"}}},
		{name: "tool choice none", want: "tool choice none",
			req: &stratav1.ChatRequest{Model: novaMicro, Tools: weatherTools, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_NONE}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.Messages = user("What is the weather in Paris?")
			resp, err := h.client.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			events, err := chatStream(t, h, tt.req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			start, _, _ := joinDeltas(t, events)
			for what, got := range map[string][]string{"Chat": resp.GetWarnings(), "ChatStream start": start.GetWarnings()} {
				switch {
				case tt.want == "" && len(got) != 0:
					t.Errorf("%s warnings = %q, want none", what, got)
				case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
					t.Errorf("%s warnings = %q, want one saying %q", what, got, tt.want)
				}
			}
		})
	}
}

// TestChatTopPOnClaude45: the model takes temperature or top_p; a request that asks for top_p gets
// it, and the configured CHAT_TEMPERATURE gives way instead of failing the call at Bedrock.
func TestChatTopPOnClaude45(t *testing.T) {
	t.Parallel()
	h := startStrata(t, map[string]string{"CHAT_TEMPERATURE": "0.3"})
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Messages: user("hi"), TopP: ptr(0.9)})
	if err != nil {
		t.Fatalf("Chat with top_p and a configured temperature: %v", err)
	}
	if resp.GetText() == "" {
		t.Error("no text")
	}
}
