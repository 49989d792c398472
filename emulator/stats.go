package emulator

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"
)

// Outcomes counted besides error codes.
const (
	outcomeOK = "ok"
	// outcomeClientGone counts requests whose client disconnected before the answer was complete.
	outcomeClientGone = "client_gone"
	// outcomeAborted counts requests whose connection the emulator reset (an abort fault).
	outcomeAborted = "aborted"
)

// Stats counts the requests an emulator served.
type Stats struct {
	// Requests maps an operation (OpConverse, ...) to its outcomes ("ok", an error code such as
	// ThrottlingException, also when sent mid-stream, "client_gone", or "aborted" for a connection
	// reset by an abort fault) and their counts.
	Requests map[string]map[string]int64 `json:"requests"`
	// ClientGone counts requests, of every operation, whose client went away mid-answer.
	ClientGone int64 `json:"client_gone"`
	// InFlight is how many requests are being served now.
	InFlight int64 `json:"in_flight"`
}

// Count returns how many op requests ended with outcome.
func (s Stats) Count(op, outcome string) int64 { return s.Requests[op][outcome] }

// Total returns how many op requests were served, whatever their outcome.
func (s Stats) Total(op string) int64 {
	var n int64
	for _, c := range s.Requests[op] {
		n += c
	}
	return n
}

type statsRecorder struct {
	mu       sync.Mutex
	requests map[string]map[string]int64
	gone     int64
	inFlight int64
}

func newStatsRecorder() *statsRecorder {
	return &statsRecorder{requests: map[string]map[string]int64{}}
}

func (s *statsRecorder) begin() {
	s.mu.Lock()
	s.inFlight++
	s.mu.Unlock()
}

// finish counts a request that was in flight.
func (s *statsRecorder) finish(op, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	s.count(op, outcome)
}

// record counts a request that was never counted in flight (the control plane's).
func (s *statsRecorder) record(op, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count(op, outcome)
}

func (s *statsRecorder) count(op, outcome string) {
	byOutcome := s.requests[op]
	if byOutcome == nil {
		byOutcome = map[string]int64{}
		s.requests[op] = byOutcome
	}
	byOutcome[outcome]++
	if outcome == outcomeClientGone {
		s.gone++
	}
}

func (s *statsRecorder) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: make(map[string]map[string]int64, len(s.requests)), ClientGone: s.gone, InFlight: s.inFlight}
	for op, byOutcome := range s.requests {
		out.Requests[op] = maps.Clone(byOutcome)
	}
	return out
}

// Stats returns a copy of the emulator's counters.
func (e *Emulator) Stats() Stats { return e.stats.snapshot() }

// serveStats answers GET /_emulator/stats with the counters as JSON.
func (e *Emulator) serveStats(w http.ResponseWriter, _ *http.Request) {
	b, _ := json.Marshal(e.Stats()) // maps of strings and integers always marshal
	writeJSON(w, newRequestID(), b)
}
