package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/redistest"
)

// TestRedis runs against a real redis-server: misses, hits, expiry; a Redis that goes away makes
// calls fail fast (the service then serves uncached), and one that comes back serves again.
func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	r, err := NewRedis(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if _, ok, err := r.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("empty: ok=%v err=%v", ok, err)
	}
	if err := r.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := r.Get(ctx, "k"); !ok || err != nil || string(v) != "v" {
		t.Fatalf("after set: %q %v %v", v, ok, err)
	}
	if err := r.Set(ctx, "short", []byte("v"), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, ok, _ := r.Get(ctx, "short"); ok {
		t.Error("an entry outlived its TTL")
	}

	srv.Stop()
	start := time.Now()
	if _, _, err := r.Get(ctx, "k"); err == nil || time.Since(start) > 500*time.Millisecond {
		t.Errorf("with Redis gone: %v after %v; want an error, fast", err, time.Since(start))
	}
	srv.Restart(t)
	if err := r.Set(ctx, "k", []byte("again"), time.Minute); !errors.Is(err, ErrRedisAway) {
		t.Errorf("right after a failure: %v, want ErrRedisAway until the backoff ends or a ping answers", err)
	}
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("ping with Redis back: %v", err)
	}
	if err := r.Set(ctx, "k", []byte("again"), time.Minute); err != nil {
		t.Fatalf("with Redis back: %v", err)
	}
	if v, ok, err := r.Get(ctx, "k"); !ok || err != nil || string(v) != "again" {
		t.Errorf("with Redis back: %q %v %v", v, ok, err)
	}
}

// TestRedisSilent: a Redis that accepts connections and never answers costs a call the timeout,
// once: the calls after it within the backoff fail at once, without a round trip.
func TestRedisSilent(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept, read, never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = c.Read(make([]byte, 1024)); <-t.Context().Done(); c.Close() }()
		}
	}()
	r, err := NewRedis("redis://" + ln.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if _, _, err := r.Get(t.Context(), "k"); err == nil || time.Since(start) > 3*RedisTimeout {
		t.Fatalf("a silent Redis: %v after %v; want an error within the timeout", err, time.Since(start))
	}
	for range 100 {
		start := time.Now()
		if _, _, err := r.Get(t.Context(), "k"); !errors.Is(err, ErrRedisAway) || time.Since(start) > 5*time.Millisecond {
			t.Fatalf("the next call: %v after %v; want ErrRedisAway at once", err, time.Since(start))
		}
	}
}

func TestPack(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("the same sentence again. "), 200)
	for _, v := range [][]byte{nil, []byte("short"), long, randomBytes(4096)} {
		packed := pack(v)
		got, err := unpack(packed)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("%d bytes: round trip %d bytes, %v", len(v), len(got), err)
		}
		if len(v) == len(long) && len(packed) > len(long)/4 {
			t.Errorf("a repetitive %d-byte value packed to %d bytes: not compressed", len(v), len(packed))
		}
	}
	if _, err := unpack([]byte("?x")); err == nil {
		t.Error("an unknown packing was read")
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
