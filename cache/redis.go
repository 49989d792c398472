package cache

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/strata-gateway/strata/internal/redisclient"
)

// Redis is a Store shared by replicas, in Redis: one GET or SET per call, on a pooled client with
// short timeouts, so that a Redis that is down or slow costs a call at most those timeouts (the
// service then serves uncached, never failing the call). After a failed round trip the store
// stays away for RedisBackoff: calls meanwhile fail at once, so a Redis that does not answer
// costs one timeout a second, not one per call.
type Redis struct {
	client *redis.Client
	prefix string
	// awayUntil is when, in Unix nanoseconds, the store tries Redis again after a failure.
	awayUntil atomic.Int64
}

// RedisTimeout bounds every Redis round trip: a cache that answers slower than this is no cache.
const RedisTimeout = 100 * time.Millisecond

// RedisBackoff is how long the store leaves Redis alone after a failed round trip.
const RedisBackoff = time.Second

// ErrRedisAway is returned, without a round trip, while the store leaves Redis alone after a
// failure.
var ErrRedisAway = errors.New("cache: redis failed a moment ago; not asked again yet")

// away says whether the store is leaving Redis alone.
func (r *Redis) away() bool { return time.Now().UnixNano() < r.awayUntil.Load() }

// failed notes a failed round trip, and returns err.
func (r *Redis) failed(err error) error {
	r.awayUntil.Store(time.Now().Add(RedisBackoff).UnixNano())
	return err
}

// NewRedis connects to the Redis at url (redis://host:port/db, or rediss:// for TLS). Keys are
// prefixed with "strata:". It does not wait for Redis: the first call does.
func NewRedis(url string) (*Redis, error) {
	client, err := redisclient.New(url, RedisTimeout) // a failed round trip is a miss, not a reason to wait longer
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Redis{client: client, prefix: "strata:"}, nil
}

// Get implements [Store].
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if r.away() {
		return nil, false, ErrRedisAway
	}
	ctx, cancel := context.WithTimeout(ctx, RedisTimeout)
	defer cancel()
	v, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.failed(fmt.Errorf("cache: redis get: %w", err))
	}
	value, err := unpack(v)
	if err != nil {
		return nil, false, nil // an entry this version cannot read is a miss
	}
	return value, true, nil
}

// Set implements [Store].
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if r.away() {
		return ErrRedisAway
	}
	ctx, cancel := context.WithTimeout(ctx, RedisTimeout)
	defer cancel()
	if err := r.client.Set(ctx, r.prefix+key, pack(value), ttl).Err(); err != nil {
		return r.failed(fmt.Errorf("cache: redis set: %w", err))
	}
	return nil
}

// Ping checks that Redis answers, for HealthCheck; it always asks, and an answer ends the
// backoff of an earlier failure.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, RedisTimeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return r.failed(err)
	}
	r.awayUntil.Store(0)
	return nil
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }

// Entries in Redis start with a byte that says how the rest is stored: as is, or compressed with
// DEFLATE when the value is large enough for it to pay (a long reply, a vector's JSON-free bytes
// compress less, so only what shrinks is kept compressed).
const (
	packedRaw     = 'r'
	packedDeflate = 'z'
	// compressAbove is the size from which a value is worth compressing.
	compressAbove = 1024
)

func pack(value []byte) []byte {
	if len(value) >= compressAbove {
		var buf bytes.Buffer
		buf.WriteByte(packedDeflate)
		w, _ := flate.NewWriter(&buf, flate.BestSpeed) // BestSpeed is a valid level: no error
		if _, err := w.Write(value); err == nil && w.Close() == nil && buf.Len() < len(value) {
			return buf.Bytes()
		}
	}
	return append([]byte{packedRaw}, value...)
}

func unpack(stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, errors.New("an empty entry")
	}
	switch stored[0] {
	case packedRaw:
		return stored[1:], nil
	case packedDeflate:
		return io.ReadAll(flate.NewReader(bytes.NewReader(stored[1:])))
	}
	return nil, fmt.Errorf("an entry packed as %q", stored[0])
}
