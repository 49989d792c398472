package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/strata-gateway/strata/backend"
)

// signingName is the service name Bedrock Runtime's SigV4 scope carries (bedrock-wire.md §1.1).
const signingName = "bedrock"

// userAgent identifies Strata to Bedrock.
const userAgent = "strata"

// transport sends Bedrock Runtime requests: one HTTP POST per call, signed with the SDK's SigV4
// signer (or a bearer API key), over the process's one pooled HTTP client.
//
// It replaces the SDK client for the hot operations (Converse, ConverseStream, InvokeModel).
// The SDK runs some 30 middleware steps per call (endpoint resolution, auth scheme selection,
// retry bookkeeping, user-agent building, checksums, the eventstream pipe goroutines): 329
// allocations and most of Strata's own per-call cost in a profile (BENCHMARKS.md). What Strata
// keeps from the SDK is what must be right: the signer, the credential providers and their cache,
// and the eventstream decoder.
type transport struct {
	client *http.Client
	// base is the endpoint, path prefix included.
	base   *url.URL
	region string
	signer *sigv4
	creds  aws.CredentialsProvider
	// bearer is a Bedrock API key; when set it replaces SigV4 (§6.4).
	bearer string

	targetsMu sync.RWMutex
	targets   map[string]*target
}

// target is where one operation on one model goes, computed once: the URL, the Host header and
// SigV4's canonical URI, which escapes the escaped path once more (§1.3, §6.5).
type target struct {
	url          url.URL
	host         string
	canonicalURI string
}

// maxTargets bounds the target cache: model ids come from callers, and a caller that names a new
// model on every call must not grow it without end.
const maxTargets = 4096

func newTransport(client *http.Client, endpoint, region string, creds aws.CredentialsProvider, bearer string) (*transport, error) {
	if endpoint == "" {
		endpoint = defaultEndpoint(region)
	}
	base, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if creds != nil {
		if _, cached := creds.(*aws.CredentialsCache); !cached {
			// Resolve once and refresh before expiry, as the SDK client does with its provider.
			creds = aws.NewCredentialsCache(creds)
		}
	}
	return &transport{
		client:  client,
		base:    base,
		region:  region,
		signer:  &sigv4{region: region, service: signingName},
		creds:   creds,
		bearer:  bearer,
		targets: map[string]*target{},
	}, nil
}

// target returns where op on modelID goes.
func (t *transport) target(modelID string, op operation) *target {
	key := op.name + "\x00" + modelID
	t.targetsMu.RLock()
	tg, ok := t.targets[key]
	t.targetsMu.RUnlock()
	if ok {
		return tg
	}
	// The model id is one path label with every reserved character escaped, the ':' and '/' of
	// ARNs included, as the SDK escapes it (§1.3).
	label := httpbinding.EscapePath(modelID, true)
	tg = &target{url: *t.base}
	tg.url.Path = t.base.Path + "/model/" + modelID + "/" + op.name
	tg.url.RawPath = t.base.EscapedPath() + "/model/" + label + "/" + op.name
	tg.host = hostForSigning(&tg.url)
	tg.canonicalURI = httpbinding.EscapePath(tg.url.RawPath, false)
	t.targetsMu.Lock()
	if len(t.targets) < maxTargets {
		t.targets[key] = tg
	}
	t.targetsMu.Unlock()
	return tg
}

// hostForSigning is the Host header without the scheme's default port, as the SDK sends and signs
// it.
func hostForSigning(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		if strings.Contains(host, ":") {
			return "[" + host + "]" // IPv6
		}
		return host
	}
	return u.Host
}

// defaultEndpoint is Bedrock Runtime's regional endpoint.
func defaultEndpoint(region string) string {
	suffix := ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = ".amazonaws.com.cn"
	}
	return "https://bedrock-runtime." + region + suffix
}

// operation is one Bedrock Runtime route: its path after /model/{id}/ and what it accepts back.
type operation struct {
	name   string // converse, converse-stream, invoke
	accept string
}

var (
	opConverse       = operation{name: "converse"}
	opConverseStream = operation{name: "converse-stream"}
	opInvoke         = operation{name: "invoke", accept: "application/json"}
	opCountTokens    = operation{name: "count-tokens"}
)

// post sends body to modelID's operation and returns the response when Bedrock answered 2xx.
// Any other answer is read and returned as a *backend.Error with Bedrock's code, message, status,
// request id and retry hint; a failure to send is classified by [Backend.toError]'s rules.
// The caller closes the response body.
func (b *Backend) post(ctx context.Context, modelID string, op operation, body []byte) (*http.Response, error) {
	return b.postIn(ctx, "", modelID, op, body)
}

// postIn is post to another region than the backend's ("" for its own): the same credentials,
// the region's endpoint (or the configured one, which serves every region it signs for: a VPC
// endpoint, the emulator), signed for that region.
func (b *Backend) postIn(ctx context.Context, region, modelID string, op operation, body []byte) (*http.Response, error) {
	t := b.transport
	if region != "" && region != b.region {
		var err error
		if t, err = b.regionTransport(region); err != nil {
			return nil, b.invalidf(modelID, err.Error())
		}
	}
	tg := t.target(modelID, op)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(body))
	if err != nil {
		return nil, b.internal(modelID, "build the request", err)
	}
	u := tg.url
	req.URL, req.Host = &u, tg.host
	req.Header["Content-Type"] = []string{"application/json"}
	if op.accept != "" {
		req.Header["Accept"] = []string{op.accept}
	}
	req.Header["User-Agent"] = []string{userAgent}
	if err := t.authorize(ctx, req, tg, body); err != nil {
		return nil, &backend.Error{Kind: backend.KindAccessDenied, Model: modelID, Region: b.region,
			Message: "cannot sign the request: " + rootMessage(err), Err: err}
	}
	resp, err := t.client.Do(req)
	if err != nil {
		e := b.toError(ctx, err, modelID)
		e.Region = t.region
		return nil, e
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		e := b.responseError(ctx, resp, modelID)
		e.Region = t.region
		return nil, e
	}
	return resp, nil
}

// authorize signs req with SigV4, or sets the bearer key.
func (t *transport) authorize(ctx context.Context, req *http.Request, tg *target, body []byte) error {
	if t.bearer != "" {
		req.Header["Authorization"] = []string{"Bearer " + t.bearer}
		return nil
	}
	creds, err := t.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve credentials: %w", err)
	}
	auth, date := t.signer.sign(signedRequest{canonicalURI: tg.canonicalURI, host: tg.host, contentType: "application/json", body: body}, creds, time.Now())
	req.Header["Authorization"] = []string{auth}
	req.Header["X-Amz-Date"] = []string{date}
	if creds.SessionToken != "" {
		req.Header["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
	return nil
}

// maxErrorBody bounds how much of an error response is read: Bedrock's are a line of JSON, and
// a proxy's HTML page need not be read whole.
const maxErrorBody = 64 << 10

// responseError reads a non-2xx answer into a *backend.Error the way the SDK's restjson1
// deserializer does (bedrock-wire.md §5.2): the code from X-Amzn-ErrorType, else the body's
// __type or code, cut at ':' and after '#'; the message from message or Message. A response
// without a code (the corpus's recordings lost the header, §5.4) is classified by its status.
func (b *Backend) responseError(ctx context.Context, resp *http.Response, modelID string) *backend.Error {
	e := &backend.Error{
		Model:      modelID,
		Region:     b.region,
		HTTPStatus: resp.StatusCode,
		RequestID:  requestID(resp.Header),
		RetryAfter: retryAfter(resp.Header, time.Now()),
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && ctx.Err() != nil {
		return b.toError(ctx, err, modelID)
	}
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &body) // a body that is not JSON leaves the status to speak
	e.Code = errorCode(resp.Header.Get("X-Amzn-ErrorType"))
	if e.Code == "" {
		e.Code = errorCode(body.Type)
	}
	if e.Code == "" {
		e.Code = errorCode(body.Code)
	}
	e.Message = body.Message
	if e.Message == "" {
		e.Message = body.MessageU
	}
	e.Kind = kindOf(e.Code, e.Message, e.HTTPStatus)
	if e.Message == "" {
		e.Message = describeStatus(e.HTTPStatus)
	}
	return e
}

// errorCode reduces an error type to its name: "ThrottlingException:http://internal..." and
// "com.amazon.coral#ThrottlingException" are both "ThrottlingException".
func errorCode(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	if i := strings.LastIndexByte(v, '#'); i >= 0 {
		v = v[i+1:]
	}
	return v
}

// requestID is Bedrock's id for the call, which AWS support asks for.
func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}

// responseBuffers recycles the buffers unary replies are read into: a reply is decoded before
// its buffer goes back, and decoding copies what it keeps.
type responseBuffers struct{ pool sync.Pool }

func (p *responseBuffers) read(r io.Reader) (*bytes.Buffer, error) {
	buf, _ := p.pool.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	_, err := buf.ReadFrom(r)
	return buf, err
}

// maxPooledBuffer keeps one huge reply from pinning its buffer in the pool for good.
const maxPooledBuffer = 1 << 20

func (p *responseBuffers) put(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		p.pool.Put(buf)
	}
}

// regionTransports are the transports to regions other than the backend's, made on first use.
type regionTransports struct {
	mu sync.Mutex
	m  map[string]*transport
}

// maxRegions bounds the transports kept: AWS has a few dozen regions.
const maxRegions = 64

// regionTransport returns the transport to region.
func (b *Backend) regionTransport(region string) (*transport, error) {
	b.regions.mu.Lock()
	defer b.regions.mu.Unlock()
	if t, ok := b.regions.m[region]; ok {
		return t, nil
	}
	if len(b.regions.m) >= maxRegions {
		return nil, fmt.Errorf("too many regions called: %s would be the %dth", region, maxRegions+1)
	}
	endpoint := b.endpoint
	if endpoint == "" {
		endpoint = defaultEndpoint(region)
	}
	t, err := newTransport(b.transport.client, endpoint, region, b.transport.creds, b.transport.bearer)
	if err != nil {
		return nil, err
	}
	if b.regions.m == nil {
		b.regions.m = map[string]*transport{}
	}
	b.regions.m[region] = t
	return t, nil
}
