package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestUpstreamErrors injects each Bedrock error into Chat, ChatStream and Embed, with one attempt
// per call, and checks the status each caller gets: code, ErrorInfo and RetryInfo.
func TestUpstreamErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      string
		wantCode   codes.Code
		wantReason string
		wantRetry  time.Duration // RetryInfo's delay; 0 means no RetryInfo
		wantInMsg  string
	}{
		{fault: "error=ThrottlingException", wantCode: codes.ResourceExhausted, wantReason: "BEDROCK_THROTTLED", wantRetry: time.Second, wantInMsg: "throttling"},
		{fault: "error=ThrottlingException,retry-after=3s", wantCode: codes.ResourceExhausted, wantReason: "BEDROCK_THROTTLED", wantRetry: 3 * time.Second},
		{fault: "error=ServiceQuotaExceededException", wantCode: codes.ResourceExhausted, wantReason: "BEDROCK_QUOTA_EXCEEDED"},
		{fault: "error=ModelNotReadyException", wantCode: codes.Unavailable, wantReason: "BEDROCK_MODEL_NOT_READY", wantRetry: time.Second},
		{fault: "error=ServiceUnavailableException", wantCode: codes.Unavailable, wantReason: "BEDROCK_UNAVAILABLE", wantRetry: time.Second},
		{fault: "error=InternalServerException", wantCode: codes.Unavailable, wantReason: "BEDROCK_UNAVAILABLE", wantRetry: time.Second},
		{fault: "error=ModelErrorException", wantCode: codes.Unavailable, wantReason: "BEDROCK_UNAVAILABLE", wantRetry: time.Second},
		{fault: "error=ModelTimeoutException", wantCode: codes.DeadlineExceeded, wantReason: "BEDROCK_MODEL_TIMEOUT", wantRetry: time.Second},
		{fault: "error=AccessDeniedException", wantCode: codes.PermissionDenied, wantReason: "BEDROCK_ACCESS_DENIED", wantInMsg: "bedrock:InvokeModel"},
		{fault: "error=ResourceNotFoundException", wantCode: codes.NotFound, wantReason: "BEDROCK_NOT_FOUND"},
		{fault: "error=ValidationException,message=Malformed input request: #: extraneous key [foo] is not permitted", wantCode: codes.InvalidArgument, wantReason: "BEDROCK_VALIDATION", wantInMsg: "extraneous key [foo]"},
	}
	calls := []struct {
		name  string
		model string
		call  func(t *testing.T, h *harness) error
	}{
		{name: "Chat", model: novaMicro, call: func(t *testing.T, h *harness) error {
			_, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hello")})
			return err
		}},
		{name: "ChatStream", model: novaMicro, call: func(t *testing.T, h *harness) error {
			events, err := chatStream(t, h, &stratav1.ChatRequest{Messages: user("hello")})
			if len(events) > 0 {
				t.Errorf("%d events before the error, want none: the call failed before any output", len(events))
			}
			return err
		}},
		{name: "Embed", model: titanEmbed, call: func(t *testing.T, h *harness) error {
			_, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Inputs: []string{"hello"}})
			return err
		}},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(c.name+"/"+tt.fault, func(t *testing.T) {
				t.Parallel()
				h := startStrata(t, map[string]string{"MAX_RETRY": "1"})
				if err := h.emu.SetFaults(mustFault(t, tt.fault)); err != nil {
					t.Fatal(err)
				}
				err := c.call(t, h)
				wantCode(t, err, tt.wantCode)
				st := status.Convert(err)
				if tt.wantInMsg != "" && !strings.Contains(st.Message(), tt.wantInMsg) {
					t.Errorf("message %q does not mention %q", st.Message(), tt.wantInMsg)
				}
				if !strings.Contains(st.Message(), c.model) {
					t.Errorf("message %q does not name the model %s", st.Message(), c.model)
				}
				info := errorInfo(t, err)
				if !slices.Contains(strings.Split(tt.wantReason, "|"), info.GetReason()) || info.GetDomain() != "strata" {
					t.Errorf("ErrorInfo = %v, want reason %s, domain strata", info, tt.wantReason)
				}
				md := info.GetMetadata()
				if md["model"] != c.model || md["region"] != "us-east-1" || md["aws_request_id"] == "" {
					t.Errorf("ErrorInfo metadata = %v, want model %s, region and aws_request_id", md, c.model)
				}
				if rid := md["aws_request_id"]; rid != "" && strings.Contains(st.Message(), rid) {
					t.Errorf("message %q carries the request id, which belongs in the details", st.Message())
				}
				ri := retryInfo(err)
				switch {
				case tt.wantRetry == 0 && ri != nil:
					t.Errorf("RetryInfo %v on an error retrying does not fix", ri)
				case tt.wantRetry != 0 && ri.GetRetryDelay().AsDuration() != tt.wantRetry:
					t.Errorf("RetryInfo = %v, want a delay of %v", ri, tt.wantRetry)
				}
			})
		}
	}
}

// TestRetries checks that retryable errors are retried within MAX_RETRY and that attempts says
// how many calls were made; and that errors retrying cannot fix are not retried.
func TestRetries(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	tests := []struct {
		name         string
		maxRetry     string
		fault        string
		op           string
		call         func(t *testing.T, h *harness) (attempts int32, err error)
		wantCode     codes.Code
		wantAttempts int32
		wantUpstream int64
	}{
		{name: "chat throttled twice", maxRetry: "10", fault: "error=ThrottlingException,times=2", op: emulator.OpConverse, call: chatAttempts, wantAttempts: 3, wantUpstream: 3},
		{name: "chat model not ready once", maxRetry: "10", fault: "error=ModelNotReadyException,times=1", op: emulator.OpConverse, call: chatAttempts, wantAttempts: 2, wantUpstream: 2},
		{name: "stream throttled twice", maxRetry: "10", fault: "error=ThrottlingException,times=2", op: emulator.OpConverseStream, call: streamAttempts, wantAttempts: 3, wantUpstream: 3},
		{name: "stream cut before any event", maxRetry: "10", fault: "cut-after=1,times=1", op: emulator.OpConverseStream, call: streamAttempts, wantAttempts: 2, wantUpstream: 2},
		{name: "embed throttled twice", maxRetry: "10", fault: "error=ThrottlingException,times=2", op: emulator.OpInvoke, call: embedAttempts, wantAttempts: 3, wantUpstream: 3},
		{name: "attempts run out", maxRetry: "3", fault: "error=ThrottlingException", op: emulator.OpConverse, call: chatAttempts, wantCode: codes.ResourceExhausted, wantUpstream: 3},
		{name: "access denied is not retried", maxRetry: "10", fault: "error=AccessDeniedException", op: emulator.OpConverse, call: chatAttempts, wantCode: codes.PermissionDenied, wantUpstream: 1},
		{name: "validation is not retried", maxRetry: "10", fault: "error=ValidationException", op: emulator.OpConverse, call: chatAttempts, wantCode: codes.InvalidArgument, wantUpstream: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startStrata(t, map[string]string{"MAX_RETRY": tt.maxRetry})
			if err := h.emu.SetFaults(mustFault(t, tt.fault+",op="+tt.op)); err != nil {
				t.Fatal(err)
			}
			attempts, err := tt.call(t, h)
			wantCode(t, err, tt.wantCode)
			if err == nil && attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.wantAttempts)
			}
			if got := settledStats(t, h.emu).Total(tt.op); got != tt.wantUpstream {
				t.Errorf("upstream %s calls = %d, want %d", tt.op, got, tt.wantUpstream)
			}
		})
	}
}

// TestStreamExceptionBeforeFirstEvent: Bedrock accepts a stream (HTTP 200), sends messageStart,
// then an exception frame, before any content. Nothing has reached the caller yet, so a retryable
// exception is retried and the caller never notices: its stream is the whole reply, the same as
// an undisturbed call's, with the attempts in its end event; the emulator's counters show each
// exception and the one stream that completed. A validation exception is not retried.
func TestStreamExceptionBeforeFirstEvent(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	tests := []struct {
		exception    string // the exception frame's type, as Bedrock spells it in a stream
		times        int    // how many streams in a row it ends
		wantCode     codes.Code
		wantAttempts int32
	}{
		{exception: "throttlingException", times: 2, wantAttempts: 3},
		{exception: "modelStreamErrorException", times: 1, wantAttempts: 2},
		{exception: "internalServerException", times: 1, wantAttempts: 2},
		{exception: "serviceUnavailableException", times: 1, wantAttempts: 2},
		{exception: "validationException", times: 1, wantCode: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.exception, func(t *testing.T) {
			t.Parallel()
			h := startStrata(t, map[string]string{"MAX_RETRY": "10"})
			// cut-after=1: the exception frame follows messageStart, before the first delta.
			fault := mustFault(t, fmt.Sprintf("error=%s,cut-after=1,times=%d,op=%s", tt.exception, tt.times, emulator.OpConverseStream))
			if err := h.emu.SetFaults(fault); err != nil {
				t.Fatal(err)
			}
			req := &stratav1.ChatRequest{Messages: user("Tell me a long story about a lighthouse keeper.")}
			events, err := chatStream(t, h, req)
			stats := settledStats(t, h.emu)
			if n := stats.Count(emulator.OpConverseStream, fault.Error); n != int64(tt.times) {
				t.Errorf("streams ended by %s = %d, want %d", fault.Error, n, tt.times)
			}
			if tt.wantCode != codes.OK {
				wantCode(t, err, tt.wantCode)
				if len(events) != 0 || stats.Total(emulator.OpConverseStream) != 1 {
					t.Errorf("%d events, %d upstream streams; want none and 1: not retried", len(events), stats.Total(emulator.OpConverseStream))
				}
				return
			}
			if err != nil {
				t.Fatalf("the caller noticed: %v after %d events", err, len(events))
			}
			start, got, end := joinDeltas(t, events)
			if start.GetModel() == "" || start.GetFallbackUsed() {
				t.Errorf("start %v, want the model's own", start)
			}
			if end.GetAttempts() != tt.wantAttempts || end.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN {
				t.Errorf("end %v, want end_turn after %d attempts", end, tt.wantAttempts)
			}
			if n := stats.Count(emulator.OpConverseStream, "ok"); n != 1 || stats.Total(emulator.OpConverseStream) != int64(tt.wantAttempts) {
				t.Errorf("upstream streams: %d completed of %d, want 1 of %d", n, stats.Total(emulator.OpConverseStream), tt.wantAttempts)
			}
			// The fault is spent: the same request again is undisturbed, and its reply is the same.
			again, err := chatStream(t, h, req)
			if err != nil {
				t.Fatal(err)
			}
			if _, want, _ := joinDeltas(t, again); got.text != want.text || want.text == "" {
				t.Errorf("text %q after the retries, want the undisturbed reply %q", got.text, want.text)
			}
		})
	}
}

func chatAttempts(t *testing.T, h *harness) (int32, error) {
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hello")})
	return resp.GetAttempts(), err
}

func streamAttempts(t *testing.T, h *harness) (int32, error) {
	events, err := chatStream(t, h, &stratav1.ChatRequest{Messages: user("hello")})
	if err != nil {
		return 0, err
	}
	_, _, end := joinDeltas(t, events)
	return end.GetAttempts(), nil
}

func embedAttempts(t *testing.T, h *harness) (int32, error) {
	// One Cohere batch is one upstream call, so the fault's count is the attempts'.
	_, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: cohereEmbed, Inputs: texts(3)})
	if err != nil {
		return 0, err
	}
	// EmbedResponse has no attempts field; the call's log line does.
	lines := h.finishedCalls("Embed")
	if len(lines) != 1 {
		t.Fatalf("finished Embed lines = %q, want one", lines)
	}
	n, err := strconv.Atoi(logField(lines[0], "attempts"))
	if err != nil {
		t.Fatalf("attempts in %q: %v", lines[0], err)
	}
	return int32(n), nil
}

// TestStreamCut checks that a stream that breaks after it started gives the caller the text
// Bedrock sent before the break, then ends with UNAVAILABLE (RESOURCE_EXHAUSTED for a throttle),
// never with a clean end: the caller must not take a truncated reply for a whole one.
func TestStreamCut(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	tests := []struct {
		fault      string
		wantReason string
	}{
		// The connection ends cleanly after three events, without messageStop: the SDK reports
		// no error, so only the adapter can tell.
		{fault: "cut-after=3", wantReason: "BEDROCK_STREAM_TRUNCATED"},
		// A reset connection: the SDK may report the read error or, like a clean cut, nothing.
		{fault: "cut-after=3,abort", wantReason: "BEDROCK_STREAM_TRUNCATED|BEDROCK_UNAVAILABLE"},
		{fault: "error=ModelStreamErrorException,cut-after=3", wantReason: "BEDROCK_UNAVAILABLE"},
		{fault: "error=ThrottlingException,cut-after=3", wantReason: "BEDROCK_THROTTLED"},
	}
	for _, tt := range tests {
		// With retries allowed too: a stream that already sent output is never retried, since
		// the caller has seen part of one reply and a retry would send another.
		for _, maxRetry := range []string{"1", "10"} {
			t.Run(tt.fault+"/MAX_RETRY="+maxRetry, func(t *testing.T) {
				t.Parallel()
				h := startStrata(t, map[string]string{"MAX_RETRY": maxRetry})
				testStreamCut(t, h, tt.fault, tt.wantReason)
			})
		}
	}
}

func testStreamCut(t *testing.T, h *harness, fault, wantReason string) {
	t.Helper()
	f := mustFault(t, fault+",op=converse-stream")
	if err := h.emu.SetFaults(f); err != nil {
		t.Fatal(err)
	}
	req := &stratav1.ChatRequest{Messages: user("Tell me a long story about a lighthouse keeper.")}
	events, err := chatStream(t, h, req)
	if err == nil {
		t.Fatalf("the stream ended cleanly after %d events; want an error", len(events))
	}
	if c := status.Code(err); c != codes.Unavailable && c != codes.ResourceExhausted {
		t.Errorf("code = %v, want UNAVAILABLE (or RESOURCE_EXHAUSTED for a throttle)", c)
	}
	if len(events) == 0 || events[0].GetStart() == nil {
		t.Errorf("events = %v, want the start before the cut", events)
	}
	for _, ev := range events {
		if ev.GetEnd() != nil {
			t.Errorf("an end event in a cut stream: %v", ev)
		}
	}
	info := errorInfo(t, err)
	if !slices.Contains(strings.Split(wantReason, "|"), info.GetReason()) || info.GetDomain() != "strata" || info.GetMetadata()["model"] != novaMicro {
		t.Errorf("ErrorInfo = %v, want reason %s for %s", info, wantReason, novaMicro)
	}
	if info.GetMetadata()["aws_request_id"] == "" {
		t.Errorf("ErrorInfo metadata %v lacks the aws_request_id", info.GetMetadata())
	}
	var partial *stratav1.PartialUsage
	for _, d := range status.Convert(err).Details() {
		if pu, ok := d.(*stratav1.PartialUsage); ok {
			partial = pu
		}
	}
	deltas := 0
	for _, ev := range events {
		if ev.GetDelta() != nil {
			deltas++
		}
	}
	if partial == nil || int(partial.GetDeltas()) != deltas || partial.GetUsage().GetInputTokens() <= 0 ||
		(deltas > 0 && partial.GetUsage().GetOutputTokens() <= 0) {
		t.Errorf("partial usage %v, want the input estimate and the %d deltas' output", partial, deltas)
	}
	if n := settledStats(t, h.emu).Total(emulator.OpConverseStream); n != 1 {
		t.Errorf("%d upstream streams, want 1", n)
	}

	// What Bedrock sent before the cut reached the caller, before the error: its deltas after
	// messageStart, the first f.CutAfter-1 of the whole reply (the same request, undisturbed).
	if err := h.emu.SetFaults(); err != nil {
		t.Fatal(err)
	}
	whole, err := chatStream(t, h, req)
	if err != nil {
		t.Fatalf("the request undisturbed: %v", err)
	}
	var want, got strings.Builder
	for _, ev := range whole[1:f.CutAfter] { // the start, then the deltas
		want.WriteString(ev.GetDelta().GetText())
	}
	for _, ev := range events {
		got.WriteString(ev.GetDelta().GetText())
	}
	if deltas != f.CutAfter-1 || got.String() != want.String() || want.Len() == 0 {
		t.Errorf("before the error the caller got %d deltas, text %q; want the %d Bedrock sent before the cut, %q", deltas, got.String(), f.CutAfter-1, want.String())
	}
}

// TestModelErrors covers the models Bedrock does not know and the requests it refuses.
func TestModelErrors(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	tests := []struct {
		name       string
		req        *stratav1.ChatRequest
		wantReason string
		wantInMsg  []string
		wantField  string
	}{
		{
			name: "a Bedrock id Bedrock does not know", req: &stratav1.ChatRequest{Model: "amazon.nova-mega-v9:0", Messages: user("hi")},
			wantReason: "UNKNOWN_MODEL", wantInMsg: []string{"amazon.nova-mega-v9:0", "us-east-1"},
		},
		{
			name: "a friendly name that resolves to nothing", req: &stratav1.ChatRequest{Model: "anthropic/claude-99-ultra", Messages: user("hi")},
			wantReason: "INVALID_REQUEST", wantInMsg: []string{"anthropic/claude-99-ultra"}, wantField: "model",
		},
		{
			// Strata checks each part; Bedrock checks that results answer the calls before them.
			name: "claude refuses a tool result that answers no call",
			req: &stratav1.ChatRequest{Model: claudeSonnet, Tools: weatherTools, Messages: []*stratav1.Message{
				{Role: stratav1.Role_ROLE_USER, Text: "weather?"},
				{Role: stratav1.Role_ROLE_ASSISTANT, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolCall{ToolCall: &stratav1.ToolCall{Id: "tooluse_a", Name: "get_weather", Arguments: mustStruct(map[string]any{"city": "Oslo"})}}}}},
				{Role: stratav1.Role_ROLE_TOOL, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolResult{ToolResult: &stratav1.ToolResult{Id: "tooluse_b", Content: "rain"}}}}},
			}},
			wantReason: "BEDROCK_VALIDATION", wantInMsg: []string{claudeSonnet, "does not match any toolUse block"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, call := range []string{"Chat", "ChatStream"} {
				var err error
				if call == "Chat" {
					_, err = h.client.Chat(t.Context(), tt.req)
				} else {
					_, err = chatStream(t, h, tt.req)
				}
				wantCode(t, err, codes.InvalidArgument)
				msg := status.Convert(err).Message()
				for _, s := range tt.wantInMsg {
					if !strings.Contains(msg, s) {
						t.Errorf("%s: message %q does not mention %q", call, msg, s)
					}
				}
				if info := errorInfo(t, err); info.GetReason() != tt.wantReason || info.GetDomain() != "strata" {
					t.Errorf("%s: ErrorInfo = %v, want reason %s", call, info, tt.wantReason)
				}
				if tt.wantField != "" && !slices.Contains(violatedFields(err), tt.wantField) {
					t.Errorf("%s: field violations %v, want %s", call, violatedFields(err), tt.wantField)
				}
			}
		})
	}
	// An unknown embedding id is Bedrock's to refuse, too.
	_, err := h.client.Embed(t.Context(), &stratav1.EmbedRequest{Model: "amazon.titan-embed-text-v9:0", Inputs: []string{"hi"}})
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(status.Convert(err).Message(), "amazon.titan-embed-text-v9:0") {
		t.Errorf("message %q does not name the model", status.Convert(err).Message())
	}
}

// TestValidation checks that requests Bedrock would refuse are refused before any network call,
// with INVALID_ARGUMENT and a BadRequest naming the field.
func TestValidation(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	schema := mustStruct(map[string]any{"type": "object", "properties": map[string]any{}})
	hi := user("hi")
	chat := []struct {
		name      string
		req       *stratav1.ChatRequest
		wantField string
	}{
		{name: "no messages", req: &stratav1.ChatRequest{}, wantField: "messages"},
		{name: "only a system message", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_SYSTEM, Text: "be brief"}}}, wantField: "messages"},
		{name: "empty message", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER}}}, wantField: "messages[0]"},
		{name: "blank text part", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Text{Text: "  "}}}}}}, wantField: "messages[0].parts[0].text"},
		{name: "unspecified role", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Text: "hi"}}}, wantField: "messages[0].role"},
		{name: "unknown role", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role(42), Text: "hi"}}}, wantField: "messages[0].role"},
		{name: "tool call from the user", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Parts: []*stratav1.Part{{Kind: &stratav1.Part_ToolCall{ToolCall: &stratav1.ToolCall{Id: "1", Name: "f"}}}}}}}, wantField: "messages[0].parts[0].tool_call"},
		{name: "image without a format", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Image{Image: &stratav1.Image{Data: []byte{1}}}}}}}}, wantField: "messages[0].parts[0].image.format"},
		{name: "temperature 1.5", req: &stratav1.ChatRequest{Messages: hi, Temperature: ptr(1.5)}, wantField: "temperature"},
		{name: "top_p -1", req: &stratav1.ChatRequest{Messages: hi, TopP: ptr(-1.0)}, wantField: "top_p"},
		{name: "max_tokens 0", req: &stratav1.ChatRequest{Messages: hi, MaxTokens: ptr[int32](0)}, wantField: "max_tokens"},
		{name: "max_tokens above the model's limit", req: &stratav1.ChatRequest{Messages: hi, MaxTokens: ptr[int32](10_001)}, wantField: "max_tokens"},
		{name: "empty stop sequence", req: &stratav1.ChatRequest{Messages: hi, Stop: []string{"x", ""}}, wantField: "stop[1]"},
		{name: "tool without a name", req: &stratav1.ChatRequest{Messages: hi, Tools: []*stratav1.Tool{{InputSchema: schema}}}, wantField: "tools[0].name"},
		{name: "tool with a bad name", req: &stratav1.ChatRequest{Messages: hi, Tools: []*stratav1.Tool{{Name: "get weather", InputSchema: schema}}}, wantField: "tools[0].name"},
		{name: "tool without a schema", req: &stratav1.ChatRequest{Messages: hi, Tools: []*stratav1.Tool{{Name: "f"}}}, wantField: "tools[0].input_schema"},
		{name: "tool schema not an object", req: &stratav1.ChatRequest{Messages: hi, Tools: []*stratav1.Tool{{Name: "f", InputSchema: mustStruct(map[string]any{"type": "string"})}}}, wantField: "tools[0].input_schema.type"},
		{name: "duplicate tool", req: &stratav1.ChatRequest{Messages: hi, Tools: []*stratav1.Tool{{Name: "f", InputSchema: schema}, {Name: "f", InputSchema: schema}}}, wantField: "tools[1].name"},
		{name: "tool_choice names no tool", req: &stratav1.ChatRequest{Messages: hi, Tools: []*stratav1.Tool{{Name: "f", InputSchema: schema}}, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_TOOL, Name: "g"}}, wantField: "tool_choice.name"},
		{name: "tool_choice any without tools", req: &stratav1.ChatRequest{Messages: hi, ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_ANY}}, wantField: "tool_choice"},
		{name: "tools on a model without tool use", req: &stratav1.ChatRequest{Model: "amazon.titan-text-express-v1", Messages: hi, Tools: []*stratav1.Tool{{Name: "f", InputSchema: schema}}}, wantField: "tools"},
		{name: "embedding model used for chat", req: &stratav1.ChatRequest{Model: titanEmbed, Messages: hi}, wantField: "model"},
		{name: "unknown model name", req: &stratav1.ChatRequest{Model: "my favourite model", Messages: hi}, wantField: "model"},
		{name: "temperature and top_p on claude 4.5", req: &stratav1.ChatRequest{Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Messages: hi, Temperature: ptr(0.2), TopP: ptr(0.9)}, wantField: "top_p"},
		{name: "blank message text", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Text: " \n "}}}, wantField: "messages[0].text"},
		// Claude takes a history that opens with the assistant; Nova (the default) does not.
		{name: "assistant first on nova", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_ASSISTANT, Text: "I spoke first."}, {Role: stratav1.Role_ROLE_USER, Text: "So you did."}}}, wantField: "messages"},
		{name: "an image to a text-only model", req: &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Text: "what is this?", Parts: []*stratav1.Part{{Kind: &stratav1.Part_Image{Image: &stratav1.Image{Data: []byte("\x89PNG"), Format: stratav1.ImageFormat_IMAGE_FORMAT_PNG}}}}}}}, wantField: "messages[0].parts[0].image"},
	}
	for _, tt := range chat {
		t.Run("Chat/"+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := h.client.Chat(t.Context(), tt.req)
			wantValidation(t, err, tt.wantField)
			_, err = chatStream(t, h, tt.req)
			wantValidation(t, err, tt.wantField)
		})
	}
	embed := []struct {
		name      string
		req       *stratav1.EmbedRequest
		wantField string
	}{
		{name: "no inputs", req: &stratav1.EmbedRequest{}, wantField: "inputs"},
		{name: "too many inputs", req: &stratav1.EmbedRequest{Inputs: texts(2049)}, wantField: "inputs"},
		{name: "empty input", req: &stratav1.EmbedRequest{Inputs: []string{"a", " "}}, wantField: "inputs[1]"},
		{name: "dimensions the model lacks", req: &stratav1.EmbedRequest{Inputs: []string{"a"}, Dimensions: ptr[int32](300)}, wantField: "dimensions"},
		{name: "negative dimensions", req: &stratav1.EmbedRequest{Inputs: []string{"a"}, Dimensions: ptr[int32](-1)}, wantField: "dimensions"},
		{name: "chat model used for embeddings", req: &stratav1.EmbedRequest{Model: novaMicro, Inputs: []string{"a"}}, wantField: "model"},
		{name: "unknown model name", req: &stratav1.EmbedRequest{Model: "best-embedder", Inputs: []string{"a"}}, wantField: "model"},
	}
	for _, tt := range embed {
		t.Run("Embed/"+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := h.client.Embed(t.Context(), tt.req)
			wantValidation(t, err, tt.wantField)
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: none of those requests may have reached Bedrock.
		if s := settledStats(t, h.emu); s.Total(emulator.OpConverse)+s.Total(emulator.OpConverseStream)+s.Total(emulator.OpInvoke) != 0 {
			t.Errorf("invalid requests reached Bedrock: %v", s.Requests)
		}
	})
}

func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	wantCode(t, err, codes.InvalidArgument)
	if fields := violatedFields(err); !slices.Contains(fields, field) {
		t.Errorf("field violations = %v, want %s (err: %v)", fields, field, err)
	}
	if info := errorInfo(t, err); info.GetReason() != "INVALID_REQUEST" || info.GetDomain() != "strata" {
		t.Errorf("ErrorInfo = %v", info)
	}
	if !strings.Contains(status.Convert(err).Message(), field) {
		t.Errorf("message %q does not name %s", status.Convert(err).Message(), field)
	}
}

// TestDeadlines checks that a caller's deadline bounds Strata's retries: when the next attempt
// could not finish in time, the caller gets the upstream error at once, not a hang.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		environ  map[string]string
		fault    string
		timeout  time.Duration
		call     func(ctx context.Context, h *harness) error
		wantCode codes.Code
		within   time.Duration
	}{
		{
			// Bedrock asks for 10 s; the caller has 2 s: one attempt, then its error.
			name: "retry-after past the deadline", fault: "error=ThrottlingException,retry-after=10s,op=converse", timeout: 2 * time.Second,
			call: func(ctx context.Context, h *harness) error {
				_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Messages: user("hi")})
				return err
			},
			wantCode: codes.ResourceExhausted, within: time.Second,
		},
		{
			name: "stream retry-after past the deadline", fault: "error=ModelNotReadyException,retry-after=10s,op=converse-stream", timeout: 2 * time.Second,
			call: func(ctx context.Context, h *harness) error {
				stream, err := h.client.ChatStream(ctx, &stratav1.ChatRequest{Messages: user("hi")})
				if err != nil {
					return err
				}
				_, err = streamEvents(stream)
				return err
			},
			wantCode: codes.Unavailable, within: time.Second,
		},
		{
			// Bedrock stalls for 30 s; the caller gives up after 300 ms and hears so promptly.
			name: "stalled upstream", fault: "stall=30s,op=converse", timeout: 300 * time.Millisecond,
			call: func(ctx context.Context, h *harness) error {
				_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Messages: user("hi")})
				return err
			},
			wantCode: codes.DeadlineExceeded, within: 2 * time.Second,
		},
		{
			// The caller would wait 10 s; STRATA_UPSTREAM_TIMEOUT cuts the attempt after 1 s.
			name: "upstream timeout", environ: map[string]string{"STRATA_UPSTREAM_TIMEOUT": "1s", "MAX_RETRY": "1"},
			fault: "stall=30s,op=converse", timeout: 10 * time.Second,
			call: func(ctx context.Context, h *harness) error {
				_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Messages: user("hi")})
				return err
			},
			wantCode: codes.DeadlineExceeded, within: 3 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			environ := map[string]string{"MAX_RETRY": "10", "RETRY_WAIT_SECONDS": "5", "RETRY_MAX_WAIT_SECONDS": "30"}
			maps.Copy(environ, tt.environ)
			h := startStrata(t, environ)
			if err := h.emu.SetFaults(mustFault(t, tt.fault)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			start := time.Now()
			err := tt.call(ctx, h)
			elapsed := time.Since(start)
			wantCode(t, err, tt.wantCode)
			if elapsed > tt.within {
				t.Errorf("answered after %v, want within %v", elapsed, tt.within)
			}
		})
	}
}

// TestToolArgumentsStruct checks tool-call arguments of every JSON type survive the Struct.
func TestToolArgumentsStruct(t *testing.T) {
	t.Parallel()
	h := startStrata(t, nil)
	schema := mustStruct(map[string]any{
		"type": "object",
		"properties": map[string]any{
			"n":     map[string]any{"type": "integer"},
			"x":     map[string]any{"type": "number"},
			"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"inner": map[string]any{"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}}, "required": []any{"ok"}},
		},
		"required": []any{"n", "x", "tags", "inner"},
	})
	resp, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{
		Messages:   user("call it"),
		Tools:      []*stratav1.Tool{{Name: "record", InputSchema: schema}},
		ToolChoice: &stratav1.ToolChoice{Mode: stratav1.ToolChoice_MODE_ANY},
	})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	calls := toolCalls(resp.GetMessage())
	if len(calls) != 1 {
		t.Fatalf("calls = %v", calls)
	}
	f := calls[0].GetArguments().GetFields()
	if _, ok := f["n"].GetKind().(*structpb.Value_NumberValue); !ok {
		t.Errorf("n = %v", f["n"])
	}
	if _, ok := f["tags"].GetKind().(*structpb.Value_ListValue); !ok {
		t.Errorf("tags = %v", f["tags"])
	}
	if _, ok := f["inner"].GetStructValue().GetFields()["ok"].GetKind().(*structpb.Value_BoolValue); !ok {
		t.Errorf("inner = %v", f["inner"])
	}
}

// TestDeadlineCancelsUpstream: with a 2 s deadline against an upstream that stalls, the caller
// hears DEADLINE_EXCEEDED within 2.1 s, unary or streamed, and the emulator sees every upstream
// request it was holding cancelled.
func TestDeadlineCancelsUpstream(t *testing.T) {
	verifyNoLeaks(t) // goroutines and connections back to their baseline after
	h := startStrata(t, map[string]string{"MAX_RETRY": "10"})
	if err := h.emu.SetFaults(emulator.Fault{Stall: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(ctx context.Context) error{
		"chat": func(ctx context.Context) error {
			_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Messages: user("hi")})
			return err
		},
		"stream": func(ctx context.Context) error {
			stream, err := h.client.ChatStream(ctx, &stratav1.ChatRequest{Messages: user("hi")})
			if err != nil {
				return err
			}
			_, err = streamEvents(stream)
			return err
		},
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			start := time.Now()
			err := call(ctx)
			if took := time.Since(start); status.Code(err) != codes.DeadlineExceeded || took > 2100*time.Millisecond {
				t.Errorf("%s: %v after %v; want DEADLINE_EXCEEDED within 2.1 s", name, err, took)
			}
		})
	}
	wg.Wait()
	stats := settledStats(t, h.emu)
	if stats.InFlight != 0 || stats.ClientGone != 2 {
		t.Errorf("emulator: %d requests still held, %d seen cancelled; want 0 and 2", stats.InFlight, stats.ClientGone)
	}
}
