package bedrock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/emulator"
)

var weatherTool = backend.Tool{
	Name:        "get_weather",
	Description: "The weather in a city",
	Schema: map[string]any{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
		"required":   []any{"city"},
	},
}

// TestTemperatureOrTopP: Claude 4.5 and later refuse temperature with top_p (the emulator enforces
// it as Bedrock does); the adapter keeps the temperature and says so.
func TestTemperatureOrTopP(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := h.b.Chat(callCtx(t), &backend.ChatRequest{ModelID: claudeHaiku, Messages: []backend.Message{userText("say hello")}, Temperature: ptr(0.2), TopP: ptr(0.9)})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "top_p was not sent") {
		t.Errorf("warnings %q, want one saying top_p was not sent", resp.Warnings)
	}
}

func TestChatText(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name string
		req  backend.ChatRequest
		want backend.StopReason
	}{
		{"nova", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("say hello")}}, backend.StopEndTurn},
		{"claude with system, inference and metadata", backend.ChatRequest{
			ModelID: claudeHaiku, System: system("Be brief.", " "), Messages: []backend.Message{userText("say hello")},
			MaxTokens: ptr(200), Temperature: ptr(0.2), Stop: []string{"\n\nHuman:"},
			Metadata: map[string]string{"tenant": "t1"},
		}, backend.StopEndTurn},
		{"max tokens", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("say a lot")}, MaxTokens: ptr(3)}, backend.StopMaxTokens},
		{"nova with temperature and top_p", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("say hello")}, Temperature: ptr(0.2), TopP: ptr(0.9)}, backend.StopEndTurn},
		{"multi-turn", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{
			userText("hi"),
			{Role: backend.RoleAssistant, Parts: []backend.Part{{Kind: backend.PartText, Text: "hello"}}},
			userText("again"),
		}}, backend.StopEndTurn},
		{"image and document", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{
			{Kind: backend.PartText, Text: "read this"},
			{Kind: backend.PartDocument, Format: "txt", Name: "notes.txt", Data: []byte("hello")},
		}}}}, backend.StopEndTurn},
		{"image", backend.ChatRequest{ModelID: claudeHaiku, Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{
			{Kind: backend.PartText, Text: "look"},
			{Kind: backend.PartImage, Format: "PNG", Data: []byte("\x89PNG\r\n\x1a\n")},
		}}}}, backend.StopEndTurn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.b.Chat(callCtx(t), &tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.StopReason != tt.want {
				t.Errorf("stop reason %q, want %q", resp.StopReason, tt.want)
			}
			if textOf(resp.Parts) == "" && tt.want != backend.StopMaxTokens {
				t.Errorf("no text in %+v", resp.Parts)
			}
			if resp.Usage.Input <= 0 || resp.Usage.Output <= 0 {
				t.Errorf("usage %+v, want input and output tokens", resp.Usage)
			}
			if len(resp.Warnings) != 0 {
				t.Errorf("warnings %q, want none", resp.Warnings)
			}
		})
	}
}

func TestChatTools(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name        string
		model       string
		choice      backend.ToolChoice
		wantCall    bool
		wantWarning string
	}{
		{"auto", novaMicro, backend.ToolChoice{}, true, ""},
		{"any", claudeHaiku, backend.ToolChoice{Mode: backend.ToolChoiceAny}, true, ""},
		{"named", claudeHaiku, backend.ToolChoice{Mode: backend.ToolChoiceTool, Name: "get_weather"}, true, ""},
		// Bedrock has no "none": the tools are not sent, so the model cannot call one.
		{"none", novaMicro, backend.ToolChoice{Mode: backend.ToolChoiceNone}, false, "tool choice none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.b.Chat(callCtx(t), &backend.ChatRequest{
				ModelID: tt.model, Messages: []backend.Message{userText("what is the weather in Paris? use get_weather")},
				Tools: []backend.Tool{weatherTool}, ToolChoice: tt.choice,
			})
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			calls := partsOfKind(resp.Parts, backend.PartToolCall)
			if !tt.wantCall {
				if len(calls) != 0 || resp.StopReason != backend.StopEndTurn {
					t.Fatalf("tool calls %+v, stop %q: want a plain answer", calls, resp.StopReason)
				}
			} else {
				if len(calls) != 1 || resp.StopReason != backend.StopToolUse {
					t.Fatalf("tool calls %+v, stop %q: want one call and tool_use", calls, resp.StopReason)
				}
				tc := calls[0].ToolCall
				if tc.Name != "get_weather" || tc.ID == "" {
					t.Errorf("call %+v", tc)
				}
				if _, ok := tc.Arguments["city"].(string); !ok {
					t.Errorf("arguments %#v: want a string city", tc.Arguments)
				}
				if d, ok := tc.Arguments["days"]; ok {
					if _, isFloat := d.(float64); !isFloat {
						t.Errorf("days is %T, want float64 (plain JSON numbers, never SDK document types)", d)
					}
				}
			}
			if got := strings.Join(resp.Warnings, "; "); !strings.Contains(got, tt.wantWarning) || (tt.wantWarning == "" && got != "") {
				t.Errorf("warnings %q, want %q", got, tt.wantWarning)
			}
		})
	}
}

// TestChatToolChoiceNoneKeepsToolsForHistory: Bedrock refuses toolUse/toolResult blocks without a
// toolConfig, so "none" must keep the tools when the conversation carries them.
func TestChatToolChoiceNoneKeepsToolsForHistory(t *testing.T) {
	h := newHarness(t, nil)
	ctx := callCtx(t)
	req := &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("weather in Paris? use get_weather")}, Tools: []backend.Tool{weatherTool}}
	first, err := h.b.Chat(ctx, req)
	if err != nil {
		t.Fatalf("first turn: %v", err)
	}
	call := partsOfKind(first.Parts, backend.PartToolCall)[0].ToolCall
	req.Messages = append(req.Messages,
		backend.Message{Role: backend.RoleAssistant, Parts: first.Parts},
		backend.Message{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartToolResult, ToolResult: &backend.ToolResult{ID: call.ID, Content: "21C, sunny"}}}})
	req.ToolChoice = backend.ToolChoice{Mode: backend.ToolChoiceNone}
	resp, err := h.b.Chat(ctx, req)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if resp.StopReason != backend.StopEndTurn || !strings.Contains(textOf(resp.Parts), "tool result") {
		t.Errorf("reply %q (%s), want an answer based on the tool result", textOf(resp.Parts), resp.StopReason)
	}
	if !strings.Contains(strings.Join(resp.Warnings, ";"), "may still call one") {
		t.Errorf("warnings %q, want the none-emulation caveat", resp.Warnings)
	}
}

func TestChatReasoning(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name          string
		req           backend.ChatRequest
		wantReasoning bool
		wantSigned    bool
		wantWarnings  []string
	}{
		{"claude high with a tiny max_tokens", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortHigh, MaxTokens: ptr(1)},
			true, true, []string{"max_tokens raised from 1 to 17408"}},
		{"claude low with temperature and top_p", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortLow, Temperature: ptr(0.3), TopP: ptr(0.5)},
			true, true, []string{"temperature 0.3 replaced by 1", "top_p 0.5 dropped"}},
		{"claude budget above the model's output limit", backend.ChatRequest{ModelID: claudeOpus41, Effort: backend.EffortHigh, ReasoningBudget: 40000},
			true, true, []string{"reasoning budget lowered from 40000 to 30976"}},
		{"claude budget below the minimum", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortMedium, ReasoningBudget: 100},
			true, true, []string{"reasoning budget raised from 100 to Claude's minimum of 1024"}},
		{"claude temperature 1 kept", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortMedium, Temperature: ptr(1.0), MaxTokens: ptr(8192)},
			true, true, []string{"max_tokens raised from 8192 to 12288"}},
		{"claude adaptive", backend.ChatRequest{ModelID: claudeAdapt, Effort: backend.EffortMedium, Temperature: ptr(0.2)},
			true, true, []string{"temperature 0.2 replaced by 1"}},
		{"claude forced tool: thinking off", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortHigh,
			Tools: []backend.Tool{weatherTool}, ToolChoice: backend.ToolChoice{Mode: backend.ToolChoiceAny}},
			false, false, []string{"reasoning off: Claude cannot think when the tool choice forces a tool call"}},
		{"nova 2", backend.ChatRequest{ModelID: novaLite2, Effort: backend.EffortHigh}, true, false, nil},
		{"gpt-oss", backend.ChatRequest{ModelID: gptOSS, Effort: backend.EffortLow}, true, false, nil},
		{"qwen", backend.ChatRequest{ModelID: qwen3, Effort: backend.EffortMedium}, true, false, nil},
		{"always reasons", backend.ChatRequest{ModelID: deepseekR1, Effort: backend.EffortLow}, true, false, []string{"always reasons"}},
		{"cannot reason", backend.ChatRequest{ModelID: novaMicro, Effort: backend.EffortHigh}, false, false, []string{"cannot reason"}},
		{"old claude cannot reason", backend.ChatRequest{ModelID: claude3Haiku, Effort: backend.EffortHigh}, false, false, []string{"cannot reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Messages = []backend.Message{userText("how do I cross a street safely? weather matters")}
			resp, err := h.b.Chat(callCtx(t), &tt.req)
			if err != nil {
				t.Fatalf("Chat: %v (the adapter must always send a request Bedrock accepts)", err)
			}
			reasoning := partsOfKind(resp.Parts, backend.PartReasoning)
			if got := len(reasoning) > 0; got != tt.wantReasoning {
				t.Fatalf("reasoning %v, want %v: %+v", got, tt.wantReasoning, resp.Parts)
			}
			if tt.wantReasoning && reasoning[0].Reasoning.Text == "" {
				t.Errorf("empty reasoning text")
			}
			if tt.wantSigned && reasoning[0].Reasoning.Signature == "" {
				t.Errorf("Claude's reasoning has no signature")
			}
			if len(tt.wantWarnings) == 0 && len(resp.Warnings) != 0 {
				t.Errorf("warnings %q, want none", resp.Warnings)
			}
			all := strings.Join(resp.Warnings, "\n")
			for _, w := range tt.wantWarnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", resp.Warnings, w)
				}
			}
		})
	}
}

// TestClaudeThinkingNumbers pins what the reasoning controls send, request by request.
func TestClaudeThinkingNumbers(t *testing.T) {
	b := newHarness(t, nil).b
	tests := []struct {
		name          string
		req           backend.ChatRequest
		wantMaxTokens int
		wantFields    map[string]any
	}{
		{"default reply room", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortLow}, 1024 + 4096,
			map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": float64(1024)}}},
		{"medium keeps a large max_tokens' room", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortMedium, MaxTokens: ptr(20000)}, 4096 + 20000,
			map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": float64(4096)}}},
		{"capped at the model's limit", backend.ChatRequest{ModelID: claudeOpus41, Effort: backend.EffortHigh, MaxTokens: ptr(30000)}, 32000,
			map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": float64(16384)}}},
		{"explicit budget wins", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortLow, ReasoningBudget: 2000, MaxTokens: ptr(10)}, 3024,
			map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": float64(2000)}}},
		{"adaptive", backend.ChatRequest{ModelID: claudeAdapt, Effort: backend.EffortHigh, MaxTokens: ptr(500)}, 500,
			map[string]any{"thinking": map[string]any{"type": "adaptive"}, "output_config": map[string]any{"effort": "high"}}},
		{"nova", backend.ChatRequest{ModelID: novaLite2, Effort: backend.EffortMedium}, 0,
			map[string]any{"reasoningConfig": map[string]any{"type": "enabled", "maxReasoningEffort": "medium"}}},
		{"gpt-oss", backend.ChatRequest{ModelID: gptOSS, Effort: backend.EffortHigh}, 0, map[string]any{"reasoning_effort": "high"}},
		{"qwen", backend.ChatRequest{ModelID: qwen3, Effort: backend.EffortLow}, 0, map[string]any{"reasoning_config": "low"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Messages = []backend.Message{userText("hi")}
			p, err := b.converseParams(&tt.req)
			if err != nil {
				t.Fatalf("converseParams: %v", err)
			}
			var gotMax int
			if inf := p.body.InferenceConfig; inf != nil && inf.MaxTokens != nil {
				gotMax = *inf.MaxTokens
			}
			if gotMax != tt.wantMaxTokens {
				t.Errorf("maxTokens %d, want %d", gotMax, tt.wantMaxTokens)
			}
			raw, _ := json.Marshal(p.body.AdditionalModelRequestFields)
			var got map[string]any
			_ = json.Unmarshal(raw, &got)
			if !reflect.DeepEqual(got, tt.wantFields) {
				t.Errorf("additionalModelRequestFields %s, want %v", raw, tt.wantFields)
			}
			thinking, _ := tt.wantFields["thinking"].(map[string]any)
			if budget, ok := thinking["budget_tokens"].(float64); ok && int(budget) >= gotMax {
				t.Errorf("budget %v is not below max_tokens %d", budget, gotMax)
			}
		})
	}
}

// TestChatMultiTurnToolUseWithThinking sends Claude's thinking block back with the tool result, as
// Claude requires while thinking (the emulator enforces the rule); without it, thinking is turned
// off rather than the request refused.
func TestChatMultiTurnToolUseWithThinking(t *testing.T) {
	h := newHarness(t, nil)
	ctx := callCtx(t)
	req := &backend.ChatRequest{
		ModelID: claudeHaiku, Effort: backend.EffortLow, Tools: []backend.Tool{weatherTool},
		Messages: []backend.Message{userText("what is the weather in Paris? use get_weather")},
	}
	first, err := h.b.Chat(ctx, req)
	if err != nil {
		t.Fatalf("first turn: %v", err)
	}
	if first.StopReason != backend.StopToolUse || first.Parts[0].Kind != backend.PartReasoning {
		t.Fatalf("first turn %+v (%s): want thinking, then a tool call", first.Parts, first.StopReason)
	}
	call := partsOfKind(first.Parts, backend.PartToolCall)[0].ToolCall
	result := backend.Message{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartToolResult, ToolResult: &backend.ToolResult{ID: call.ID, Content: "21C and sunny"}}}}

	tests := []struct {
		name        string
		assistant   []backend.Part
		wantWarning string
	}{
		{"thinking sent back", first.Parts, ""},
		{"thinking dropped", slices.DeleteFunc(slices.Clone(first.Parts), func(p backend.Part) bool { return p.Kind == backend.PartReasoning }),
			"reasoning off: message 1 calls tools without the thinking block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := *req
			next.Messages = []backend.Message{req.Messages[0], {Role: backend.RoleAssistant, Parts: tt.assistant}, result}
			resp, err := h.b.Chat(ctx, &next)
			if err != nil {
				t.Fatalf("second turn: %v", err)
			}
			if resp.StopReason != backend.StopEndTurn || textOf(resp.Parts) == "" {
				t.Errorf("second turn %+v (%s), want an answer", resp.Parts, resp.StopReason)
			}
			got := strings.Join(resp.Warnings, "; ")
			if tt.wantWarning == "" && got != "" || !strings.Contains(got, tt.wantWarning) {
				t.Errorf("warnings %q, want %q", got, tt.wantWarning)
			}
		})
	}
}

func TestChatErrorResultAndRedactedReasoning(t *testing.T) {
	// The request side of blocks the emulator never produces: a failed tool result and a redacted
	// thinking block must travel in Bedrock's shapes.
	b := newHarness(t, nil).b
	p, err := b.converseParams(&backend.ChatRequest{ModelID: claudeHaiku, Tools: []backend.Tool{weatherTool}, Messages: []backend.Message{
		userText("weather?"),
		{Role: backend.RoleAssistant, Parts: []backend.Part{
			{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{Redacted: []byte("opaque")}},
			{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{ID: "t1", Name: "get_weather"}},
		}},
		{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartToolResult, ToolResult: &backend.ToolResult{ID: "t1", Content: "no such city", IsError: true}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(&p.body)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Messages []struct {
			Content []map[string]json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &sent); err != nil {
		t.Fatal(err)
	}
	// "opaque" in standard base64, as a Smithy blob travels.
	if got := string(sent.Messages[1].Content[0]["reasoningContent"]); got != `{"redactedContent":"b3BhcXVl"}` {
		t.Errorf("redacted reasoning sent as %s", got)
	}
	if got := string(sent.Messages[1].Content[1]["toolUse"]); got != `{"toolUseId":"t1","name":"get_weather","input":{}}` {
		t.Errorf("a call without arguments sent as %s, want input {}", got)
	}
	if got := string(sent.Messages[2].Content[0]["toolResult"]); got != `{"toolUseId":"t1","content":[{"text":"no such city"}],"status":"error"}` {
		t.Errorf("failed tool result sent as %s", got)
	}
}

func TestChatInvalidRequests(t *testing.T) {
	b := newHarness(t, nil).b
	tests := []struct {
		name string
		req  backend.ChatRequest
	}{
		{"no model", backend.ChatRequest{Messages: []backend.Message{userText("hi")}}},
		{"bad role", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{{Role: "system", Parts: []backend.Part{{Kind: backend.PartText, Text: "x"}}}}}},
		{"bad part", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: 99}}}}}},
		{"tool call without call", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartToolCall}}}}}},
		{"unknown effort", backend.ChatRequest{ModelID: novaMicro, Effort: "extreme", Messages: []backend.Message{userText("hi")}}},
		{"forced tool without tools", backend.ChatRequest{ModelID: novaMicro, ToolChoice: backend.ToolChoice{Mode: backend.ToolChoiceAny}, Messages: []backend.Message{userText("hi")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Chat(callCtx(t), &tt.req)
			mustKind(t, err, backend.KindInvalid)
		})
	}
}

func TestDocumentName(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"report.pdf", 1, "report pdf"},
		{"  a  b ", 1, "a b"},
		{"", 3, "document 3"},
		{"(draft) [v2]-final", 1, "(draft) [v2]-final"},
		{"日本語", 2, "document 2"},
	}
	for _, tt := range tests {
		if got := documentName(tt.in, tt.n); got != tt.want {
			t.Errorf("documentName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestThinkingWithPrefill: Claude cannot think after a prefilled assistant turn; the adapter
// sends the request without thinking and says so, rather than a request Bedrock refuses.
func TestThinkingWithPrefill(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := h.b.Chat(callCtx(t), &backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortHigh, Messages: []backend.Message{
		userText("write a haiku"),
		{Role: backend.RoleAssistant, Parts: []backend.Part{{Kind: backend.PartText, Text: "Autumn"}}},
	}})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "prefilled assistant turn") {
		t.Errorf("warnings %q, want one about the prefilled assistant turn", resp.Warnings)
	}
	for _, p := range resp.Parts {
		if p.Kind == backend.PartReasoning {
			t.Error("the reply has reasoning although thinking was off")
		}
	}
}

// capturingTransport keeps the last request's path and body and answers with a canned reply.
type capturingTransport struct {
	cannedTransport
	path string
	body []byte
}

func (c *capturingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.path = r.URL.EscapedPath()
	c.body, _ = io.ReadAll(r.Body)
	return c.cannedTransport.RoundTrip(r)
}

// TestConverseBodyMatchesSDK sends the same text requests through the adapter and through the
// SDK's own serializer and compares what goes on the wire, as JSON values: the adapter writes
// Converse itself (wire.go), and the SDK is the reference.
func TestConverseBodyMatchesSDK(t *testing.T) {
	be := newHarness(t, nil).b
	requests := benchRequests(t)
	for _, id := range []string{
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz",
		"weird id+with space&q?x#y", // every reserved character escaped (bedrock-wire.md §1.3)
	} {
		req := *requests[0].req
		req.ModelID, req.Model = id, nil
		requests = append(requests, struct {
			name string
			req  *backend.ChatRequest
		}{id, &req})
	}
	for _, tc := range requests {
		sdkIn := sdkConverseInput(tc.req)
		if sdkIn == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			sdkWire := &capturingTransport{cannedTransport: cannedTransport{body: benchReplyText}}
			client := bedrockruntime.New(bedrockruntime.Options{
				Region:      "us-east-1",
				Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
				HTTPClient:  &http.Client{Transport: sdkWire},
				Retryer:     aws.NopRetryer{},
			})
			if _, err := client.Converse(callCtx(t), sdkIn); err != nil {
				t.Fatal(err)
			}
			ours := &capturingTransport{cannedTransport: cannedTransport{body: benchReplyText}}
			be.transport.client = &http.Client{Transport: ours}
			if _, err := be.Chat(callCtx(t), tc.req); err != nil {
				t.Fatal(err)
			}
			if ours.path != sdkWire.path {
				t.Errorf("path %s, the SDK's %s", ours.path, sdkWire.path)
			}
			var got, want any
			if err := json.Unmarshal(ours.body, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(sdkWire.body, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("body\n%s\nthe SDK's\n%s", ours.body, sdkWire.body)
			}
		})
	}
}

// TestRequestOptionsOnTheWire: each Bedrock option of a request lands in its Converse member, top_k
// in the family's own field, and the caller's additionalModelRequestFields over Strata's.
func TestRequestOptionsOnTheWire(t *testing.T) {
	be := newHarness(t, nil).b
	wire := &capturingTransport{cannedTransport: cannedTransport{body: benchReplyText}}
	be.transport.client = &http.Client{Transport: wire}
	tests := []struct {
		name        string
		req         backend.ChatRequest
		want        string // the members of the body beyond messages and inferenceConfig, as JSON
		wantWarning string
	}{
		{name: "top_k on claude", req: backend.ChatRequest{ModelID: claudeHaiku, TopK: ptr(40)},
			want: `{"additionalModelRequestFields":{"top_k":40}}`},
		{name: "top_k on a thinking claude", req: backend.ChatRequest{ModelID: claudeHaiku, TopK: ptr(40), Effort: backend.EffortLow},
			want: `{"additionalModelRequestFields":{"thinking":{"budget_tokens":1024,"type":"enabled"}}}`, wantWarning: "top_k 40 dropped: Claude restricts it while thinking"},
		{name: "top_k on nova", req: backend.ChatRequest{ModelID: novaMicro, TopK: ptr(20)},
			want: `{"additionalModelRequestFields":{"inferenceConfig":{"topK":20}}}`},
		{name: "top_k where it has no field", req: backend.ChatRequest{ModelID: "meta.llama3-1-8b-instruct-v1:0", TopK: ptr(5)},
			want: `{}`, wantWarning: "top_k 5 dropped"},
		{name: "tier, latency, guardrail", req: backend.ChatRequest{ModelID: novaMicro, ServiceTier: "flex", LatencyOptimized: true,
			Guardrail: &backend.Guardrail{ID: "gr-1", Version: "DRAFT", Trace: true}},
			want: `{"guardrailConfig":{"guardrailIdentifier":"gr-1","guardrailVersion":"DRAFT","trace":"enabled"},"performanceConfig":{"latency":"optimized"},"serviceTier":{"type":"flex"}}`},
		{name: "the caller's fields win", req: backend.ChatRequest{ModelID: claudeHaiku, TopK: ptr(40), AdditionalFields: map[string]any{"top_k": 7.0, "anthropic_beta": []any{"x"}}},
			want: `{"additionalModelRequestFields":{"anthropic_beta":["x"],"top_k":7}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Messages = []backend.Message{userText("hi")}
			resp, err := be.Chat(callCtx(t), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal(wire.body, &body); err != nil {
				t.Fatal(err)
			}
			delete(body, "messages")
			delete(body, "inferenceConfig")
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body, want) {
				got, _ := json.Marshal(body)
				t.Errorf("body members %s\nwant %s", got, tt.want)
			}
			if w := strings.Join(resp.Warnings, "; "); !strings.Contains(w, tt.wantWarning) || (tt.wantWarning == "") != (w == "") {
				t.Errorf("warnings %q, want %q", w, tt.wantWarning)
			}
		})
	}
}

// TestPromptCacheOnTheWire: cache points travel as Bedrock's cachePoint blocks in tools, system
// and messages; a model without prompt caching gets none (with a warning), a request gets at most
// the model's limit from the catalog (four on Bedrock; the last ones kept), and "auto" adds them
// after the tools and the system prompt where the prefix is long enough to cache.
func TestPromptCacheOnTheWire(t *testing.T) {
	wire := &capturingTransport{cannedTransport: cannedTransport{body: benchReplyText}}
	be := newHarness(t, nil).b
	be.transport.client = &http.Client{Transport: wire}
	// A catalog in which Claude Opus 4.1 takes two cache points: the limit is the catalog's.
	cat := testCatalog(t)
	models := slices.Clone(cat.Models())
	for i := range models {
		if models[i].ID == "anthropic.claude-opus-4-1-20250805-v1:0" {
			models[i].MaxCachePoints = 2
		}
	}
	raw, err := json.Marshal(map[string]any{"models": models})
	if err != nil {
		t.Fatal(err)
	}
	twoPoints, err := catalog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	beTwo := newHarness(t, func(_ *emulator.Options, bo *Options) { bo.Catalog = twoPoints }).b
	beTwo.transport.client = &http.Client{Transport: wire}
	point := backend.Part{Kind: backend.PartCachePoint}
	long := strings.Repeat("You are a careful research assistant. ", 150) // ~1,400 tokens
	cached := func(texts ...string) []backend.Part { return append(system(texts...), point) }
	longTools := []backend.Tool{weatherTool, {Name: "search_papers", Description: long}}
	tests := []struct {
		name        string
		req         backend.ChatRequest
		limitTwo    bool   // the catalog in which Opus 4.1 takes two cache points
		want        string // where the cache points are: t(ools), s(ystem), m(essage index)
		wantWarning string
	}{
		{name: "explicit, on claude", want: "t s m0",
			req: backend.ChatRequest{ModelID: claudeOpus41, System: cached("be brief"),
				Tools:    []backend.Tool{{Name: "get_weather", CachePoint: true}},
				Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: "hi"}, point}}}}},
		{name: "a model without caching", want: "", wantWarning: "2 cache points dropped: meta.llama3-1-8b-instruct-v1:0 has no prompt caching",
			req: backend.ChatRequest{ModelID: "meta.llama3-1-8b-instruct-v1:0", System: cached("be brief"),
				Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: "hi"}, point}}}}},
		{name: "more than four", want: "m0 m0 m0 m0", wantWarning: "1 cache points dropped: Bedrock takes at most 4",
			req: backend.ChatRequest{ModelID: claudeOpus41, System: cached("be brief"),
				Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{
					{Kind: backend.PartText, Text: "a"}, point, {Kind: backend.PartText, Text: "b"}, point,
					{Kind: backend.PartText, Text: "c"}, point, {Kind: backend.PartText, Text: "d"}, point}}}}},
		{name: "the catalog's limit", limitTwo: true, want: "m0 m0", wantWarning: "3 cache points dropped: Bedrock takes at most 2 in a request to anthropic.claude-opus-4-1-20250805-v1:0",
			req: backend.ChatRequest{ModelID: claudeOpus41, System: cached("be brief"),
				Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{
					{Kind: backend.PartText, Text: "a"}, point, {Kind: backend.PartText, Text: "b"}, point,
					{Kind: backend.PartText, Text: "c"}, point, {Kind: backend.PartText, Text: "d"}, point}}}}},
		{name: "auto after a long tool list", want: "t",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, Tools: longTools, Messages: []backend.Message{userText("hi")}}},
		// The system prompt's point caches the tools and the system prompt: the prefix counts both.
		{name: "auto after a long tool list and a short system prompt", want: "t s",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, Tools: longTools, System: system("be brief"), Messages: []backend.Message{userText("hi")}}},
		{name: "auto, short tools and a long system prompt", want: "s",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, Tools: []backend.Tool{weatherTool}, System: system(long), Messages: []backend.Message{userText("hi")}}},
		{name: "auto, the tool list already cached by the caller", want: "t s",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, Tools: []backend.Tool{weatherTool, {Name: "search_papers", Description: long, CachePoint: true}},
				System: system(long), Messages: []backend.Message{userText("hi")}}},
		{name: "auto within the catalog's limit", limitTwo: true, want: "s m0", wantWarning: "1 cache points dropped: Bedrock takes at most 2",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, Tools: longTools, System: system(long),
				Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: "hi"}, point}}}}},
		{name: "auto after a long system prompt", want: "s",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, System: system(long), Messages: []backend.Message{userText("hi")}}},
		{name: "auto, a system prompt too short to cache", want: "",
			req: backend.ChatRequest{ModelID: claudeOpus41, AutoCache: true, System: system("be brief"), Messages: []backend.Message{userText("hi")}}},
		{name: "auto on a model without caching", want: "",
			req: backend.ChatRequest{ModelID: "meta.llama3-1-8b-instruct-v1:0", AutoCache: true, System: system(long), Messages: []backend.Message{userText("hi")}}},
		// Nova caches system prompts and messages only: no point after its tools, auto or explicit.
		{name: "auto on nova: after the system prompt, not the tools", want: "s",
			req: backend.ChatRequest{ModelID: novaMicro, AutoCache: true, Tools: longTools, System: system("be brief"), Messages: []backend.Message{userText("hi")}}},
		{name: "explicit tool point on nova", want: "s", wantWarning: "1 cache points dropped from the tool list: amazon.nova-micro-v1:0 caches system prompts and messages only",
			req: backend.ChatRequest{ModelID: novaMicro, System: cached(long), Tools: []backend.Tool{{Name: "get_weather", CachePoint: true}}, Messages: []backend.Message{userText("hi")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := be
			if tt.limitTwo {
				b = beTwo
			}
			resp, err := b.Chat(callCtx(t), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				ToolConfig struct {
					Tools []map[string]json.RawMessage `json:"tools"`
				} `json:"toolConfig"`
				System   []map[string]json.RawMessage `json:"system"`
				Messages []struct {
					Content []map[string]json.RawMessage `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(wire.body, &body); err != nil {
				t.Fatal(err)
			}
			var where []string
			isPoint := func(b map[string]json.RawMessage) bool {
				if raw, ok := b["cachePoint"]; ok {
					if string(raw) != `{"type":"default"}` {
						t.Errorf("cache point sent as %s", raw)
					}
					return true
				}
				return false
			}
			for _, b := range body.ToolConfig.Tools {
				if isPoint(b) {
					where = append(where, "t")
				}
			}
			for _, b := range body.System {
				if isPoint(b) {
					where = append(where, "s")
				}
			}
			for i, m := range body.Messages {
				for _, b := range m.Content {
					if isPoint(b) {
						where = append(where, fmt.Sprintf("m%d", i))
					}
				}
			}
			if got := strings.Join(where, " "); got != tt.want {
				t.Errorf("cache points at %q, want %q", got, tt.want)
			}
			if w := strings.Join(resp.Warnings, "; "); !strings.Contains(w, tt.wantWarning) || (tt.wantWarning == "") != (w == "") {
				t.Errorf("warnings %q, want %q", w, tt.wantWarning)
			}
		})
	}
}

// TestEveryEffortAndMaxTokensAccepted: for every model that reasons, every effort with max_tokens
// from 1 to the model's limit (the edges of Claude's thinking rules included) makes a request
// the emulator's Bedrock rules accept: reasoning is fitted to the request, never the reverse.
func TestEveryEffortAndMaxTokensAccepted(t *testing.T) {
	h := newHarness(t, nil)
	cat := testCatalog(t)
	var models []*catalog.Model
	for i := range cat.Models() {
		m := &cat.Models()[i]
		if m.Reasoning != "" && !m.IsEmbedding() && m.Lifecycle.Status != "EOL" {
			models = append(models, m)
		}
	}
	if len(models) < 8 {
		t.Fatalf("only %d reasoning models in the catalog", len(models))
	}
	for _, m := range models {
		id := m.ID
		if !m.OnDemand {
			id = m.Profiles[0] + "." + m.ID
		}
		limit := m.MaxOutputTokens
		sizes := []int{1, 2, 100, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 16383, 16384, 16385, limit - 1, limit}
		t.Run(m.ID, func(t *testing.T) {
			t.Parallel()
			for _, effort := range []backend.Effort{backend.EffortLow, backend.EffortMedium, backend.EffortHigh} {
				for _, n := range sizes {
					if n < 1 || n > limit {
						continue
					}
					_, err := h.b.Chat(callCtx(t), &backend.ChatRequest{ModelID: id, Model: m, Effort: effort, MaxTokens: ptr(n),
						Temperature: ptr(0.5), Messages: []backend.Message{userText("Why is the sea salty?")}})
					if err != nil {
						t.Errorf("effort %s, max_tokens %d: %v", effort, n, err)
					}
				}
			}
		})
	}
}
