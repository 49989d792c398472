package corpus_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/internal/corpus"
)

const recordedDate = "Wed, 13 May 2026 22:52:33 GMT"

func handMade() corpus.Cassette {
	path := "/model/us.amazon.nova-micro-v1%3A0/converse"
	ok := func(i int, reqBody, respBody string) corpus.Interaction {
		return corpus.Interaction{
			Index:   i,
			Request: corpus.Request{Method: http.MethodPost, Path: path, Operation: corpus.OpConverse, Body: []byte(reqBody)},
			Response: corpus.Response{Status: 200, Body: []byte(respBody), Headers: http.Header{
				"Content-Type":   {"application/json"},
				"Content-Length": {"9999"},
				"Date":           {recordedDate},
				"Connection":     {"keep-alive"},
				"Server-Timing":  {"cfReqDur;dur=1"},
			}},
		}
	}
	errIn := corpus.Interaction{
		Index:   2,
		Request: corpus.Request{Method: http.MethodPost, Path: "/model/bad%3A0/converse", Operation: corpus.OpConverse},
		Response: corpus.Response{Status: 400, Body: []byte(`{"message":"The provided model identifier is invalid."}`),
			Headers: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"55"}}},
	}
	return corpus.Cassette{Name: "hand/made", Interactions: []corpus.Interaction{
		ok(0, `{"first":1}`, `{"n":0}`), ok(1, `{"second":2}`, `{"n":1}`), errIn,
	}}
}

func post(t *testing.T, srv *httptest.Server, path, body string) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestReplayerHeaders(t *testing.T) {
	t.Parallel()
	c := handMade()
	srv := httptest.NewServer(corpus.NewReplayer(c))
	defer srv.Close()

	resp, body := post(t, srv, "/model/us.amazon.nova-micro-v1%3A0/converse", `{"first":1}`)
	if resp.StatusCode != 200 || body != `{"n":0}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if d := resp.Header.Get("Date"); d == "" || d == recordedDate {
		t.Errorf("Date = %q: a recorded Date must never be replayed", d)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length = %q, body %d bytes", cl, len(body))
	}
	if st := resp.Header.Get("Server-Timing"); st != "cfReqDur;dur=1" {
		t.Errorf("recorded header not replayed: Server-Timing = %q", st)
	}
	if resp.Header.Get("X-Amzn-Errortype") != "" || resp.Header.Get("X-Amzn-Requestid") != corpus.RequestID(c.Name, c.Interactions[0]) {
		t.Errorf("derived headers on success: %v", resp.Header)
	}

	resp, body = post(t, srv, "/model/bad%3A0/converse", `{}`)
	if resp.StatusCode != 400 || body != `{"message":"The provided model identifier is invalid."}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Amzn-Errortype"); got != "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" {
		t.Errorf("X-Amzn-ErrorType = %q", got)
	}
	if got := resp.Header.Get("X-Amzn-Requestid"); got != corpus.RequestID(c.Name, c.Interactions[2]) || len(got) != 36 {
		t.Errorf("x-amzn-RequestId = %q", got)
	}
}

func TestReplayerVerbatim(t *testing.T) {
	t.Parallel()
	r := corpus.NewReplayer(handMade())
	r.Verbatim = true
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, _ := post(t, srv, "/model/bad%3A0/converse", `{}`)
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "" || resp.Header.Get("X-Amzn-Requestid") != "" {
		t.Errorf("verbatim replay: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestReplayerMatching(t *testing.T) {
	t.Parallel()
	r := corpus.NewReplayer(handMade())
	srv := httptest.NewServer(r)
	defer srv.Close()
	const path = "/model/us.amazon.nova-micro-v1%3A0/converse"

	// The exact body picks the second interaction even though the first is unused.
	if _, body := post(t, srv, path, `{"second":2}`); body != `{"n":1}` {
		t.Errorf("exact body: got %s", body)
	}
	// An unknown body falls back to the first unused interaction on the path.
	if _, body := post(t, srv, path, `{"other":true}`); body != `{"n":0}` {
		t.Errorf("by path: got %s", body)
	}
	// Nothing left on the path: a miss.
	resp, body := post(t, srv, path, `{}`)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "no recorded interaction") {
		t.Errorf("miss: got %d %s", resp.StatusCode, body)
	}
	if got := r.Misses(); len(got) != 1 || got[0] != "POST "+path {
		t.Errorf("Misses() = %q", got)
	}
	want := []corpus.Served{{Cassette: "hand/made", Index: 1, ExactBody: true}, {Cassette: "hand/made", Index: 0}}
	got := r.Served()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Served() = %+v, want %+v", got, want)
	}
	if r.Remaining() != 1 {
		t.Errorf("Remaining() = %d, want 1", r.Remaining())
	}
}

// flushCounter counts Flush calls, to check that a stream is written a frame at a time.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() {
	f.flushes++
	f.ResponseRecorder.Flush()
}

func TestReplayerStreamsFramePerFlush(t *testing.T) {
	t.Parallel()
	enc := eventstream.NewEncoder()
	var body bytes.Buffer
	for _, ev := range []string{"messageStart", "contentBlockDelta", "messageStop", "metadata"} {
		if err := enc.Encode(&body, eventstream.Message{Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(ev)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		}, Payload: []byte(`{"p":"ab"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	c := corpus.Cassette{Name: "hand/stream", Interactions: []corpus.Interaction{{
		Request: corpus.Request{Method: http.MethodPost, Path: "/model/m/converse-stream", Operation: corpus.OpConverseStream},
		Response: corpus.Response{Status: 200, Body: body.Bytes(), IsEventStream: true, Headers: http.Header{
			"Content-Type":      {"application/vnd.amazon.eventstream"},
			"Transfer-Encoding": {"chunked"},
		}},
	}}}
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	corpus.NewReplayer(c).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/model/m/converse-stream", strings.NewReader("{}")))
	if w.flushes != 4 || !bytes.Equal(w.Body.Bytes(), body.Bytes()) {
		t.Errorf("%d flushes, body equal %v; want 4 flushes of the recorded frames", w.flushes, bytes.Equal(w.Body.Bytes(), body.Bytes()))
	}
	if w.Header().Get("Transfer-Encoding") != "" || w.Header().Get("Content-Length") != "" {
		t.Errorf("hop-by-hop headers set by the handler: %v", w.Header())
	}
}
