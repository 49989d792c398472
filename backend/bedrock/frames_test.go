package bedrock

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/strata-gateway/strata/backend"
)

// sdkFrame encodes one frame with the SDK's encoder, the reference for the wire format, with
// every header type the format has.
func sdkFrame(t *testing.T, payload string) []byte {
	t.Helper()
	msg := eventstream.Message{Payload: []byte(payload)}
	msg.Headers.Set("flag", eventstream.BoolValue(true))
	msg.Headers.Set("off", eventstream.BoolValue(false))
	msg.Headers.Set("b", eventstream.Int8Value(7))
	msg.Headers.Set("i16", eventstream.Int16Value(-3))
	msg.Headers.Set("i32", eventstream.Int32Value(1<<20))
	msg.Headers.Set("i64", eventstream.Int64Value(1<<40))
	msg.Headers.Set("raw", eventstream.BytesValue([]byte{1, 2, 3}))
	msg.Headers.Set("id", eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	msg.Headers.Set(":event-type", eventstream.StringValue("contentBlockDelta"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, msg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFrameReaderReadsSDKFrames(t *testing.T) {
	payloads := []string{`{"delta":{"text":"hi"}}`, "", strings.Repeat("x", 4000)}
	var stream []byte
	for _, p := range payloads {
		stream = append(stream, sdkFrame(t, p)...)
	}
	fr := frameReader{r: bytes.NewReader(stream)}
	for i, want := range payloads {
		f, err := fr.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(f.payload) != want {
			t.Errorf("frame %d payload %q, want %q", i, f.payload, want)
		}
		if got := string(f.header(":message-type")); got != "event" {
			t.Errorf("frame %d :message-type %q (after headers of every type)", i, got)
		}
		if got := string(f.header(":event-type")); got != "contentBlockDelta" {
			t.Errorf("frame %d :event-type %q", i, got)
		}
		if got := f.header("missing"); got != nil {
			t.Errorf("frame %d: a missing header gave %q", i, got)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func TestFrameReaderRefusesBadFrames(t *testing.T) {
	good := sdkFrame(t, `{"delta":{"text":"hi"}}`)
	corrupt := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0xff
		return b
	}
	// A prelude claiming a huge frame, with a valid prelude checksum, so only the size check stops it.
	huge := make([]byte, preludeLen)
	binary.BigEndian.PutUint32(huge[0:], 1<<30)
	binary.BigEndian.PutUint32(huge[4:], 10)
	binary.BigEndian.PutUint32(huge[8:], crc32.ChecksumIEEE(huge[:8]))
	tests := []struct {
		name    string
		input   []byte
		wantErr error
		wantMsg string
	}{
		{"prelude checksum", corrupt(9), errFrameChecksum, "prelude"},
		{"payload byte flipped", corrupt(len(good) - 6), errFrameChecksum, ""},
		{"message checksum", corrupt(len(good) - 1), errFrameChecksum, ""},
		{"cut inside the prelude", good[:5], io.ErrUnexpectedEOF, ""},
		{"cut inside the body", good[:len(good)-3], io.ErrUnexpectedEOF, ""},
		{"too large", huge, nil, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := frameReader{r: bytes.NewReader(tt.input)}
			_, err := fr.next()
			if err == nil {
				t.Fatal("a bad frame was accepted")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

// TestStreamRedactedReasoning: an encrypted reasoning delta reaches the caller as its bytes.
func TestStreamRedactedReasoning(t *testing.T) {
	var body bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range []struct{ kind, payload string }{
		{"messageStart", `{"role":"assistant"}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"reasoningContent":{"redactedContent":"b3BhcXVl"}}}`},
		{"contentBlockStop", `{"contentBlockIndex":0}`},
		{"messageStop", `{"stopReason":"end_turn"}`},
		{"metadata", `{"usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7}}`},
	} {
		msg := eventstream.Message{Payload: []byte(ev.payload)}
		msg.Headers.Set(":event-type", eventstream.StringValue(ev.kind))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		if err := enc.Encode(&body, msg); err != nil {
			t.Fatal(err)
		}
	}
	s := &stream{b: newHarness(t, nil).b, ctx: context.Background(), cancel: func() {}, body: io.NopCloser(&body),
		frames: frameReader{r: &body}}
	ev, err := s.Recv()
	if err != nil || ev.Kind != backend.EventReasoningRedacted || string(ev.Redacted) != "opaque" {
		t.Fatalf("first event %+v, %v; want the redacted reasoning's bytes", ev, err)
	}
	if ev, err = s.Recv(); err != nil || ev.Kind != backend.EventEnd || ev.Usage.Output != 4 {
		t.Fatalf("second event %+v, %v; want the end", ev, err)
	}
}

// TestParallelToolCalls: a reply with two tool calls gives two calls, in order, unary and streamed
// (each stream call its own index, its argument fragments joined into its own JSON object).
func TestParallelToolCalls(t *testing.T) {
	be := newHarness(t, nil).b
	reply := `{"output":{"message":{"role":"assistant","content":[{"text":"Checking both."},` +
		`{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{"city":"Paris"}}},` +
		`{"toolUse":{"toolUseId":"t2","name":"get_weather","input":{"city":"Lyon"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":5,"outputTokens":9,"totalTokens":14}}`
	be.transport.client = &http.Client{Transport: &cannedTransport{body: []byte(reply)}}
	resp, err := be.Chat(callCtx(t), &backend.ChatRequest{ModelID: novaMicro, Tools: []backend.Tool{weatherTool}, Messages: []backend.Message{userText("Paris and Lyon?")}})
	if err != nil {
		t.Fatal(err)
	}
	var cities []any
	for _, p := range resp.Parts {
		if p.Kind == backend.PartToolCall {
			cities = append(cities, p.ToolCall.Arguments["city"])
		}
	}
	if !reflect.DeepEqual(cities, []any{"Paris", "Lyon"}) || resp.StopReason != backend.StopToolUse {
		t.Errorf("calls for %v, stop %s; want Paris then Lyon", cities, resp.StopReason)
	}

	var body bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range []struct{ kind, payload string }{
		{"contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t1","name":"get_weather"}}}`},
		{"contentBlockStart", `{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"t2","name":"get_weather"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\": \"Pa"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\": \"Ly"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":2,"delta":{"toolUse":{"input":"on\"}"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"ris\"}"}}}`},
		{"messageStop", `{"stopReason":"tool_use"}`},
		{"metadata", `{"usage":{"inputTokens":5,"outputTokens":9,"totalTokens":14}}`},
	} {
		msg := eventstream.Message{Payload: []byte(ev.payload)}
		msg.Headers.Set(":event-type", eventstream.StringValue(ev.kind))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		if err := enc.Encode(&body, msg); err != nil {
			t.Fatal(err)
		}
	}
	s := &stream{b: be, ctx: context.Background(), cancel: func() {}, body: io.NopCloser(&body), frames: frameReader{r: &body}}
	args := map[int]string{}
	ids := map[int]string{}
	for {
		ev, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case backend.EventToolCallStart:
			ids[ev.Index] = ev.ToolID
		case backend.EventToolCallArgs:
			args[ev.Index] += ev.Text
		}
	}
	if !reflect.DeepEqual(ids, map[int]string{0: "t1", 1: "t2"}) {
		t.Errorf("streamed calls %v, want t1 at 0 and t2 at 1", ids)
	}
	for i, want := range []string{"Paris", "Lyon"} {
		var got map[string]any
		if err := json.Unmarshal([]byte(args[i]), &got); err != nil || got["city"] != want {
			t.Errorf("call %d: joined arguments %q (%v), want city %s", i, args[i], err, want)
		}
	}
}
