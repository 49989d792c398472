package service

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestApplyBedrockOptions: a request's Bedrock options win over its route's, and metadata and
// additional fields merge key by key.
func TestApplyBedrockOptions(t *testing.T) {
	route := BedrockOptions{
		TopK: ptr(40), ServiceTier: "flex", LatencyOptimized: true,
		Guardrail:        &backend.Guardrail{ID: "gr-route", Version: "1"},
		RequestMetadata:  map[string]string{"team": "rd", "env": "prod"},
		AdditionalFields: map[string]any{"top_k_note": "route", "shared": "route"},
	}
	fields, _ := structpb.NewStruct(map[string]any{"shared": "request"})
	tests := []struct {
		name string
		req  *stratav1.ChatRequest
		want backend.ChatRequest
	}{
		{
			name: "the route's options when the request sets none",
			req:  &stratav1.ChatRequest{},
			want: backend.ChatRequest{TopK: ptr(40), ServiceTier: "flex", LatencyOptimized: true, Guardrail: route.Guardrail,
				Metadata: route.RequestMetadata, AdditionalFields: route.AdditionalFields},
		},
		{
			name: "the request's win, maps merged",
			req: &stratav1.ChatRequest{TopK: ptr[int32](5), ServiceTier: stratav1.ServiceTier_SERVICE_TIER_PRIORITY,
				Guardrail: &stratav1.Guardrail{Id: "gr-req", Version: "DRAFT", Trace: true},
				Metadata:  map[string]string{"env": "dev"}, AdditionalModelRequestFields: fields},
			want: backend.ChatRequest{TopK: ptr(5), ServiceTier: "priority", LatencyOptimized: true,
				Guardrail:        &backend.Guardrail{ID: "gr-req", Version: "DRAFT", Trace: true},
				Metadata:         map[string]string{"team": "rd", "env": "dev"},
				AdditionalFields: map[string]any{"top_k_note": "route", "shared": "request"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got backend.ChatRequest
			applyBedrockOptions(&got, tt.req, route)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if route.RequestMetadata["env"] != "prod" {
		t.Error("merging changed the route's own metadata")
	}
}
