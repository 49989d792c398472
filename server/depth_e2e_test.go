package server

// End-to-end proofs of issue 6 (Bedrock depth) that need to see what Strata sent to Bedrock: a
// recorder in front of the emulator keeps every runtime request body, so a test can assert the
// wire (a thinking budget, a cache point) as well as the reply the caller got.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/service"
)

// wireRequest is one runtime request Strata sent to Bedrock.
type wireRequest struct {
	model, op string
	body      []byte
}

// decoded is the request's JSON body.
func (r wireRequest) decoded(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("the %s request to %s is not JSON: %v", r.op, r.model, err)
	}
	return m
}

// wireRecorder is a test-only http.Handler in front of the emulator: it keeps each runtime
// request (/model/{id}/{operation}) and passes it on unchanged.
type wireRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []wireRequest
}

func (rec *wireRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/"); ok {
		if id, op, ok := strings.Cut(rest, "/"); ok {
			body, _ := io.ReadAll(r.Body) // the emulator reads it again below
			r.Body = io.NopCloser(bytes.NewReader(body))
			model, _ := url.PathUnescape(id)
			rec.mu.Lock()
			rec.reqs = append(rec.reqs, wireRequest{model: model, op: op, body: body})
			rec.mu.Unlock()
		}
	}
	rec.next.ServeHTTP(w, r)
}

// find returns the requests of an operation ("" for any) whose body holds marker, in order.
func (rec *wireRecorder) find(op, marker string) []wireRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []wireRequest
	for _, r := range rec.reqs {
		if (op == "" || r.op == op) && bytes.Contains(r.body, []byte(marker)) {
			out = append(out, r)
		}
	}
	return out
}

// only returns the one request of an operation whose body holds marker, or fails.
func (rec *wireRecorder) only(t *testing.T, op, marker string) map[string]any {
	t.Helper()
	reqs := rec.find(op, marker)
	if len(reqs) != 1 {
		t.Fatalf("%d %s requests hold %q, want 1", len(reqs), op, marker)
	}
	return reqs[0].decoded(t)
}

// startRecorded serves Strata with --backend bedrock against an emulator built from opts, behind
// a wireRecorder, with environ over the harness defaults.
func startRecorded(t *testing.T, opts emulator.Options, environ map[string]string) (*harness, *wireRecorder) {
	t.Helper()
	const key, secret = "AKIDWIRE", "wire-secret"
	opts.AccessKeyID, opts.SecretAccessKey = key, secret
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &wireRecorder{next: emu}
	env := map[string]string{"API_BASE": listenEmulator(t, rec), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
	for k, v := range environ {
		env[k] = v
	}
	return startStrataWith(t, harnessOptions{backend: BackendBedrock, emu: emu, environ: env}), rec
}

// at walks a decoded JSON body: keys for objects, ints for arrays; nil when the path is absent.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k < 0 {
				k += len(a)
			}
			if k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// TestReasoningBudgetsOnTheWire: the configured REASONING_BUDGET_LOW/MEDIUM/HIGH and a map
// entry's reasoning_budget are the budget_tokens Strata sends Bedrock, unary and streamed, with
// max_tokens above them as Claude requires; a request's own effort replaces the entry's budget.
func TestReasoningBudgetsOnTheWire(t *testing.T) {
	t.Parallel()
	h, rec := startRecorded(t, emulator.Options{}, map[string]string{
		"REASONING_BUDGET_LOW": "1500", "REASONING_BUDGET_MEDIUM": "3000", "REASONING_BUDGET_HIGH": "9000",
		"CHAT_MODEL_MAP": `{"deep": {"model": "` + claudeSonnet + `", "reasoning_effort": "high", "reasoning_budget": "2500"},
			"plain": {"model": "` + claudeSonnet + `", "reasoning_effort": "medium"}}`,
	})
	tests := []struct {
		name       string
		req        *stratav1.ChatRequest
		wantBudget float64
	}{
		{"low", &stratav1.ChatRequest{Model: claudeSonnet, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW}, 1500},
		{"medium", &stratav1.ChatRequest{Model: claudeSonnet, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_MEDIUM}, 3000},
		{"high", &stratav1.ChatRequest{Model: claudeSonnet, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_HIGH}, 9000},
		{"the entry's reasoning_budget", &stratav1.ChatRequest{Tag: "research.deep"}, 2500},
		{"an entry's effort without a budget", &stratav1.ChatRequest{Tag: "plain"}, 3000},
		{"the request's effort over the entry's budget", &stratav1.ChatRequest{Tag: "deep", ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW}, 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			marker := "Budget probe: " + tt.name + "."
			tt.req.Messages = user(marker)
			resp, err := h.client.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.GetModel() != claudeSonnet || resp.GetReasoning() == "" {
				t.Errorf("model %q, reasoning %q: want %s thinking", resp.GetModel(), resp.GetReasoning(), claudeSonnet)
			}
			if _, err := chatStream(t, h, tt.req); err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			for _, op := range []string{"converse", "converse-stream"} {
				body := rec.only(t, op, marker)
				thinking := at(body, "additionalModelRequestFields", "thinking")
				if at(thinking, "type") != "enabled" || at(thinking, "budget_tokens") != tt.wantBudget {
					t.Errorf("%s: thinking %v, want enabled with budget_tokens %v", op, thinking, tt.wantBudget)
				}
				// No max_tokens asked: the budget plus room for the answer.
				if maxTokens, _ := at(body, "inferenceConfig", "maxTokens").(float64); maxTokens != tt.wantBudget+4096 {
					t.Errorf("%s: maxTokens %v, want budget + 4096 = %v", op, maxTokens, tt.wantBudget+4096)
				}
			}
		})
	}
}

// formatFaults are the emulator's reply faults for a test of response formats, escaped.
func formatFaults(t *testing.T, specs ...string) []emulator.Fault {
	t.Helper()
	var out []emulator.Fault
	for _, s := range specs {
		reply, rest, _ := strings.Cut(s, "|")
		spec := "reply=" + url.QueryEscape(reply)
		if rest != "" {
			spec += "," + rest
		}
		out = append(out, mustFault(t, spec))
	}
	return out
}

// TestChatResponseFormatRetry: a first reply that breaks the response format is sent back once
// with what is wrong, and a valid second reply is the answer: both calls are billed, the retry
// is said in warnings and attempts, and the second request carries the bad reply and the
// correction. The native way (Claude Haiku 4.5) and instructions while thinking (Claude 3.7).
func TestChatResponseFormatRetry(t *testing.T) {
	t.Parallel()
	const prose = "Canberra is the capital of Australia, with about 460,000 people."
	const valid = `{"city":"Canberra","population":460000,"capital":true}`
	tests := []struct {
		name   string
		model  string
		effort stratav1.ReasoningEffort
		faults []string // reply|schedule
		want   string   // the answer's text; "" for whatever valid JSON the model generates
	}{
		{name: "native structured output", model: claudeHaiku, faults: []string{prose + "|times=1"}},
		{name: "instructions while thinking", model: claude37, effort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW,
			faults: []string{prose + "|times=1", valid}, want: valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, rec := startRecorded(t, emulator.Options{Faults: formatFaults(t, tt.faults...)}, nil)
			req := &stratav1.ChatRequest{Model: tt.model, ReasoningEffort: tt.effort, ResponseFormat: cityFormat(t),
				Messages: user("Give me the facts about Canberra.")}
			resp, err := h.client.Chat(t.Context(), req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			wantSchemaValid(t, req.GetResponseFormat(), resp.GetText())
			if tt.want != "" && resp.GetText() != tt.want {
				t.Errorf("text %q, want the corrected reply %q", resp.GetText(), tt.want)
			}
			if resp.GetAttempts() != 2 || !strings.Contains(strings.Join(resp.GetWarnings(), "; "), "the first reply was sent back because the reply is not JSON") {
				t.Errorf("attempts %d, warnings %q: want the retry said", resp.GetAttempts(), resp.GetWarnings())
			}
			calls := rec.find("converse", "Canberra")
			if len(calls) != 2 {
				t.Fatalf("%d Converse calls, want the reply and its correction", len(calls))
			}
			msgs, _ := at(calls[1].decoded(t), "messages").([]any)
			if len(msgs) != 3 || at(msgs, 1, "role") != "assistant" || at(msgs, 1, "content", 0, "text") != prose ||
				!strings.Contains(at(msgs, 2, "content", 0, "text").(string), "That reply cannot be used: the reply is not JSON") {
				t.Errorf("the correction sent %v, want the bad reply and what is wrong with it", msgs)
			}
			// Usage and cost are both calls': the second reads the first's input and more.
			count, err := h.client.CountTokens(t.Context(), req)
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			if in := resp.GetUsage().GetInputTokens(); !count.GetExact() || in <= 2*count.GetInputTokens() {
				t.Errorf("input tokens %d, one call's %d (exact: %v): want both calls counted", in, count.GetInputTokens(), count.GetExact())
			}
			wantCost(t, tt.model, resp.GetUsage(), resp.GetCostUsd())
		})
	}
}

// TestChatResponseFormatBroken: a reply that is JSON but breaks the schema is refused, after its
// one correction, with a status that names the broken rule; a stream ends with the same error.
// A reply in a Markdown code fence, as models asked in words write it, is unwrapped.
func TestChatResponseFormatBroken(t *testing.T) {
	t.Parallel()
	const negative = `{"city":"Canberra","population":-5,"capital":true}`
	const inner = `{"city":"Canberra","population":460000,"capital":false}`
	fenced := "```json\n" + inner + "\n```"
	h, _ := startRecorded(t, emulator.Options{Faults: formatFaults(t, negative+"|model="+claude37, fenced+"|model="+claudeHaiku)}, nil)
	thinking := &stratav1.ChatRequest{Model: claude37, ReasoningEffort: stratav1.ReasoningEffort_REASONING_EFFORT_LOW,
		ResponseFormat: cityFormat(t), Messages: user("Give me the facts about Canberra.")}
	_, err := h.client.Chat(t.Context(), thinking)
	wantCode(t, err, codes.Internal)
	if info := errorInfo(t, err); info.GetReason() != service.ReasonFormatViolated {
		t.Errorf("reason %q, want %q", info.GetReason(), service.ReasonFormatViolated)
	}
	if msg := err.Error(); !strings.Contains(msg, "does not match the schema") || !strings.Contains(msg, "/population") ||
		!strings.Contains(msg, "minimum") || !strings.Contains(msg, "2 tries") {
		t.Errorf("message %q does not name the broken rule (population's minimum) and the tries", msg)
	}
	_, err = chatStream(t, h, thinking)
	wantCode(t, err, codes.Internal)
	if msg := err.Error(); !strings.Contains(msg, "minimum") {
		t.Errorf("stream error %q does not name the broken rule", msg)
	}

	native := &stratav1.ChatRequest{Model: claudeHaiku, ResponseFormat: cityFormat(t), Messages: user("Give me the facts about Canberra.")}
	resp, err := h.client.Chat(t.Context(), native)
	if err != nil {
		t.Fatalf("Chat with a fenced reply: %v", err)
	}
	if resp.GetText() != inner || resp.GetAttempts() != 1 {
		t.Errorf("text %q after %d attempts, want %q unwrapped at once", resp.GetText(), resp.GetAttempts(), inner)
	}
	if parts := resp.GetMessage().GetParts(); len(parts) != 1 || parts[0].GetText() != inner {
		t.Errorf("message parts %v, want the unwrapped JSON", parts)
	}
	// A stream's deltas are out before the reply can be judged: they carry the fence, and the
	// stream ends well because the JSON inside it is valid.
	events, err := chatStream(t, h, native)
	if err != nil {
		t.Fatalf("ChatStream with a fenced reply: %v", err)
	}
	if _, got, end := joinDeltas(t, events); got.text != fenced || end.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN {
		t.Errorf("streamed %q, stop %v; want the fenced reply and its end", got.text, end.GetStopReason())
	}
}

// TestChatParallelToolCalls: a question that needs two tools gets both called in one turn,
// unary and streamed (each call its index, id and JSON arguments); both results go back in the
// next turn (as two tool messages, which Strata joins into the one user turn Bedrock requires) and
// the model answers from them. With Claude thinking, the thinking block goes back first.
func TestChatParallelToolCalls(t *testing.T) {
	t.Parallel()
	h, rec := startRecorded(t, emulator.Options{}, nil)
	tests := []struct {
		name   string
		model  string
		effort stratav1.ReasoningEffort
	}{
		{"nova", novaMicro, stratav1.ReasoningEffort_REASONING_EFFORT_UNSPECIFIED},
		{"claude", claudeHaiku, stratav1.ReasoningEffort_REASONING_EFFORT_UNSPECIFIED},
		{"claude thinking", claudeSonnet, stratav1.ReasoningEffort_REASONING_EFFORT_LOW},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			question := &stratav1.Message{Role: stratav1.Role_ROLE_USER, Text: "For Paris (" + tt.name + "), call get_weather and get_time."}
			req := &stratav1.ChatRequest{Model: tt.model, ReasoningEffort: tt.effort, Tools: weatherTools, Messages: []*stratav1.Message{question}}
			first, err := h.client.Chat(t.Context(), req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			calls := toolCalls(first.GetMessage())
			if first.GetStopReason() != stratav1.StopReason_STOP_REASON_TOOL_USE || len(calls) != 2 ||
				calls[0].GetName() != "get_weather" || calls[1].GetName() != "get_time" || calls[0].GetId() == calls[1].GetId() {
				t.Fatalf("stop %v, calls %v: want get_weather and get_time in one turn", first.GetStopReason(), calls)
			}
			if thinks := first.GetMessage().GetParts()[0].GetReasoning() != nil; thinks != (tt.effort != stratav1.ReasoningEffort_REASONING_EFFORT_UNSPECIFIED) {
				t.Errorf("the reply starts with reasoning: %v", thinks)
			}

			events, err := chatStream(t, h, req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			_, streamed, end := joinDeltas(t, events)
			if len(streamed.toolArgs) != 2 || end.GetStopReason() != stratav1.StopReason_STOP_REASON_TOOL_USE {
				t.Fatalf("streamed calls %v, stop %v: want two", streamed.toolArgs, end.GetStopReason())
			}
			for i, call := range calls {
				var args map[string]any
				if err := json.Unmarshal([]byte(streamed.toolArgs[int32(i)]), &args); err != nil {
					t.Fatalf("call %d: joined arguments %q are not JSON: %v", i, streamed.toolArgs[int32(i)], err)
				}
				if streamed.toolIDs[int32(i)] != call.GetId() || streamed.toolNames[int32(i)] != call.GetName() || !reflect.DeepEqual(args, call.GetArguments().AsMap()) {
					t.Errorf("streamed call %d: %s %s %v; unary %v", i, streamed.toolIDs[int32(i)], streamed.toolNames[int32(i)], args, call)
				}
			}

			result := func(call *stratav1.ToolCall, text string) *stratav1.Message {
				return &stratav1.Message{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolResult{ToolResult: &stratav1.ToolResult{Id: call.GetId(), Content: text}}}}}
			}
			weather, clock := "18 °C, clear ("+tt.name+")", "14:05 CET ("+tt.name+")"
			answer, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: tt.model, ReasoningEffort: tt.effort, Tools: weatherTools,
				Messages: []*stratav1.Message{question, first.GetMessage(), result(calls[0], weather), result(calls[1], clock)}})
			if err != nil {
				t.Fatalf("Chat with both results: %v", err)
			}
			if answer.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN || !strings.Contains(answer.GetText(), weather+" "+clock) {
				t.Errorf("stop %v, text %q: want an answer from both results", answer.GetStopReason(), answer.GetText())
			}
			for _, w := range answer.GetWarnings() {
				if strings.Contains(w, "reasoning off") {
					t.Errorf("thinking was turned off for the answer: %q", w)
				}
			}
			sent := rec.only(t, "converse", clock)
			last, _ := at(sent, "messages", -1, "content").([]any)
			if len(last) != 2 || at(last, 0, "toolResult", "toolUseId") != calls[0].GetId() || at(last, 1, "toolResult", "toolUseId") != calls[1].GetId() {
				t.Errorf("the last turn sent %v, want both tool results in one user turn", last)
			}
		})
	}
}

// TestChatStreamToolWithoutArguments: Bedrock streams a call of a tool without arguments with no
// toolUse.input at all; the joined arguments_json deltas are still a JSON object, {}.
func TestChatStreamToolWithoutArguments(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	now := &stratav1.Tool{Name: "now", Description: "The time now", InputSchema: mustStruct(map[string]any{"type": "object", "properties": map[string]any{}})}
	for _, model := range []string{novaMicro, claudeHaiku} {
		req := &stratav1.ChatRequest{Model: model, Tools: []*stratav1.Tool{now}, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_ANY},
			Messages: user("What time is it?")}
		events, err := chatStream(t, h, req)
		if err != nil {
			t.Fatalf("%s: ChatStream: %v", model, err)
		}
		_, got, _ := joinDeltas(t, events)
		if len(got.toolArgs) != 1 || got.toolArgs[0] != "{}" || got.toolNames[0] != "now" {
			t.Errorf("%s: streamed calls %v (args %q), want now with {}", model, got.toolNames, got.toolArgs)
		}
		resp, err := h.client.Chat(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: Chat: %v", model, err)
		}
		if calls := toolCalls(resp.GetMessage()); len(calls) != 1 || len(calls[0].GetArguments().GetFields()) != 0 {
			t.Errorf("%s: calls %v, want now without arguments", model, calls)
		}
	}
}

// redactedTrigger is Anthropic's documented test string for redacted thinking.
const redactedTrigger = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"

// TestChatRedactedThinking: Claude's redacted thinking comes back as a reasoning part with its
// encrypted bytes (and no text), and streamed as one reasoning_redacted delta with the same bytes;
// the turn sent back reaches Bedrock as the same redactedContent, which Bedrock accepts, in a
// plain conversation and in a tool round (where it stands for the thinking block Claude requires
// before the tool use).
func TestChatRedactedThinking(t *testing.T) {
	t.Parallel()
	h, rec := startRecorded(t, emulator.Options{}, nil)
	low := stratav1.ReasoningEffort_REASONING_EFFORT_LOW
	question := &stratav1.Message{Role: stratav1.Role_ROLE_USER, Text: redactedTrigger}
	req := &stratav1.ChatRequest{Model: claude37, ReasoningEffort: low, Messages: []*stratav1.Message{question}}
	first, err := h.client.Chat(t.Context(), req)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	redacted := func(t *testing.T, m *stratav1.Message) []byte {
		t.Helper()
		parts := m.GetParts()
		r := parts[0].GetReasoning()
		if r == nil || len(r.GetRedacted()) == 0 || r.GetText() != "" || r.GetSignature() != "" {
			t.Fatalf("parts %v, want redacted reasoning first", parts)
		}
		return r.GetRedacted()
	}
	data := redacted(t, first.GetMessage())
	if first.GetReasoning() != "" || first.GetText() == "" {
		t.Errorf("reasoning %q, text %q: want no reasoning text, and the answer", first.GetReasoning(), first.GetText())
	}

	events, err := chatStream(t, h, req)
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	var streamed []byte
	var reasoningText strings.Builder
	for _, ev := range events {
		streamed = append(streamed, ev.GetDelta().GetReasoningRedacted()...)
		reasoningText.WriteString(ev.GetDelta().GetReasoning())
	}
	if !bytes.Equal(streamed, data) || reasoningText.Len() != 0 {
		t.Errorf("streamed redacted %d bytes (%d of text), unary %d: want the same bytes", len(streamed), reasoningText.Len(), len(data))
	}

	// Sent back: the same bytes reach Bedrock, which answers (redacted again: the string is
	// still in the history, as recorded).
	again, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: claude37, ReasoningEffort: low, Messages: []*stratav1.Message{
		question, first.GetMessage(), {Role: stratav1.Role_ROLE_USER, Text: "What was that?"}}})
	if err != nil {
		t.Fatalf("Chat with the redacted turn: %v", err)
	}
	redacted(t, again.GetMessage())
	sent := rec.only(t, "converse", "What was that?")
	if got := at(sent, "messages", 1, "content", 0, "reasoningContent", "redactedContent"); got != base64.StdEncoding.EncodeToString(data) {
		t.Errorf("the assistant turn went back as %v, want its redactedContent unchanged", at(sent, "messages", 1))
	}

	// A tool round: redacted thinking, then the call; the result goes back after both.
	tools := &stratav1.ChatRequest{Model: claude37, ReasoningEffort: low, Tools: weatherTools, Messages: []*stratav1.Message{
		{Role: stratav1.Role_ROLE_USER, Text: redactedTrigger + " What is the weather in Oslo?"}}}
	call, err := h.client.Chat(t.Context(), tools)
	if err != nil {
		t.Fatalf("Chat with tools: %v", err)
	}
	redacted(t, call.GetMessage())
	calls := toolCalls(call.GetMessage())
	if len(calls) != 1 {
		t.Fatalf("calls %v, want one", calls)
	}
	tools.Messages = append(tools.Messages, call.GetMessage(), &stratav1.Message{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{
		{Kind: &stratav1.Part_ToolResult{ToolResult: &stratav1.ToolResult{Id: calls[0].GetId(), Content: "Snow."}}}}})
	answer, err := h.client.Chat(t.Context(), tools)
	if err != nil {
		t.Fatalf("Chat with the tool result after redacted thinking: %v", err)
	}
	if answer.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN || strings.Contains(strings.Join(answer.GetWarnings(), " "), "reasoning off") {
		t.Errorf("stop %v, warnings %q: want an answer with thinking on", answer.GetStopReason(), answer.GetWarnings())
	}
}

// TestChatAutoCachePoints: a map entry with "cache": "auto" puts a cache point after a tool list
// long enough to cache (the wire shows it), and the tools are written to Bedrock's prompt cache
// by the first call and read by the next, priced at their rates; cache points beyond the model's
// limit are dropped, the last ones kept, with a warning; a "1h" TTL reaches Bedrock as written.
func TestChatAutoCachePoints(t *testing.T) {
	t.Parallel()
	h, rec := startRecorded(t, emulator.Options{}, map[string]string{
		"CHAT_MODEL_MAP": `{"agent": {"model": "` + claudeSonnet + `", "cache": "auto"}}`,
	})
	manual := strings.Repeat("Search the literature for papers on the topic, newest first, and list their titles. ", 80) // ~1,600 tokens
	tools := []*stratav1.Tool{weatherTools[0], {Name: "search_papers", Description: manual, InputSchema: mustStruct(map[string]any{
		"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}, "required": []any{"query"}})}}
	ask := func(q string) *stratav1.ChatRequest {
		return &stratav1.ChatRequest{Tag: "agent.step", Tools: tools, Messages: user(q)}
	}
	first, err := h.client.Chat(t.Context(), ask("Which papers on glaciers are new?"))
	if err != nil {
		t.Fatalf("first Chat: %v", err)
	}
	second, err := h.client.Chat(t.Context(), ask("And on sea ice?"))
	if err != nil {
		t.Fatalf("second Chat: %v", err)
	}
	sent := rec.only(t, "converse", "glaciers")
	wireTools, _ := at(sent, "toolConfig", "tools").([]any)
	if len(wireTools) != 3 || !reflect.DeepEqual(at(wireTools, 2), map[string]any{"cachePoint": map[string]any{"type": "default"}}) || at(sent, "system") != nil {
		t.Errorf("tools sent %v, system %v: want the two tools then a cache point, and no system prompt", wireTools, at(sent, "system"))
	}
	if w := first.GetUsage().GetCacheWriteTokens(); w < 1024 || first.GetUsage().GetCacheReadTokens() != 0 {
		t.Errorf("first call usage %v, want the tool list written to the cache", first.GetUsage())
	}
	if r := second.GetUsage().GetCacheReadTokens(); r != first.GetUsage().GetCacheWriteTokens() || second.GetUsage().GetCacheWriteTokens() != 0 {
		t.Errorf("second call usage %v, want the %d cached tokens read", second.GetUsage(), first.GetUsage().GetCacheWriteTokens())
	}
	wantCost(t, claudeSonnet, first.GetUsage(), first.GetCostUsd())
	wantCost(t, claudeSonnet, second.GetUsage(), second.GetCostUsd())

	// Five cache points: the model takes four (catalog/models.json), the last ones.
	point := func(ttl string) *stratav1.Part {
		return &stratav1.Part{Kind: &stratav1.Part_CachePoint{CachePoint: &stratav1.CachePoint{Ttl: ttl}}}
	}
	text := func(s string) *stratav1.Part { return &stratav1.Part{Kind: &stratav1.Part_Text{Text: s}} }
	many := &stratav1.ChatRequest{Model: claudeSonnet, Messages: []*stratav1.Message{
		{Role: stratav1.Role_ROLE_SYSTEM, Parts: []*stratav1.Part{text(manual), point("")}},
		{Role: stratav1.Role_ROLE_USER, Parts: []*stratav1.Part{text("Limit probe: a"), point(""), text("b"), point(""), text("c"), point(""), text("d"), point("1h")}},
	}}
	resp, err := h.client.Chat(t.Context(), many)
	if err != nil {
		t.Fatalf("Chat with five cache points: %v", err)
	}
	if w := strings.Join(resp.GetWarnings(), "; "); !strings.Contains(w, "1 cache points dropped: Bedrock takes at most 4") {
		t.Errorf("warnings %q, want the dropped cache point said", w)
	}
	sent = rec.only(t, "converse", "Limit probe")
	if sys, _ := at(sent, "system").([]any); len(sys) != 1 {
		t.Errorf("system sent %v, want the first cache point dropped", sys)
	}
	var points []any
	content, _ := at(sent, "messages", 0, "content").([]any)
	for _, b := range content {
		if cp := at(b, "cachePoint"); cp != nil {
			points = append(points, cp)
		}
	}
	if len(points) != 4 || !reflect.DeepEqual(points[3], map[string]any{"type": "default", "ttl": "1h"}) {
		t.Errorf("message cache points %v, want four, the last with its 1h TTL", points)
	}
	if resp.GetUsage().GetCacheWriteTokens() < 1024 {
		t.Errorf("usage %v, want the prefix written", resp.GetUsage())
	}
}

// TestCostByRoutingTier: the same call costs exactly what the price table says for the id it
// went to: usage × the model's prices, 10% more for Claude 4.5 in a region or through us. than
// through global.; Nova the same everywhere. A bare id of a model served only through profiles is
// priced at the tier of the profile it was routed to. The prices are written out here, from
// Bedrock's price list, rather than read from the catalog under test.
func TestCostByRoutingTier(t *testing.T) {
	t.Parallel()
	const haiku, sonnet, nova = "anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.nova-micro-v1:0"
	geo := startStrata(t, nil)
	global := startStrata(t, map[string]string{"PREFER_GLOBAL_PROFILES": "true"})
	tests := []struct {
		name          string
		h             *harness
		model         string
		wantModel     string
		input, output float64 // US dollars per million tokens, global or in-region list price
		premium       float64 // the share added for the tier
	}{
		{"haiku in region", geo, haiku, haiku, 1, 5, 0.1},
		{"haiku through us.", geo, "us." + haiku, "us." + haiku, 1, 5, 0.1},
		{"haiku through global.", geo, "global." + haiku, "global." + haiku, 1, 5, 0},
		{"a bare sonnet routed to us.", geo, sonnet, "us." + sonnet, 3, 15, 0.1},
		{"a bare sonnet routed to global.", global, sonnet, "global." + sonnet, 3, 15, 0},
		{"nova in region", geo, nova, nova, 0.035, 0.14, 0},
		{"nova through us.", geo, "us." + nova, "us." + nova, 0.035, 0.14, 0},
	}
	var haikuUsage *stratav1.Usage
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: tt.model, Messages: user("Name three rivers of France.")})
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.GetModel() != tt.wantModel || resp.GetPriceUnknown() {
				t.Errorf("model %q (price unknown: %v), want %q", resp.GetModel(), resp.GetPriceUnknown(), tt.wantModel)
			}
			u := resp.GetUsage()
			want := (float64(u.GetInputTokens())*tt.input + float64(u.GetOutputTokens())*tt.output) / 1e6 * (1 + tt.premium)
			if u.GetOutputTokens() == 0 || math.Abs(resp.GetCostUsd()-want) > 1e-12 {
				t.Errorf("cost_usd = %v, want %v for usage %v", resp.GetCostUsd(), want, u)
			}
			if strings.Contains(tt.name, "haiku") {
				if haikuUsage != nil && !proto.Equal(u, haikuUsage) {
					t.Errorf("usage %v differs from the other haiku calls' %v: the tiers must be compared on the same tokens", u, haikuUsage)
				}
				haikuUsage = u
			}
		})
	}
}

// TestCountTokensByTag: CountTokens resolves a tag as Chat does (the map entry's model and route,
// the defaults when no entry matches) and counts exactly, with Bedrock's CountTokens, for a model
// that has it: the count is the input Chat then uses on the same tag.
func TestCountTokensByTag(t *testing.T) {
	t.Parallel()
	h, rec := startRecorded(t, emulator.Options{}, map[string]string{
		"CHAT_MODEL_MAP": `{"count": {"model": "bedrock/` + claudeHaiku + `"}, "estimate": {"model": "` + novaLite + `"}}`,
	})
	tests := []struct {
		tag, model  string
		wantModel   string
		wantRoute   string
		wantExact   bool
		wantUpCalls int // CountTokens calls to Bedrock
	}{
		{tag: "research.count.step", wantModel: claudeHaiku, wantRoute: "count", wantExact: true, wantUpCalls: 1},
		{tag: "estimate-only", wantModel: novaLite, wantRoute: "estimate"},
		{tag: "nothing matches", wantModel: novaMicro, wantRoute: "default"},
		{tag: "count", model: novaPro, wantModel: novaPro, wantRoute: "count"},
	}
	prompt := strings.Repeat("The river bends twice before it reaches the sea. ", 20)
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			t.Parallel()
			marker := "Count probe " + tt.tag + "."
			req := &stratav1.ChatRequest{Tag: tt.tag, Model: tt.model, Tools: weatherTools, Messages: []*stratav1.Message{
				{Role: stratav1.Role_ROLE_SYSTEM, Text: "Answer in one sentence."},
				{Role: stratav1.Role_ROLE_USER, Text: marker + " " + prompt},
			}}
			count, err := h.client.CountTokens(t.Context(), req)
			if err != nil {
				t.Fatalf("CountTokens: %v", err)
			}
			if count.GetModel() != tt.wantModel || count.GetRoute() != tt.wantRoute || count.GetExact() != tt.wantExact {
				t.Errorf("count %v, want model %s, route %s, exact %v", count, tt.wantModel, tt.wantRoute, tt.wantExact)
			}
			if n := len(rec.find("count-tokens", marker)); n != tt.wantUpCalls {
				t.Errorf("%d CountTokens calls to Bedrock, want %d", n, tt.wantUpCalls)
			}
			resp, err := h.client.Chat(t.Context(), req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.GetModel() != tt.wantModel || resp.GetRoute() != tt.wantRoute {
				t.Errorf("Chat went to %s by %s, CountTokens counted for %s by %s", resp.GetModel(), resp.GetRoute(), count.GetModel(), count.GetRoute())
			}
			used := resp.GetUsage().GetInputTokens()
			switch n := count.GetInputTokens(); {
			case tt.wantExact && n != used:
				t.Errorf("counted %d input tokens, Chat used %d", n, used)
			case !tt.wantExact && (float64(n) < 0.5*float64(used) || float64(n) > 2*float64(used)):
				t.Errorf("estimated %d input tokens, Chat used %d: not within a factor of 2", n, used)
			}
		})
	}
}
