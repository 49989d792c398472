package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/client"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// scripted is a hand-written LLMService that answers each Chat with the next code of its script
// (OK answers "hi"), and records what it saw.
type scripted struct {
	stratav1.UnimplementedLLMServiceServer
	mu          sync.Mutex
	script      []reply
	calls       int
	hadDeadline bool
}

func (s *scripted) Chat(ctx context.Context, _ *stratav1.ChatRequest) (*stratav1.ChatResponse, error) {
	step := s.next(ctx)
	if step.code == codes.OK {
		return &stratav1.ChatResponse{Text: "hi"}, nil
	}
	return nil, step.err()
}

// next counts a call and returns its step of the script (OK once the script ran out).
func (s *scripted) next(ctx context.Context) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, s.hadDeadline = ctx.Deadline()
	step := reply{code: codes.OK}
	if s.calls < len(s.script) {
		step = s.script[s.calls]
	}
	s.calls++
	return step
}

// attempts returns how many calls reached the server.
func (s *scripted) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// reply is one scripted answer: a code, and Strata's ErrorInfo reason when it sets one.
type reply struct {
	code   codes.Code
	reason string
	// failAfterFirst, in a stream, sends the first event before failing.
	failAfterFirst bool
}

// err is the status of a failing step, with its reason.
func (r reply) err() error {
	st := status.New(r.code, "scripted")
	if r.reason != "" {
		st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: r.reason, Domain: "strata"})
	}
	return st.Err()
}

// scriptedClient is a client, retrying every millisecond, of a server answering with script.
func scriptedClient(t *testing.T, script []reply) (*scripted, *client.Client) {
	t.Helper()
	svc := &scripted{script: script}
	c, err := client.New(serve(t, svc), client.Options{RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return svc, c
}

func serve(t *testing.T, svc stratav1.LLMServiceServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	stratav1.RegisterLLMServiceServer(g, svc)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	return ln.Addr().String()
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    []reply
		wantCode  codes.Code
		wantCalls int
	}{
		{"a replica going away is retried", []reply{{code: codes.Unavailable}, {code: codes.Unavailable}}, codes.OK, 3},
		{"a replica at its limit is retried", []reply{{code: codes.ResourceExhausted, reason: "OVERLOADED"}}, codes.OK, 2},
		{"bedrock throttling, already retried by strata, is not", []reply{{code: codes.ResourceExhausted, reason: "BEDROCK_THROTTLED"}}, codes.ResourceExhausted, 1},
		{"an open circuit is not", []reply{{code: codes.Unavailable, reason: "CIRCUIT_OPEN"}}, codes.Unavailable, 1},
		{"a bad request is not", []reply{{code: codes.InvalidArgument}}, codes.InvalidArgument, 1},
		{"nor an internal error", []reply{{code: codes.Internal}}, codes.Internal, 1},
		{"retries end", []reply{{code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}}, codes.Unavailable, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, c := scriptedClient(t, tt.script)
			text, err := c.Ask(t.Context(), "", "hello")
			if status.Code(err) != tt.wantCode || (err == nil && text != "hi") {
				t.Errorf("Ask = %q, %v; want code %v", text, err, tt.wantCode)
			}
			if n := svc.attempts(); n != tt.wantCalls {
				t.Errorf("%d calls reached the server, want %d", n, tt.wantCalls)
			}
		})
	}
}

// TestServiceConfigTimeout: a call without a deadline gets the service config's.
func TestServiceConfigTimeout(t *testing.T) {
	t.Parallel()
	svc := &scripted{}
	c, err := client.New(serve(t, svc), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Ask(context.Background(), "", "hello"); err != nil {
		t.Fatal(err)
	}
	if !svc.hadDeadline {
		t.Error("the call reached the server without a deadline")
	}
}

// serviceConfig is the part of the gRPC service config Strata publishes (gRFC A6).
type serviceConfig struct {
	MethodConfig []struct {
		Name []struct {
			Service string `json:"service"`
			Method  string `json:"method"`
		} `json:"name"`
		Timeout     string       `json:"timeout"`
		RetryPolicy *retryPolicy `json:"retryPolicy"`
	} `json:"methodConfig"`
	RetryThrottling *struct {
		MaxTokens  float64 `json:"maxTokens"`
		TokenRatio float64 `json:"tokenRatio"`
	} `json:"retryThrottling"`
}

type retryPolicy struct {
	MaxAttempts          int      `json:"maxAttempts"`
	InitialBackoff       string   `json:"initialBackoff"`
	MaxBackoff           string   `json:"maxBackoff"`
	BackoffMultiplier    float64  `json:"backoffMultiplier"`
	RetryableStatusCodes []string `json:"retryableStatusCodes"`
}

// TestServiceConfigJSON pins the published service config: each method's timeout and retry
// policy, the same attempts and backoff as the Go client's, and retry throttling.
func TestServiceConfigJSON(t *testing.T) {
	t.Parallel()
	var cfg serviceConfig
	dec := json.NewDecoder(strings.NewReader(client.ServiceConfig()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	calls := retryPolicy{
		MaxAttempts:          client.DefaultMaxRetries + 1, // the first try and the Go client's retries
		InitialBackoff:       fmt.Sprintf("%gs", client.DefaultRetryBackoff.Seconds()),
		MaxBackoff:           "5s",
		BackoffMultiplier:    2,
		RetryableStatusCodes: []string{"UNAVAILABLE"},
	}
	tests := []struct {
		method      string
		wantTimeout string
		wantRetry   retryPolicy
	}{
		{method: "Chat", wantTimeout: "600s", wantRetry: calls},
		{method: "ChatStream", wantTimeout: "600s", wantRetry: calls},
		{method: "Embed", wantTimeout: "600s", wantRetry: calls},
		{method: "CountTokens", wantTimeout: "600s", wantRetry: calls},
		{method: "ListModels", wantTimeout: "30s", wantRetry: retryPolicy{MaxAttempts: 3, InitialBackoff: "0.2s", MaxBackoff: "2s", BackoffMultiplier: 2, RetryableStatusCodes: []string{"UNAVAILABLE"}}},
		{method: "HealthCheck", wantTimeout: "30s", wantRetry: retryPolicy{MaxAttempts: 3, InitialBackoff: "0.2s", MaxBackoff: "2s", BackoffMultiplier: 2, RetryableStatusCodes: []string{"UNAVAILABLE"}}},
	}
	configured := 0
	for _, mc := range cfg.MethodConfig {
		configured += len(mc.Name)
	}
	if configured != len(tests) {
		t.Errorf("the service config names %d methods, want %d", configured, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			for _, mc := range cfg.MethodConfig {
				for _, n := range mc.Name {
					if n.Service != "strata.v1.LLMService" || n.Method != tt.method {
						continue
					}
					if mc.Timeout != tt.wantTimeout || mc.RetryPolicy == nil || !reflect.DeepEqual(*mc.RetryPolicy, tt.wantRetry) {
						t.Errorf("timeout %q, retry policy %+v; want %q, %+v", mc.Timeout, mc.RetryPolicy, tt.wantTimeout, tt.wantRetry)
					}
					return
				}
			}
			t.Errorf("the service config has nothing for %s", tt.method)
		})
	}
	if th := cfg.RetryThrottling; th == nil || th.MaxTokens != 10 || th.TokenRatio != 0.1 {
		t.Errorf("retryThrottling %+v, want maxTokens 10, tokenRatio 0.1", th)
	}
}

// TestServiceConfigAgreesWithRetriable: a retry policy sees only the status code, so it must
// retry exactly the codes Retriable retries when they carry no reason of Strata's (the transport's
// UNAVAILABLE), and leave out a code Retriable retries only for some reasons (RESOURCE_EXHAUSTED,
// for OVERLOADED alone): retrying it for every reason would retry Bedrock's throttling too.
func TestServiceConfigAgreesWithRetriable(t *testing.T) {
	t.Parallel()
	var cfg serviceConfig
	if err := json.Unmarshal([]byte(client.ServiceConfig()), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, mc := range cfg.MethodConfig {
		retried := map[codes.Code]bool{}
		for _, name := range mc.RetryPolicy.RetryableStatusCodes {
			var c codes.Code
			if err := c.UnmarshalJSON([]byte(`"` + name + `"`)); err != nil {
				t.Fatalf("retryable status code %q: %v", name, err)
			}
			retried[c] = true
		}
		for c := codes.OK + 1; c <= codes.Unauthenticated; c++ {
			if want := client.Retriable(status.Error(c, "from the transport")); retried[c] != want {
				t.Errorf("%s: the service config retries %v, the Go client %v", mc.Name[0].Method, c, want)
			}
		}
	}
}

// TestServiceConfigRetries runs the published config as Python and Node callers do, as a channel
// option with the channel's own retries (gRFC A6, which grpc-go implements too), and pins what it
// retries, where it differs from the Go client's, and that retry throttling stops retries when
// most calls fail.
func TestServiceConfigRetries(t *testing.T) {
	t.Parallel()
	unavailable := reply{code: codes.Unavailable}
	tests := []struct {
		name      string
		script    []reply
		asks      int // calls made in a row
		wantCode  codes.Code
		wantCalls int
	}{
		{name: "a replica going away is retried", script: []reply{unavailable, unavailable}, asks: 1, wantCode: codes.OK, wantCalls: 3},
		{name: "bedrock throttling, already retried by strata, is not", script: []reply{{code: codes.ResourceExhausted, reason: "BEDROCK_THROTTLED"}}, asks: 1, wantCode: codes.ResourceExhausted, wantCalls: 1},
		// Unlike the Go client: the policy cannot tell OVERLOADED from throttling.
		{name: "a replica at its limit is not", script: []reply{{code: codes.ResourceExhausted, reason: "OVERLOADED"}}, asks: 1, wantCode: codes.ResourceExhausted, wantCalls: 1},
		// Unlike the Go client: the policy cannot tell Strata's UNAVAILABLE from the transport's.
		{name: "strata's own unavailable is", script: []reply{{code: codes.Unavailable, reason: "BEDROCK_UNAVAILABLE"}}, asks: 1, wantCode: codes.OK, wantCalls: 2},
		{name: "a bad request is not", script: []reply{{code: codes.InvalidArgument}}, asks: 1, wantCode: codes.InvalidArgument, wantCalls: 1},
		// Tokens start at 10: each failed attempt takes one, and at 5 retries stop. The first
		// call's 4 attempts leave 6; the next failure leaves 5 and is not retried, nor the one after.
		{name: "retries stop when most calls fail", script: slices.Repeat([]reply{unavailable}, 100), asks: 3, wantCode: codes.Unavailable, wantCalls: 4 + 1 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := &scripted{script: tt.script}
			conn, err := grpc.NewClient(serve(t, svc), grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultServiceConfig(client.ServiceConfig()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			llm := stratav1.NewLLMServiceClient(conn)
			var last error
			for range tt.asks {
				_, last = llm.Chat(t.Context(), &stratav1.ChatRequest{})
			}
			if status.Code(last) != tt.wantCode {
				t.Errorf("the last call: %v, want %v", last, tt.wantCode)
			}
			if n := svc.attempts(); n != tt.wantCalls {
				t.Errorf("%d attempts reached the server, want %d", n, tt.wantCalls)
			}
		})
	}
}

// ChatStream answers with the next step of the script: an error before any event, or the
// events start, delta "hi", end; with failAfterFirst, the start and then an UNAVAILABLE.
func (s *scripted) ChatStream(_ *stratav1.ChatRequest, stream grpc.ServerStreamingServer[stratav1.ChatStreamResponse]) error {
	step := s.next(stream.Context())
	if step.code != codes.OK && !step.failAfterFirst {
		return step.err()
	}
	if err := stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_Start{Start: &stratav1.StreamStart{Model: "m"}}}); err != nil {
		return err
	}
	if step.failAfterFirst {
		return status.Error(step.code, "cut after the first event")
	}
	if err := stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_Delta{Delta: &stratav1.StreamDelta{Text: "hi"}}}); err != nil {
		return err
	}
	return stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_End{End: &stratav1.StreamEnd{}}})
}

// TestChatStreamRetries: a stream is tried again, as a unary call is, until its first event, and
// never after it, where a retry would send the caller part of the reply twice.
func TestChatStreamRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     []reply
		wantEvents int
		wantCode   codes.Code // of the stream's end
		wantCalls  int
	}{
		{"a replica going away before the first event is retried", []reply{{code: codes.Unavailable}, {code: codes.ResourceExhausted, reason: "OVERLOADED"}}, 3, codes.OK, 3},
		{"an open circuit is not", []reply{{code: codes.Unavailable, reason: "CIRCUIT_OPEN"}}, 0, codes.Unavailable, 1},
		{"retries end", []reply{{code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}, {code: codes.Unavailable}}, 0, codes.Unavailable, 4},
		{"a failure after the first event is the caller's", []reply{{code: codes.Unavailable, failAfterFirst: true}}, 1, codes.Unavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, c := scriptedClient(t, tt.script)
			events := 0
			stream, err := c.ChatStream(t.Context(), &stratav1.ChatRequest{Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Text: "hello"}}})
			for err == nil {
				if _, err = stream.Recv(); err == nil {
					events++
				}
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if events != tt.wantEvents || status.Code(err) != tt.wantCode {
				t.Errorf("%d events, then %v; want %d, then code %v", events, err, tt.wantEvents, tt.wantCode)
			}
			if n := svc.attempts(); n != tt.wantCalls {
				t.Errorf("%d streams reached the server, want %d", n, tt.wantCalls)
			}
		})
	}
}
