package server

import (
	"testing"
	"time"
)

// TestAgeGrace: STRATA_MAX_CONNECTION_AGE_GRACE=0 means no grace, which gRPC would read as
// forever.
func TestAgeGrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		grace time.Duration
		want  time.Duration
	}{
		{"zero: none, not forever", 0, time.Nanosecond},
		{"a grace", 30 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := ageGrace(tt.grace); got != tt.want {
			t.Errorf("%s: ageGrace(%v) = %v, want %v", tt.name, tt.grace, got, tt.want)
		}
	}
}
