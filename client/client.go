// Package client is a small Go client for Strata: a connection that carries Strata's gRPC service
// config (per-method timeouts) and retries UNAVAILABLE and RESOURCE_EXHAUSTED with
// go-grpc-middleware's retry interceptor ([Retriable] says which), and helpers for the common calls.
//
// The service config is published as service_config.json beside this file, for clients in other
// languages (the README shows Python and Node). Strata itself already retries Bedrock's errors
// within each call; a client retries what reaches it: a replica going away (UNAVAILABLE) or a
// replica at its limit of calls in flight (RESOURCE_EXHAUSTED), which another replica may serve.
// The service config can say less than [Retriable] does: see [ServiceConfig].
package client

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	retry "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

//go:embed service_config.json
var serviceConfig string

// ServiceConfig is Strata's gRPC service config, as JSON: per-method timeouts and, for clients
// that retry through it (Python, Node), the retry policy. This package applies only the timeouts:
// it retries with [Retriable] instead, and disables the channel's own retries.
//
// A retry policy (gRFC A6) chooses by status code alone; it cannot read the ErrorInfo reason that
// [Retriable] decides by. So the policy retries the codes Retriable retries when they carry no
// reason of Strata's, which is UNAVAILABLE from the transport, and errs on the safe side for the
// rest:
//   - RESOURCE_EXHAUSTED is not retried, although Retriable retries its reason OVERLOADED: the same
//     code means Bedrock throttled the call after Strata's own retries, or a configured limit refused
//     it, and retrying those at once would press on a throttled model and ignore their RetryInfo.
//     A caller that wants OVERLOADED retried reads the reason and the RetryInfo itself.
//   - UNAVAILABLE is retried also when Strata itself returns it after its retries of Bedrock
//     (BEDROCK_UNAVAILABLE, CIRCUIT_OPEN), which Retriable does not retry. retryThrottling bounds
//     that: once more than about one attempt in ten fails, the channel stops retrying until calls
//     succeed again, so a Bedrock outage is not multiplied by the clients.
//
// The backoff and attempts match [DefaultMaxRetries] and [DefaultRetryBackoff].
func ServiceConfig() string { return serviceConfig }

// Defaults of [Options].
const (
	DefaultMaxRetries   = 3
	DefaultRetryBackoff = 200 * time.Millisecond
	maxRetryBackoff     = 5 * time.Second
)

// Options configure [New].
type Options struct {
	// TLS, when set, connects with TLS; nil connects in plaintext (loopback, a sidecar).
	TLS credentials.TransportCredentials
	// MaxRetries is how many times a call that failed in a way [Retriable] accepts is tried again
	// (default 3; negative: never).
	MaxRetries int
	// RetryBackoff is the first wait before a retry, doubled each time with jitter up to 5 s
	// (default 200 ms).
	RetryBackoff time.Duration
	// DialOptions are added to the connection's.
	DialOptions []grpc.DialOption
}

// Client is a connection to Strata. It is safe for concurrent use; make one per process.
type Client struct {
	conn *grpc.ClientConn
	llm  stratav1.LLMServiceClient
	// attempts and backoff are the retry policy, which ChatStream applies itself.
	attempts int
	backoff  retry.BackoffFunc
}

// New connects to Strata at target (host:port, or any gRPC target). It does not wait for the
// connection: the first call does.
func New(target string, o Options) (*Client, error) {
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	creds := o.TLS
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	attempts := max(o.MaxRetries, 0) + 1 // the first try too
	backoff := retry.BackoffExponentialWithJitterBounded(o.RetryBackoff, 0.2, maxRetryBackoff)
	retries := []retry.CallOption{
		retry.WithMax(uint(attempts)),
		retry.WithRetriable(Retriable),
		retry.WithBackoff(backoff),
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(serviceConfig),
		// One retry layer: the interceptor's, not also the channel's from the service config.
		grpc.WithDisableRetry(),
		grpc.WithChainUnaryInterceptor(retry.UnaryClientInterceptor(retries...)),
	}, o.DialOptions...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("strata client: %w", err)
	}
	return &Client{conn: conn, llm: stratav1.NewLLMServiceClient(conn), attempts: attempts, backoff: backoff}, nil
}

// Retriable reports the errors worth trying again, here or on another replica: UNAVAILABLE from the
// transport (a replica going away; Strata's own UNAVAILABLE statuses come after its retries of
// Bedrock, or say to wait, as an open circuit does) and RESOURCE_EXHAUSTED because a replica is at
// its limit of calls in flight (reason OVERLOADED). Throttling and quota errors are not: Strata
// retried them already, and RetryInfo says when to come back.
func Retriable(err error) bool {
	st := status.Convert(err)
	reason := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == "strata" {
			reason = info.GetReason()
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		return reason == ""
	case codes.ResourceExhausted:
		return reason == "OVERLOADED"
	}
	return false
}

// LLM is the generated client, for every call and field.
func (c *Client) LLM() stratav1.LLMServiceClient { return c.llm }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Ask sends one user message, routed by tag (CHAT_MODEL_MAP; "" for the default model), and
// returns the reply's text.
func (c *Client) Ask(ctx context.Context, tag, prompt string) (string, error) {
	resp, err := c.llm.Chat(ctx, &stratav1.ChatRequest{Tag: tag, Messages: []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Text: prompt}}})
	if err != nil {
		return "", err
	}
	return resp.GetText(), nil
}

// Embed returns one vector per text, in order, from the default embedding model.
func (c *Client) Embed(ctx context.Context, texts ...string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, errors.New("strata client: no texts to embed")
	}
	resp, err := c.llm.Embed(ctx, &stratav1.EmbedRequest{Inputs: texts})
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(resp.GetEmbeddings()))
	for i, e := range resp.GetEmbeddings() {
		out[i] = e.GetValues()
	}
	return out, nil
}

// Stream is a streamed chat reply that began: Recv returns its events in order, the first one
// included, then io.EOF at its end or the status that cut it.
type Stream struct {
	first  *stratav1.ChatStreamResponse
	stream grpc.ServerStreamingClient[stratav1.ChatStreamResponse]
}

// Recv returns the stream's next event.
func (s *Stream) Recv() (*stratav1.ChatStreamResponse, error) {
	if first := s.first; first != nil {
		s.first = nil
		return first, nil
	}
	return s.stream.Recv()
}

// ChatStream opens a streamed chat and returns it once its first event has arrived, trying again
// what [Retriable] accepts until then, with the backoff and attempts of unary calls. Past the
// first event it never retries: the caller already holds part of the reply, so a failure is
// theirs to see (Strata retried Bedrock within the stream before its first event already).
// go-grpc-middleware's stream retry cannot be used here: it retries a server stream after
// messages too, which would send the caller a reply twice.
func (c *Client) ChatStream(ctx context.Context, req *stratav1.ChatRequest) (*Stream, error) {
	for attempt := uint(0); ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(c.backoff(ctx, attempt))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
		}
		stream, err := c.llm.ChatStream(ctx, req)
		if err == nil {
			var first *stratav1.ChatStreamResponse
			if first, err = stream.Recv(); err == nil {
				return &Stream{first: first, stream: stream}, nil
			}
		}
		if !Retriable(err) || int(attempt)+1 >= c.attempts || ctx.Err() != nil {
			return nil, err
		}
	}
}
