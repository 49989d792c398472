package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-gateway/strata/internal/redistest"
)

// TestMain fails the package if a limiter's heartbeat outlives Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newReplica is one replica's limiter on the Redis at url, closed when the test ends.
func newReplica(t *testing.T, url string, heartbeat time.Duration) *Redis {
	t.Helper()
	r, err := NewRedis(t.Context(), url, Options{Heartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestReserve(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := newReplica(t, srv.URL(), time.Hour), newReplica(t, srv.URL(), time.Hour)
	ctx := t.Context()
	twice := &Bucket{Key: "model m:requests", Rate: 2, Burst: 1} // one every 500 ms
	tokens := &Bucket{Key: "model m:tokens", Rate: 100, Burst: 1000}

	tests := []struct {
		name      string
		on        *Redis
		takes     []Take
		maxWait   time.Duration
		wantOK    bool
		wantDelay [2]time.Duration // bounds
		blocking  int
	}{
		{"a's first request goes at once", a, []Take{{twice, 1}}, 0, true, [2]time.Duration{0, 0}, 0},
		{"b's request right after waits for a's turn to pass: refused when it cannot wait", b, []Take{{twice, 1}}, 0, false, [2]time.Duration{400 * time.Millisecond, 500 * time.Millisecond}, 0},
		{"refused took nothing: the same wait again", b, []Take{{twice, 1}}, 100 * time.Millisecond, false, [2]time.Duration{400 * time.Millisecond, 500 * time.Millisecond}, 0},
		{"tokens within the burst go at once", a, []Take{{tokens, 900}}, 0, true, [2]time.Duration{0, 0}, 0},
		{"the bucket that waits longest is named, and neither bucket is taken", b, []Take{{tokens, 50}, {twice, 1}}, 0, false, [2]time.Duration{400 * time.Millisecond, 500 * time.Millisecond}, 1},
		{"the tokens were not taken by the refusal above", a, []Take{{tokens, 100}}, 0, true, [2]time.Duration{0, 0}, 0},
		{"a take beyond what is left waits for it", a, []Take{{tokens, 200}}, -1, true, [2]time.Duration{1900 * time.Millisecond, 2 * time.Second}, 0},
		{"a caller that can wait gets the turn after a's", b, []Take{{twice, 1}}, time.Second, true, [2]time.Duration{400 * time.Millisecond, 500 * time.Millisecond}, 0},
		{"and the next one the turn after that", a, []Take{{twice, 1}}, time.Second, true, [2]time.Duration{900 * time.Millisecond, time.Second}, 0},
	}
	for _, tt := range tests {
		res, err := tt.on.Reserve(ctx, tt.takes, tt.maxWait)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.OK != tt.wantOK || res.Delay < tt.wantDelay[0] || res.Delay > tt.wantDelay[1] || res.Blocking != tt.blocking {
			t.Errorf("%s: %+v; want ok=%v, a delay in %v, blocking %d", tt.name, res, tt.wantOK, tt.wantDelay, tt.blocking)
		}
	}

	// A refund gives the turn back: the turn after the refunded one moves up.
	before, err := a.Reserve(ctx, []Take{{twice, 1}}, 0)
	if err != nil || before.OK {
		t.Fatalf("before the refund: %+v, %v", before, err)
	}
	if err := b.Refund(ctx, []Take{{twice, 1}}); err != nil {
		t.Fatal(err)
	}
	after, err := a.Reserve(ctx, []Take{{twice, 1}}, 0)
	if err != nil || after.Delay > before.Delay-400*time.Millisecond {
		t.Errorf("after a refund of one turn: %+v, %v; want ~500 ms less than %v", after, err, before.Delay)
	}

	// One round trip a reservation or refund, however many buckets: its script, sent by its
	// hash (and once in full, when Redis did not know it yet). Redis counts the commands the
	// scripts run too, but the client sent no other.
	calls := srv.Calls(t)
	if trips := len(tests) + 3; calls["evalsha"] != trips || calls["eval"] != 2 {
		t.Errorf("Redis ran %v for %d reservations and refunds; want one EVALSHA each, and each script once in full", calls, trips)
	}
}

func TestReplicasAndOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newReplica(t, srv.URL(), 50*time.Millisecond)
	b := newReplica(t, srv.URL(), 50*time.Millisecond)
	waitUntil(t, "both replicas counted", func() bool { return a.Replicas() == 2 && b.Replicas() == 2 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a closed replica no longer counted", func() bool { return a.Replicas() == 1 })

	bucket := &Bucket{Key: "outage", Rate: 1, Burst: 1}
	srv.Stop()
	start := time.Now()
	if _, err := a.Reserve(t.Context(), []Take{{bucket, 1}}, 0); !errors.Is(err, ErrUnavailable) || time.Since(start) > 2*Timeout {
		t.Fatalf("with Redis gone: %v after %v; want ErrUnavailable within the timeout", err, time.Since(start))
	}
	if a.Up() {
		t.Error("Up after a failed round trip")
	}
	start = time.Now()
	if _, err := a.Reserve(t.Context(), []Take{{bucket, 1}}, 0); !errors.Is(err, ErrUnavailable) || time.Since(start) > 5*time.Millisecond {
		t.Errorf("while Redis is known to be away: %v after %v; want ErrUnavailable without a round trip", err, time.Since(start))
	}
	if a.Replicas() != 1 {
		t.Errorf("replicas while away: %d, want the last count", a.Replicas())
	}
	srv.Restart(t)
	waitUntil(t, "the heartbeat finding Redis back", a.Up)
	if res, err := a.Reserve(t.Context(), []Take{{bucket, 1}}, 0); err != nil || !res.OK {
		t.Errorf("with Redis back: %+v, %v", res, err)
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	if _, err := NewRedis(t.Context(), "memcached://127.0.0.1:11211", Options{}); err == nil {
		t.Error("a URL that is not Redis's was accepted")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkReserve is one call's round trip to a local redis-server: the price of sharing limits.
func BenchmarkReserve(b *testing.B) {
	srv := redistest.Start(b)
	r, err := NewRedis(context.Background(), srv.URL(), Options{Heartbeat: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	takes := []Take{{&Bucket{Key: "bench:requests", Rate: 1e9, Burst: 1}, 1}, {&Bucket{Key: "bench:tokens", Rate: 1e12, Burst: 1 << 40}, 100}}
	for b.Loop() {
		if _, err := r.Reserve(context.Background(), takes, -1); err != nil {
			b.Fatal(err)
		}
	}
}
