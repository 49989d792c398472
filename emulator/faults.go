package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultHeader is the request header that injects a fault into one request. Its value has the
// syntax of [ParseFault].
const FaultHeader = "X-Strata-Emulator-Fault"

// Fault describes a failure to inject. A fault matches a request by Model and Operation, then
// fires on every matching request, on every Nth, on a fraction of them, or on the first Times.
type Fault struct {
	// Model restricts the fault to requests naming this model id (as sent); empty matches all.
	Model string
	// Operation restricts the fault to one operation (OpConverse, ...); empty matches all.
	Operation string
	// Error is the code to fail with (ThrottlingException, ...). In a stream with CutAfter set, it
	// is sent as an exception frame after CutAfter events; otherwise the request fails before any output.
	Error string
	// Message replaces the error's default message.
	Message string
	// RetryAfter, with Error, adds X-Amz-Retry-After to the error response.
	RetryAfter time.Duration
	// Every fires the fault on every Nth matching request (1 = all).
	Every int
	// Rate fires the fault on this fraction of matching requests, chosen deterministically from the seed.
	Rate float64
	// Times stops the fault after it fired this many times; zero means no limit.
	Times int
	// CutAfter ends a stream after this many events: with an exception frame if Error is set,
	// otherwise cleanly, as a dropped connection looks to the SDK (bedrock-wire.md §0 item 4).
	CutAfter int
	// Abort, with CutAfter, resets the connection instead of ending the body cleanly.
	Abort bool
	// Stall holds the request this long before answering (the client's deadline still applies).
	Stall time.Duration
	// TTFT delays the first token of this request by this much (on top of the latency model).
	TTFT time.Duration
	// Reply, when set, is the text the model answers with instead of the generated one: a model
	// that writes prose, fenced or schema-breaking JSON where JSON was asked for, or answers a
	// question rather than calling an offered tool. The reply keeps Bedrock's shape (a text
	// block, after any reasoning; usage counts its tokens; maxTokens and stop sequences cut it);
	// a tool the request forces (toolChoice any or tool) is still called, as Bedrock guarantees.
	// With Times it makes the first replies bad and the later ones generated again.
	Reply string
}

// ParseFault reads a fault from its text form: comma- or semicolon-separated key=value pairs.
//
//	error=ThrottlingException,every=3,retry-after=2s
//	error=modelStreamErrorException,cut-after=4,op=converse-stream
//	cut-after=2,abort
//	stall=1s,model=us.amazon.nova-micro-v1:0
//	reply=Here is the JSON you asked for.,times=1
//	reply={"city":"Canberra"%2C"population":-1},op=converse
//
// Keys: error, message, retry-after, every, rate, times, cut-after, abort, stall, ttft, reply,
// model, op. A reply is URL query-escaped (url.QueryUnescape): %2C for a comma, %3B for a
// semicolon, %0A for a new line, + for a space.
func ParseFault(s string) (Fault, error) {
	var f Fault
	for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		key, value, _ := strings.Cut(strings.TrimSpace(field), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		var err error
		switch key {
		case "error":
			f.Error = canonicalErrorCode(value)
		case "message":
			f.Message = value
		case "retry-after":
			f.RetryAfter, err = time.ParseDuration(value)
		case "every":
			f.Every, err = strconv.Atoi(value)
		case "rate":
			f.Rate, err = strconv.ParseFloat(value, 64)
		case "times":
			f.Times, err = strconv.Atoi(value)
		case "cut-after":
			f.CutAfter, err = strconv.Atoi(value)
		case "abort":
			f.Abort = true
			if value != "" {
				f.Abort, err = strconv.ParseBool(value)
			}
		case "stall":
			f.Stall, err = time.ParseDuration(value)
		case "ttft":
			f.TTFT, err = time.ParseDuration(value)
		case "reply":
			f.Reply, err = url.QueryUnescape(value)
		case "model":
			f.Model = value
		case "op":
			f.Operation = value
		case "":
			continue
		default:
			return Fault{}, fmt.Errorf("fault %q: unknown key %q (want error, message, retry-after, every, rate, times, cut-after, abort, stall, ttft, reply, model or op)", s, key)
		}
		if err != nil {
			return Fault{}, fmt.Errorf("fault %q: %s: %w", s, key, err)
		}
	}
	if err := f.validate(); err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", s, err)
	}
	return f, nil
}

// canonicalErrorCode accepts the lowerCamel stream spelling too: throttlingException → ThrottlingException.
func canonicalErrorCode(code string) string {
	if code == "" {
		return code
	}
	return strings.ToUpper(code[:1]) + code[1:]
}

// String returns the fault in the text form ParseFault reads.
func (f Fault) String() string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	if f.Error != "" {
		add("error", f.Error)
	}
	if f.Message != "" {
		add("message", f.Message)
	}
	if f.RetryAfter > 0 {
		add("retry-after", f.RetryAfter.String())
	}
	if f.Every > 0 {
		add("every", strconv.Itoa(f.Every))
	}
	if f.Rate > 0 {
		add("rate", strconv.FormatFloat(f.Rate, 'g', -1, 64))
	}
	if f.Times > 0 {
		add("times", strconv.Itoa(f.Times))
	}
	if f.CutAfter > 0 {
		add("cut-after", strconv.Itoa(f.CutAfter))
	}
	if f.Abort {
		parts = append(parts, "abort")
	}
	if f.Stall > 0 {
		add("stall", f.Stall.String())
	}
	if f.TTFT > 0 {
		add("ttft", f.TTFT.String())
	}
	if f.Reply != "" {
		add("reply", url.QueryEscape(f.Reply))
	}
	if f.Model != "" {
		add("model", f.Model)
	}
	if f.Operation != "" {
		add("op", f.Operation)
	}
	return strings.Join(parts, ",")
}

func (f *Fault) validate() error {
	if f.Error != "" {
		if _, ok := errorSpecFor(f.Error); !ok {
			return fmt.Errorf("unknown error code %q", f.Error)
		}
	}
	switch {
	case f.Error == "" && f.CutAfter == 0 && f.Stall == 0 && f.TTFT == 0 && f.Reply == "":
		return fmt.Errorf("a fault needs error, cut-after, stall, ttft or reply")
	case f.Rate < 0 || f.Rate > 1:
		return fmt.Errorf("rate %v is not between 0 and 1", f.Rate)
	case f.Every < 0 || f.Times < 0 || f.CutAfter < 0 || f.Stall < 0 || f.TTFT < 0 || f.RetryAfter < 0:
		return fmt.Errorf("counts and durations must not be negative")
	case f.Abort && f.CutAfter == 0:
		return fmt.Errorf("abort needs cut-after")
	}
	switch f.Operation {
	case "", OpConverse, OpConverseStream, OpInvoke, OpInvokeStream, OpCountTokens:
	default:
		return fmt.Errorf("unknown operation %q", f.Operation)
	}
	return nil
}

// before applies what the fault does before any output: a stall, then the error unless the error
// is meant for the middle of a stream.
func (f *Fault) before(ctx context.Context) *apiError {
	if f.Stall > 0 {
		if err := sleep(ctx, f.Stall); err != nil {
			return newAPIError(CodeModelTimeout, "")
		}
	}
	if f.Error == "" || f.CutAfter > 0 {
		return nil
	}
	err := newAPIError(f.Error, f.Message)
	err.retryAfter = f.RetryAfter
	return err
}

// replyText is the reply an injected fault puts in the model's mouth, if any.
func (f *Fault) replyText() (string, bool) {
	if f == nil || f.Reply == "" {
		return "", false
	}
	return f.Reply, true
}

// repliesText reports a fault that makes the model answer in text.
func (f *Fault) repliesText() bool {
	_, ok := f.replyText()
	return ok
}

// streamError is the exception a stream ends with after CutAfter events, or nil for a plain cut.
func (f *Fault) streamError() *apiError {
	if f == nil || f.Error == "" {
		return nil
	}
	return newAPIError(f.Error, f.Message)
}

// faultSet holds the configured faults and how often each has matched and fired.
type faultSet struct {
	seed    uint64
	mu      sync.Mutex
	faults  []Fault
	matched []int
	fired   []int
}

func newFaultSet(seed uint64, faults []Fault) *faultSet {
	s := &faultSet{seed: seed}
	s.set(faults)
	return s
}

func (s *faultSet) set(faults []Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append([]Fault(nil), faults...)
	s.matched = make([]int, len(faults))
	s.fired = make([]int, len(faults))
}

func (s *faultSet) list() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault(nil), s.faults...)
}

// pick returns the fault to apply to a request: one from its FaultHeader, else the first
// configured fault that matches and fires. A malformed header is ignored, as AWS ignores unknown headers.
func (s *faultSet) pick(r *http.Request, op, modelID string, body []byte) *Fault {
	for _, h := range r.Header.Values(FaultHeader) {
		f, err := ParseFault(h)
		// A header's rate is decided by the request's content, so a retry of the same call meets the same fate.
		if err == nil && f.matches(op, modelID) && (f.Rate == 0 || chance(s.seed, uint64(len(body)), fnvSum(body)) < f.Rate) {
			return &f
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var picked *Fault
	for i := range s.faults {
		f := &s.faults[i]
		if !f.matches(op, modelID) {
			continue
		}
		// Every fault counts every request it matches, also one an earlier fault took, so
		// every=N means the Nth matching request whatever the other faults do.
		s.matched[i]++
		n := s.matched[i]
		if picked != nil {
			continue
		}
		if f.Times > 0 && s.fired[i] >= f.Times {
			continue
		}
		if f.Every > 0 && n%f.Every != 0 {
			continue
		}
		if f.Rate > 0 && chance(s.seed, uint64(i), uint64(n)) >= f.Rate {
			continue
		}
		s.fired[i]++
		p := *f
		picked = &p
	}
	return picked
}

func (f *Fault) matches(op, modelID string) bool {
	return (f.Operation == "" || f.Operation == op) && (f.Model == "" || f.Model == modelID)
}

// chance maps (seed, rule, n) to a number in [0, 1), the same every run.
func chance(seed, rule, n uint64) float64 {
	h := fnv.New64a()
	var b [24]byte
	for i, v := range []uint64{seed, rule, n} {
		for j := range 8 {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	_, _ = h.Write(b[:])
	return float64(h.Sum64()>>11) / (1 << 53)
}

func fnvSum(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// SetFaults replaces the configured faults and resets their counters.
func (e *Emulator) SetFaults(faults ...Fault) error {
	for i := range faults {
		if err := faults[i].validate(); err != nil {
			return fmt.Errorf("fault %d: %w", i+1, err)
		}
	}
	e.faults.set(faults)
	return nil
}

// serveFaults reads (GET), replaces (PUT, one fault per line) or clears (DELETE) the faults.
func (e *Emulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		var faults []Fault
		for _, line := range strings.Split(string(body), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			f, err := ParseFault(line)
			if err != nil {
				writeAPIError(w, newRequestID(), validationf("%v", err))
				return
			}
			faults = append(faults, f)
		}
		e.faults.set(faults)
	case http.MethodDelete:
		e.faults.set(nil)
	}
	out := []string{} // [] rather than null when there are none
	for _, f := range e.faults.list() {
		out = append(out, f.String())
	}
	b, _ := json.Marshal(map[string][]string{"faults": out})
	writeJSON(w, newRequestID(), b)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
