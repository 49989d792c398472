package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/emulator"
)

// TestChatStreamMatchesChat: the emulator answers the same request the same way, so the stream,
// joined, must say exactly what the unary call says.
func TestChatStreamMatchesChat(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name string
		req  backend.ChatRequest
	}{
		{"text", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("tell me about rivers")}}},
		{"max tokens", backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("tell me about rivers")}, MaxTokens: ptr(5)}},
		{"claude thinking", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortMedium, Temperature: ptr(0.5), Messages: []backend.Message{userText("plan a trip")}}},
		{"tool call", backend.ChatRequest{ModelID: claudeHaiku, Tools: []backend.Tool{weatherTool}, Messages: []backend.Message{userText("weather in Oslo? use get_weather")}}},
		{"thinking then tool call", backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortLow, Tools: []backend.Tool{weatherTool}, Messages: []backend.Message{userText("weather in Oslo? use get_weather")}}},
		// Bedrock streams no toolUse.input for a call without arguments: the fragments must
		// still join into {}, never "".
		{"tool call without arguments", backend.ChatRequest{ModelID: novaMicro, Tools: []backend.Tool{clockTool}, ToolChoice: backend.ToolChoice{Mode: backend.ToolChoiceAny},
			Messages: []backend.Message{userText("what time is it?")}}},
		{"tool without a schema", backend.ChatRequest{ModelID: claudeHaiku, Tools: []backend.Tool{{Name: "ping"}}, ToolChoice: backend.ToolChoice{Mode: backend.ToolChoiceTool, Name: "ping"},
			Messages: []backend.Message{userText("ping it")}}},
		{"parallel tool calls, one without arguments", backend.ChatRequest{ModelID: claudeHaiku, Tools: []backend.Tool{weatherTool, clockTool},
			Messages: []backend.Message{userText("use get_weather for Oslo and now for the time")}}},
		{"response format as a forced tool, any object", backend.ChatRequest{ModelID: novaMicro, Format: backend.ResponseFormat{Kind: backend.FormatJSONObject},
			Messages: []backend.Message{userText("facts about Oslo")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := callCtx(t)
			resp, err := h.b.Chat(ctx, &tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			s, err := h.b.ChatStream(ctx, &tt.req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			got, err := drain(t, s)
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if want := textOf(resp.Parts); got.text != want {
				t.Errorf("stream text %q\nchat text   %q", got.text, want)
			}
			if got.end.StopReason != resp.StopReason || got.end.Usage != resp.Usage {
				t.Errorf("end %s %+v, chat %s %+v", got.end.StopReason, got.end.Usage, resp.StopReason, resp.Usage)
			}
			if r := partsOfKind(resp.Parts, backend.PartReasoning); len(r) > 0 {
				if got.reasoning != r[0].Reasoning.Text || got.signature != r[0].Reasoning.Signature {
					t.Errorf("stream reasoning %q / %q, chat %q / %q", got.reasoning, got.signature, r[0].Reasoning.Text, r[0].Reasoning.Signature)
				}
			}
			calls := partsOfKind(resp.Parts, backend.PartToolCall)
			if len(tt.req.Tools) > 0 && len(calls) == 0 {
				t.Fatalf("no tool call: the case tests nothing")
			}
			if len(got.toolIDs) != len(calls) {
				t.Fatalf("stream tool calls %d, chat %d", len(got.toolIDs), len(calls))
			}
			for i, c := range calls {
				var args map[string]any
				if err := json.Unmarshal([]byte(got.toolArgs[i]), &args); err != nil {
					t.Fatalf("tool call %d: joined fragments %q are not JSON: %v", i, got.toolArgs[i], err)
				}
				if got.toolIDs[i] != c.ToolCall.ID || got.toolNames[i] != c.ToolCall.Name || !reflect.DeepEqual(args, c.ToolCall.Arguments) {
					t.Errorf("tool call %d: stream %s %s %v, chat %+v", i, got.toolIDs[i], got.toolNames[i], args, c.ToolCall)
				}
			}
			if got.kinds[len(got.kinds)-1] != backend.EventEnd {
				t.Errorf("last event %v, want the end", got.kinds[len(got.kinds)-1])
			}
			// After the end, Recv keeps answering io.EOF.
			if _, err := s.Recv(); err == nil {
				t.Errorf("Recv after the end: nil error")
			}
		})
	}
}

// clockTool takes no arguments.
var clockTool = backend.Tool{Name: "now", Description: "The time now", Schema: map[string]any{"type": "object", "properties": map[string]any{}}}

func TestChatStreamWarnings(t *testing.T) {
	h := newHarness(t, nil)
	s, err := h.b.ChatStream(callCtx(t), &backend.ChatRequest{ModelID: claudeHaiku, Effort: backend.EffortHigh, TopP: ptr(0.5), Messages: []backend.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, ok := s.(interface{ Warnings() []string })
	if !ok || len(w.Warnings()) == 0 {
		t.Fatalf("the stream offers no warnings for a request whose top_p was dropped")
	}
	if _, err := drain(t, s); err != nil {
		t.Fatal(err)
	}
}

// TestChatStreamCut: a stream that ends without messageStop and metadata is an error, never a
// short success (bedrock-wire.md §0 item 4); an exception frame maps like the HTTP error.
func TestChatStreamCut(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name       string
		fault      string
		wantKind   backend.Kind
		wantCode   string
		wantEvents int
	}{
		{"cut cleanly", "cut-after=5", backend.KindTruncated, "", 4}, // messageStart carries nothing
		{"cut before anything", "cut-after=1", backend.KindTruncated, "", 0},
		{"cut just before metadata", "cut-after=-1", backend.KindTruncated, "", -1},
		{"throttled mid-stream", "error=throttlingException,cut-after=2", backend.KindThrottled, "ThrottlingException", 1},
		{"model stream error", "error=modelStreamErrorException,cut-after=3", backend.KindUnavailable, "ModelStreamErrorException", 2},
		{"internal server error", "error=internalServerException,cut-after=2", backend.KindUnavailable, "InternalServerException", 1},
		{"service unavailable", "error=serviceUnavailableException,cut-after=2", backend.KindUnavailable, "ServiceUnavailableException", 1},
		{"validation", "error=validationException,cut-after=2", backend.KindInvalid, "ValidationException", 1},
		{"connection reset", "cut-after=4,abort", backend.KindTruncated, "", 3},
	}
	req := backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("tell me about rivers and lakes")}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fault := tt.fault
			if tt.wantEvents == -1 {
				// Everything but metadata: messageStop alone is not an end.
				whole, err := h.b.ChatStream(callCtx(t), &req)
				if err != nil {
					t.Fatal(err)
				}
				j, err := drain(t, whole)
				_ = whole.Close()
				if err != nil {
					t.Fatal(err)
				}
				frames := j.events - 1 + 2 + 1 // content events, messageStart, contentBlockStop, messageStop
				fault = "cut-after=" + strconv.Itoa(frames)
				tt.wantEvents = j.events - 1
			}
			s, err := h.b.ChatStream(withFault(callCtx(t), fault+",op=converse-stream"), &req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			got, err := drain(t, s)
			be := mustKind(t, err, tt.wantKind)
			if be.Code != tt.wantCode {
				t.Errorf("code %q, want %q", be.Code, tt.wantCode)
			}
			if !be.Retryable() && tt.wantKind != backend.KindInvalid {
				t.Errorf("%v is not retryable", be)
			}
			if be.RequestID == "" || be.Model != novaMicro || be.Region != "us-east-1" {
				t.Errorf("error lacks context: %+v", be)
			}
			if got.events != tt.wantEvents {
				t.Errorf("%d events before the error, want %d", got.events, tt.wantEvents)
			}
			if got.end != nil {
				t.Errorf("an end event came before the error")
			}
			// The error sticks.
			if _, err2 := s.Recv(); !errors.Is(err2, err) && err2.Error() != err.Error() {
				t.Errorf("second Recv: %v, want %v", err2, err)
			}
		})
	}
}

// TestChatStreamCancel: cancelling the caller's context or closing the stream mid-reply ends the
// upstream request (the emulator sees its client go) and leaves no goroutine behind.
func TestChatStreamCancel(t *testing.T) {
	tests := []struct {
		name  string
		abort func(cancel context.CancelFunc, s backend.Stream)
	}{
		{"close", func(_ context.CancelFunc, s backend.Stream) { _ = s.Close() }},
		{"cancel the context", func(cancel context.CancelFunc, _ backend.Stream) { cancel() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Slow enough that the reply is still streaming when it is abandoned.
			h := newHarness(t, func(eo *emulator.Options, _ *Options) { eo.TokensPerSecond = 20 })
			req := backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("tell me a long story about rivers")}}
			// Warm the pool so the goroutines of its idle connection predate the snapshot.
			if _, err := h.b.Chat(callCtx(t), &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("hi")}, MaxTokens: ptr(1)}); err != nil {
				t.Fatal(err)
			}
			before := goleak.IgnoreCurrent()

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, err := h.b.ChatStream(ctx, &req)
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := s.Recv(); err != nil || ev.Kind != backend.EventText {
				t.Fatalf("first event %+v, %v", ev, err)
			}
			tt.abort(cancel, s)
			_, err = s.Recv()
			mustKind(t, err, backend.KindCanceled)
			_ = s.Close()
			_ = s.Close() // twice is fine

			waitFor(t, "the emulator to see its client go", func() bool { return h.emu.Stats().ClientGone == 1 })
			if n := h.emu.Stats().Count(emulator.OpConverseStream, "ok"); n != 0 {
				t.Errorf("the emulator finished %d streams, want none", n)
			}
			goleak.VerifyNone(t, before)
		})
	}
}

// TestChatStreamDeadline: the caller's deadline ends a stalled stream as canceled.
func TestChatStreamDeadline(t *testing.T) {
	h := newHarness(t, func(eo *emulator.Options, _ *Options) { eo.TokensPerSecond = 5 })
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	s, err := h.b.ChatStream(ctx, &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("tell me a long story about rivers")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = drain(t, s)
	mustKind(t, err, backend.KindCanceled)
}
