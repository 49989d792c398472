// Package bedrock is Strata's Bedrock adapter: it implements [backend.Backend] with Converse and
// ConverseStream for chat and InvokeModel for embeddings, over one tuned http.Transport per
// process. The runtime operations go out on the adapter's own request path (transport.go) with the
// SDK's SigV4 signer and credential providers; the control plane uses the SDK client.
//
// Every call makes exactly one attempt (the control-plane client's retryer is aws.NopRetryer) and
// failures come back as *backend.Error with a Kind that says whether retrying helps, because
// retries belong to Strata's service layer, which knows the caller's deadline (one retry layer,
// not two).
//
// The wire behaviour this package relies on is described in ../shared/bedrock-wire.md; the section
// numbers cited in comments (§0 item 4, §5.4, ...) are that document's.
package bedrock

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/smithy-go/auth/bearer"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/catalog"
)

// DefaultRegion is the region used when none is configured (the AWS_REGION default).
const DefaultRegion = "us-east-1"

// Defaults of [Options].
const (
	// DefaultEmbedConcurrency bounds the upstream calls one Embed makes at once. Titan takes one
	// text per call, so a 50-text request is 50 calls; 8 at a time keeps a request fast without
	// letting one caller take a whole account's InvokeModel rate.
	DefaultEmbedConcurrency = 8
)

// DefaultReasoningBudgets maps each effort to a Claude thinking budget, in tokens. 1024 is the
// smallest budget Claude accepts; each step is four times the last (Anthropic's guidance is to start
// at the minimum and raise it until quality stops improving).
func DefaultReasoningBudgets() map[backend.Effort]int {
	return map[backend.Effort]int{
		backend.EffortLow:    1024,
		backend.EffortMedium: 4096,
		backend.EffortHigh:   16384,
	}
}

// Options configure a [Backend].
type Options struct {
	// Region is the AWS region to call and sign for; empty means us-east-1.
	Region string
	// Endpoint overrides the Bedrock Runtime endpoint (a VPC endpoint, the emulator). A path in it
	// is kept as a prefix. Empty: the SDK's regional endpoint.
	Endpoint string
	// ControlEndpoint overrides the Bedrock control-plane endpoint Probe uses for
	// GetFoundationModel and ListFoundationModels. Empty: derived from Endpoint (a public
	// bedrock-runtime.REGION.amazonaws.com host becomes bedrock.REGION.amazonaws.com; any other
	// endpoint, such as the emulator, which serves both planes, is used as is), or the SDK's
	// regional endpoint when Endpoint is empty too.
	ControlEndpoint string
	// Credentials sign requests with SigV4 (see [LoadCredentials]). Required unless BearerToken is set.
	Credentials aws.CredentialsProvider
	// BearerToken is a Bedrock API key. When set it wins over Credentials: requests carry
	// `Authorization: Bearer KEY` (bedrock-wire.md §6.4), which the SDK sends only over HTTPS.
	BearerToken string
	// HTTPClient carries every call; nil builds one with [NewHTTPClient] and default [PoolOptions].
	// Give one that has no Timeout: a client timeout would cut long streams.
	HTTPClient *http.Client
	// Catalog knows the models: families, limits, reasoning controls, embedding dimensions.
	// Nil loads the catalog embedded in the binary.
	Catalog *catalog.Catalog
	// ReasoningBudgets maps efforts to Claude thinking budgets; missing efforts take
	// [DefaultReasoningBudgets].
	ReasoningBudgets map[backend.Effort]int
	// EmbedConcurrency bounds the upstream calls one Embed makes at once; zero means
	// [DefaultEmbedConcurrency].
	EmbedConcurrency int
	// Logger receives start-up and debug lines; nil discards. Secrets are never logged.
	Logger *slog.Logger
}

// Backend is the Bedrock implementation of [backend.Backend]. It is safe for concurrent use; build
// one per process.
type Backend struct {
	transport   *transport
	regions     regionTransports
	endpoint    string // the configured runtime endpoint, or "" for the regional ones
	buffers     responseBuffers
	profiles    profileModels
	control     *bedrock.Client
	catalog     *catalog.Catalog
	region      string
	budgets     map[backend.Effort]int
	concurrency int
	log         *slog.Logger
}

var _ backend.Backend = (*Backend)(nil)

// New builds the Bedrock backend: Strata's own request path for the runtime operations and the
// SDK's control-plane client, both over opts.HTTPClient, with no retries of their own.
func New(opts Options) (*Backend, error) {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Credentials == nil && opts.BearerToken == "" {
		return nil, errors.New("bedrock: no credentials: set Credentials or BearerToken")
	}
	if opts.BearerToken != "" {
		for _, ep := range []string{opts.Endpoint, opts.ControlEndpoint} {
			if strings.HasPrefix(strings.ToLower(ep), "http://") {
				// The SDK would refuse every call with "bearer token with HTTP request requires HTTPS"
				// (bedrock-wire.md §0 item 9); say so once, at start-up.
				return nil, fmt.Errorf("bedrock: a Bedrock API key is sent only over https, and endpoint %s is http", ep)
			}
		}
	}
	for _, ep := range []string{opts.Endpoint, opts.ControlEndpoint} {
		if ep == "" {
			continue
		}
		if u, err := url.Parse(ep); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("bedrock: endpoint %q is not an absolute URL such as https://host", ep)
		}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewHTTPClient(PoolOptions{})
	}
	if opts.Catalog == nil {
		c, err := catalog.Load()
		if err != nil {
			return nil, fmt.Errorf("bedrock: %w", err)
		}
		opts.Catalog = c
	}
	budgets := DefaultReasoningBudgets()
	for effort, n := range opts.ReasoningBudgets {
		if n < minThinkingBudget {
			return nil, fmt.Errorf("bedrock: reasoning budget %d for effort %q is below Claude's minimum of %d", n, effort, minThinkingBudget)
		}
		budgets[effort] = n
	}
	if opts.EmbedConcurrency < 0 {
		return nil, fmt.Errorf("bedrock: embed concurrency %d is negative", opts.EmbedConcurrency)
	}
	if opts.EmbedConcurrency == 0 {
		opts.EmbedConcurrency = DefaultEmbedConcurrency
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	auth := authOptions(opts.BearerToken)
	controlOpts := bedrock.Options{
		Region:      opts.Region,
		Credentials: opts.Credentials,
		HTTPClient:  bodyGuard{opts.HTTPClient},
		Retryer:     aws.NopRetryer{},
		AppID:       "strata",
	}
	if ep := controlEndpoint(opts.Endpoint, opts.ControlEndpoint); ep != "" {
		controlOpts.BaseEndpoint = aws.String(ep)
	}
	control := bedrock.New(controlOpts, func(o *bedrock.Options) {
		// Applied after the SDK read AWS_BEARER_TOKEN_BEDROCK from the process environment, so
		// that Options alone decide how Strata authenticates (the config package reads that
		// variable into BearerToken).
		o.BearerAuthTokenProvider, o.AuthSchemePreference = auth.provider, auth.preference
	})

	transport, err := newTransport(opts.HTTPClient, opts.Endpoint, opts.Region, opts.Credentials, opts.BearerToken)
	if err != nil {
		return nil, fmt.Errorf("bedrock: %w", err)
	}
	scheme := "sigv4"
	if opts.BearerToken != "" {
		scheme = "bearer"
	}
	logger.Info("bedrock backend ready", "region", opts.Region, "endpoint", opts.Endpoint, "auth", scheme)
	return &Backend{
		transport:   transport,
		endpoint:    opts.Endpoint,
		control:     control,
		catalog:     opts.Catalog,
		region:      opts.Region,
		budgets:     budgets,
		concurrency: opts.EmbedConcurrency,
		log:         logger,
	}, nil
}

type bearerAuth struct {
	provider   bearer.TokenProvider
	preference []string
}

// authOptions returns the bearer settings for the control-plane client: a static key preferred over SigV4,
// or none at all.
func authOptions(token string) bearerAuth {
	if token == "" {
		return bearerAuth{}
	}
	return bearerAuth{
		provider:   bearer.StaticTokenProvider{Token: bearer.Token{Value: token}},
		preference: []string{"httpBearerAuth"},
	}
}

// controlEndpoint derives the control plane's endpoint from the runtime's (see
// [Options.ControlEndpoint]).
func controlEndpoint(runtime, control string) string {
	if control != "" || runtime == "" {
		return control
	}
	u, err := url.Parse(runtime)
	if err != nil {
		return runtime
	}
	host := u.Hostname()
	if rest, ok := strings.CutPrefix(host, "bedrock-runtime"); ok && strings.HasSuffix(host, ".amazonaws.com") {
		// bedrock-runtime.us-east-1.amazonaws.com, bedrock-runtime-fips.us-east-1.amazonaws.com
		u.Host = "bedrock" + rest
		if p := u.Port(); p != "" {
			u.Host += ":" + p
		}
		return u.String()
	}
	return runtime
}

// bodyGuard hands the SDK's requests to the HTTP client with a request body that offers only
// Read and Close.
//
// smithy-go (v1.28.9) wraps request bodies in a reader whose WriteTo answers io.EOF once closed,
// and closes the body as soon as client.Do returns. net/http, after copying Content-Length bytes,
// reads the body once more to check nothing is left over, through io.Copy, which prefers
// WriteTo. When the response comes back before that last read (a fast endpoint: the emulator,
// anything on loopback), the read fails with io.EOF, net/http takes it for a failed request write
// and closes the connection: the call in flight fails reading its response ("use of closed
// network connection"), or, when it had already read it, the keep-alive connection is lost.
// Measured against the emulator: about 4% of calls lost their connection, 0.1% failed. Through
// Read, a closed body ends with a clean io.EOF and the connection survives.
type bodyGuard struct{ client *http.Client }

func (g bodyGuard) Do(r *http.Request) (*http.Response, error) {
	if _, ok := r.Body.(io.WriterTo); ok {
		r.Body = readCloserOnly{r.Body}
	}
	return g.client.Do(r)
}

// SDKHTTPClient wraps hc, for an AWS SDK client's HTTPClient option, with the request-body guard
// described on bodyGuard. The adapter's own clients use it; so should any other SDK client in the
// process that talks to a fast endpoint (benchmarks, `strata bench`).
func SDKHTTPClient(hc *http.Client) interface {
	Do(*http.Request) (*http.Response, error)
} {
	return bodyGuard{hc}
}

// readCloserOnly hides every method of a body but Read and Close.
type readCloserOnly struct{ io.ReadCloser }

// Region is the AWS region the backend calls.
func (b *Backend) Region() string { return b.region }

// PoolOptions size the connection pool of [NewHTTPClient]. Zero values take the defaults.
type PoolOptions struct {
	// MaxIdleConnsPerHost is how many idle connections to keep per host (default 256). The SDK's
	// default of 10 makes a busy gateway open and close HTTP/1.1 connections all the time; over
	// HTTP/2 (Bedrock over TLS) one connection carries many calls and this matters less.
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes connections idle this long (default 90s, the SDK's).
	IdleConnTimeout time.Duration
	// DialTimeout bounds establishing a TCP connection (default 10s).
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period (default 30s).
	KeepAlive time.Duration
	// TLSClientConfig, when set, replaces the TLS settings (e.g. RootCAs for a private CA or the
	// emulator's self-signed certificate). Nil: the system roots, TLS 1.2 or later.
	TLSClientConfig *tls.Config
}

// Defaults of [PoolOptions].
const (
	DefaultMaxIdleConnsPerHost = 256
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultDialTimeout         = 10 * time.Second
	DefaultKeepAlive           = 30 * time.Second
)

// NewHTTPClient returns the one HTTP client every Bedrock call of a process shares: one
// http.Transport sized by p, HTTP/2 where the endpoint offers it over TLS, proxies from the
// environment. The client has no Timeout, which would cut long streams: deadlines come from each
// call's context.
func NewHTTPClient(p PoolOptions) *http.Client {
	if p.MaxIdleConnsPerHost <= 0 {
		p.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if p.IdleConnTimeout <= 0 {
		p.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if p.DialTimeout <= 0 {
		p.DialTimeout = DefaultDialTimeout
	}
	if p.KeepAlive <= 0 {
		p.KeepAlive = DefaultKeepAlive
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.TLSClientConfig != nil {
		tlsConfig = p.TLSClientConfig.Clone()
	}
	dialer := &net.Dialer{Timeout: p.DialTimeout, KeepAlive: p.KeepAlive}
	return &http.Client{Transport: &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: dialer.DialContext,
		// A custom dialer and TLS config turn Go's automatic HTTP/2 off unless asked for.
		ForceAttemptHTTP2: true,
		// No global cap: a gateway talks to two hosts (runtime and control plane).
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   p.MaxIdleConnsPerHost,
		IdleConnTimeout:       p.IdleConnTimeout,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConfig,
		// No ResponseHeaderTimeout: a non-streaming Converse sends its headers only once the
		// whole reply is generated, which may take minutes.
		HTTP2: &http.HTTP2Config{
			// Ping a connection that has been silent this long, and drop it if the ping goes
			// unanswered, so a dead HTTP/2 connection fails its calls instead of hanging them.
			SendPingTimeout: p.KeepAlive,
			PingTimeout:     15 * time.Second,
		},
	}}
}

// resolveModel returns the catalog entry for a request: the one the caller resolved, or the
// catalog's for the id; nil for an id the catalog does not know (or an application profile).
func (b *Backend) resolveModel(id string, m *catalog.Model) *catalog.Model {
	if m != nil {
		return m
	}
	if res, err := b.catalog.Resolve(id); err == nil {
		return res.Model
	}
	return nil
}
