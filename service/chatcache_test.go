package service

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

func TestChatKey(t *testing.T) {
	t.Parallel()
	req := func(schema map[string]any, meta map[string]string) *backend.ChatRequest {
		return &backend.ChatRequest{ModelID: "m", Messages: []backend.Message{{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: "hi"}}}},
			Format: backend.ResponseFormat{Kind: backend.FormatJSONSchema, Schema: schema}, Metadata: meta}
	}
	a := chatKey(req(map[string]any{"type": "object", "required": []any{"x"}}, nil), nil)
	b := chatKey(req(map[string]any{"required": []any{"x"}, "type": "object"}, map[string]string{"run": "1"}), nil)
	if a == "" || a != b {
		t.Errorf("the same request in another key order, with metadata: %q and %q, want one key", a, b)
	}
	seed := int64(1)
	if c := chatKey(req(map[string]any{"type": "object", "required": []any{"x"}}, nil), &seed); c == a {
		t.Error("a seed made no difference to the key")
	}
	other := req(map[string]any{"type": "object", "required": []any{"x"}}, nil)
	other.Region = "us-west-2"
	if chatKey(other, nil) == a {
		t.Error("another region made no difference to the key")
	}
}

func TestCacheable(t *testing.T) {
	t.Parallel()
	for stop, want := range map[stratav1.StopReason]bool{
		stratav1.StopReason_STOP_REASON_END_TURN:             true,
		stratav1.StopReason_STOP_REASON_MAX_TOKENS:           true,
		stratav1.StopReason_STOP_REASON_TOOL_USE:             true,
		stratav1.StopReason_STOP_REASON_GUARDRAIL_INTERVENED: false,
		stratav1.StopReason_STOP_REASON_CONTENT_FILTERED:     false,
	} {
		if got := cacheable(&stratav1.ChatResponse{StopReason: stop}); got != want {
			t.Errorf("%v: cacheable %v, want %v", stop, got, want)
		}
	}
}

func TestVectorEncoding(t *testing.T) {
	t.Parallel()
	v := []float32{0, -1.5, 3.25e-7, 42}
	got, ok := decodeVector(encodeVector(v))
	if !ok || len(got) != len(v) {
		t.Fatalf("round trip: %v, %v", got, ok)
	}
	for i := range v {
		if got[i] != v[i] {
			t.Errorf("element %d: %v, want %v", i, got[i], v[i])
		}
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}} {
		if _, ok := decodeVector(bad); ok {
			t.Errorf("%v decoded as a vector", bad)
		}
	}
	base := &backend.EmbedRequest{ModelID: "amazon.titan-embed-text-v2:0", Dimensions: 256}
	other := *base
	other.InputType = "search_query"
	if embedKey(base, "x") == embedKey(&other, "x") || embedKey(base, "x") == embedKey(base, "y") {
		t.Error("embedding keys do not tell input types or texts apart")
	}
}

// TestStreamedReplyReasoningBlocks: a stream's reasoning blocks are stored as the blocks they
// were, a signed text block and each redacted block apart, so a cached reply sent back is one
// Bedrock takes.
func TestStreamedReplyReasoningBlocks(t *testing.T) {
	t.Parallel()
	var r streamedReply
	for _, ev := range []backend.Event{
		{Kind: backend.EventReasoning, Text: "Let me "},
		{Kind: backend.EventReasoning, Text: "think."},
		{Kind: backend.EventReasoningSignature, Signature: "sig-1"},
		{Kind: backend.EventReasoningRedacted, Redacted: []byte("enc-1")},
		{Kind: backend.EventReasoningRedacted, Redacted: []byte("enc-2")},
		{Kind: backend.EventReasoning, Text: "Then more."},
		{Kind: backend.EventReasoningSignature, Signature: "sig-2"},
		{Kind: backend.EventText, Text: "Done."},
	} {
		r.add(ev)
	}
	resp := r.reply(backend.Event{Kind: backend.EventEnd, StopReason: "end_turn"}, &preparedChat{req: &backend.ChatRequest{ModelID: "m"}})
	want := []*stratav1.Reasoning{
		{Text: "Let me think.", Signature: "sig-1"},
		{Redacted: []byte("enc-1")},
		{Redacted: []byte("enc-2")},
		{Text: "Then more.", Signature: "sig-2"},
	}
	var got []*stratav1.Reasoning
	for _, p := range resp.GetMessage().GetParts() {
		if rp := p.GetReasoning(); rp != nil {
			got = append(got, rp)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d reasoning parts, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("reasoning part %d = %v, want %v", i, got[i], want[i])
		}
	}
	if resp.GetText() != "Done." || resp.GetReasoning() != "Let me think.Then more." {
		t.Errorf("text %q, reasoning %q", resp.GetText(), resp.GetReasoning())
	}
}
