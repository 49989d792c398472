package service

import (
	"context"
	"slices"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/ratelimit"
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

// recordingShared is a SharedLimiter that grants every turn at once and records the takes, or,
// when away, answers as a Redis that does not answer.
type recordingShared struct {
	away     bool
	replicas int
	takes    [][]ratelimit.Take
}

func (r *recordingShared) Reserve(_ context.Context, takes []ratelimit.Take, _ time.Duration) (ratelimit.Reservation, error) {
	if r.away {
		return ratelimit.Reservation{}, ratelimit.ErrUnavailable
	}
	r.takes = append(r.takes, slices.Clone(takes))
	return ratelimit.Reservation{OK: true}, nil
}
func (r *recordingShared) Refund(context.Context, []ratelimit.Take) error { return nil }
func (r *recordingShared) Heartbeat(context.Context) error                { return nil }
func (r *recordingShared) Replicas() int                                  { return r.replicas }

// TestSharedLimits: with shared buckets, a call takes its request and its estimated tokens in one
// reservation, tokens beyond the estimate ride along with the next call's, and embeddings' tokens
// are charged so too; with the buckets away, the replica enforces its share locally.
func TestSharedLimits(t *testing.T) {
	t.Parallel()
	shared := &recordingShared{replicas: 4}
	l := newLimits(map[string]Limit{"m": {RequestsPerMinute: 240, TokensPerMinute: 6000}}, nil, shared)
	lims := l.forCall("", "m", nil)
	ctx := context.Background()
	taken := func() []int {
		var n []int
		for _, tk := range shared.takes[len(shared.takes)-1] {
			n = append(n, tk.N)
		}
		return n
	}

	settle, err := l.acquire(ctx, lims, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := taken(); !slices.Equal(got, []int{1, 10}) {
		t.Errorf("first call took %v, want a request and its 10 estimated tokens", got)
	}
	settle(25) // 15 more than estimated
	l.charge(lims, 5)
	settle, err = l.acquire(ctx, lims, 10)
	if err != nil {
		t.Fatal(err)
	}
	settle(10)
	if got := taken(); !slices.Equal(got, []int{1, 30}) {
		t.Errorf("second call took %v, want a request and 10 + 15 + 5 tokens", got)
	}

	shared.away = true
	settle, err = l.acquire(ctx, lims, 10)
	if err != nil {
		t.Fatal(err)
	}
	settle(10)
	if got, want := lims[0].requests.Limit(), rate.Limit(240.0/60/4); got != want {
		t.Errorf("with the shared buckets away, the local rate is %v a second, want a quarter of the limit, %v", got, want)
	}
	if got := lims[0].tokens.Burst(); got != 1500 {
		t.Errorf("local token burst %d, want 6000/4", got)
	}
}
