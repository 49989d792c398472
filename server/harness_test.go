package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/config"
	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// Models the end-to-end tests call. The emulator serves every catalog model, so these are
// picked for what they exercise: the cheap default, a Claude that thinks on a budget, a
// multimodal Nova, and the two embedding families Strata calls differently.
const (
	novaMicro    = "us.amazon.nova-micro-v1:0"
	novaLite     = "us.amazon.nova-lite-v1:0"
	novaPro      = "us.amazon.nova-pro-v1:0"
	claudeSonnet = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	claudeHaiku  = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	titanEmbed   = "amazon.titan-embed-text-v2:0"
	cohereEmbed  = "cohere.embed-english-v3"
)

// harnessDefaults are the settings every harness starts from, under the test's own: retries
// that wait milliseconds rather than seconds, no drain delay, and text logs that are easy to grep.
var harnessDefaults = map[string]string{
	"RETRY_WAIT_SECONDS":          "0.01",
	"RETRY_MAX_WAIT_SECONDS":      "0.05",
	"STRATA_SHUTDOWN_DRAIN_DELAY": "0",
	"STRATA_SHUTDOWN_TIMEOUT":     "5s",
	"STRATA_LOG_FORMAT":           "text",
}

// syncBuffer is a bytes.Buffer the server's goroutines may write while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one Strata serving on a loopback port: the real interceptor chain, the real
// Bedrock adapter, and the emulator over HTTP.
type harness struct {
	client stratav1.LLMServiceClient
	health healthpb.HealthClient
	conn   *grpc.ClientConn
	// emu is the emulator the adapter calls: the in-process one of --backend emulator, or the
	// one the test passed in harnessOptions.
	emu  *emulator.Emulator
	logs *syncBuffer
	cfg  *config.Config
	addr string

	cancel context.CancelFunc
	served chan error // receives Serve's result once
	once   sync.Once
	err    error
}

// harnessOptions configure startStrataWith.
type harnessOptions struct {
	environ map[string]string
	envFile string
	// backend is BackendEmulator (the default) or BackendBedrock; with BackendBedrock, environ
	// points API_BASE at emu and sets static keys.
	backend string
	emu     *emulator.Emulator
	// dialOptions are added to the client's.
	dialOptions []grpc.DialOption
}

// startStrata serves Strata with --backend emulator and the given settings over harnessDefaults.
func startStrata(t testing.TB, environ map[string]string) *harness {
	t.Helper()
	return startStrataWith(t, harnessOptions{environ: environ})
}

func startStrataWith(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	environ := maps.Clone(harnessDefaults)
	maps.Copy(environ, o.environ)
	cfg, err := config.Load(environ, o.envFile)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if o.backend == "" {
		o.backend = BackendEmulator
	}
	logs := &syncBuffer{}
	log := newLogger(cfg, logs)
	// Cleanups run last-registered first: the client closes, Serve returns, then the stack closes.
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	st, err := build(ctx, cfg, o.backend, log)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() {
		// Bounded: nothing is in flight by now, but http.Server.Shutdown waits up to 5 s for a
		// connection that never sent a request, and after a stream and a Titan fan-out the
		// adapter's pool sometimes holds one (stack.close does not close the pool's idle
		// connections before shutting the emulator down).
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		st.close(ctx)
	})
	gopts, err := grpcOptions(cfg)
	if err != nil {
		t.Fatalf("grpcOptions: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := NewGRPC(st.service, gopts, log)
	h := &harness{logs: logs, cfg: cfg, addr: ln.Addr().String(), cancel: cancel, served: make(chan error, 1), emu: st.emulator}
	if o.emu != nil {
		h.emu = o.emu
	}
	go func() { h.served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := h.stop(10 * time.Second); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	dial := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, o.dialOptions...)
	conn, err := grpc.NewClient(h.addr, dial...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h.conn = conn
	h.client = stratav1.NewLLMServiceClient(conn)
	h.health = healthpb.NewHealthClient(conn)
	return h
}

// stop cancels Serve's context and waits for Serve to return; later calls return the same result.
func (h *harness) stop(timeout time.Duration) error {
	h.once.Do(func() {
		h.cancel()
		select {
		case h.err = <-h.served:
		case <-time.After(timeout):
			h.err = errors.New("did not return within " + timeout.String())
		}
	})
	return h.err
}

// finishedCalls returns the log lines of finished calls to method (e.g. "Chat").
func (h *harness) finishedCalls(method string) []string {
	var out []string
	for line := range strings.Lines(h.logs.String()) {
		if strings.Contains(line, `msg="finished call"`) && strings.Contains(line, "grpc.method="+method+" ") {
			out = append(out, line)
		}
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// user is a one-message conversation.
func user(text string) []*stratav1.Message {
	return []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Text: text}}
}

func ptr[T any](v T) *T { return &v }

// errorInfo returns the ErrorInfo of err's status, or fails.
func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("status %v has no ErrorInfo", err)
	return nil
}

// retryInfo returns the RetryInfo of err's status, or nil.
func retryInfo(err error) *errdetails.RetryInfo {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri
		}
	}
	return nil
}

// violatedFields lists the fields of err's BadRequest details.
func violatedFields(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// wantCode fails unless err has the code.
func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code = %v, want %v (err: %v)", got, code, err)
	}
}

// streamEvents reads a ChatStream to its end and returns its events and the error it ended with
// (nil for a clean io.EOF).
func streamEvents(stream grpc.ServerStreamingClient[stratav1.ChatStreamResponse]) ([]*stratav1.ChatStreamResponse, error) {
	var events []*stratav1.ChatStreamResponse
	for {
		ev, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return events, nil
			}
			return events, err
		}
		events = append(events, ev)
	}
}

func mustFault(t *testing.T, s string) emulator.Fault {
	t.Helper()
	f, err := emulator.ParseFault(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// logField returns the value of key=value in a text log line ("" when absent), unquoting it.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			u, _ := strconv.Unquote(s)
			return u
		}
	}
	if j := strings.IndexAny(v, " \n"); j >= 0 {
		v = v[:j]
	}
	return v
}

// listenEmulator serves emu (an emulator, or a handler in front of one) on a loopback port until
// the test ends and returns its URL.
func listenEmulator(t testing.TB, emu http.Handler) string {
	t.Helper()
	srv, err := emulator.Listen("127.0.0.1:0", emu, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.URL
}

// settledStats returns the emulator's counters once they have stopped moving. The emulator
// counts a request after its handler returns, which may be after the client has read the whole
// answer, so counters read right after a call may miss it.
func settledStats(t *testing.T, emu *emulator.Emulator) emulator.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	prev := emu.Stats()
	for {
		time.Sleep(20 * time.Millisecond)
		cur := emu.Stats()
		if cur.InFlight == 0 && reflect.DeepEqual(cur.Requests, prev.Requests) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator's counters did not settle: %v", cur)
		}
		prev = cur
	}
}
