package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"google.golang.org/grpc"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// The minimal gateway is path (e): the reference issue 5 sets Strata's budgets against, "a
// minimal gateway that sends the Converse request over plain net/http with the SDK's SigV4
// signer". It implements LLMService's Chat and nothing else: the request's model and text
// messages (and temperature and max tokens, so the emulator does the same work as for (a) and
// (b)) become a Converse body built with encoding/json, signed, posted, and the reply's text and
// usage decoded. No retries, logging, validation, routing, pricing or metrics: the floor any
// gateway pays on this machine for one more gRPC server and one more HTTP client, against which
// Strata's own cost can be read.

// The environment of `strata bench --serve-minimal-gateway`: the emulator to call and the key
// to sign with (the bench's; the emulator verifies every signature).
const (
	envMinimalUpstream = "STRATA_BENCH_UPSTREAM"
	envAccessKeyID     = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	envRegion          = "AWS_REGION"
)

// minimalConfig is what the minimal gateway needs to reach Bedrock.
type minimalConfig struct {
	endpoint, region       string
	accessKeyID, secretKey string
}

// minimalEnv is the whole environment the minimal gateway's process runs with.
func minimalEnv(upstreamURL string) map[string]string {
	return map[string]string{
		envMinimalUpstream: upstreamURL,
		envAccessKeyID:     benchAccessKeyID,
		envSecretAccessKey: benchSecretAccessKey,
		envRegion:          benchRegion,
	}
}

// minimalConfigFrom reads the minimal gateway's settings with getenv; every one is required.
func minimalConfigFrom(getenv func(string) string) (minimalConfig, error) {
	c := minimalConfig{endpoint: strings.TrimRight(getenv(envMinimalUpstream), "/"), region: getenv(envRegion),
		accessKeyID: getenv(envAccessKeyID), secretKey: getenv(envSecretAccessKey)}
	var missing []string
	for name, v := range map[string]string{envMinimalUpstream: c.endpoint, envRegion: c.region, envAccessKeyID: c.accessKeyID, envSecretAccessKey: c.secretKey} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("the minimal gateway needs %s in its environment", strings.Join(missing, ", "))
	}
	return c, nil
}

// minimalGateway serves LLMService's Chat as the minimal gateway.
type minimalGateway struct {
	stratav1.UnimplementedLLMServiceServer
	client   *http.Client
	endpoint string
	region   string
	creds    aws.Credentials
	signer   *v4.Signer
}

func newMinimalGateway(c minimalConfig) *minimalGateway {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &minimalGateway{
		// The SDK's default of 10 idle connections per host would make 16 callers open and close
		// connections; a gateway keeps one per caller.
		client: &http.Client{Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}},
		endpoint: c.endpoint,
		region:   c.region,
		creds:    aws.Credentials{AccessKeyID: c.accessKeyID, SecretAccessKey: c.secretKey, Source: "strata bench"},
		signer:   v4.NewSigner(),
	}
}

// converseRequest is the Converse body (bedrock-wire.md §2.1), text only.
type converseRequest struct {
	Messages        []converseMessage `json:"messages"`
	System          []converseText    `json:"system,omitempty"`
	InferenceConfig *inferenceConfig  `json:"inferenceConfig,omitempty"`
}

type converseMessage struct {
	Role    string         `json:"role"`
	Content []converseText `json:"content"`
}

type converseText struct {
	Text string `json:"text"`
}

type inferenceConfig struct {
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   *int32   `json:"maxTokens,omitempty"`
}

// converseReply is the part of a Converse reply (bedrock-wire.md §2.3) the minimal gateway returns.
type converseReply struct {
	Output struct {
		Message struct {
			Content []converseText `json:"content"`
		} `json:"message"`
	} `json:"output"`
	Usage struct {
		InputTokens  int64 `json:"inputTokens"`
		OutputTokens int64 `json:"outputTokens"`
		TotalTokens  int64 `json:"totalTokens"`
	} `json:"usage"`
}

// maxMinimalErrorBody bounds how much of an error reply goes into the error.
const maxMinimalErrorBody = 512

// Chat implements [stratav1.LLMServiceServer]: one Converse call, as it comes.
func (g *minimalGateway) Chat(ctx context.Context, req *stratav1.ChatRequest) (*stratav1.ChatResponse, error) {
	in := converseRequest{Messages: make([]converseMessage, 0, len(req.GetMessages()))}
	for _, m := range req.GetMessages() {
		var blocks []converseText
		if m.GetText() != "" {
			blocks = append(blocks, converseText{Text: m.GetText()})
		}
		for _, p := range m.GetParts() {
			if t := p.GetText(); t != "" {
				blocks = append(blocks, converseText{Text: t})
			}
		}
		switch m.GetRole() {
		case stratav1.Role_ROLE_SYSTEM:
			in.System = append(in.System, blocks...)
		case stratav1.Role_ROLE_ASSISTANT:
			in.Messages = append(in.Messages, converseMessage{Role: "assistant", Content: blocks})
		default:
			in.Messages = append(in.Messages, converseMessage{Role: "user", Content: blocks})
		}
	}
	if req.Temperature != nil || req.MaxTokens != nil {
		in.InferenceConfig = &inferenceConfig{Temperature: req.Temperature, MaxTokens: req.MaxTokens}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	// The model id is one path label with every reserved character escaped (':' as %3A), as the
	// SDK sends it (bedrock-wire.md §1.3). http.NewRequest keeps that escaping in URL.RawPath, and the signer escapes
	// the escaped path once more for its canonical URI, as the SDK's client does.
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost,
		g.endpoint+"/model/"+httpbinding.EscapePath(req.GetModel(), true)+"/converse", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := g.signer.SignHTTP(ctx, g.creds, hreq, hex.EncodeToString(sum[:]), "bedrock", g.region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := g.client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxMinimalErrorBody))
		return nil, fmt.Errorf("converse %s: %s: %s", req.GetModel(), resp.Status, bytes.TrimSpace(msg))
	}
	var out converseReply
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("converse %s: decode the reply: %w", req.GetModel(), err)
	}
	text := ""
	if content := out.Output.Message.Content; len(content) == 1 {
		text = content[0].Text
	} else {
		var b strings.Builder
		for _, c := range content {
			b.WriteString(c.Text)
		}
		text = b.String()
	}
	return &stratav1.ChatResponse{
		Text:  text,
		Model: req.GetModel(),
		Usage: &stratav1.Usage{InputTokens: out.Usage.InputTokens, OutputTokens: out.Usage.OutputTokens, TotalTokens: out.Usage.TotalTokens},
	}, nil
}

// serveMinimalGateway serves the minimal gateway on addr until ctx is done, printing the address
// it listens on to stdout as its first line (as `strata serve` does).
func serveMinimalGateway(ctx context.Context, addr string, c minimalConfig, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("minimal gateway: listen on %s: %w", addr, err)
	}
	gw := newMinimalGateway(c)
	defer gw.client.CloseIdleConnections()
	srv := grpc.NewServer()
	stratav1.RegisterLLMServiceServer(srv, gw)
	if _, err := fmt.Fprintln(stdout, ln.Addr().String()); err != nil {
		_ = ln.Close()
		return fmt.Errorf("minimal gateway: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("minimal gateway: %w", err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
		<-stopped
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("minimal gateway: %w", err)
	}
	return nil
}
