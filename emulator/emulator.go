// Package emulator is a Bedrock Runtime that runs on this machine: an HTTP server that the real AWS
// SDKs talk to through their endpoint override, exactly as they talk to AWS.
//
// It speaks Bedrock's wire protocol (../shared/bedrock-wire.md): Converse and ConverseStream,
// InvokeModel and InvokeModelWithResponseStream for Anthropic, Nova, Titan, Cohere and Nova
// embeddings, CountTokens, and the control plane's ListFoundationModels. It validates requests as
// Bedrock does and answers errors in Bedrock's shape, so the bugs a gateway would ship to AWS fail
// here first. Replies are deterministic: the same request gives the same answer.
//
// It imports only the catalog, never the gateway's code, so a bug in one cannot hide a bug in the other.
package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/strata-gateway/strata/catalog"
)

// Options configure an Emulator. The zero value is a valid demo-mode emulator that answers at once.
type Options struct {
	// Catalog lists the models the emulator serves; nil loads the catalog embedded in the binary.
	Catalog *catalog.Catalog
	// AccessKeyID and SecretAccessKey, when both set, make every SigV4-signed request prove it was
	// signed with this key. Empty: any well-formed signature is accepted (demo mode).
	AccessKeyID     string
	SecretAccessKey string
	// APIKeys, when set, are the Bedrock API keys accepted as `Authorization: Bearer KEY`; other
	// keys are refused. Empty: any bearer key is accepted.
	APIKeys []string
	// MaxClockSkew is how far X-Amz-Date may be from the emulator's clock; zero means AWS's 5 minutes.
	MaxClockSkew time.Duration
	// TTFT delays the first output token; TokensPerSecond paces the rest. Zero answers at once.
	TTFT            time.Duration
	TokensPerSecond float64
	// Seed varies every generated reply and vector; the same seed and request give the same answer.
	Seed uint64
	// Faults are injected into matching requests, in order; the first that fires wins.
	Faults []Fault
	// ApplicationProfiles maps an application inference profile's id (the part after
	// `application-inference-profile/` in its ARN) to the foundation model it routes to.
	ApplicationProfiles map[string]string
	// ProvisionedModels maps a Provisioned Throughput's id (the part after `provisioned-model/` in
	// its ARN) to the model it serves: a foundation model id, or a key of CustomModels.
	ProvisionedModels map[string]string
	// CustomModels maps a custom model's id (the part after `custom-model/` in its ARN, such as
	// `amazon.nova-micro-v1:0:128k/a1b2c3d4e5f6`) to the foundation model it was customized from.
	CustomModels map[string]string
	// Guardrails maps a guardrail id to the words it blocks: a Converse call that applies the
	// guardrail (guardrailConfig) and whose last user message contains one of them, in any letter
	// case, is answered with the guardrail's blocked message and stopReason guardrail_intervened,
	// with the guardrail's assessment in trace when the request asked for it.
	Guardrails map[string][]string
	// Region names the region in ARNs the control plane returns; empty means us-east-1.
	Region string
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// Now is the emulator's clock; nil uses time.Now. Tests move it to check signature expiry.
	Now func() time.Time
}

// Emulator is an http.Handler that serves the Bedrock Runtime and control-plane APIs.
type Emulator struct {
	opts    Options
	catalog *catalog.Catalog
	log     *slog.Logger
	now     func() time.Time
	stats   *statsRecorder
	faults  *faultSet
	prompts *promptCache
	mux     *http.ServeMux
}

// maxBodyBytes is Bedrock's limit on a request body (the botocore model's Body shape: 25,000,000 bytes).
const maxBodyBytes = 25_000_000

// New builds an emulator from opts.
func New(opts Options) (*Emulator, error) {
	if opts.Catalog == nil {
		c, err := catalog.Load()
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		opts.Catalog = c
	}
	if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
		return nil, errors.New("emulator: set both the access key id and the secret access key, or neither")
	}
	if opts.TokensPerSecond < 0 || opts.TTFT < 0 {
		return nil, errors.New("emulator: the latency model takes no negative values")
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = 5 * time.Minute
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	for id, model := range opts.ApplicationProfiles {
		if _, ok := opts.Catalog.Model(model); !ok {
			return nil, fmt.Errorf("emulator: application profile %s routes to %s, which is not in the catalog", id, model)
		}
	}
	for id, model := range opts.CustomModels {
		if _, ok := opts.Catalog.Model(model); !ok {
			return nil, fmt.Errorf("emulator: custom model %s is customized from %s, which is not in the catalog", id, model)
		}
	}
	for id, model := range opts.ProvisionedModels {
		_, custom := opts.CustomModels[model]
		if _, ok := opts.Catalog.Model(model); !ok && !custom {
			return nil, fmt.Errorf("emulator: provisioned model %s serves %s, which is neither in the catalog nor a custom model", id, model)
		}
	}
	for i := range opts.Faults {
		if err := opts.Faults[i].validate(); err != nil {
			return nil, fmt.Errorf("emulator: fault %d: %w", i+1, err)
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	e := &Emulator{
		opts:    opts,
		catalog: opts.Catalog,
		log:     logger,
		now:     now,
		stats:   newStatsRecorder(),
		faults:  newFaultSet(opts.Seed, opts.Faults),
		prompts: newPromptCache(),
	}
	e.mux = e.routes()
	return e, nil
}

// Operation names, as counted in Stats and matched by faults.
const (
	OpConverse       = "converse"
	OpConverseStream = "converse-stream"
	OpInvoke         = "invoke"
	OpInvokeStream   = "invoke-with-response-stream"
	OpCountTokens    = "count-tokens"
	OpListModels     = "list-foundation-models"
	OpGetModel       = "get-foundation-model"
	OpGetProfile     = "get-inference-profile"
	OpGetProvisioned = "get-provisioned-model-throughput"
	OpGetCustomModel = "get-custom-model"
)

func (e *Emulator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// Go's ServeMux matches on the escaped path, so an ARN's %2F stays inside {id} (bedrock-wire.md §1.3).
	mux.HandleFunc("POST /model/{id}/converse", e.runtime(OpConverse, e.serveConverse))
	mux.HandleFunc("POST /model/{id}/converse-stream", e.runtime(OpConverseStream, e.serveConverseStream))
	mux.HandleFunc("POST /model/{id}/invoke", e.runtime(OpInvoke, e.serveInvoke))
	mux.HandleFunc("POST /model/{id}/invoke-with-response-stream", e.runtime(OpInvokeStream, e.serveInvokeStream))
	mux.HandleFunc("POST /model/{id}/count-tokens", e.runtime(OpCountTokens, e.serveCountTokens))
	mux.HandleFunc("GET /foundation-models", e.control(OpListModels, e.serveListFoundationModels))
	mux.HandleFunc("GET /foundation-models/{id}", e.control(OpGetModel, e.serveGetFoundationModel))
	mux.HandleFunc("GET /inference-profiles/{id}", e.control(OpGetProfile, e.serveGetInferenceProfile))
	mux.HandleFunc("GET /provisioned-model-throughput/{id}", e.control(OpGetProvisioned, e.serveGetProvisionedModelThroughput))
	mux.HandleFunc("GET /custom-models/{id}", e.control(OpGetCustomModel, e.serveGetCustomModel))
	mux.HandleFunc("GET /_emulator/stats", e.serveStats)
	mux.HandleFunc("GET /_emulator/faults", e.serveFaults)
	mux.HandleFunc("PUT /_emulator/faults", e.serveFaults)
	mux.HandleFunc("DELETE /_emulator/faults", e.serveFaults)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, newRequestID(), newAPIError(codeUnknownOperation, ""))
	})
	return mux
}

// ServeHTTP implements [http.Handler].
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mux.ServeHTTP(w, r)
}

// call is one runtime request as the handlers see it.
type call struct {
	op        string
	requestID string
	modelID   string // as the caller sent it, unescaped
	model     *catalog.Model
	res       catalog.Resolution
	body      []byte
	fault     *Fault
	start     time.Time
	// streamError is the code of the exception frame an injected fault ended the stream with.
	streamError string
}

// handlerFunc serves one authenticated, resolved call and returns the error to answer with, if any.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) *apiError

// runtime wraps a model operation: body, auth, model resolution, faults, stats.
func (e *Emulator) runtime(op string, serve handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{op: op, requestID: newRequestID(), start: e.now()}
		// Deferred so a request whose handler panics is counted too: an injected abort panics
		// with http.ErrAbortHandler to reset the connection.
		outcome := outcomeAborted
		e.stats.begin()
		defer func() {
			// Counted and taken off in-flight at once, so Stats never shows a call as neither.
			e.stats.finish(op, outcome)
			e.log.Debug("emulator request", "op", op, "model", c.modelID, "outcome", outcome, "request_id", c.requestID)
		}()
		outcome = e.handle(w, r, c, serve)
	}
}

// handle runs serve and returns the outcome to count: "ok", an error code, or "client_gone".
func (e *Emulator) handle(w http.ResponseWriter, r *http.Request, c *call, serve handlerFunc) string {
	fail := func(err *apiError) string {
		if r.Context().Err() != nil {
			return outcomeClientGone
		}
		writeAPIError(w, c.requestID, err)
		return err.code
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fail(validationf("Input is too long for requested model."))
		}
		return outcomeClientGone
	}
	c.body = body
	if err := e.authenticate(r, body); err != nil {
		return fail(err)
	}
	c.modelID = r.PathValue("id")
	if c.fault = e.faults.pick(r, c.op, c.modelID, body); c.fault != nil {
		if err := c.fault.before(r.Context()); err != nil {
			return fail(err)
		}
	}
	if err := e.resolve(c); err != nil {
		return fail(err)
	}
	if err := serve(w, r, c); err != nil {
		return fail(err)
	}
	if c.streamError != "" {
		// First: the SDK closes the connection as soon as it reads the exception frame, which
		// may cancel the request's context before this line.
		return c.streamError
	}
	if r.Context().Err() != nil {
		return outcomeClientGone
	}
	return outcomeOK
}

// resolve finds the model a call names, refusing what Bedrock refuses.
func (e *Emulator) resolve(c *call) *apiError {
	res, err := e.catalog.Resolve(c.modelID)
	if err != nil {
		return errInvalidModel()
	}
	if res.Model == nil {
		// An application profile, Provisioned Throughput or custom model: served as the model
		// behind it, if the account (Options) has it.
		m, ok := e.ownedModel(res)
		if !ok {
			return errInvalidModel()
		}
		res.Model = m
	}
	m := res.Model
	if (res.Kind == catalog.KindFoundation || res.Kind == catalog.KindFoundationARN) && !m.OnDemand && c.op != OpCountTokens {
		// The text Bedrock sends, typographic apostrophe included.
		return validationf("Invocation of model ID %s with on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference profile that contains this model.", m.ID)
	}
	if m.Lifecycle.Status == "EOL" {
		return newAPIError(CodeResourceNotFound, "This model version has reached the end of its life. Please refer to the AWS documentation for more details.")
	}
	c.model, c.res = m, res
	return nil
}

// control wraps a control-plane operation: auth and stats.
func (e *Emulator) control(op string, serve func(w http.ResponseWriter, r *http.Request) *apiError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requestID := newRequestID()
		outcome := outcomeOK
		if err := e.authenticate(r, nil); err != nil {
			outcome = err.code
			writeAPIError(w, requestID, err)
		} else if err := serve(w, r); err != nil {
			outcome = err.code
			writeAPIError(w, requestID, err)
		}
		e.stats.record(op, outcome)
	}
}

// newRequestID returns a random UUID, the form of Bedrock's x-amzn-RequestId.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// writeJSON answers 200 with a JSON body and the request id.
func writeJSON(w http.ResponseWriter, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h["x-amzn-RequestId"] = []string{requestID}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
