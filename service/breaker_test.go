package service

import (
	"testing"
	"time"

	"github.com/strata-gateway/strata/backend"
)

func TestBreaker(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	b := newBreakers(BreakerOptions{Failures: 3, Cooldown: 10 * time.Second}, func() time.Time { return now })
	const m = "us.amazon.nova-micro-v1:0"
	throttled := &backend.Error{Kind: backend.KindThrottled, Model: m}
	invalid := &backend.Error{Kind: backend.KindInvalid, Model: m}
	canceled := &backend.Error{Kind: backend.KindCanceled, Model: m}
	allowed := func(want bool, step string) {
		t.Helper()
		if ok, _ := b.allow(m); ok != want {
			t.Fatalf("%s: allow = %v, want %v", step, ok, want)
		}
	}
	state := func(want CircuitState, step string) {
		t.Helper()
		got := CircuitClosed
		for _, c := range b.snapshot() {
			if c.Model == m {
				got = c.State
			}
		}
		if got != want {
			t.Fatalf("%s: state %s, want %s", step, got, want)
		}
	}

	b.record(m, throttled)
	b.record(m, throttled)
	b.record(m, invalid) // the request's fault: the model answered, the count starts again
	b.record(m, throttled)
	b.record(m, throttled)
	allowed(true, "two failures in a row")
	state(CircuitClosed, "two failures in a row")
	b.record(m, throttled)
	state(CircuitOpen, "three in a row")
	if ok, wait := b.allow(m); ok || wait != 10*time.Second {
		t.Fatalf("open: allow = %v, wait %v; want no, for the cool-down", ok, wait)
	}

	now = now.Add(10 * time.Second)
	allowed(true, "after the cool-down: the probe")
	state(CircuitHalfOpen, "probe in flight")
	allowed(false, "a second call while the probe runs")
	b.record(m, canceled) // the probe's caller went away: it learnt nothing
	allowed(true, "a new probe")
	b.record(m, throttled)
	state(CircuitOpen, "a failed probe")
	allowed(false, "open again")

	now = now.Add(10 * time.Second)
	allowed(true, "the next probe")
	b.record(m, nil)
	state(CircuitClosed, "a probe that succeeded")
	allowed(true, "closed")
	if len(b.snapshot()) != 0 {
		t.Errorf("a healthy model is still listed: %v", b.snapshot())
	}

	off := newBreakers(BreakerOptions{}, time.Now)
	for range 10 {
		off.record(m, throttled)
	}
	if ok, _ := off.allow(m); !ok {
		t.Error("with circuit breaking off, a call was refused")
	}
}

// TestBreakerProbeReleased: a probe that never reaches the model (refused by a limit) leaves the
// circuit ready for the next probe, not stuck half-open.
func TestBreakerProbeReleased(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	b := newBreakers(BreakerOptions{Failures: 1, Cooldown: time.Second}, func() time.Time { return now })
	b.record("m", &backend.Error{Kind: backend.KindUnavailable})
	now = now.Add(time.Second)
	if ok, _ := b.allow("m"); !ok {
		t.Fatal("the first probe was refused")
	}
	b.release("m")
	if ok, _ := b.allow("m"); !ok {
		t.Error("after a probe that learnt nothing, the next one was refused")
	}
}
