package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-gateway/strata/backend"
)

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	throttled := &backend.Error{Kind: backend.KindThrottled}
	invalid := &backend.Error{Kind: backend.KindInvalid}
	tests := []struct {
		name         string
		policy       RetryPolicy
		failures     []error // returned by successive attempts; then success
		timeout      time.Duration
		wantAttempts int
		wantErr      error
		// attemptTakes is how long each attempt takes.
		attemptTakes time.Duration
	}{
		{name: "success first", policy: RetryPolicy{MaxAttempts: 3}, wantAttempts: 1},
		{name: "retryable then success", policy: RetryPolicy{MaxAttempts: 3, BaseWait: time.Millisecond, MaxWait: time.Millisecond}, failures: []error{throttled, throttled}, wantAttempts: 3},
		{name: "attempts run out: last upstream error", policy: RetryPolicy{MaxAttempts: 2, BaseWait: time.Millisecond, MaxWait: time.Millisecond}, failures: []error{throttled, throttled, throttled}, wantAttempts: 2, wantErr: throttled},
		{name: "not retryable", policy: RetryPolicy{MaxAttempts: 5}, failures: []error{invalid}, wantAttempts: 1, wantErr: invalid},
		{name: "plain error is not retried", policy: RetryPolicy{MaxAttempts: 5}, failures: []error{errors.New("boom")}, wantAttempts: 1},
		// A wait that would outlast the deadline is not started: the caller gets the real error now.
		{name: "deadline too close", policy: RetryPolicy{MaxAttempts: 5, BaseWait: time.Hour, MaxWait: time.Hour}, failures: []error{&backend.Error{Kind: backend.KindThrottled, RetryAfter: time.Minute}}, timeout: time.Second, wantAttempts: 1, wantErr: throttled},
		// An attempt that took 300 ms is not followed by another with 200 ms left.
		{name: "no time for another attempt like the last", policy: RetryPolicy{MaxAttempts: 5}, failures: []error{throttled, throttled}, attemptTakes: 300 * time.Millisecond, timeout: 500 * time.Millisecond, wantAttempts: 1, wantErr: throttled},
		{name: "time for another attempt like the last", policy: RetryPolicy{MaxAttempts: 5}, failures: []error{throttled}, attemptTakes: 100 * time.Millisecond, timeout: time.Second, wantAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			calls := 0
			attempts, err := tt.policy.do(ctx, func(context.Context) error {
				time.Sleep(tt.attemptTakes)
				calls++
				if calls <= len(tt.failures) {
					return tt.failures[calls-1]
				}
				return nil
			})
			if attempts != tt.wantAttempts || calls != tt.wantAttempts {
				t.Errorf("attempts = %d (calls %d), want %d", attempts, calls, tt.wantAttempts)
			}
			if tt.wantErr != nil {
				if be, ok := backend.AsError(err); !ok || be.Kind != tt.wantErr.(*backend.Error).Kind {
					t.Errorf("err = %v, want kind of %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestRetryWait(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 10, BaseWait: 100 * time.Millisecond, MaxWait: time.Second}
	for n := 1; n <= 8; n++ {
		ceiling := min(p.BaseWait<<(n-1), p.MaxWait)
		for range 50 {
			if w := p.wait(n, &backend.Error{Kind: backend.KindThrottled}); w < 0 || w >= ceiling {
				t.Fatalf("wait(%d) = %v, want in [0, %v)", n, w, ceiling)
			}
		}
	}
	if w := p.wait(1, &backend.Error{RetryAfter: 300 * time.Millisecond}); w != 300*time.Millisecond {
		t.Errorf("Retry-After 300ms: wait = %v", w)
	}
	if w := p.wait(1, &backend.Error{RetryAfter: time.Minute}); w != time.Second {
		t.Errorf("Retry-After past MaxWait: wait = %v, want capped at 1s", w)
	}
}
