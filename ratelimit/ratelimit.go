// Package ratelimit holds rate limits that several Strata replicas share through Redis: token
// buckets kept as GCRA state (one "theoretical arrival time" per bucket), taken and given back
// atomically by Lua scripts, so that a call costs one Redis round trip however many buckets it
// draws on. It also counts the replicas that share the limits, so that a replica cut off from
// Redis can fall back to its share of each limit.
//
// Bedrock's quotas are per account and region, not per replica: with N replicas each enforcing
// the whole quota, the account sees N times what it allows and answers with throttling.
package ratelimit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/strata-gateway/strata/internal/redisclient"
)

// Bucket is one rate limit: Rate units a second, at most Burst at once. Buckets with the same
// Key share their state across replicas, so every replica must give a key the same rate.
type Bucket struct {
	Key   string
	Rate  float64
	Burst int
}

// Take is n units of a bucket.
type Take struct {
	Bucket *Bucket
	N      int
}

// Reservation is the answer to Reserve.
type Reservation struct {
	// OK says the units were taken; the caller may go ahead after Delay.
	OK bool
	// Delay is how long the caller must wait for its turn: when OK, the wait it committed to;
	// when not, how long it would have had to wait (for RetryInfo).
	Delay time.Duration
	// Blocking is the index, in the takes, of the bucket whose turn comes last.
	Blocking int
}

// ErrUnavailable is returned while Redis does not answer: the caller enforces its share of the
// limits itself (see [Redis.Replicas]) until the heartbeat finds Redis back.
var ErrUnavailable = errors.New("ratelimit: the shared limits' Redis does not answer")

// Timeout bounds every Redis round trip: a limit that cannot be checked this fast is enforced
// locally instead, so a slow Redis never slows a call by more than this, and then only once.
const Timeout = 100 * time.Millisecond

// Options tune a [Redis]. Zero values take the defaults.
type Options struct {
	// Heartbeat is how often a replica says it is alive (default 5 s), and ReplicaTTL how long
	// after its last word it stops being counted (default three heartbeats).
	Heartbeat  time.Duration
	ReplicaTTL time.Duration
	// Prefix starts every key (default "strata:limits:").
	Prefix string
	// Logger hears when Redis goes away and comes back.
	Logger *slog.Logger
}

// Redis is the shared limiter. Its methods are safe for concurrent use.
type Redis struct {
	client  *redis.Client
	opts    Options
	replica string // this replica's id in the replica set
	log     *slog.Logger

	up       atomic.Bool
	replicas atomic.Int64 // the last count heard from Redis; at least 1

	stop     context.CancelFunc
	stopped  chan struct{}
	closeErr error
	once     sync.Once
}

//go:embed reserve.lua
var reserveSource string

//go:embed refund.lua
var refundSource string

var (
	// The scripts are immutable values, shared like the constants they are; go-redis runs them
	// with EVALSHA, falling back to EVAL once after a Redis restart.
	reserveScript = redis.NewScript(reserveSource)
	refundScript  = redis.NewScript(refundSource)
)

// NewRedis connects to the Redis at url (redis://host:port/db, or rediss:// for TLS), says this
// replica is alive, and keeps saying so every heartbeat until Close. A Redis that does not answer
// at start is not an error: limits are enforced locally until it does.
func NewRedis(ctx context.Context, url string, opts Options) (*Redis, error) {
	client, err := redisclient.New(url, Timeout) // a failed round trip means "enforce locally", not "wait longer"
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 5 * time.Second
	}
	if opts.ReplicaTTL <= 0 {
		opts.ReplicaTTL = 3 * opts.Heartbeat
	}
	if opts.Prefix == "" {
		opts.Prefix = "strata:limits:"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Redis{client: client, opts: opts, replica: replicaID(), log: log, stopped: make(chan struct{})}
	r.replicas.Store(1)
	r.up.Store(true) // until the first heartbeat says otherwise, so that it logs a change
	_ = r.Heartbeat(ctx)
	loop, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	go r.heartbeats(loop)
	return r, nil
}

// replicaID names this process in the replica set: host and pid for a person reading Redis, and
// random bytes so that two processes never share a name.
func replicaID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// heartbeats says the replica is alive every heartbeat, and every second while Redis is away so
// that shared limits resume soon after it is back.
func (r *Redis) heartbeats(ctx context.Context) {
	defer close(r.stopped)
	for {
		every := r.opts.Heartbeat
		if !r.up.Load() {
			every = min(every, time.Second)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_ = r.Heartbeat(ctx)
	}
}

// Heartbeat says this replica is alive and counts the live ones, in one round trip; it tells
// whether Redis answers (HealthCheck calls it too).
func (r *Redis) Heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	now := time.Now()
	key := r.opts.Prefix + "replicas"
	pipe := r.client.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(now.UnixMilli()), Member: r.replica})
	pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.Add(-r.opts.ReplicaTTL).UnixMilli(), 10))
	count := pipe.ZCard(ctx, key)
	pipe.PExpire(ctx, key, r.opts.ReplicaTTL)
	_, err := pipe.Exec(ctx)
	if err != nil {
		r.down(err)
		return fmt.Errorf("ratelimit: heartbeat: %w", err)
	}
	r.replicas.Store(max(1, count.Val()))
	if !r.up.Swap(true) {
		r.log.Info("the shared limits' Redis answers again: limits are shared by the replicas", "replicas", r.replicas.Load())
	}
	return nil
}

// down marks Redis as away after a failed round trip.
func (r *Redis) down(err error) {
	if r.up.Swap(false) {
		r.log.Warn("the shared limits' Redis does not answer: each replica enforces its share of the limits until it does",
			"replicas", r.replicas.Load(), "error", err)
	}
}

// Up says whether Redis answered the last round trip.
func (r *Redis) Up() bool { return r.up.Load() }

// Replicas is how many replicas share the limits, as last heard from Redis (at least 1): a
// replica cut off from Redis enforces 1/Replicas of each limit.
func (r *Redis) Replicas() int { return int(r.replicas.Load()) }

// Reserve takes every take's units at once, if the turn that gives them all comes within maxWait
// (a negative maxWait: whenever it comes). A reservation that is not OK took nothing. While Redis
// is away, it returns [ErrUnavailable] at once, without a round trip.
func (r *Redis) Reserve(ctx context.Context, takes []Take, maxWait time.Duration) (Reservation, error) {
	if len(takes) == 0 {
		return Reservation{OK: true}, nil
	}
	if !r.up.Load() {
		return Reservation{}, ErrUnavailable
	}
	keys, args := r.scriptArgs(takes)
	wait := int64(-1)
	if maxWait >= 0 {
		wait = maxWait.Microseconds()
	}
	args = append([]any{wait}, args...)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v, err := reserveScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		r.down(err)
		return Reservation{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(v) != 3 {
		return Reservation{}, fmt.Errorf("ratelimit: the reserve script answered %v", v)
	}
	return Reservation{OK: v[0] == 1, Delay: time.Duration(v[1]) * time.Microsecond, Blocking: int(v[2])}, nil
}

// Refund gives back units a caller took and will not use (its deadline came while it waited).
func (r *Redis) Refund(ctx context.Context, takes []Take) error {
	if len(takes) == 0 || !r.up.Load() {
		return nil
	}
	keys, args := r.scriptArgs(takes)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	defer cancel()
	if err := refundScript.Run(ctx, r.client, keys, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		r.down(err)
		return fmt.Errorf("ratelimit: refund: %w", err)
	}
	return nil
}

// scriptArgs lays the takes out as the scripts read them: a key each, and per key the
// microseconds one unit is worth, the burst tolerance in microseconds, and the units.
func (r *Redis) scriptArgs(takes []Take) (keys []string, args []any) {
	keys = make([]string, len(takes))
	args = make([]any, 0, 3*len(takes))
	for i, t := range takes {
		keys[i] = r.opts.Prefix + t.Bucket.Key
		interval := 1e6 / t.Bucket.Rate
		n := max(0, min(t.N, t.Bucket.Burst)) // a take larger than the burst could never be served
		args = append(args, strconv.FormatFloat(interval, 'f', 3, 64),
			strconv.FormatFloat(math.Max(1, float64(t.Bucket.Burst))*interval, 'f', 3, 64), n)
	}
	return keys, args
}

// Close stops the heartbeat, takes this replica out of the count and closes the connections.
func (r *Redis) Close() error {
	r.once.Do(func() {
		r.stop()
		<-r.stopped
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		_ = r.client.ZRem(ctx, r.opts.Prefix+"replicas", r.replica).Err()
		r.closeErr = r.client.Close()
	})
	return r.closeErr
}
