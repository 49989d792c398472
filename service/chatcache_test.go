package service

import (
	"testing"

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
