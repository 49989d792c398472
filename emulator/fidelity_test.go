package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/internal/corpus"
)

// The fidelity test sends every recorded Bedrock request in ../shared/bedrock-corpus to the
// emulator, byte for byte, and checks that the answer has the shape of what real Bedrock answered:
// status, the headers a client reads, JSON key paths, event-stream framing and event order, and
// embedding geometry. Values are not compared (the emulator's reply is generated), except where a
// value is part of the shape (error messages, response_type).

// fidelityProfiles maps the application inference profiles the corpus calls to catalog models.
// Every profile id found in the corpus must be listed: TestFidelity fails on a new one.
func fidelityProfiles() map[string]string {
	return map[string]string{
		// test_bedrock_inference_profile_converse.yaml: a Converse text model that reports
		// serverToolUsage and no Claude cache fields, answering "Hello" in 2 tokens: Nova.
		"mi1dadi0g15f": "amazon.nova-micro-v1:0",
		// TestBedrock.test_inference_profile_embed.yaml: its vector is identical to
		// TestBedrock.test_titan_v2_minimal.yaml's (same text, same 1024 floats).
		"otnfa2ysixqd": "amazon.titan-embed-text-v2:0",
	}
}

// fidelityMayOmit lists response fields a recording carries that the emulator may leave out, each
// with its reason; an entry covers the path and everything under it. None is needed today:
// usage.cacheDetails has its own rule (see [fidelityCase.checkCacheDetails]).
var fidelityMayOmit = map[string]string{}

// fidelityMayAdd lists fields the emulator sends that some recordings lack.
var fidelityMayAdd = map[string]string{
	// Recordings made before Bedrock sent serverToolUsage lack it (test_bedrock_model.yaml,
	// test_bedrock_model_thinking_part_anthropic.yaml, test_document_url_input.yaml, ...); the
	// newer ones all carry it, as {} when no server tool ran.
	"usage.serverToolUsage": "newer than some recordings",
}

func TestFidelity(t *testing.T) {
	cassettes := corpus.ForTest(t)
	cat, err := catalog.Load()
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	profiles := fidelityProfiles()
	for _, c := range cassettes {
		for _, in := range c.Interactions {
			if _, name, ok := strings.Cut(in.Request.ModelID, ":application-inference-profile/"); ok && profiles[name] == "" {
				t.Fatalf("%s: application inference profile %q has no model in fidelityProfiles", c.Name, name)
			}
		}
	}
	refs := indexShapes(t, cat, profiles, cassettes)
	recorded := map[corpus.Operation]int{}
	for _, c := range cassettes {
		for _, in := range c.Interactions {
			recorded[in.Request.Operation]++
		}
	}
	for _, op := range []corpus.Operation{corpus.OpConverse, corpus.OpConverseStream, corpus.OpInvoke, corpus.OpCountTokens} {
		if recorded[op] == 0 {
			t.Errorf("the corpus has no %s interaction: the fidelity test would check nothing for it", op)
		}
	}

	var mu sync.Mutex
	counts := map[corpus.Operation]int{}
	t.Cleanup(func() {
		var parts []string
		for op, n := range counts {
			parts = append(parts, fmt.Sprintf("%s=%d", op, n))
		}
		sort.Strings(parts)
		t.Logf("interactions checked against the emulator: %s", strings.Join(parts, " "))
	})

	for _, c := range cassettes {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			te := startEmulator(t, Options{ApplicationProfiles: profiles})
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			// In recorded order, on one emulator: the second call of a cassette may read the
			// prompt cache the first one wrote (test_bedrock_cache_write_and_read.yaml).
			for _, in := range c.Interactions {
				name := fmt.Sprintf("%d-%s", in.Index, in.Request.Operation)
				t.Run(name, func(t *testing.T) {
					mu.Lock()
					counts[in.Request.Operation]++
					mu.Unlock()
					got := sendRecorded(t, client, te.srv.URL, in.Request)
					f := fidelityCase{refs: refs, model: refs.modelKey(in.Request.ModelID)}
					diffs := f.check(in, got)
					for _, n := range f.notes {
						t.Log(n)
					}
					if len(diffs) > 0 {
						t.Errorf("%s %s: the emulator's answer differs in shape from the recording:\n  %s\n%s",
							in.Request.Method, in.Request.Path, strings.Join(diffs, "\n  "), bodies(in.Response, got))
					}
				})
			}
		})
	}
}

// exchange is the emulator's answer to one recorded request.
type exchange struct {
	status           int
	header           http.Header
	transferEncoding []string
	body             []byte
}

// sendRecorded sends a recorded request as recorded, signed with the test key: its method, its
// escaped path exactly (%3A and %2F kept), its headers and its body.
func sendRecorded(t *testing.T, client *http.Client, base string, rec corpus.Request) exchange {
	t.Helper()
	u, err := url.Parse(base + rec.Path)
	if err != nil {
		t.Fatalf("url: %v", err)
	}
	if u.EscapedPath() != rec.Path {
		// url.Parse keeps the escaping in RawPath whenever it is a valid encoding; if it ever is
		// not, send the path opaquely (the signer reads "//host/path" Opaque forms too).
		u.Opaque = "//" + u.Host + rec.Path
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, rec.Method, u.String(), bytes.NewReader(rec.Body))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	req.URL = u
	for name, values := range rec.Headers {
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Host", "Connection", "Transfer-Encoding", "Accept-Encoding",
			"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256":
			continue // the transport and the signer own these
		}
		req.Header[http.CanonicalHeaderKey(name)] = slices.Clone(values)
	}
	sum := sha256.Sum256(rec.Body)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
		t.Fatalf("sign: %v", err)
	}
	if got := req.URL.EscapedPath(); u.Opaque == "" && got != rec.Path {
		t.Fatalf("the request would go to %q, not the recorded %q", got, rec.Path)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rec.Method, rec.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the emulator's answer: %v", err)
	}
	return exchange{status: resp.StatusCode, header: resp.Header, transferEncoding: resp.TransferEncoding, body: body}
}

// fidelityCase compares one interaction.
type fidelityCase struct {
	refs  *shapeIndex
	model string
	diffs []string
	notes []string // logged, not failed
}

func (f *fidelityCase) errorf(format string, args ...any) {
	f.diffs = append(f.diffs, fmt.Sprintf(format, args...))
}

func (f *fidelityCase) check(in corpus.Interaction, got exchange) []string {
	rec := in.Response
	if !json.Valid(in.Request.Body) {
		f.checkEditedRequest(got)
		return f.diffs
	}
	switch {
	case rec.Status/100 == 2 && got.status != rec.Status:
		f.errorf("status %d, recorded %d: the emulator refuses a request real Bedrock accepted: %s", got.status, rec.Status, errorMessage(got.body))
		return f.diffs
	case rec.Status/100 != 2:
		f.checkError(rec, got)
		return f.diffs
	}
	f.checkHeaders(in, got)
	switch in.Request.Operation {
	case corpus.OpConverse:
		f.checkConverse(rec.Body, got.body)
	case corpus.OpConverseStream:
		f.checkConverseStream(rec.Body, got.body)
	case corpus.OpInvoke:
		if m, ok := f.refs.cat.Model(f.model); !ok || !m.IsEmbedding() {
			f.errorf("no fidelity check for InvokeModel of %s (only embedding models are recorded): add one", f.model)
			break
		}
		f.checkEmbedding(rec.Body, got.body)
	case corpus.OpCountTokens:
		f.checkCountTokens(rec.Body, got.body)
	default:
		f.errorf("no fidelity check for operation %q: add one", in.Request.Operation)
	}
	return f.diffs
}

// checkEditedRequest handles a recorded request whose body is not JSON. Bedrock cannot have
// answered that body 200, so the recording does not hold what was sent:
// test_bedrock_model_other_parameters.yaml's body lacks its closing brace and runs 320 bytes
// where its content-length says 178, and its answer (test_bedrock_model_top_p.yaml's text under
// a max_tokens stop, additionalModelResponseFields "test") was edited upstream. What can be
// checked is that the emulator refuses such a body as Bedrock refuses malformed input.
func (f *fidelityCase) checkEditedRequest(got exchange) {
	f.notes = append(f.notes, "the recorded request body is not JSON (an edited recording): checked that the emulator refuses it")
	msg := errorMessage(got.body)
	if got.status != http.StatusBadRequest || !strings.HasPrefix(msg, "Malformed input request") {
		f.errorf("a body that is not JSON got %d %q, want 400 \"Malformed input request: ...\"", got.status, msg)
	}
	code := corpus.ErrorTypeForStatus(http.StatusBadRequest)
	if et := got.header.Get("X-Amzn-Errortype"); !strings.HasPrefix(et, code+":") {
		f.errorf("X-Amzn-ErrorType %q, want %s", et, corpus.ErrorTypeHeader(code))
	}
}

// checkError compares a recorded error: same status, same message, and the X-Amzn-ErrorType
// header the recorder stripped (bedrock-wire.md §5.4), derived from the status.
func (f *fidelityCase) checkError(rec corpus.Response, got exchange) {
	if got.status != rec.Status {
		f.errorf("status %d, recorded %d (%s)", got.status, rec.Status, errorMessage(got.body))
		return
	}
	f.compareExact("error body", decodeJSON(f, "recorded", rec.Body), decodeJSON(f, "emulator", got.body))
	if want, msg := errorMessage(rec.Body), errorMessage(got.body); want != msg {
		f.errorf("error message %q, recorded %q", msg, want)
	}
	if code := corpus.ErrorTypeForStatus(rec.Status); code != "" {
		if et := got.header.Get("X-Amzn-Errortype"); !strings.HasPrefix(et, code+":") {
			f.errorf("X-Amzn-ErrorType %q, want %s", et, corpus.ErrorTypeHeader(code))
		}
	}
	f.compareMediaType(rec.Headers.Get("Content-Type"), got.header.Get("Content-Type"))
}

// fidelityHeaders are the response headers a client reads. Each must be present exactly where the
// recording has it: token counts and latency on InvokeModel, no output count on embeddings, none
// on Converse (bedrock-wire.md §1.5).
var fidelityHeaders = []string{
	"X-Amzn-Bedrock-Input-Token-Count",
	"X-Amzn-Bedrock-Output-Token-Count",
	"X-Amzn-Bedrock-Invocation-Latency",
	"X-Amzn-Bedrock-Cache-Read-Input-Token-Count",
	"X-Amzn-Bedrock-Cache-Write-Input-Token-Count",
}

func (f *fidelityCase) checkHeaders(in corpus.Interaction, got exchange) {
	rec := in.Response
	f.compareMediaType(rec.Headers.Get("Content-Type"), got.header.Get("Content-Type"))
	for _, h := range fidelityHeaders {
		want, have := rec.Headers.Get(h) != "", got.header.Get(h) != ""
		switch {
		case want && !have:
			f.errorf("header %s missing", h)
		case !want && have:
			f.errorf("header %s: %q, which the recording does not have", h, got.header.Get(h))
		case have:
			if _, err := strconv.Atoi(got.header.Get(h)); err != nil {
				f.errorf("header %s: %q is not a number", h, got.header.Get(h))
			}
		}
	}
	if rec.IsEventStream && strings.EqualFold(rec.Headers.Get("Transfer-Encoding"), "chunked") && !slices.Contains(got.transferEncoding, "chunked") {
		f.errorf("stream not chunked: Transfer-Encoding %v", got.transferEncoding)
	}
}

func (f *fidelityCase) compareMediaType(want, got string) {
	w, _, _ := mime.ParseMediaType(want)
	g, _, _ := mime.ParseMediaType(got)
	if w != g {
		f.errorf("Content-Type %q, recorded %q", got, want)
	}
}

// checkConverse compares Converse bodies: the top level, usage and metrics exactly (but for the
// allowlists), and content blocks per kind (see [fidelityCase.compareKinds]).
func (f *fidelityCase) checkConverse(recBody, gotBody []byte) {
	rec, got := decodeJSON(f, "recorded", recBody), decodeJSON(f, "emulator", gotBody)
	if rec == nil || got == nil {
		return
	}
	f.compareTop("body", rec, got)
	f.compareKinds("content block", blockShapes(rec), blockShapes(got))
}

// compareTop compares the key paths of two bodies outside their content blocks.
func (f *fidelityCase) compareTop(what string, rec, got any) {
	want, have := topShape(rec), topShape(got)
	var missing, extra []string
	for p := range want {
		if !have[p] && !covered(fidelityMayOmit, p) && !isCacheDetails(p) {
			missing = append(missing, p)
		}
	}
	for p := range have {
		if !want[p] && !covered(fidelityMayAdd, p) && !isCacheDetails(p) {
			extra = append(extra, p)
		}
	}
	f.reportSets(what, missing, extra)
	f.checkCacheDetails(what, want, have, got)
}

// compareExact compares two values' key paths with no allowance.
func (f *fidelityCase) compareExact(what string, rec, got any) {
	want, have := shapeOf(rec), shapeOf(got)
	var missing, extra []string
	for p := range want {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	for p := range have {
		if !want[p] {
			extra = append(extra, p)
		}
	}
	f.reportSets(what, missing, extra)
}

func (f *fidelityCase) reportSets(what string, missing, extra []string) {
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		f.errorf("%s: missing %s", what, strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		f.errorf("%s: not in the recording %s", what, strings.Join(extra, ", "))
	}
}

// checkCacheDetails applies the rule the recordings show for usage.cacheDetails
// ([{inputTokens, ttl}]): it accompanies cache writes in
// test_bedrock_cache_messages_with_document_as_last_content.yaml and never appears without one,
// while other recordings of cache writes lack it (test_bedrock_cache_write_and_read.yaml,
// test_bedrock_cache_point_adds_cache_control[*].yaml; probably older, nothing dates them). So
// the emulator must send it on a cache write where the recording has it, may send it on a cache
// write where the recording lacks it, and must not send it otherwise.
func (f *fidelityCase) checkCacheDetails(what string, want, have map[string]bool, got any) {
	write := numberAt(got, "usage", "cacheWriteInputTokens")
	if math.IsNaN(write) {
		write = 0
	}
	switch {
	case have["usage.cacheDetails"] && write <= 0:
		f.errorf("%s: usage.cacheDetails without a cache write", what)
	case want["usage.cacheDetails"] && write > 0 && !have["usage.cacheDetails"]:
		f.errorf("%s: missing usage.cacheDetails on a cache write of %v tokens (the recording has [{inputTokens, ttl}])", what, write)
	case have["usage.cacheDetails"]:
		var sub []string
		for p := range have {
			if strings.HasPrefix(p, "usage.cacheDetails[].") {
				sub = append(sub, p)
			}
		}
		sort.Strings(sub)
		if !slices.Equal(sub, []string{"usage.cacheDetails[].inputTokens", "usage.cacheDetails[].ttl"}) {
			f.errorf("%s: usage.cacheDetails entries have %v, recorded [inputTokens ttl]", what, sub)
		}
	}
}

func isCacheDetails(p string) bool {
	return p == "usage.cacheDetails" || strings.HasPrefix(p, "usage.cacheDetails[]")
}

// compareKinds compares per kind: every kind the emulator sends must have exactly the fields
// that kind has in this recording. A kind the recording lacks (the generated reply called a tool
// where the model answered in text, say) is compared with the same kind elsewhere in the corpus:
// from the same model if recorded, else from any model. A kind never recorded is an error: the
// corpus cannot vouch for it.
func (f *fidelityCase) compareKinds(what string, rec, got map[string][]shape) {
	kinds := make([]string, 0, len(got))
	for k := range got {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		refs, from := rec[kind], "this recording"
		if len(refs) == 0 {
			refs, from = f.refs.byModel[f.model][kind], "the corpus ("+f.model+")"
		}
		if len(refs) == 0 {
			refs, from = f.refs.any[kind], "the corpus (any model)"
		}
		if len(refs) == 0 {
			f.errorf("%s kind %q: never recorded, so its shape is unchecked", what, kind)
			continue
		}
		for _, s := range got[kind] {
			if !slices.ContainsFunc(refs, func(r shape) bool { return r.key == s.key }) {
				f.errorf("%s %q: fields %v; %s has %s", what, kind, s.paths, from, shapeList(refs))
			}
		}
	}
}

// converseEventOrder is the event grammar of every recorded ConverseStream (bedrock-wire.md §3.2):
// S messageStart, b contentBlockStart, d contentBlockDelta, e contentBlockStop, M messageStop,
// X metadata.
var converseEventOrder = regexp.MustCompile(`^S(b?d*e)*MX$`)

// padAlphabet is what every real event's "p" pad is a prefix of (bedrock-wire.md §0 item 2). It
// is spelled out here, not taken from the emulator, so the test does not check the emulator
// against itself.
const padAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// frameHeaders are the headers of every real event frame, in their real order (bedrock-wire.md §0 item 2).
var frameHeaders = []string{":event-type", ":content-type", ":message-type"}

var eventLetters = map[string]string{
	"messageStart": "S", "contentBlockStart": "b", "contentBlockDelta": "d", "contentBlockStop": "e",
	"messageStop": "M", "metadata": "X",
}

// checkConverseStream compares event streams: framing of every frame, the event grammar, block
// indices, and each event type's payload keys (per kind for block events).
func (f *fidelityCase) checkConverseStream(recBody, gotBody []byte) {
	recEvents, err := decodeEvents(recBody)
	if err != nil {
		f.errorf("recorded stream: %v", err)
		return
	}
	gotEvents, err := decodeEvents(gotBody)
	if err != nil {
		f.errorf("emulator stream: %v", err)
		return
	}
	for _, ev := range recEvents {
		if !slices.Equal(ev.headerNames, frameHeaders) {
			f.errorf("recorded frame %d (%s): headers %v, not %v: fix the test", ev.n, ev.eventType, ev.headerNames, frameHeaders)
		}
	}
	for _, ev := range gotEvents {
		if !slices.Equal(ev.headerNames, frameHeaders) {
			f.errorf("frame %d (%s): headers %v, recorded %v", ev.n, ev.eventType, ev.headerNames, frameHeaders)
		}
		if ev.contentType != "application/json" || ev.messageType != "event" {
			f.errorf("frame %d (%s): :content-type %q, :message-type %q; want application/json, event", ev.n, ev.eventType, ev.contentType, ev.messageType)
		}
		if ev.pad == "" || !strings.HasPrefix(padAlphabet, ev.pad) {
			f.errorf("frame %d (%s): \"p\" pad %q is not a prefix of %q", ev.n, ev.eventType, ev.pad, padAlphabet)
		}
	}
	recOrder, gotOrder := eventOrder(recEvents), eventOrder(gotEvents)
	if !converseEventOrder.MatchString(recOrder) {
		f.errorf("the recording's own event order %q breaks the grammar %s: fix the test", recOrder, converseEventOrder)
	}
	if !converseEventOrder.MatchString(gotOrder) {
		f.errorf("event order %q does not match %s (recorded %q)", gotOrder, converseEventOrder, recOrder)
	}
	f.checkBlockIndices(gotEvents)

	rec, got := eventShapes(recEvents), eventShapes(gotEvents)
	for _, typ := range []string{"messageStart", "messageStop", "metadata"} {
		f.compareTop(typ, rec.top[typ], got.top[typ])
	}
	f.compareKinds("event", rec.kinds, got.kinds)
}

// checkBlockIndices checks that blocks are numbered 0, 1, 2, ... and that a block's start, deltas
// and stop share its index.
func (f *fidelityCase) checkBlockIndices(events []event) {
	next, open := 0, -1
	for _, ev := range events {
		if ev.eventType != "contentBlockStart" && ev.eventType != "contentBlockDelta" && ev.eventType != "contentBlockStop" {
			continue
		}
		idx := int(numberAt(ev.payload, "contentBlockIndex"))
		if open < 0 {
			if idx != next {
				f.errorf("frame %d (%s): block index %d, want %d", ev.n, ev.eventType, idx, next)
			}
			open = idx
		} else if idx != open {
			f.errorf("frame %d (%s): block index %d inside block %d", ev.n, ev.eventType, idx, open)
		}
		if ev.eventType == "contentBlockStop" {
			next, open = open+1, -1
		}
	}
}

// checkEmbedding compares embedding bodies: the same key paths, the same discriminators, vectors
// of the same count and length, of unit length where the recording's are and only there.
func (f *fidelityCase) checkEmbedding(recBody, gotBody []byte) {
	rec, got := decodeJSON(f, "recorded", recBody), decodeJSON(f, "emulator", gotBody)
	if rec == nil || got == nil {
		return
	}
	f.compareExact("body", rec, got)
	for _, key := range []string{"response_type"} {
		if w, g := stringAt(rec, key), stringAt(got, key); w != g {
			f.errorf("%s %q, recorded %q", key, g, w)
		}
	}
	want, have := vectors(rec, ""), vectors(got, "")
	if len(want) != len(have) {
		f.errorf("%d vectors, recorded %d", len(have), len(want))
		return
	}
	for i := range want {
		w, g := want[i], have[i]
		switch {
		case w.path != g.path:
			f.errorf("vector %d at %s, recorded at %s", i, g.path, w.path)
		case len(w.values) != len(g.values):
			f.errorf("vector %s has %d dimensions, recorded %d", g.path, len(g.values), len(w.values))
		case isUnit(w.values) != isUnit(g.values):
			f.errorf("vector %s has length %.4f, recorded %.4f", g.path, norm(g.values), norm(w.values))
		}
	}
}

func (f *fidelityCase) checkCountTokens(recBody, gotBody []byte) {
	rec, got := decodeJSON(f, "recorded", recBody), decodeJSON(f, "emulator", gotBody)
	if rec == nil || got == nil {
		return
	}
	f.compareExact("body", rec, got)
	if n := numberAt(got, "inputTokens"); n < 1 || n != math.Trunc(n) {
		f.errorf("inputTokens %v is not a positive integer", n)
	}
}

// shape is the set of key paths of one JSON value, and a key to compare sets by.
type shape struct {
	paths []string
	key   string
}

func newShape(set map[string]bool) shape {
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return shape{paths: paths, key: strings.Join(paths, " ")}
}

func shapeList(shapes []shape) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range shapes {
		if !seen[s.key] {
			seen[s.key] = true
			out = append(out, fmt.Sprint(s.paths))
		}
	}
	return strings.Join(out, " or ")
}

// shapeOf returns the key paths of a JSON value: "a.b" for nested members, "a[]" for array
// elements (all merged), with free-form documents (see [freeForm]) as leaves.
func shapeOf(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				out[p] = true
				if !freeForm(k) {
					walk(val, p)
				}
			}
		case []any:
			for _, e := range x {
				walk(e, path+"[]")
			}
		}
	}
	walk(v, "")
	return out
}

// freeForm reports members whose value is a caller's or model's JSON document, not Bedrock's
// shape: tool input, JSON tool results and schemas, additional model response fields.
func freeForm(key string) bool {
	switch key {
	case "input", "json", "additionalModelResponseFields":
		return true
	}
	return false
}

// covered reports whether p or a parent of it is in the allowlist.
func covered(list map[string]string, p string) bool {
	for k := range list {
		if p == k || strings.HasPrefix(p, k+".") || strings.HasPrefix(p, k+"[]") {
			return true
		}
	}
	return false
}

// topShape is a Converse body's shape without what is inside its content blocks.
func topShape(v any) map[string]bool {
	s := shapeOf(v)
	for p := range s {
		if strings.HasPrefix(p, "output.message.content[]") {
			delete(s, p)
		}
	}
	return s
}

// blockShapes groups a Converse body's content blocks by kind.
func blockShapes(body any) map[string][]shape {
	out := map[string][]shape{}
	content, _ := valueAt(body, "output", "message", "content").([]any)
	for _, b := range content {
		kind := unionKind(b)
		out["block:"+kind] = append(out["block:"+kind], newShape(shapeOf(b)))
	}
	return out
}

// unionKind names the member a union value sets: "text", "toolUse", or for reasoning its own
// member too ("reasoningContent.reasoningText"), since a redacted block differs in shape.
func unionKind(v any) string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kind := strings.Join(keys, "+")
	if len(keys) == 1 && keys[0] == "reasoningContent" {
		kind += "." + unionKind(m["reasoningContent"])
	}
	return kind
}

// event is one decoded event-stream frame.
type event struct {
	n                                   int
	headerNames                         []string
	eventType, contentType, messageType string
	pad                                 string
	payload                             map[string]any
}

func decodeEvents(body []byte) ([]event, error) {
	msgs, err := corpus.DecodeStream(body)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("no frames")
	}
	events := make([]event, len(msgs))
	for i, m := range msgs {
		ev := event{
			n:           i,
			eventType:   corpus.HeaderString(m, ":event-type"),
			contentType: corpus.HeaderString(m, ":content-type"),
			messageType: corpus.HeaderString(m, ":message-type"),
		}
		for _, h := range m.Headers {
			ev.headerNames = append(ev.headerNames, h.Name)
		}
		dec := json.NewDecoder(bytes.NewReader(m.Payload))
		dec.UseNumber()
		if err := dec.Decode(&ev.payload); err != nil {
			return nil, fmt.Errorf("frame %d (%s): payload: %w", i, ev.eventType, err)
		}
		ev.pad, _ = ev.payload["p"].(string)
		delete(ev.payload, "p")
		events[i] = ev
	}
	return events, nil
}

func eventOrder(events []event) string {
	var b strings.Builder
	for _, ev := range events {
		if l, ok := eventLetters[ev.eventType]; ok {
			b.WriteString(l)
		} else {
			b.WriteString("?" + ev.eventType + "?")
		}
	}
	return b.String()
}

// streamShapes holds a stream's payload shapes: message-level events by type (merged), block
// events by type and kind.
type streamShapes struct {
	top   map[string]any
	kinds map[string][]shape
}

func eventShapes(events []event) streamShapes {
	s := streamShapes{top: map[string]any{}, kinds: map[string][]shape{}}
	// Whether a block opens with contentBlockStart depends on its kind: text and reasoning do not,
	// tool use does (bedrock-wire.md §3.2). Each block counts as a "blockOpening:<first delta
	// kind>" shape holding "contentBlockStart" or nothing, so openings compare per kind too.
	started, firstDelta := false, ""
	for _, ev := range events {
		switch ev.eventType {
		case "contentBlockStart":
			started = true
		case "contentBlockDelta":
			if firstDelta == "" {
				firstDelta = unionKind(ev.payload["delta"])
			}
		case "contentBlockStop":
			opening := map[string]bool{}
			if started {
				opening["contentBlockStart"] = true
			}
			if firstDelta == "" {
				firstDelta = "none"
			}
			kind := "blockOpening:" + firstDelta
			s.kinds[kind] = append(s.kinds[kind], newShape(opening))
			started, firstDelta = false, ""
		}
	}
	for _, ev := range events {
		switch ev.eventType {
		case "contentBlockStart":
			kind := ev.eventType + ":" + unionKind(ev.payload["start"])
			s.kinds[kind] = append(s.kinds[kind], newShape(shapeOf(ev.payload)))
		case "contentBlockDelta":
			kind := ev.eventType + ":" + unionKind(ev.payload["delta"])
			s.kinds[kind] = append(s.kinds[kind], newShape(shapeOf(ev.payload)))
		case "contentBlockStop":
			s.kinds[ev.eventType] = append(s.kinds[ev.eventType], newShape(shapeOf(ev.payload)))
		default:
			s.top[ev.eventType] = map[string]any(ev.payload)
		}
	}
	return s
}

// shapeIndex holds every per-kind shape the corpus records, by model and overall, for kinds a
// recording lacks.
type shapeIndex struct {
	cat      *catalog.Catalog
	profiles map[string]string
	byModel  map[string]map[string][]shape
	any      map[string][]shape
}

func indexShapes(t *testing.T, cat *catalog.Catalog, profiles map[string]string, cassettes []corpus.Cassette) *shapeIndex {
	t.Helper()
	idx := &shapeIndex{cat: cat, profiles: profiles, byModel: map[string]map[string][]shape{}, any: map[string][]shape{}}
	for _, c := range cassettes {
		for _, in := range c.Interactions {
			if in.Response.Status != http.StatusOK {
				continue
			}
			var kinds map[string][]shape
			switch in.Request.Operation {
			case corpus.OpConverse:
				var body any
				if err := json.Unmarshal(in.Response.Body, &body); err != nil {
					t.Fatalf("%s %d: recorded body: %v", c.Name, in.Index, err)
				}
				kinds = blockShapes(body)
			case corpus.OpConverseStream:
				events, err := decodeEvents(in.Response.Body)
				if err != nil {
					t.Fatalf("%s %d: recorded stream: %v", c.Name, in.Index, err)
				}
				kinds = eventShapes(events).kinds
			}
			model := idx.modelKey(in.Request.ModelID)
			if idx.byModel[model] == nil {
				idx.byModel[model] = map[string][]shape{}
			}
			for k, shapes := range kinds {
				idx.byModel[model][k] = append(idx.byModel[model][k], shapes...)
				idx.any[k] = append(idx.any[k], shapes...)
			}
		}
	}
	return idx
}

// modelKey is the catalog model an id resolves to, or the id itself when it resolves to none.
func (idx *shapeIndex) modelKey(id string) string {
	res, err := idx.cat.Resolve(id)
	if err != nil {
		return id
	}
	if res.Kind == catalog.KindApplicationProfileARN {
		return idx.profiles[res.ApplicationProfile]
	}
	return res.Model.ID
}

// vector is one embedding found in a body, at its collapsed path.
type vector struct {
	path   string
	values []float64
}

// vectors returns the numeric arrays of a body in document order (object members sorted).
func vectors(v any, path string) []vector {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []vector
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = append(out, vectors(x[k], p)...)
		}
		return out
	case []any:
		if nums, ok := numbers(x); ok {
			return []vector{{path: path, values: nums}}
		}
		var out []vector
		for _, e := range x {
			out = append(out, vectors(e, path+"[]")...)
		}
		return out
	}
	return nil
}

func numbers(xs []any) ([]float64, bool) {
	if len(xs) == 0 {
		return nil, false
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		n, ok := x.(json.Number)
		if !ok {
			return nil, false
		}
		f, err := n.Float64()
		if err != nil {
			return nil, false
		}
		out[i] = f
	}
	return out, true
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// isUnit allows for the rounding of real vectors: Cohere's float16-like values sum to 0.998-1.002.
func isUnit(v []float64) bool { return math.Abs(norm(v)-1) < 0.01 }

func decodeJSON(f *fidelityCase, who string, body []byte) any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		f.errorf("%s body is not JSON: %v", who, err)
		return nil
	}
	return v
}

func valueAt(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func numberAt(v any, path ...string) float64 {
	n, ok := valueAt(v, path...).(json.Number)
	if !ok {
		return math.NaN()
	}
	f, err := n.Float64()
	if err != nil {
		return math.NaN()
	}
	return f
}

func stringAt(v any, path ...string) string {
	s, _ := valueAt(v, path...).(string)
	return s
}

func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return string(truncate(body, 200))
	}
	return e.Message
}

// bodies shows both answers for a failure, shortened.
func bodies(rec corpus.Response, got exchange) string {
	show := func(body []byte, stream bool) string {
		if !stream {
			return string(truncate(body, 1500))
		}
		events, err := decodeEvents(body)
		if err != nil {
			return err.Error()
		}
		var b strings.Builder
		for _, ev := range events {
			p, _ := json.Marshal(ev.payload)
			fmt.Fprintf(&b, "\n      %s %s", ev.eventType, truncate(p, 200))
		}
		return b.String()
	}
	return fmt.Sprintf("  recorded (%d): %s\n  emulator (%d): %s", rec.Status, show(rec.Body, rec.IsEventStream),
		got.status, show(got.body, got.status == http.StatusOK && rec.IsEventStream))
}

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(slices.Clip(b[:n]), "…"...)
}
