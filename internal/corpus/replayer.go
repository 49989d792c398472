package corpus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Replayer is an [http.Handler] that answers each request with the recorded response of a
// matching interaction, each interaction at most once. Point a client's BaseEndpoint at an
// httptest.Server running it.
//
// A request matches the first unused interaction with the same method, escaped path and body;
// failing that, the first unused one with the same method and path, so a client that builds its
// own (different) request body still gets the recorded answers in recorded order. A request that
// matches nothing gets 501 with a JSON message and is listed by [Replayer.Misses].
//
// The recorded headers are replayed except Date (the SDK derives clock skew from it and would
// shift later signatures, bedrock-wire.md §0 item 10), Content-Length (recorded values disagree
// with the recorded bodies: the recorder re-serialised JSON), and the hop-by-hop Connection and
// Transfer-Encoding. Unless Verbatim is set, the headers the recorder stripped are derived again:
// X-Amzn-ErrorType from the status for errors (§5.4), and x-amzn-RequestId on every response.
// Event-stream bodies are written one frame per flush, as the service streams them.
type Replayer struct {
	// Verbatim, set before serving, suppresses the derived X-Amzn-ErrorType and
	// x-amzn-RequestId headers; it exists to show what the SDK makes of the raw recording.
	Verbatim bool

	mu      sync.Mutex
	entries []*replayEntry
	served  []Served
	misses  []string
}

// Served records which interaction answered a request.
type Served struct {
	Cassette string
	Index    int
	// ExactBody reports that the request body equalled the recorded one byte for byte.
	ExactBody bool
}

type replayEntry struct {
	cassette string
	in       Interaction
	used     bool
}

// NewReplayer returns a Replayer over the Bedrock interactions of the given cassettes.
func NewReplayer(cassettes ...Cassette) *Replayer {
	r := &Replayer{}
	for _, c := range cassettes {
		for _, in := range c.Interactions {
			r.entries = append(r.entries, &replayEntry{cassette: c.Name, in: in})
		}
	}
	return r
}

// ServeHTTP implements [http.Handler].
func (r *Replayer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "corpus: read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	e := r.take(req.Method, req.URL.EscapedPath(), body)
	if e == nil {
		writeMiss(w, req.Method+" "+req.URL.EscapedPath())
		return
	}
	r.write(w, e)
}

// Remaining returns how many interactions have not been served yet.
func (r *Replayer) Remaining() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		if !e.used {
			n++
		}
	}
	return n
}

// Served returns the interactions served so far, in order.
func (r *Replayer) Served() []Served {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Served(nil), r.served...)
}

// Misses returns "METHOD /escaped/path" for each request that matched no interaction.
func (r *Replayer) Misses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.misses...)
}

func (r *Replayer) take(method, escapedPath string, body []byte) *replayEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var byPath *replayEntry
	for _, e := range r.entries {
		if e.used || e.in.Request.Method != method || e.in.Request.Path != escapedPath {
			continue
		}
		if bytes.Equal(e.in.Request.Body, body) {
			e.used = true
			r.served = append(r.served, Served{Cassette: e.cassette, Index: e.in.Index, ExactBody: true})
			return e
		}
		if byPath == nil {
			byPath = e
		}
	}
	if byPath == nil {
		r.misses = append(r.misses, method+" "+escapedPath)
		return nil
	}
	byPath.used = true
	r.served = append(r.served, Served{Cassette: byPath.cassette, Index: byPath.in.Index})
	return byPath
}

func (r *Replayer) write(w http.ResponseWriter, e *replayEntry) {
	resp := e.in.Response
	h := w.Header()
	chunked := false
	for name, values := range resp.Headers {
		switch http.CanonicalHeaderKey(name) {
		case "Date", "Content-Length", "Connection":
			continue
		case "Transfer-Encoding":
			chunked = true
			continue
		}
		h[name] = append([]string(nil), values...)
	}
	if !r.Verbatim {
		if code := ErrorTypeForStatus(resp.Status); resp.Status >= 400 && code != "" && h.Get("X-Amzn-Errortype") == "" {
			h.Set("X-Amzn-Errortype", ErrorTypeHeader(code))
		}
		if h.Get("X-Amzn-Requestid") == "" {
			h.Set("X-Amzn-Requestid", requestID(e.cassette, e.in.Index))
		}
	}
	flusher, _ := w.(http.Flusher)
	if resp.IsEventStream {
		frames, err := Frames(resp.Body)
		if err != nil {
			frames = [][]byte{resp.Body} // a damaged recording is served as recorded
		}
		w.WriteHeader(resp.Status)
		for _, f := range frames {
			if _, err := w.Write(f); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		return
	}
	if !chunked {
		h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(resp.Status)
	if _, err := w.Write(resp.Body); err != nil {
		return
	}
	if chunked && flusher != nil {
		flusher.Flush() // the recording was chunked; flushing before the handler returns keeps it so
	}
}

// requestID derives a stable UUID-shaped request id for an interaction, so replayed errors carry
// one as real ones do and tests can predict it.
func requestID(cassette string, index int) string {
	sum := sha256.Sum256([]byte(cassette + "#" + strconv.Itoa(index)))
	s := hex.EncodeToString(sum[:16])
	return strings.Join([]string{s[0:8], s[8:12], s[12:16], s[16:20], s[20:32]}, "-")
}

// RequestID returns the x-amzn-RequestId a non-Verbatim [Replayer] sends for an interaction of
// the named cassette whose recording has none.
func RequestID(cassette string, in Interaction) string {
	if id := in.Response.Headers.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	return requestID(cassette, in.Index)
}

func writeMiss(w http.ResponseWriter, what string) {
	msg, _ := json.Marshal(map[string]string{"message": "corpus: no recorded interaction left for " + what})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotImplemented)
	_, _ = w.Write(msg)
}

// String describes the replayer's state for test failure messages.
func (r *Replayer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("corpus.Replayer{interactions: %d, served: %d, misses: %q}", len(r.entries), len(r.served), r.misses)
}
