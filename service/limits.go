package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/ratelimit"
)

// Limits to match Bedrock's quotas (issue 7), per model and per tag: calls at once, requests per
// minute and tokens per minute. A call over a limit waits, up to its deadline, for its turn; when
// its turn would come too late it gets RESOURCE_EXHAUSTED at once, with RetryInfo saying when to
// try. Input tokens are estimated before the call and the difference settled with the real
// usage after it, so a tokens-per-minute limit follows what Bedrock counts.
//
// Calls at once are this replica's. Requests and tokens per minute are too, unless a
// SharedLimiter (LIMITS_BACKEND: Redis) is set: then every replica draws on the same buckets, so
// that a limit holds for all of them together, as Bedrock's quota does; while it does not
// answer, each replica enforces its share of the limit, as if the replicas split it evenly.

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
	limit    Limit
	slots    chan struct{} // nil: no concurrency limit
	requests *rate.Limiter // nil: no request rate
	tokens   *rate.Limiter // nil: no token rate

	// The same rates as buckets a SharedLimiter keeps (nil: no such rate).
	sharedRequests, sharedTokens *ratelimit.Bucket
	// debt is the tokens calls used beyond their estimates, not yet taken from the shared
	// bucket: the next call takes them with its own, so that a call costs one round trip.
	debt atomic.Int64

	// shareMu guards share, the replicas the local rates are divided among (1: not divided).
	shareMu sync.Mutex
	share   int
}

// requestsBurst is one: calls are spaced evenly, as Bedrock's per-minute quotas are enforced
// over short windows.
const requestsBurst = 1

func newLimiter(name string, l Limit) *limiter {
	lim := &limiter{name: name, limit: l, share: 1}
	if l.Concurrency > 0 {
		lim.slots = make(chan struct{}, l.Concurrency)
	}
	if l.RequestsPerMinute > 0 {
		perSecond := float64(l.RequestsPerMinute) / 60
		lim.requests = rate.NewLimiter(rate.Limit(perSecond), requestsBurst)
		lim.sharedRequests = &ratelimit.Bucket{Key: name + ":requests", Rate: perSecond, Burst: requestsBurst}
	}
	if l.TokensPerMinute > 0 {
		perSecond := float64(l.TokensPerMinute) / 60
		lim.tokens = rate.NewLimiter(rate.Limit(perSecond), l.TokensPerMinute)
		lim.sharedTokens = &ratelimit.Bucket{Key: name + ":tokens", Rate: perSecond, Burst: l.TokensPerMinute}
	}
	return lim
}

// divide sets the local rates to 1/replicas of the limit: this replica's share while the shared
// buckets cannot be reached.
func (lim *limiter) divide(replicas int) {
	replicas = max(1, replicas)
	lim.shareMu.Lock()
	defer lim.shareMu.Unlock()
	if lim.share == replicas {
		return
	}
	lim.share = replicas
	if lim.requests != nil {
		lim.requests.SetLimit(rate.Limit(float64(lim.limit.RequestsPerMinute) / 60 / float64(replicas)))
	}
	if lim.tokens != nil {
		lim.tokens.SetLimit(rate.Limit(float64(lim.limit.TokensPerMinute) / 60 / float64(replicas)))
		lim.tokens.SetBurst(max(1, lim.limit.TokensPerMinute/replicas))
	}
}

// SharedLimiter keeps rate buckets that replicas share: [ratelimit.Redis].
type SharedLimiter interface {
	// Reserve takes every take at once if its turn comes within maxWait (negative: any wait).
	Reserve(ctx context.Context, takes []ratelimit.Take, maxWait time.Duration) (ratelimit.Reservation, error)
	// Refund gives back takes that will not be used.
	Refund(ctx context.Context, takes []ratelimit.Take) error
	// Heartbeat says whether the shared store answers, and counts the replicas.
	Heartbeat(ctx context.Context) error
	// Replicas is how many replicas share the buckets, as last counted.
	Replicas() int
}

// limits holds the limiters by model id and by route key.
type limits struct {
	byModel map[string]*limiter
	byRoute map[string]*limiter
	// shared, when set, keeps the request and token rates for all replicas.
	shared SharedLimiter
}

func newLimits(models map[string]Limit, routes []Route, shared SharedLimiter) *limits {
	l := &limits{byModel: map[string]*limiter{}, byRoute: map[string]*limiter{}, shared: shared}
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

// forCall lists the limiters a call to model modelID (m, when known) on route goes through: the
// model's, by the id called and by its foundation id (which covers every profile of it), and the
// route's.
func (l *limits) forCall(route, modelID string, m *catalog.Model) []*limiter {
	var out []*limiter
	if lim := l.byModel[modelID]; lim != nil {
		out = append(out, lim)
	}
	if m != nil && m.ID != modelID {
		if lim := l.byModel[m.ID]; lim != nil {
			out = append(out, lim)
		}
	}
	if lim := l.byRoute[route]; lim != nil {
		out = append(out, lim)
	}
	return out
}

// charge counts tokens a call used and that no turn took: they are taken as debt the next calls
// wait for. Embeddings are charged so, once their usage is known, as their input cannot be
// estimated per upstream call of a fan-out.
func (l *limits) charge(lims []*limiter, tokens int64) {
	chargeTo(lims, tokens, l.shared != nil)
}

// chargeTo takes tokens from the shared buckets (as debt, with the next call's turn) or, when
// shared is false, from this replica's own.
func chargeTo(lims []*limiter, tokens int64, shared bool) {
	if tokens <= 0 {
		return
	}
	for _, lim := range lims {
		switch {
		case shared && lim.sharedTokens != nil:
			lim.debt.Add(tokens) // taken from the shared bucket with the next call's turn
		case !shared && lim.tokens != nil:
			lim.tokens.ReserveN(time.Now(), int(min(tokens, int64(lim.tokens.Burst()))))
		}
	}
}

// acquire waits for the call's turn at every limiter, estimating its input tokens, and returns
// what settles the call once its usage is known.
func (l *limits) acquire(ctx context.Context, lims []*limiter, estimate int) (settle func(used int64), err error) {
	if len(lims) == 0 {
		return func(int64) {}, nil
	}
	// Slots first, for every limiter: a call refused for want of one has taken no turn anywhere.
	release, err := takeSlots(ctx, lims)
	if err != nil {
		return nil, err
	}
	shared, err := l.takeTurns(ctx, lims, estimate)
	if err != nil {
		release()
		return nil, err
	}
	return func(used int64) {
		// The estimate fell short: the rest is taken now, as debt the next calls wait for.
		chargeTo(lims, used-int64(estimate), shared)
		release()
	}, nil
}

// takeSlots takes a slot of every limiter with a concurrency limit, or none; release gives
// them back.
func takeSlots(ctx context.Context, lims []*limiter) (release func(), err error) {
	var held []*limiter
	release = func() {
		for _, lim := range held {
			<-lim.slots
		}
	}
	for _, lim := range lims {
		if lim.slots == nil {
			continue
		}
		if err := takeSlot(ctx, lim); err != nil {
			release()
			return nil, err
		}
		held = append(held, lim)
	}
	return release, nil
}

// takeTurns waits for the call's turn in every request and token rate: the shared buckets when
// there are some and they answer, else this replica's own (its share of them, with shared ones).
// shared says which served the turn.
func (l *limits) takeTurns(ctx context.Context, lims []*limiter, estimate int) (shared bool, err error) {
	if l.shared != nil {
		err := sharedTurns(ctx, l.shared, lims, estimate)
		if !errors.Is(err, ratelimit.ErrUnavailable) {
			return true, err
		}
		for _, lim := range lims {
			lim.divide(l.shared.Replicas())
		}
	}
	return false, localTurns(ctx, lims, estimate)
}

// sharedTurns takes the call's turn from the shared buckets in one round trip, with the tokens
// earlier calls used beyond their estimates, and waits for it.
func sharedTurns(ctx context.Context, shared SharedLimiter, lims []*limiter, estimate int) error {
	var (
		takes []ratelimit.Take
		what  []string // per take, for the status of a refusal
		owner []*limiter
		debts []int64 // per limiter, the debt taken along
	)
	for _, lim := range lims {
		debt := lim.debt.Swap(0)
		debts = append(debts, debt)
		if lim.sharedRequests != nil {
			takes, what, owner = append(takes, ratelimit.Take{Bucket: lim.sharedRequests, N: 1}), append(what, "requests per minute"), append(owner, lim)
		}
		if lim.sharedTokens != nil && estimate+int(debt) > 0 {
			takes, what, owner = append(takes, ratelimit.Take{Bucket: lim.sharedTokens, N: estimate + int(debt)}), append(what, "tokens per minute"), append(owner, lim)
		}
	}
	keepDebts := func() {
		for i, lim := range lims {
			lim.debt.Add(debts[i])
		}
	}
	maxWait := time.Duration(-1)
	if deadline, ok := ctx.Deadline(); ok {
		maxWait = max(0, time.Until(deadline))
	}
	res, err := shared.Reserve(ctx, takes, maxWait)
	if err != nil {
		keepDebts()
		return err
	}
	if !res.OK {
		keepDebts()
		return overLimit(owner[res.Blocking], what[res.Blocking], res.Delay)
	}
	if res.Delay > 0 {
		t := time.NewTimer(res.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			_ = shared.Refund(ctx, takes) // a failed refund only wastes a turn
			keepDebts()
			return overLimit(owner[res.Blocking], what[res.Blocking], res.Delay)
		}
	}
	return nil
}

// localTurns waits for the call's turn in this replica's rate limiters.
func localTurns(ctx context.Context, lims []*limiter, estimate int) error {
	var reserved []turn // turns taken, given back if a later limiter refuses
	for _, lim := range lims {
		for _, b := range []struct {
			bucket *rate.Limiter
			n      int
			what   string
		}{{lim.requests, 1, "requests per minute"}, {lim.tokens, estimate, "tokens per minute"}} {
			r, err := wait(ctx, lim, b.bucket, b.n, b.what)
			if err != nil {
				for _, r := range reserved {
					r.CancelAt(r.at) // at the time it was taken, so even a turn due at once is given back
				}
				return err
			}
			if r.Reservation != nil {
				reserved = append(reserved, r)
			}
		}
	}
	return nil
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
