package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
	"go.uber.org/goleak"
)

// The transport tests run the emulator on a loopback port and talk to it with the real SDK (or a
// SigV4-signed net/http request where the SDK cannot express the case). Each test builds its own
// *http.Client so it controls the protocol and can close idle connections before a leak check.

// txModel is an on-demand model every transport test may call by its bare id.
const txModel = "amazon.nova-micro-v1:0"

// txServe serves an emulator built from opts on 127.0.0.1 (HTTPS when tlsConfig is set) and
// shuts it down when the test ends.
func txServe(t testing.TB, opts Options, tlsConfig *tls.Config) (*Emulator, *Server) {
	t.Helper()
	emu, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv, err := Listen("127.0.0.1:0", emu, tlsConfig)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return emu, srv
}

// txSigV4Options are emulator options that verify signatures against the test key.
func txSigV4Options() Options {
	return Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
}

// txHTTPClient is an *http.Client over its own transport, whose idle connections close with the test.
func txHTTPClient(t *testing.T, configure func(*http.Transport)) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if configure != nil {
		configure(tr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return txGuarded(tr)
}

// txGuarded is a client over tr that sidesteps a race between the AWS SDK and net/http's HTTP/1.1
// transport (aws/aws-sdk-go-v2#1825, #2737): smithy-go closes the request body as soon as Do
// returns, after which its body's WriteTo returns io.EOF. The transport copies the body straight
// to the socket and then reads it once more, through WriteTo, to check it is empty. When the
// answer arrives before that last read, as it does from an emulator on loopback, the read fails,
// and the transport closes the connection under the response being read: a stream then ends with
// "use of closed network connection" in a few percent of calls. Hiding WriteTo makes the last read
// a plain Read, for which EOF is the normal end. HTTP/2 does not read the body this way.
func txGuarded(tr http.RoundTripper) *http.Client {
	return &http.Client{Transport: txBodyGuard{tr}}
}

type txBodyGuard struct{ rt http.RoundTripper }

// RoundTrip implements [http.RoundTripper].
func (g txBodyGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r2 := r.Clone(r.Context())
		r2.Body = struct{ io.ReadCloser }{r.Body} // Read and Close only
		r = r2
	}
	return g.rt.RoundTrip(r)
}

// txH2C configures a transport to speak only HTTP/2 with prior knowledge on http:// URLs, as the
// AWS SDK for JavaScript v3 does.
func txH2C(tr *http.Transport) {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr.Protocols = p
}

// txTrust configures a transport to trust only the certificate SelfSignedTLS wrote to dir and,
// with http2, to speak only HTTP/2 (negotiated by ALPN).
func txTrust(t *testing.T, dir string, http2 bool) func(*http.Transport) {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))
	if err != nil {
		t.Fatalf("read certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("cert.pem holds no certificate")
	}
	return func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		p := new(http.Protocols)
		if http2 {
			p.SetHTTP2(true)
		} else {
			p.SetHTTP1(true)
		}
		tr.Protocols = p
	}
}

// txRuntime is a bedrockruntime client for url signing with key and secret, no retries.
func txRuntime(t *testing.T, url, key, secret string, configure func(*http.Transport)) *bedrockruntime.Client {
	t.Helper()
	return runtimeClient(url, key, secret, txHTTPClient(t, configure))
}

// txWithFault adds the per-request fault header to one SDK call.
func txWithFault(spec string) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(FaultHeader, spec))
	}
}

func txMessages(text string) []types.Message {
	return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}}
}

func txConverse(model, text string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: txMessages(text)}
}

func txConverseStream(model, text string) *bedrockruntime.ConverseStreamInput {
	return &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: txMessages(text)}
}

// txStreamResult is what a caller saw of one ConverseStream.
type txStreamResult struct {
	events      int
	text        string
	messageStop bool
	metadata    bool
	err         error
}

// txDrain reads a ConverseStream to its end and closes it.
func txDrain(out *bedrockruntime.ConverseStreamOutput) txStreamResult {
	stream := out.GetStream()
	defer stream.Close()
	var r txStreamResult
	var text strings.Builder
	for ev := range stream.Events() {
		r.events++
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(d.Value)
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			r.messageStop = true
		case *types.ConverseStreamOutputMemberMetadata:
			r.metadata = true
		}
	}
	r.text, r.err = text.String(), stream.Err()
	return r
}

// txAPIError returns the AWS error code and HTTP status the SDK decoded from err.
func txAPIError(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// txIs reports whether err holds an error of type T.
func txIs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// txRawResponse is the HTTP response behind an SDK result.
func txRawResponse(t *testing.T, md middleware.Metadata) *http.Response {
	t.Helper()
	raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw HTTP response in the result metadata")
	}
	return raw.Response
}

// txEscape path-escapes a model id as the SDK does (bedrock-wire.md §1.3) for the ids tests use.
func txEscape(id string) string {
	return strings.NewReplacer(":", "%3A", "/", "%2F").Replace(id)
}

// txSigned is a POST of body to url, signed with SigV4 as the SDK signs, for cases the SDK cannot express.
func txSigned(t *testing.T, ctx context.Context, url string, body []byte, creds aws.Credentials, service string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return req
}

// txDo sends req and returns the response, the code from x-amzn-ErrorType and the body.
func txDo(t *testing.T, hc *http.Client, req *http.Request) (*http.Response, string, string) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	return resp, code, string(body)
}

var txConverseBody = []byte(`{"messages":[{"role":"user","content":[{"text":"Say hello."}]}]}`)

// txWaitFor polls cond until it holds or a few seconds pass; the server notices a client that
// went away only when its read of the closed connection returns.
func txWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHTTP2PriorKnowledge(t *testing.T) {
	t.Parallel()
	emu, srv := txServe(t, txSigV4Options(), nil)
	h1 := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
	h2 := txRuntime(t, srv.URL, testAccessKey, testSecretKey, txH2C)
	ctx := testContext(t)

	t.Run("converse", func(t *testing.T) {
		want, err := h1.Converse(ctx, txConverse(txModel, "Name three rivers."))
		if err != nil {
			t.Fatalf("Converse over HTTP/1.1: %v", err)
		}
		if p := txRawResponse(t, want.ResultMetadata).ProtoMajor; p != 1 {
			t.Errorf("default client spoke HTTP/%d to an http:// endpoint, want 1", p)
		}
		got, err := h2.Converse(ctx, txConverse(txModel, "Name three rivers."))
		if err != nil {
			t.Fatalf("Converse over h2c: %v", err)
		}
		if p := txRawResponse(t, got.ResultMetadata).ProtoMajor; p != 2 {
			t.Errorf("prior-knowledge client spoke HTTP/%d, want 2", p)
		}
		if w, g := converseText(want), converseText(got); w != g || w == "" {
			t.Errorf("reply over h2c = %q, over HTTP/1.1 = %q; want the same non-empty text", g, w)
		}
		if *want.Usage.TotalTokens != *got.Usage.TotalTokens || want.StopReason != got.StopReason {
			t.Errorf("usage/stop over h2c = %d/%s, over HTTP/1.1 = %d/%s", *got.Usage.TotalTokens, got.StopReason, *want.Usage.TotalTokens, want.StopReason)
		}
	})

	t.Run("converse-stream", func(t *testing.T) {
		out1, err := h1.ConverseStream(ctx, txConverseStream(txModel, "Describe a lighthouse."))
		if err != nil {
			t.Fatalf("ConverseStream over HTTP/1.1: %v", err)
		}
		want := txDrain(out1)
		out2, err := h2.ConverseStream(ctx, txConverseStream(txModel, "Describe a lighthouse."))
		if err != nil {
			t.Fatalf("ConverseStream over h2c: %v", err)
		}
		if p := txRawResponse(t, out2.ResultMetadata).ProtoMajor; p != 2 {
			t.Errorf("stream spoke HTTP/%d, want 2", p)
		}
		got := txDrain(out2)
		if want.err != nil || got.err != nil {
			t.Fatalf("stream errors: HTTP/1.1 %v, h2c %v", want.err, got.err)
		}
		if got.text != want.text || got.events != want.events || !got.messageStop || !got.metadata {
			t.Errorf("h2c stream = %d events %q (stop %v, metadata %v); HTTP/1.1 = %d events %q",
				got.events, got.text, got.messageStop, got.metadata, want.events, want.text)
		}
	})

	t.Run("raw signed request", func(t *testing.T) {
		req := txSigned(t, ctx, srv.URL+"/model/"+txEscape(txModel)+"/converse", txConverseBody,
			aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, "bedrock", time.Now())
		resp, code, body := txDo(t, txHTTPClient(t, txH2C), req)
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("raw h2c request: HTTP/%d %d %s %s, want HTTP/2 200", resp.ProtoMajor, resp.StatusCode, code, body)
		}
	})

	if s := emu.Stats(); s.Count(OpConverse, outcomeOK) != 3 || s.Count(OpConverseStream, outcomeOK) != 2 {
		t.Errorf("stats = %v, want 3 ok converse and 2 ok converse-stream", s.Requests)
	}
}

func converseText(out *bedrockruntime.ConverseOutput) string {
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if text, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(text.Value)
		}
	}
	return b.String()
}

func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tlsConfig, err := SelfSignedTLS(dir)
	if err != nil {
		t.Fatalf("SelfSignedTLS: %v", err)
	}
	_, srv := txServe(t, txSigV4Options(), tlsConfig)
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %s, want https://127.0.0.1:PORT", srv.URL)
	}
	tests := []struct {
		name      string
		http2     bool
		wantProto int
	}{
		{name: "HTTP/2 by ALPN", http2: true, wantProto: 2},
		{name: "HTTP/1.1", http2: false, wantProto: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, txTrust(t, dir, tt.http2))
			ctx := testContext(t)
			out, err := client.Converse(ctx, txConverse(txModel, "hello"))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if p := txRawResponse(t, out.ResultMetadata).ProtoMajor; p != tt.wantProto {
				t.Errorf("Converse spoke HTTP/%d, want %d", p, tt.wantProto)
			}
			stream, err := client.ConverseStream(ctx, txConverseStream(txModel, "hello"))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			if r := txDrain(stream); r.err != nil || !r.messageStop || !r.metadata {
				t.Errorf("stream over TLS: err %v, messageStop %v, metadata %v", r.err, r.messageStop, r.metadata)
			}
		})
	}
	t.Run("untrusted certificate refused", func(t *testing.T) {
		client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, nil)
		_, err := client.Converse(testContext(t), txConverse(txModel, "hello"))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Converse with the system roots: %v, want a certificate error", err)
		}
	})
}

func TestConcurrentConnections(t *testing.T) {
	t.Parallel()
	const callers = 200
	emu, srv := txServe(t, txSigV4Options(), nil)
	client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, func(tr *http.Transport) {
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*callers, 2*callers
	})
	ctx := testContext(t)
	var reused atomic.Int64
	round := func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Go(func() {
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
					if info.Reused {
						reused.Add(1)
					}
				}}
				_, err := client.Converse(httptrace.WithClientTrace(ctx, trace), txConverse(txModel, fmt.Sprintf("caller %d", i)))
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Converse: %v", err)
		}
	}
	round(t)
	round(t)
	if got := emu.Stats().Count(OpConverse, outcomeOK); got != 2*callers {
		t.Errorf("stats count %d ok converse, want %d", got, 2*callers)
	}
	if reused.Load() == 0 {
		t.Error("the second round opened only new connections; keep-alive is not working")
	}
}

// TestConcurrentStreams runs many streams at once through one client, as a gateway does, over
// HTTP/1.1 connections and multiplexed on one HTTP/2 connection. Each call gets its own protocol:
// one client's streams otherwise share an event-stream codec whose scratch fields -race flags
// (aws/smithy-go#714, benign today); a fresh restjson1.New per call is a cheap way around it.
func TestConcurrentStreams(t *testing.T) {
	t.Parallel()
	const streams = 50
	emu, srv := txServe(t, Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, TokensPerSecond: 2000}, nil)
	tests := []struct {
		name      string
		configure func(*http.Transport)
	}{
		{name: "HTTP/1.1"},
		{name: "h2c", configure: txH2C},
	}
	ownProtocol := func(o *bedrockruntime.Options) { o.Protocol = restjson1.New(nil) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := txRuntime(t, srv.URL, testAccessKey, testSecretKey, tt.configure)
			ctx := testContext(t)
			results := make([]txStreamResult, streams)
			var wg sync.WaitGroup
			for i := range streams {
				wg.Go(func() {
					out, err := client.ConverseStream(ctx, txConverseStream(txModel, fmt.Sprintf("Tell story %d.", i%5)), ownProtocol)
					if err != nil {
						results[i].err = err
						return
					}
					results[i] = txDrain(out)
				})
			}
			wg.Wait()
			for i, r := range results {
				if r.err != nil || !r.messageStop || !r.metadata {
					t.Errorf("stream %d: err %v, messageStop %v, metadata %v", i, r.err, r.messageStop, r.metadata)
				} else if r.text != results[i%5].text {
					t.Errorf("stream %d: the same prompt as stream %d gave another reply", i, i%5)
				}
			}
		})
	}
	if got := emu.Stats().Count(OpConverseStream, outcomeOK); got != 2*streams {
		t.Errorf("stats count %d ok streams, want %d", got, 2*streams)
	}
}

// TestStreamCancelNoLeak cancels a slow stream mid-way and checks the server lets go of it: the
// request counts as client_gone and, after Shutdown, no goroutine of the emulator remains.
// Not parallel: goleak compares against the goroutines alive when the test starts.
func TestStreamCancelNoLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	tests := []struct {
		name      string
		configure func(*http.Transport)
	}{
		{name: "HTTP/1.1"},
		{name: "h2c", configure: txH2C},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, err := New(Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, TokensPerSecond: 20})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			srv, err := Listen("127.0.0.1:0", emu, nil)
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			if tt.configure != nil {
				tt.configure(tr)
			}
			client := runtimeClient(srv.URL, testAccessKey, testSecretKey, txGuarded(tr))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := client.ConverseStream(ctx, txConverseStream(txModel, "Write a long story about the sea and its ships."))
			if err != nil {
				cancel()
				t.Fatalf("ConverseStream: %v", err)
			}
			stream := out.GetStream()
			deltas := 0
			for ev := range stream.Events() {
				if _, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
					if deltas++; deltas == 2 {
						cancel() // the caller gives up mid-stream
					}
				}
			}
			_ = stream.Close()
			cancel()
			if stream.Err() == nil {
				t.Error("a cancelled stream ended without error")
			}
			txWaitFor(t, "client_gone", func() bool { return emu.Stats().Count(OpConverseStream, outcomeClientGone) == 1 })
			shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
			defer stop()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			tr.CloseIdleConnections()
			if s := emu.Stats(); s.InFlight != 0 || s.ClientGone != 1 {
				t.Errorf("stats after shutdown: in flight %d, client gone %d; want 0 and 1", s.InFlight, s.ClientGone)
			}
			goleak.VerifyNone(t, ignore)
		})
	}
}

// TestShutdownNoLeak checks both ends of Shutdown: it waits for a stream in flight to finish,
// and when its context ends first it cuts the stream and still leaves no goroutine behind.
// Not parallel, for goleak.
func TestShutdownNoLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	tests := []struct {
		name            string
		shutdownTimeout time.Duration
		wantShutdownErr error
		wantComplete    bool
	}{
		{name: "graceful: the stream in flight completes", shutdownTimeout: 10 * time.Second, wantComplete: true},
		{name: "deadline: the stream in flight is cut", shutdownTimeout: 200 * time.Millisecond, wantShutdownErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, err := New(Options{TTFT: 300 * time.Millisecond, TokensPerSecond: 50})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			srv, err := Listen("127.0.0.1:0", emu, nil)
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			client := runtimeClient(srv.URL, "AKIDANY", "any-secret", txGuarded(tr))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := client.ConverseStream(ctx, txConverseStream(txModel, "Tell me about the history of clocks."))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			done := make(chan txStreamResult, 1)
			go func() { done <- txDrain(out) }()

			shutdownCtx, stop := context.WithTimeout(context.Background(), tt.shutdownTimeout)
			defer stop()
			if err := srv.Shutdown(shutdownCtx); !errors.Is(err, tt.wantShutdownErr) {
				t.Errorf("Shutdown = %v, want %v", err, tt.wantShutdownErr)
			}
			r := <-done
			if complete := r.messageStop && r.metadata && r.err == nil; complete != tt.wantComplete {
				t.Errorf("stream complete = %v (messageStop %v, metadata %v, err %v), want %v", complete, r.messageStop, r.metadata, r.err, tt.wantComplete)
			}
			if _, err := client.Converse(ctx, txConverse(txModel, "hi")); err == nil {
				t.Error("Converse after Shutdown succeeded")
			}
			tr.CloseIdleConnections()
			goleak.VerifyNone(t, ignore)
		})
	}
}

// TestServerStop checks Shutdown and Close may be called in any order, more than once, as a test
// that stops its server and also registers a cleanup does.
func TestServerStop(t *testing.T) {
	t.Parallel()
	shutdown := func(s *Server) error { return s.Shutdown(context.Background()) }
	closeNow := func(s *Server) error { return s.Close() }
	tests := []struct {
		name          string
		first, second func(*Server) error
	}{
		{name: "shutdown twice", first: shutdown, second: shutdown},
		{name: "close after shutdown", first: shutdown, second: closeNow},
		{name: "shutdown after close", first: closeNow, second: shutdown},
		{name: "close twice", first: closeNow, second: closeNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, err := New(Options{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			srv, err := Listen("127.0.0.1:0", emu, nil)
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			if srv.URL != "http://"+srv.Addr().String() {
				t.Errorf("URL %s does not name Addr %s", srv.URL, srv.Addr())
			}
			if err := tt.first(srv); err != nil {
				t.Errorf("first stop: %v", err)
			}
			done := make(chan error, 1)
			go func() { done <- tt.second(srv) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the second stop hangs")
			}
			if _, err := http.Get(srv.URL + "/_emulator/stats"); err == nil {
				t.Error("the server still answers")
			}
		})
	}
}
