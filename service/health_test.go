package service

import (
	"context"
	"errors"
	"testing"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

func TestEndpointCheck(t *testing.T) {
	t.Parallel()
	unavailable := &backend.Error{Kind: backend.KindUnavailable, Message: "connection refused"}
	tests := []struct {
		name string
		errs []error
		want stratav1.HealthStatus
	}{
		{"a model answered", []error{nil}, stratav1.HealthStatus_HEALTH_STATUS_OK},
		// A refusal is an answer: Bedrock is reachable even if the model is wrong.
		{"bedrock refused a model", []error{&backend.Error{Kind: backend.KindUnknownModel}}, stratav1.HealthStatus_HEALTH_STATUS_OK},
		{"one of two reachable", []error{unavailable, nil}, stratav1.HealthStatus_HEALTH_STATUS_OK},
		{"nothing answered", []error{unavailable, &backend.Error{Kind: backend.KindTimeout}}, stratav1.HealthStatus_HEALTH_STATUS_FAIL},
		{"a plain error", []error{errors.New("dial tcp: no route to host")}, stratav1.HealthStatus_HEALTH_STATUS_FAIL},
		{"cancelled", []error{context.Canceled}, stratav1.HealthStatus_HEALTH_STATUS_FAIL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checks := make([]*stratav1.Check, len(tt.errs))
			for i := range checks {
				checks[i] = &stratav1.Check{Name: "model:x", Detail: "detail", LatencyMs: int64(i + 1)}
			}
			got := endpointCheck(checks, tt.errs, "us-east-1")
			if got.GetStatus() != tt.want || got.GetName() != "endpoint" {
				t.Errorf("endpointCheck = %v %q, want %v", got.GetStatus(), got.GetDetail(), tt.want)
			}
		})
	}
}
