// Package redisclient connects to the Redis that replicas share (the response cache, the shared
// limits) the way Strata uses it: never on the critical path, so every round trip is bounded by a
// short timeout and a failed one is not retried: the caller goes on without Redis instead (serves
// uncached, enforces its share of a limit).
package redisclient

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// New is a pooled client of the Redis at url (redis://host:port/db, or rediss:// for TLS) whose
// dials, reads and writes each give up after timeout, with no retries. It does not wait for
// Redis: the first call does.
func New(url string, timeout time.Duration) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeout, timeout, timeout
	opts.MaxRetries = 0
	return redis.NewClient(opts), nil
}
