package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The keys the emulator verifies every SigV4 signature against.
const (
	testKeyID  = "AKIDSTRATATEST"
	testSecret = "strata-test-secret-key"
)

// Models the tests call, by what they exercise.
const (
	novaMicro    = "amazon.nova-micro-v1:0"                     // plain text, tools
	novaLite2    = "us.amazon.nova-2-lite-v1:0"                 // nova reasoningConfig
	claudeHaiku  = "anthropic.claude-haiku-4-5-20251001-v1:0"   // budget thinking, on demand
	claudeOpus41 = "us.anthropic.claude-opus-4-1-20250805-v1:0" // budget thinking, 32000 output tokens
	claudeAdapt  = "us.anthropic.claude-sonnet-4-6"             // adaptive thinking
	claude3Haiku = "anthropic.claude-3-haiku-20240307-v1:0"     // no reasoning
	gptOSS       = "openai.gpt-oss-20b-1:0"                     // reasoning_effort
	qwen3        = "qwen.qwen3-32b-v1:0"                        // reasoning_config
	deepseekR1   = "us.deepseek.r1-v1:0"                        // always reasons
	titanV2      = "amazon.titan-embed-text-v2:0"
	titanV1      = "amazon.titan-embed-text-v1"
	cohereV3     = "cohere.embed-english-v3"
	cohereV4     = "cohere.embed-v4:0"
	novaEmbed    = "amazon.nova-2-multimodal-embeddings-v1:0"
)

var loadCatalog = sync.OnceValues(catalog.Load)

func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := loadCatalog()
	if err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	return c
}

// harness is the real adapter talking to an in-process emulator over loopback HTTP.
type harness struct {
	emu *emulator.Emulator
	srv *emulator.Server
	hc  *http.Client
	b   *Backend
}

// newHarness starts an emulator that verifies SigV4 against the test keys and builds a backend
// pointed at it. mod may adjust either side's options first.
func newHarness(t *testing.T, mod func(eo *emulator.Options, bo *Options)) *harness {
	t.Helper()
	cat := testCatalog(t)
	eo := emulator.Options{Catalog: cat, AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	hc := NewHTTPClient(PoolOptions{})
	hc.Transport = faultTransport(hc.Transport)
	bo := Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		HTTPClient:  hc,
		Catalog:     cat,
	}
	if mod != nil {
		mod(&eo, &bo)
	}
	emu, err := emulator.New(eo)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	srv, err := emulator.Listen("127.0.0.1:0", emu, nil)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	t.Cleanup(hc.CloseIdleConnections) // runs first: idle connections close before the server
	if bo.Endpoint == "" {
		bo.Endpoint = srv.URL
	}
	b, err := New(bo)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{emu: emu, srv: srv, hc: hc, b: b}
}

// faultKey carries a fault for the emulator in a call's context; faultTransport sends it in the
// X-Strata-Emulator-Fault header. The header is added after signing, which is fine: SigV4
// covers only the headers it lists.
type faultKey struct{}

func withFault(ctx context.Context, fault string) context.Context {
	return context.WithValue(ctx, faultKey{}, fault)
}

func faultTransport(base http.RoundTripper) http.RoundTripper {
	return &wrappedTransport{base: base, fn: func(r *http.Request) (*http.Response, error) {
		if f, ok := r.Context().Value(faultKey{}).(string); ok && f != "" {
			r = r.Clone(r.Context())
			r.Header.Set(emulator.FaultHeader, f)
		}
		return base.RoundTrip(r)
	}}
}

type wrappedTransport struct {
	base http.RoundTripper
	fn   func(*http.Request) (*http.Response, error)
}

func (w *wrappedTransport) RoundTrip(r *http.Request) (*http.Response, error) { return w.fn(r) }

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the pool under the wrapper.
func (w *wrappedTransport) CloseIdleConnections() { w.base.(*http.Transport).CloseIdleConnections() }

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// system is a system prompt of text parts.
func system(texts ...string) []backend.Part {
	parts := make([]backend.Part, len(texts))
	for i, t := range texts {
		parts[i] = backend.Part{Kind: backend.PartText, Text: t}
	}
	return parts
}

func userText(text string) backend.Message {
	return backend.Message{Role: backend.RoleUser, Parts: []backend.Part{{Kind: backend.PartText, Text: text}}}
}

func ptr[T any](v T) *T { return &v }

// joined is what a stream said, put back together.
type joined struct {
	text, reasoning, signature string
	toolIDs, toolNames         []string
	toolArgs                   []string
	end                        *backend.Event
	events                     int
	kinds                      []backend.EventKind
}

// drain reads a stream to its end and returns what it said and the error that ended it (nil for
// a clean io.EOF after the end event).
func drain(t *testing.T, s backend.Stream) (joined, error) {
	t.Helper()
	var j joined
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			if j.end == nil {
				t.Fatalf("io.EOF without an end event")
			}
			return j, nil
		}
		if err != nil {
			return j, err
		}
		if j.end != nil {
			t.Fatalf("event %v after the end event", ev.Kind)
		}
		j.events++
		j.kinds = append(j.kinds, ev.Kind)
		switch ev.Kind {
		case backend.EventText:
			j.text += ev.Text
		case backend.EventReasoning:
			j.reasoning += ev.Text
		case backend.EventReasoningSignature:
			j.signature += ev.Signature
		case backend.EventToolCallStart:
			if ev.Index != len(j.toolIDs) {
				t.Fatalf("tool call start index %d, want %d", ev.Index, len(j.toolIDs))
			}
			j.toolIDs = append(j.toolIDs, ev.ToolID)
			j.toolNames = append(j.toolNames, ev.ToolName)
			j.toolArgs = append(j.toolArgs, "")
		case backend.EventToolCallArgs:
			if ev.Index < 0 || ev.Index >= len(j.toolArgs) {
				t.Fatalf("tool call args for index %d before its start", ev.Index)
			}
			j.toolArgs[ev.Index] += ev.Text
		case backend.EventEnd:
			e := ev
			j.end = &e
		default:
			t.Fatalf("unknown event kind %v", ev.Kind)
		}
	}
}

// textOf joins a reply's text parts, as the service's ChatResponse.text does.
func textOf(parts []backend.Part) string {
	var b strings.Builder
	for _, p := range parts {
		if p.Kind == backend.PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func partsOfKind(parts []backend.Part, kind backend.PartKind) []backend.Part {
	var out []backend.Part
	for _, p := range parts {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

// mustKind asserts err is a *backend.Error of kind.
func mustKind(t *testing.T, err error, kind backend.Kind) *backend.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want kind %v", kind)
	}
	be, ok := backend.AsError(err)
	if !ok {
		t.Fatalf("err = %v (%T), want a *backend.Error", err, err)
	}
	if be.Kind != kind {
		t.Fatalf("kind = %v, want %v (err: %v)", be.Kind, kind, err)
	}
	return be
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
