package service

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/strata-gateway/strata/backend"
)

// Limits to match Bedrock's quotas (issue 7), per model and per tag: calls at once, requests per
// minute and tokens per minute. A call over a limit waits, up to its deadline, for its turn; when
// its turn would come too late it gets RESOURCE_EXHAUSTED at once, with RetryInfo saying when to
// try. Input tokens are estimated before the call and the difference settled with the real
// usage after it, so a tokens-per-minute limit follows what Bedrock counts.
//
// The limits are this replica's; with several replicas, each enforces its own (sharing them
// through Redis is issue 8's).

// Limit is one set of limits; zero fields are unlimited.
type Limit struct {
	Concurrency       int
	RequestsPerMinute int
	TokensPerMinute   int
}

func (l Limit) empty() bool {
	return l.Concurrency <= 0 && l.RequestsPerMinute <= 0 && l.TokensPerMinute <= 0
}

// ReasonRateLimited is the ErrorInfo reason of a call over a configured limit.
const ReasonRateLimited = "RATE_LIMITED"

// limiter enforces one Limit.
type limiter struct {
	name     string
	slots    chan struct{} // nil: no concurrency limit
	requests *rate.Limiter // nil: no request rate
	tokens   *rate.Limiter // nil: no token rate
}

func newLimiter(name string, l Limit) *limiter {
	lim := &limiter{name: name}
	if l.Concurrency > 0 {
		lim.slots = make(chan struct{}, l.Concurrency)
	}
	if l.RequestsPerMinute > 0 {
		// A burst of one: calls are spaced evenly, as Bedrock's per-minute quotas are enforced
		// over short windows.
		lim.requests = rate.NewLimiter(rate.Limit(float64(l.RequestsPerMinute)/60), 1)
	}
	if l.TokensPerMinute > 0 {
		lim.tokens = rate.NewLimiter(rate.Limit(float64(l.TokensPerMinute)/60), l.TokensPerMinute)
	}
	return lim
}

// limits holds the limiters by model id and by route key.
type limits struct {
	byModel map[string]*limiter
	byRoute map[string]*limiter
}

func newLimits(models map[string]Limit, routes []Route) *limits {
	l := &limits{byModel: map[string]*limiter{}, byRoute: map[string]*limiter{}}
	for id, lim := range models {
		if !lim.empty() {
			l.byModel[id] = newLimiter("model "+id, lim)
		}
	}
	for _, rt := range routes {
		if !rt.Limit.empty() {
			l.byRoute[rt.Key] = newLimiter("tag map entry "+rt.Key, rt.Limit)
		}
	}
	return l
}

// forCall lists the limiters a call to req on route goes through: the model's, by the id called
// and by its foundation id (which covers every profile of it), and the route's.
func (l *limits) forCall(route string, req *backend.ChatRequest) []*limiter {
	var out []*limiter
	if lim := l.byModel[req.ModelID]; lim != nil {
		out = append(out, lim)
	}
	if m := req.Model; m != nil && m.ID != req.ModelID {
		if lim := l.byModel[m.ID]; lim != nil {
			out = append(out, lim)
		}
	}
	if lim := l.byRoute[route]; lim != nil {
		out = append(out, lim)
	}
	return out
}

// acquire waits for the call's turn at every limiter, estimating its input tokens, and returns
// what settles the call once its usage is known.
func acquire(ctx context.Context, lims []*limiter, estimate int) (settle func(used int64), err error) {
	if len(lims) == 0 {
		return func(int64) {}, nil
	}
	var (
		held     []*limiter
		reserved []turn // turns taken, given back if a later limiter refuses
	)
	release := func() {
		for _, lim := range held {
			if lim.slots != nil {
				<-lim.slots
			}
		}
	}
	refuse := func(err error) (func(int64), error) {
		for _, r := range reserved {
			r.CancelAt(r.at) // at the time it was taken, so even a turn due at once is given back
		}
		release()
		return nil, err
	}
	// Slots first, for every limiter: a call refused for want of one has taken no turn anywhere.
	for _, lim := range lims {
		if lim.slots != nil {
			if err := takeSlot(ctx, lim); err != nil {
				return refuse(err)
			}
		}
		held = append(held, lim)
	}
	for _, lim := range lims {
		for _, b := range []struct {
			bucket *rate.Limiter
			n      int
			what   string
		}{{lim.requests, 1, "requests per minute"}, {lim.tokens, estimate, "tokens per minute"}} {
			r, err := wait(ctx, lim, b.bucket, b.n, b.what)
			if err != nil {
				return refuse(err)
			}
			if r.Reservation != nil {
				reserved = append(reserved, r)
			}
		}
	}
	return func(used int64) {
		for _, lim := range held {
			if lim.tokens != nil && used > int64(estimate) {
				// The estimate fell short: take the rest now, as debt the next calls wait for.
				lim.tokens.ReserveN(time.Now(), int(min(used-int64(estimate), int64(lim.tokens.Burst()))))
			}
		}
		release()
	}, nil
}

// slotMargin is how long before its deadline a call stops waiting for a slot, so that the
// caller hears RESOURCE_EXHAUSTED from Strata rather than its own DEADLINE_EXCEEDED.
const slotMargin = 50 * time.Millisecond

// takeSlot waits for one of lim's slots, until shortly before ctx's deadline.
func takeSlot(ctx context.Context, lim *limiter) error {
	select {
	case lim.slots <- struct{}{}:
		return nil
	default:
	}
	wait := ctx
	if deadline, ok := ctx.Deadline(); ok {
		margin := min(slotMargin, time.Until(deadline)/10)
		var cancel context.CancelFunc
		wait, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
		defer cancel()
	}
	select {
	case lim.slots <- struct{}{}:
		return nil
	case <-wait.Done():
		return overLimit(lim, "calls at once", 0)
	}
}

// turn is a reservation and when it was made.
type turn struct {
	*rate.Reservation
	at time.Time
}

// wait takes n from bucket, sleeping for it unless that would end past ctx's deadline, and
// returns the turn taken (none without a bucket).
func wait(ctx context.Context, lim *limiter, bucket *rate.Limiter, n int, what string) (turn, error) {
	if bucket == nil || n <= 0 {
		return turn{}, nil
	}
	n = min(n, bucket.Burst()) // a call larger than a minute's quota waits a whole minute, not forever
	now := time.Now()
	r := turn{bucket.ReserveN(now, n), now}
	delay := r.DelayFrom(now)
	if delay == 0 {
		return r, nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Sub(now) < delay {
		r.CancelAt(now)
		return turn{}, overLimit(lim, what, delay)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return r, nil
	case <-ctx.Done():
		r.CancelAt(now)
		return turn{}, overLimit(lim, what, delay)
	}
}

// overLimit is the status of a call whose turn would come after its deadline.
func overLimit(lim *limiter, what string, retryAfter time.Duration) error {
	return withDetails(codes.ResourceExhausted,
		fmt.Sprintf("%s is at its limit of %s: retry later, or raise the limit", lim.name, what),
		ReasonRateLimited, map[string]string{"limit": lim.name}, orDefault(retryAfter))
}

// estimateInput guesses a request's input tokens from its text, at four characters a token.
func estimateInput(req *backend.ChatRequest) int {
	chars := 0
	for _, p := range req.System {
		chars += len(p.Text)
	}
	for _, m := range req.Messages {
		for _, p := range m.Parts {
			chars += len(p.Text)
			if p.ToolResult != nil {
				chars += len(p.ToolResult.Content)
			}
		}
	}
	return max(1, chars/4)
}
