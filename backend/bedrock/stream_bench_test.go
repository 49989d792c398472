package bedrock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/backend"
)

// benchStreamFrames is a 100-event ConverseStream reply as it travels (bedrock-wire.md §3.2):
// messageStart, 90 text deltas, a tool call opened and its arguments in 4 deltas, the block stops,
// messageStop and metadata, each an eventstream frame with the three headers and the "p" pad.
func benchStreamFrames(b *testing.B) []byte {
	b.Helper()
	words := strings.Fields("Let me check the forecast for Paris before I answer , since showers are common in the " +
		"spring and the model of the day matters more than the season . Tomorrow looks cloudy in the " +
		"morning with a chance of rain after lunch , so an umbrella is a good idea if you are out in the " +
		"afternoon ; the temperature should stay between seven and twelve degrees , which calls for a light " +
		"jacket as well . I will look at the hourly numbers to be sure of the timing .")
	type ev struct {
		kind    string
		payload any
	}
	evs := []ev{{"messageStart", map[string]any{"role": "assistant"}}}
	for i := range 90 {
		evs = append(evs, ev{"contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": " " + words[i%len(words)]}}})
	}
	evs = append(evs,
		ev{"contentBlockStop", map[string]any{"contentBlockIndex": 0}},
		ev{"contentBlockStart", map[string]any{"contentBlockIndex": 1, "start": map[string]any{"toolUse": map[string]any{"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "get_weather"}}}})
	for _, chunk := range []string{`{"city": "Pa`, `ris", "un`, `it": "celsius", `, `"days": 2}`} {
		evs = append(evs, ev{"contentBlockDelta", map[string]any{"contentBlockIndex": 1, "delta": map[string]any{"toolUse": map[string]any{"input": chunk}}}})
	}
	evs = append(evs,
		ev{"contentBlockStop", map[string]any{"contentBlockIndex": 1}},
		ev{"messageStop", map[string]any{"stopReason": "tool_use"}},
		ev{"metadata", map[string]any{"usage": map[string]any{"inputTokens": 512, "outputTokens": 96, "totalTokens": 608}, "metrics": map[string]any{"latencyMs": 1840}}})
	var out bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, e := range evs {
		payload := e.payload.(map[string]any)
		payload["p"] = "abcdefghijklmnopqrstuvwxyzABCDEF"
		raw, err := json.Marshal(payload)
		if err != nil {
			b.Fatal(err)
		}
		msg := eventstream.Message{Payload: raw}
		msg.Headers.Set(":event-type", eventstream.StringValue(e.kind))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		if err := enc.Encode(&out, msg); err != nil {
			b.Fatal(err)
		}
	}
	if len(evs) != 100 {
		b.Fatalf("%d events, want 100", len(evs))
	}
	return out.Bytes()
}

// BenchmarkStreamTranslate measures stream event forwarding on the backend side: one
// ConverseStream reply of 100 frames decoded from the bytes of the response body and mapped to
// backend.Event by stream.Recv, with the per-stream state ChatStream builds. One op is the whole
// stream; ns/event is per upstream event.
func BenchmarkStreamTranslate(b *testing.B) {
	frames := benchStreamFrames(b)
	be := benchBackend(b, &cannedTransport{body: benchReplyText})
	b.ReportAllocs()
	for b.Loop() {
		body := io.NopCloser(bytes.NewReader(frames))
		s := &stream{b: be, ctx: context.Background(), cancel: func() {}, body: body,
			frames: frameReader{r: bufio.NewReaderSize(body, streamReadBuffer)}}
		n := 0
		var last backend.Event
		for {
			ev, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
			last = ev
		}
		if n != 96 || last.Kind != backend.EventEnd {
			b.Fatalf("%d events out, last %v; want 96 ending with the end event", n, last.Kind)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
}
