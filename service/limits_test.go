package service

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestLimitWaitsOrRefuses(t *testing.T) {
	t.Parallel()
	lim := newLimiter("model m", Limit{RequestsPerMinute: 120}) // one every 500 ms
	ctx := context.Background()
	settle, err := (&limits{}).acquire(ctx, []*limiter{lim}, 10)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	settle(10)

	// The next turn is ~500 ms away: a 100 ms deadline cannot wait for it.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = (&limits{}).acquire(short, []*limiter{lim}, 10)
	if status.Code(err) != codes.ResourceExhausted || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("a call whose turn comes after its deadline: %v after %v; want RESOURCE_EXHAUSTED at once", err, time.Since(start))
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() < 300*time.Millisecond {
		t.Errorf("RetryInfo %v, want the ~500 ms until the next turn", retry)
	}

	// A call that can wait, waits its turn.
	start = time.Now()
	settle, err = (&limits{}).acquire(ctx, []*limiter{lim}, 10)
	if err != nil || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("a call that can wait: %v after %v; want its turn, ~500 ms on", err, time.Since(start))
	}
	settle(10)
}

func TestLimitConcurrency(t *testing.T) {
	t.Parallel()
	lim := newLimiter("tag map entry x", Limit{Concurrency: 1})
	settle, err := (&limits{}).acquire(context.Background(), []*limiter{lim}, 1)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&limits{}).acquire(short, []*limiter{lim}, 1); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a second call while the only slot is held: %v, want RESOURCE_EXHAUSTED at its deadline", err)
	}
	settle(1)
	settle2, err := (&limits{}).acquire(context.Background(), []*limiter{lim}, 1)
	if err != nil {
		t.Fatalf("after the slot was given back: %v", err)
	}
	settle2(1)
}

func TestLimitTokensSettledWithUsage(t *testing.T) {
	t.Parallel()
	lim := newLimiter("model m", Limit{TokensPerMinute: 600}) // 10 tokens a second, a minute's burst
	settle, err := (&limits{}).acquire(context.Background(), []*limiter{lim}, 100)
	if err != nil {
		t.Fatal(err)
	}
	settle(600) // the call used far more than estimated: the rest is taken as debt
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := (&limits{}).acquire(short, []*limiter{lim}, 10); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("after a call that used the minute's tokens: %v, want RESOURCE_EXHAUSTED", err)
	}
}

// TestLimitRefusalGivesTurnsBack: a call refused by a later limiter gives back the turns it took
// at the earlier ones, so a refused call costs no one a turn.
func TestLimitRefusalGivesTurnsBack(t *testing.T) {
	t.Parallel()
	model := newLimiter("model m", Limit{RequestsPerMinute: 60}) // one a second
	route := newLimiter("tag map entry x", Limit{Concurrency: 1})
	holdRoute, err := (&limits{}).acquire(context.Background(), []*limiter{route}, 1)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&limits{}).acquire(short, []*limiter{model, route}, 1); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("refused by the route: %v", err)
	}
	holdRoute(1)
	start := time.Now()
	settle, err := (&limits{}).acquire(context.Background(), []*limiter{model}, 1)
	if err != nil || time.Since(start) > 200*time.Millisecond {
		t.Fatalf("the model's turn after a refused call: %v after %v; want it at once", err, time.Since(start))
	}
	settle(1)
}

// TestLimitRateRefusalGivesTurnsBack: refused by a later limiter's rate, a call gives back even
// the turn it took at once at an earlier one.
func TestLimitRateRefusalGivesTurnsBack(t *testing.T) {
	t.Parallel()
	model := newLimiter("model m", Limit{RequestsPerMinute: 60})
	route := newLimiter("tag map entry x", Limit{RequestsPerMinute: 60})
	settle, err := (&limits{}).acquire(context.Background(), []*limiter{route}, 1) // the route's turn is taken for a second
	if err != nil {
		t.Fatal(err)
	}
	settle(1)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&limits{}).acquire(short, []*limiter{model, route}, 1); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("refused by the route's rate: %v", err)
	}
	start := time.Now()
	settle, err = (&limits{}).acquire(context.Background(), []*limiter{model}, 1)
	if err != nil || time.Since(start) > 200*time.Millisecond {
		t.Fatalf("the model's turn after a refused call: %v after %v; want it at once", err, time.Since(start))
	}
	settle(1)
}
