package client_test

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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
	s.mu.Lock()
	defer s.mu.Unlock()
	_, s.hadDeadline = ctx.Deadline()
	step := reply{code: codes.OK}
	if s.calls < len(s.script) {
		step = s.script[s.calls]
	}
	s.calls++
	if step.code == codes.OK {
		return &stratav1.ChatResponse{Text: "hi"}, nil
	}
	st := status.New(step.code, "scripted")
	if step.reason != "" {
		st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: step.reason, Domain: "strata"})
	}
	return nil, st.Err()
}

// reply is one scripted answer: a code, and Strata's ErrorInfo reason when it sets one.
type reply struct {
	code   codes.Code
	reason string
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
			svc := &scripted{script: tt.script}
			c, err := client.New(serve(t, svc), client.Options{RetryBackoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			text, err := c.Ask(t.Context(), "", "hello")
			if status.Code(err) != tt.wantCode || (err == nil && text != "hi") {
				t.Errorf("Ask = %q, %v; want code %v", text, err, tt.wantCode)
			}
			if svc.calls != tt.wantCalls {
				t.Errorf("%d calls reached the server, want %d", svc.calls, tt.wantCalls)
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

func TestServiceConfigJSON(t *testing.T) {
	t.Parallel()
	var cfg struct {
		MethodConfig []struct {
			Name []struct {
				Service, Method string
			} `json:"name"`
			Timeout     string `json:"timeout"`
			RetryPolicy struct {
				RetryableStatusCodes []string `json:"retryableStatusCodes"`
			} `json:"retryPolicy"`
		} `json:"methodConfig"`
	}
	if err := json.Unmarshal([]byte(client.ServiceConfig()), &cfg); err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for _, mc := range cfg.MethodConfig {
		if mc.Timeout == "" || len(mc.RetryPolicy.RetryableStatusCodes) == 0 {
			t.Errorf("method config %+v has no timeout or retry policy", mc)
		}
		for _, n := range mc.Name {
			methods[n.Service+"/"+n.Method] = true
		}
	}
	for _, m := range []string{"Chat", "ChatStream", "Embed", "CountTokens", "ListModels", "HealthCheck"} {
		if !methods["strata.v1.LLMService/"+m] {
			t.Errorf("the service config has nothing for %s", m)
		}
	}
}
