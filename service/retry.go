package service

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/strata-gateway/strata/backend"
)

// RetryPolicy is Strata's one retry layer (the SDK's own retryer is off). It retries what can
// succeed on a second try (throttling, model not ready, model timeout, 5xx, connection resets, a
// stream cut before any output) and nothing else, with exponential backoff and full jitter.
type RetryPolicy struct {
	// MaxAttempts is the most calls made for one request (RD-Agent's MAX_RETRY), at least 1.
	MaxAttempts int
	// BaseWait is the backoff's first ceiling (RETRY_WAIT_SECONDS); it doubles each attempt.
	BaseWait time.Duration
	// MaxWait caps every wait (RETRY_MAX_WAIT_SECONDS), Retry-After hints included.
	MaxWait time.Duration
}

// wait is how long to wait before attempt n+1 after attempt n failed with err: Bedrock's
// Retry-After hint when it sent one, else a uniform draw below min(MaxWait, BaseWait·2^(n-1))
// ("full jitter", which spreads out callers that failed together).
func (p RetryPolicy) wait(n int, err *backend.Error) time.Duration {
	if err.RetryAfter > 0 {
		return min(err.RetryAfter, p.MaxWait)
	}
	if p.BaseWait <= 0 {
		return 0
	}
	ceiling := p.BaseWait << min(n-1, 30)
	if ceiling <= 0 || ceiling > p.MaxWait {
		ceiling = p.MaxWait
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// do calls fn until it succeeds, fails with an error retrying cannot fix, runs out of attempts,
// or would end past ctx's deadline. It returns the attempts made and the last upstream error,
// never a generic one.
func (p RetryPolicy) do(ctx context.Context, fn func(ctx context.Context) error) (int, error) {
	for attempt := 1; ; attempt++ {
		began := time.Now()
		err := fn(ctx)
		if err == nil {
			return attempt, nil
		}
		took := time.Since(began)
		be, ok := backend.AsError(err)
		if !ok || !be.Retryable() || attempt >= p.MaxAttempts || ctx.Err() != nil {
			return attempt, err
		}
		wait := p.wait(attempt, be)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait+took {
			// The next attempt, after its wait and as long as this one took, could not finish in
			// time: better the real error now than a timeout later.
			return attempt, err
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return attempt, err
			}
		}
	}
}
