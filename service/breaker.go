package service

import (
	"slices"
	"sync"
	"time"

	"github.com/strata-gateway/strata/backend"
)

// Circuit breaking (issue 7). A model that keeps failing with errors retrying could fix
// (throttled, unavailable, timed out) even after Strata's retries is given a rest: after
// Failures such calls in a row its circuit opens, and for Cooldown every call to it fails at once
// (or goes straight to the route's fallback) instead of spending the caller's deadline on
// retries. Then one call is let through as a probe: its success closes the circuit, its failure
// opens it again. Errors of the request (validation, access) say nothing of the model's health
// and are not counted.

// BreakerOptions configure circuit breaking; Failures zero turns it off.
type BreakerOptions struct {
	// Failures is how many failed calls in a row open a model's circuit.
	Failures int
	// Cooldown is how long an open circuit stays open before a probe is let through.
	Cooldown time.Duration
}

// CircuitState is a circuit's state.
type CircuitState string

// The states of a circuit.
const (
	CircuitClosed   CircuitState = "closed"
	CircuitOpen     CircuitState = "open"
	CircuitHalfOpen CircuitState = "half-open"
)

// errCircuitOpen is the backend error code of a call refused by an open circuit.
const errCircuitOpen = "CircuitOpen"

// circuitOpen is the error of a call to model refused by its open circuit, which a probe may
// close after wait.
func circuitOpen(model string, wait time.Duration) error {
	return &backend.Error{Kind: backend.KindUnavailable, Code: errCircuitOpen, Model: model, RetryAfter: wait,
		Message: "the model failed too often of late, and its circuit is open: no call goes to it until a probe succeeds"}
}

// breakers holds a circuit per model id.
type breakers struct {
	opts BreakerOptions
	now  func() time.Time

	mu       sync.Mutex
	circuits map[string]*circuit
}

type circuit struct {
	failures int
	state    CircuitState
	openedAt time.Time
	probing  bool // a probe is in flight (half-open)
}

// maxCircuits bounds the breakers' memory: model ids come from callers. Closed circuits without
// failures are not kept at all.
const maxCircuits = 1024

func newBreakers(opts BreakerOptions, now func() time.Time) *breakers {
	return &breakers{opts: opts, now: now, circuits: map[string]*circuit{}}
}

// allow says whether a call to model may go upstream, and if not, how long until a probe may.
func (b *breakers) allow(model string) (bool, time.Duration) {
	if b.opts.Failures <= 0 {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuits[model]
	if c == nil || c.state == CircuitClosed {
		return true, 0
	}
	if c.state == CircuitOpen {
		wait := c.openedAt.Add(b.opts.Cooldown).Sub(b.now())
		if wait > 0 {
			return false, wait
		}
		c.state = CircuitHalfOpen
	}
	if c.probing {
		return false, b.opts.Cooldown
	}
	c.probing = true
	return true, 0
}

// record counts a call's outcome against model's circuit.
func (b *breakers) record(model string, err error) {
	if b.opts.Failures <= 0 {
		return
	}
	failed := false
	if err != nil {
		be, ok := backend.AsError(err)
		switch {
		case ok && be.Code == errCircuitOpen:
			return // refused by the circuit itself: nothing learnt
		case !ok || be.Kind == backend.KindCanceled:
			b.release(model) // the caller went away: a probe learnt nothing, let the next one try
			return
		}
		// The request's own faults (validation, access) count as the model answering.
		failed = be.Retryable()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.circuits[model]
	if !failed {
		delete(b.circuits, model) // closed and clean
		return
	}
	if c == nil {
		if len(b.circuits) >= maxCircuits {
			return
		}
		c = &circuit{state: CircuitClosed}
		b.circuits[model] = c
	}
	c.failures++
	c.probing = false
	if c.state == CircuitHalfOpen || c.failures >= b.opts.Failures {
		c.state, c.openedAt = CircuitOpen, b.now()
	}
}

// release ends a probe that learnt nothing.
func (b *breakers) release(model string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.circuits[model]; c != nil {
		c.probing = false
	}
}

// CircuitStatus is one model's circuit, for HealthCheck and ListModels.
type CircuitStatus struct {
	Model    string
	State    CircuitState
	Failures int
	// OpenedAt is when the circuit last opened; zero for a closed one.
	OpenedAt time.Time
}

// snapshot lists the circuits that are not closed and clean, by model.
func (b *breakers) snapshot() []CircuitStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]CircuitStatus, 0, len(b.circuits))
	for model, c := range b.circuits {
		st := CircuitStatus{Model: model, State: c.state, Failures: c.failures}
		if c.state != CircuitClosed {
			st.OpenedAt = c.openedAt
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b CircuitStatus) int {
		if a.Model < b.Model {
			return -1
		}
		if a.Model > b.Model {
			return 1
		}
		return 0
	})
	return out
}
