package bedrock

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/strata-gateway/strata/backend"
)

// benchStreamEvents is a 100-event ConverseStream reply as the SDK delivers it (bedrock-wire.md
// §3.2): messageStart, 90 text deltas, a tool call opened and its arguments in 4 deltas, the
// block stops, messageStop and metadata.
func benchStreamEvents() []types.ConverseStreamOutput {
	words := strings.Fields("Let me check the forecast for Paris before I answer , since showers are common in the " +
		"spring and the model of the day matters more than the season . Tomorrow looks cloudy in the " +
		"morning with a chance of rain after lunch , so an umbrella is a good idea if you are out in the " +
		"afternoon ; the temperature should stay between seven and twelve degrees , which calls for a light " +
		"jacket as well . I will confirm with the weather tool now .")
	evs := []types.ConverseStreamOutput{
		&types.ConverseStreamOutputMemberMessageStart{Value: types.MessageStartEvent{Role: types.ConversationRoleAssistant}},
	}
	for i := range 90 {
		evs = append(evs, &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{
			ContentBlockIndex: aws.Int32(0),
			Delta:             &types.ContentBlockDeltaMemberText{Value: " " + words[i%len(words)]},
		}})
	}
	evs = append(evs,
		&types.ConverseStreamOutputMemberContentBlockStop{Value: types.ContentBlockStopEvent{ContentBlockIndex: aws.Int32(0)}},
		&types.ConverseStreamOutputMemberContentBlockStart{Value: types.ContentBlockStartEvent{
			ContentBlockIndex: aws.Int32(1),
			Start: &types.ContentBlockStartMemberToolUse{Value: types.ToolUseBlockStart{
				ToolUseId: aws.String("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"), Name: aws.String("get_weather"),
			}},
		}},
	)
	for _, chunk := range []string{`{"city": `, `"Paris", `, `"unit": "celsius"`, `}`} {
		evs = append(evs, &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{
			ContentBlockIndex: aws.Int32(1),
			Delta:             &types.ContentBlockDeltaMemberToolUse{Value: types.ToolUseBlockDelta{Input: aws.String(chunk)}},
		}})
	}
	evs = append(evs,
		&types.ConverseStreamOutputMemberContentBlockStop{Value: types.ContentBlockStopEvent{ContentBlockIndex: aws.Int32(1)}},
		&types.ConverseStreamOutputMemberMessageStop{Value: types.MessageStopEvent{StopReason: types.StopReasonToolUse}},
		&types.ConverseStreamOutputMemberMetadata{Value: types.ConverseStreamMetadataEvent{
			Usage:   &types.TokenUsage{InputTokens: aws.Int32(512), OutputTokens: aws.Int32(96), TotalTokens: aws.Int32(608)},
			Metrics: &types.ConverseStreamMetrics{LatencyMs: aws.Int64(1840)},
		}},
	)
	return evs
}

// BenchmarkStreamTranslate measures stream event forwarding on the backend side: one
// ConverseStream reply of 100 events mapped to backend.Event by stream.translate, with the
// per-stream state ChatStream builds. One op is the whole stream; ns/event is per upstream event.
func BenchmarkStreamTranslate(b *testing.B) {
	evs := benchStreamEvents()
	if len(evs) != 100 {
		b.Fatalf("%d events, want 100", len(evs))
	}
	b.ReportAllocs()
	for b.Loop() {
		s := &stream{tools: map[int32]int{}}
		n := 0
		var last backend.Event
		for _, ev := range evs {
			if out, ok := s.translate(ev); ok {
				n++
				last = out
			}
		}
		if n != 96 || last.Kind != backend.EventEnd {
			b.Fatalf("%d events out, last %v; want 96 ending with the end event", n, last.Kind)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
}
