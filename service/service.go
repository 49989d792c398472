// Package service implements strata.v1.LLMService: it validates requests, picks the model by tag,
// calls the backend through Strata's one retry layer, maps failures to gRPC statuses, and accounts
// tokens and cost for every reply.
package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/cache"
	"github.com/strata-gateway/strata/catalog"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// Options configure a Service.
type Options struct {
	Backend backend.Backend
	Router  *Router
	Catalog *catalog.Catalog
	// Region is where Bedrock calls go; it appears in error messages and details.
	Region string
	Retry  RetryPolicy
	// UpstreamTimeout caps one upstream attempt, a whole stream included, whatever the caller's
	// deadline (STRATA_UPSTREAM_TIMEOUT); zero means no cap.
	UpstreamTimeout time.Duration
	// EmbedMaxBatch caps the texts per upstream call for batching models (EMBEDDING_MAX_STR_NUM).
	EmbedMaxBatch int
	// LogContent logs prompts and replies (LOG_LLM_CHAT_CONTENT); off by default, as they may hold secrets.
	LogContent bool
	Logger     *slog.Logger
	// Health runs the deep checks of HealthCheck.
	Health *HealthChecker
	// Breaker opens a model's circuit after repeated failures; zero Failures turns it off.
	Breaker BreakerOptions
	// Cache is the response cache; its nil Store turns it off.
	Cache CacheOptions
	// ModelLimits are limits per model id (as called, or the foundation id, which covers every
	// profile of the model); tag map entries carry their own.
	ModelLimits map[string]Limit
	// SharedLimits, when set, keeps the requests- and tokens-per-minute limits for all replicas
	// (LIMITS_BACKEND); nil keeps them in this replica.
	SharedLimits SharedLimiter
}

// Service implements [stratav1.LLMServiceServer].
type Service struct {
	stratav1.UnimplementedLLMServiceServer
	opts Options
	log  *slog.Logger
	// unresolved remembers the profiles whose model could not be found, to warn once each.
	unresolved onceSet
	// routed remembers the profiles bare ids were routed to, to say so once each.
	routed onceSet
	// unpriced remembers the models without a price, to warn once each.
	unpriced onceSet
	// breakers hold each model's circuit.
	breakers *breakers
	// limits hold the per-model and per-tag limiters.
	limits *limits
	// flights makes identical cache misses one upstream call.
	flights cache.Group
}

// New builds the service.
func New(opts Options) (*Service, error) {
	if opts.Backend == nil || opts.Router == nil || opts.Catalog == nil {
		return nil, errors.New("service: a backend, a router and a catalog are required")
	}
	if opts.Retry.MaxAttempts < 1 {
		opts.Retry.MaxAttempts = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, log: log, breakers: newBreakers(opts.Breaker, time.Now),
		limits: newLimits(opts.ModelLimits, opts.Router.Routes(), opts.SharedLimits)}, nil
}

// preparedChat is a chat request resolved and translated for the backend.
type preparedChat struct {
	route Route
	req   *backend.ChatRequest
	// format validates replies; nil for text.
	format *replyFormat
	// settle gives back the limits' hold on the call once its usage is known (see acquire); set
	// by withFallbacks for the model that served.
	settle func(used int64)
}

// done settles the call's limits with its usage.
func (p *preparedChat) done(u backend.Usage) {
	if p.settle != nil {
		p.settle(u.Total())
		p.settle = nil
	}
}

func (s *Service) prepareChat(ctx context.Context, req *stratav1.ChatRequest) (*preparedChat, error) {
	rt, err := s.opts.Router.chatRoute(req.GetTag(), req.GetModel())
	if err != nil {
		return nil, invalidArgument(fieldViolation{"model", err.Error()})
	}
	if rt.Model.Model == nil {
		rt.Model.Model = s.modelOf(ctx, rt.Model.ModelID)
	}
	if rt.Model.Routed && s.routed.first(rt.Model.ModelID) {
		s.log.InfoContext(ctx, "a model served only through inference profiles is called through one (INFERENCE_PROFILE_ROUTING=off sends the id as written)",
			"model", rt.Model.Model.ID, "profile", rt.Model.ModelID)
	}
	if err := validateChat(req, rt.Model.Model); err != nil {
		return nil, err
	}
	var bad []fieldViolation
	format := compileFormat(req.GetResponseFormat(), func(field, f string, args ...any) {
		bad = append(bad, fieldViolation{field, fmt.Sprintf(f, args...)})
	})
	if len(bad) > 0 {
		return nil, invalidArgument(bad...)
	}
	system, msgs := toBackendConversation(req.GetMessages())
	br := &backend.ChatRequest{
		ModelID:         rt.Model.ModelID,
		Model:           rt.Model.Model,
		System:          system,
		Messages:        msgs,
		Temperature:     rt.Temperature,
		TopP:            cmp.Or(req.TopP, rt.Bedrock.TopP),
		Stop:            req.GetStop(),
		Effort:          rt.Effort,
		ReasoningBudget: rt.ReasoningBudget,
		Tools:           toBackendTools(req.GetTools()),
		ToolChoice:      toBackendToolChoice(req.GetToolChoice()),
		Metadata:        req.GetMetadata(),
	}
	if req.Temperature != nil {
		br.Temperature = req.Temperature
	}
	if len(br.Stop) == 0 {
		br.Stop = rt.Bedrock.Stop
	}
	if m := rt.Model.Model; m != nil && m.TemperatureOrTopP && br.TopP != nil && req.Temperature == nil {
		// The model takes one of the two: the caller (or the route) asked for top_p, so the configured
		// temperature gives way (Bedrock refuses both: BerriAI/litellm#15070).
		br.Temperature = nil
	}
	if rt.MaxTokens != nil {
		n := *rt.MaxTokens
		if m := rt.Model.Model; m != nil && m.MaxOutputTokens > 0 {
			// A configured cap (CHAT_MAX_TOKENS or the route's) may be written for another model:
			// clamp it to this one's limit rather than fail every call. A request's own value is
			// validated instead.
			n = min(n, m.MaxOutputTokens)
		}
		br.MaxTokens = &n
	}
	if req.MaxTokens != nil {
		n := int(*req.MaxTokens)
		br.MaxTokens = &n
	}
	if e, ok := fromEffort(req.GetReasoningEffort()); ok {
		// The request's effort wins over the route's, budget included.
		br.Effort, br.ReasoningBudget = e, 0
	}
	if m := rt.Model.Model; m != nil && m.TemperatureOrTopP && req.Temperature != nil && req.TopP != nil && br.Effort == backend.EffortNone {
		// Without thinking (which sets both itself) the model would refuse the pair.
		return nil, invalidArgument(fieldViolation{"top_p", m.ID + " takes temperature or top_p, not both: set one"})
	}
	if format == nil && rt.Bedrock.JSONMode {
		format = &replyFormat{backend: backend.ResponseFormat{Kind: backend.FormatJSONObject}}
	}
	if format != nil {
		br.Format = format.backend
	}
	applyBedrockOptions(br, req, rt.Bedrock)
	return &preparedChat{route: rt, req: br, format: format}, nil
}

// modelOf asks the backend for the model behind an id the catalog cannot place (an application
// inference profile, Provisioned Throughput or custom model ARN), so that it is served as that
// model. A failure, such as a role without the permission to look it up, is logged once per id and
// the call goes on with the model unknown.
func (s *Service) modelOf(ctx context.Context, id string) *catalog.Model {
	m, err := s.opts.Backend.ModelOf(ctx, id)
	if err != nil {
		if s.unresolved.first(id) {
			s.log.WarnContext(ctx, "cannot find the model behind this id (an inference profile or model ARN): its capabilities and price are unknown", "model", id, "error", err)
		}
		return nil
	}
	return m
}

// onceSet says whether a key is seen for the first time; it remembers at most maxOnceKeys keys,
// after which every key counts as seen (a caller inventing ids cannot grow it, nor the log).
type onceSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

const maxOnceKeys = 1024

func (o *onceSet) first(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[key] || len(o.seen) >= maxOnceKeys {
		return false
	}
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	o.seen[key] = true
	return true
}

// applyBedrockOptions sets the request's Bedrock options over the route's.
func applyBedrockOptions(br *backend.ChatRequest, req *stratav1.ChatRequest, route BedrockOptions) {
	br.TopK = route.TopK
	if req.TopK != nil {
		k := int(*req.TopK)
		br.TopK = &k
	}
	br.ServiceTier = cmp.Or(fromServiceTier(req.GetServiceTier()), route.ServiceTier)
	br.LatencyOptimized = req.GetLatencyOptimized() || route.LatencyOptimized
	br.AutoCache = route.AutoCache
	br.Guardrail = route.Guardrail
	if g := req.GetGuardrail(); g != nil {
		br.Guardrail = &backend.Guardrail{ID: g.GetId(), Version: g.GetVersion(), Trace: g.GetTrace()}
	}
	br.Metadata = merged(route.RequestMetadata, req.GetMetadata())
	var fields map[string]any
	if f := req.GetAdditionalModelRequestFields(); f != nil {
		fields = f.AsMap()
	}
	br.AdditionalFields = merged(route.AdditionalFields, fields)
}

// merged is base with over's keys on top; it returns one of them, unchanged, when the other is
// empty.
func merged[V any](base, over map[string]V) map[string]V {
	if len(base) == 0 {
		return over
	}
	if len(over) == 0 {
		return base
	}
	out := maps.Clone(base)
	maps.Copy(out, over)
	return out
}

// upstreamContext bounds one upstream attempt by UpstreamTimeout.
func (s *Service) upstreamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.UpstreamTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, s.opts.UpstreamTimeout, errUpstreamTimeout)
}

// errUpstreamTimeout is the cause of an attempt cut by STRATA_UPSTREAM_TIMEOUT.
var errUpstreamTimeout = errors.New("the upstream attempt took longer than STRATA_UPSTREAM_TIMEOUT")

// attemptError turns an attempt cut by its own timeout, while the caller still waits, into a
// retryable model timeout: the caller's deadline did not pass, so it must not read as a cancellation.
func attemptError(caller, attempt context.Context, model string, err error) error {
	if err != nil && caller.Err() == nil && errors.Is(context.Cause(attempt), errUpstreamTimeout) {
		return &backend.Error{Kind: backend.KindTimeout, Model: model, Message: errUpstreamTimeout.Error(), Err: err}
	}
	return err
}

// cost prices usage at the model's list price, for the routing tier of the id called and the
// service tier that served it; a model without a price costs 0, which the response marks as
// unknown (priceUnknown).
func cost(m *catalog.Model, modelID, serviceTier string, u backend.Usage) float64 {
	if m == nil {
		return 0
	}
	return m.Price.CostWithTTLAt(catalog.RoutingTierOf(modelID), serviceTier, u.Input, u.Output, u.CacheRead, u.CacheWrite-u.CacheWrite1h, u.CacheWrite1h)
}

// priceUnknown reports a model Strata cannot price, and says so in the log once per model.
func (s *Service) priceUnknown(ctx context.Context, modelID string, m *catalog.Model) bool {
	if m != nil && (m.Price.InputPerMTok > 0 || m.Price.OutputPerMTok > 0) {
		return false
	}
	if s.unpriced.first(modelID) {
		s.log.WarnContext(ctx, "no price is known for this model: its calls report cost_usd 0 with price_unknown", "model", modelID)
	}
	return true
}

// routed completes the call's record once the request is routed.
func (rec *callRecord) routed(p *preparedChat) *callRecord {
	rec.route, rec.model = p.route.Key, p.req.ModelID
	return rec
}

// startRecord marks the call as one to account for, with its tag known from the start, so even
// a request refused as invalid is logged with it.
func startRecord(ctx context.Context, tag string) *callRecord {
	rec := recordFrom(ctx)
	rec.tag, rec.set = tag, true
	return rec
}

func (rec *callRecord) account(u backend.Usage, costUSD float64, attempts int) {
	rec.inputTokens, rec.outputTokens = u.Input, u.Output
	rec.cacheReadTokens, rec.cacheWriteTokens = u.CacheRead, u.CacheWrite
	rec.costUSD, rec.attempts = costUSD, int32(attempts)
}

// Chat implements [stratav1.LLMServiceServer].
func (s *Service) Chat(ctx context.Context, req *stratav1.ChatRequest) (*stratav1.ChatResponse, error) {
	start := time.Now()
	rec := startRecord(ctx, req.GetTag())
	p, err := s.prepareChat(ctx, req)
	if err != nil {
		return nil, err
	}
	rec.routed(p)
	if s.opts.Cache.Store == nil {
		return s.chatUpstream(ctx, req, p, rec, start)
	}
	return s.chatCached(ctx, req, p, rec, start)
}

// chatUpstream serves a Chat from Bedrock.
func (s *Service) chatUpstream(ctx context.Context, req *stratav1.ChatRequest, p *preparedChat, rec *callRecord, start time.Time) (*stratav1.ChatResponse, error) {
	var resp *backend.ChatResponse
	attempts, fellBack, err := s.withFallbacks(ctx, p, func(req *backend.ChatRequest) (int, error) {
		r, n, err := s.chatOnce(ctx, req)
		resp = r
		return n, err
	})
	rec.routed(p) // the model that served, a fallback's included
	var used backend.Usage
	if err == nil {
		used = resp.Usage
		if p.format != nil && !callsTools(resp.StopReason, resp.Parts) {
			resp, attempts, used, err = s.enforceFormat(ctx, p, resp, attempts)
		}
	}
	p.done(used) // the limits are settled with every call's tokens, a format retry's too
	rec.attempts = int32(attempts)
	if err != nil {
		if used.Total() > 0 { // billed calls before the failure: the log line says so
			rec.account(used, cost(p.req.Model, p.req.ModelID, p.req.ServiceTier, used), attempts)
		}
		return nil, toStatus(ctx, err, s.opts.Region)
	}
	msg, text, reasoning := fromBackendParts(resp.Parts)
	tier := cmp.Or(resp.ServiceTier, p.req.ServiceTier)
	costUSD := cost(p.req.Model, p.req.ModelID, tier, resp.Usage)
	rec.account(resp.Usage, costUSD, attempts)
	s.logContent(ctx, req, text)
	return &stratav1.ChatResponse{
		Text:         text,
		Message:      msg,
		Reasoning:    reasoning,
		StopReason:   toStopReason(resp.StopReason),
		Usage:        toUsage(resp.Usage),
		Model:        p.req.ModelID,
		Route:        p.route.Key,
		CostUsd:      costUSD,
		Attempts:     int32(attempts),
		LatencyMs:    time.Since(start).Milliseconds(),
		Warnings:     resp.Warnings,
		PriceUnknown: s.priceUnknown(ctx, p.req.ModelID, p.req.Model),
		ServiceTier:  tier,

		GuardrailSummary: resp.GuardrailSummary,
		FallbackUsed:     fellBack,
	}, nil
}

// admit lets one upstream call to model through its circuit and its limits (lims, with estimate
// input tokens), or says why not. A call a limit refuses gives back the circuit's probe it may
// have held: a probe that never went upstream learnt nothing.
func (s *Service) admit(ctx context.Context, circuit, model string, lims []*limiter, estimate int) (settle func(used int64), err error) {
	if ok, wait := s.breakers.allow(circuit); !ok {
		return nil, circuitOpen(model, wait)
	}
	settle, err = s.limits.acquire(ctx, lims, estimate)
	if err != nil {
		s.breakers.release(circuit)
		return nil, err
	}
	return settle, nil
}

// withFallbacks runs call for the route's model and, when it fails with an error that retrying
// could fix (its own retries spent), for each of the route's fallbacks in turn, until one serves
// the call. p.req is left naming the model that served, or that failed last. It returns the
// upstream calls made, whether a fallback served, and the last error.
func (s *Service) withFallbacks(ctx context.Context, p *preparedChat, upstream func(*backend.ChatRequest) (int, error)) (int, bool, error) {
	call := func(req *backend.ChatRequest) (int, error) {
		circuit := req.ModelID
		if req.Region != "" {
			circuit += "@" + req.Region // a model's circuit is per region
		}
		settle, err := s.admit(ctx, circuit, req.ModelID, s.limits.forCall(p.route.Key, req.ModelID, req.Model), estimateInput(req))
		if err != nil {
			return 0, err
		}
		var n int
		func() {
			defer func() {
				if r := recover(); r != nil { // give back the slot and the probe, then let it go on
					settle(0)
					s.breakers.release(circuit)
					panic(r)
				}
			}()
			n, err = upstream(req)
		}()
		s.breakers.record(circuit, err)
		if err != nil {
			settle(0)
			return n, err
		}
		p.settle = settle
		return n, nil
	}
	attempts, err := call(p.req)
	for i := 0; err != nil && i < len(p.route.Fallbacks) && ctx.Err() == nil; i++ {
		if be, ok := backend.AsError(err); !ok || !be.Retryable() {
			break
		}
		fb := p.route.Fallbacks[i]
		s.log.WarnContext(ctx, "the route's model failed: trying a fallback", "model", p.req.ModelID, "fallback", fb.ModelID, "fallback_region", fb.Region, "error", err)
		req := *p.req
		req.ModelID, req.Model, req.Region = fb.ModelID, fb.Model, fb.Region
		p.req = &req
		var n int
		n, err = call(p.req)
		attempts += n
		if err == nil {
			return attempts, true, nil
		}
	}
	return attempts, false, err
}

// chatOnce makes one Chat call under the retry policy and returns the reply and the upstream
// calls it took.
func (s *Service) chatOnce(ctx context.Context, req *backend.ChatRequest) (*backend.ChatResponse, int, error) {
	var resp *backend.ChatResponse
	attempts, err := s.opts.Retry.do(ctx, func(caller context.Context) error {
		ctx, cancel := s.upstreamContext(caller)
		defer cancel()
		r, err := s.opts.Backend.Chat(ctx, req)
		resp = r
		return attemptError(caller, ctx, req.ModelID, err)
	})
	return resp, attempts, err
}

// enforceFormat validates a reply against the request's response format. A reply that breaks it
// is sent back once with what is wrong; a second failure is the caller's error, never a success
// that does not parse. It returns the usage of every call made, failed ones included.
func (s *Service) enforceFormat(ctx context.Context, p *preparedChat, resp *backend.ChatResponse, attempts int) (*backend.ChatResponse, int, backend.Usage, error) {
	for try := 1; ; try++ {
		text := joinText(resp.Parts)
		clean, broke := p.format.check(text)
		if broke == nil {
			resp.Parts = withText(resp.Parts, clean)
			return resp, attempts, resp.Usage, nil
		}
		if try == 2 {
			return nil, attempts, resp.Usage, formatViolated(p.req.ModelID, try, broke)
		}
		retry := *p.req
		retry.Messages = append(slices.Clip(p.req.Messages), feedback(text, broke)...)
		next, n, err := s.chatOnce(ctx, &retry)
		attempts += n
		if err != nil {
			return nil, attempts, resp.Usage, err
		}
		next.Usage = addUsage(resp.Usage, next.Usage)
		next.Warnings = append(resp.Warnings, fmt.Sprintf("response format: the first reply was sent back because %v", broke))
		resp = next
	}
}

// callsTools reports a reply that is a turn of tool calls: a response format applies to the
// answer, not to the turns on the way to it.
func callsTools(stop backend.StopReason, parts []backend.Part) bool {
	if stop == backend.StopToolUse {
		return true
	}
	for _, p := range parts {
		if p.Kind == backend.PartToolCall {
			return true
		}
	}
	return false
}

// ChatStream implements [stratav1.LLMServiceServer]. Each upstream event is forwarded as it
// arrives. A failure before the first upstream event is retried; after it, the stream ends with
// the mapped status, never with a silent, truncated success.
func (s *Service) ChatStream(req *stratav1.ChatRequest, stream grpc.ServerStreamingServer[stratav1.ChatStreamResponse]) error {
	start := time.Now()
	ctx := stream.Context()
	rec := startRecord(ctx, req.GetTag())
	p, err := s.prepareChat(ctx, req)
	if err != nil {
		return err
	}
	rec.routed(p)
	key, storeReply := "", false
	if c := s.opts.Cache; c.Store != nil {
		key = chatKey(p.req, req.Seed)
		if c.Read && req.GetCache() != stratav1.CacheMode_CACHE_MODE_BYPASS && key != "" {
			if hit := s.cachedReply(ctx, key); hit != nil {
				return replay(stream, s.fromCache(hit, p, rec, start))
			}
		}
		storeReply = c.Write && req.GetCache() != stratav1.CacheMode_CACHE_MODE_NO_STORE && key != ""
	}
	var (
		up         backend.Stream
		upCtx      = ctx
		first      backend.Event
		stopStream context.CancelFunc = func() {}
	)
	attempts, fellBack, err := s.withFallbacks(ctx, p, func(breq *backend.ChatRequest) (int, error) {
		return s.opts.Retry.do(ctx, func(caller context.Context) error {
			ctx, cancel := s.upstreamContext(caller)
			st, err := s.opts.Backend.ChatStream(ctx, breq)
			if err != nil {
				cancel()
				return attemptError(caller, ctx, breq.ModelID, err)
			}
			ev, err := st.Recv()
			if err != nil {
				_ = st.Close()
				cancel()
				if errors.Is(err, io.EOF) {
					return &backend.Error{Kind: backend.KindTruncated, Model: breq.ModelID, Message: "the stream ended before any event"}
				}
				return attemptError(caller, ctx, breq.ModelID, err)
			}
			up, upCtx, first, stopStream = st, ctx, ev, cancel
			return nil
		})
	})
	defer stopStream()
	var used backend.Usage // what the stream used, once its end event says
	defer func() { p.done(used) }()
	rec.routed(p) // the model that served, a fallback's included
	rec.attempts = int32(attempts)
	if err != nil {
		return toStatus(ctx, err, s.opts.Region)
	}
	defer up.Close()
	startEvent := &stratav1.StreamStart{Model: p.req.ModelID, Route: p.route.Key, Warnings: up.Warnings(), FallbackUsed: fellBack}
	if err := stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_Start{Start: startEvent}}); err != nil {
		return err
	}
	var reply strings.Builder   // the streamed text, kept to log it (LOG_LLM_CHAT_CONTENT) or validate it
	var deltas, streamed int    // deltas sent and the characters they carried, for a cut stream's usage
	var collected streamedReply // the reply, joined, to store in the cache once it completed
	for ev := first; ; {
		if ev.Kind == backend.EventText && (s.opts.LogContent || p.format != nil) {
			reply.WriteString(ev.Text)
		}
		if ev.Kind == backend.EventEnd {
			used = ev.Usage
		}
		if ev.Kind == backend.EventEnd && p.format != nil && ev.StopReason != backend.StopToolUse {
			// The deltas are already with the caller, so a reply that breaks the format cannot
			// be retried: the stream ends with the error instead of its end event.
			if _, broke := p.format.check(reply.String()); broke != nil {
				rec.account(ev.Usage, cost(p.req.Model, p.req.ModelID, cmp.Or(ev.ServiceTier, p.req.ServiceTier), ev.Usage), attempts)
				return formatViolated(p.req.ModelID, 1, broke)
			}
		}
		if storeReply {
			collected.add(ev)
		}
		if ev.Kind == backend.EventEnd {
			used = ev.Usage
			tier := cmp.Or(ev.ServiceTier, p.req.ServiceTier)
			costUSD := cost(p.req.Model, p.req.ModelID, tier, ev.Usage)
			rec.account(ev.Usage, costUSD, attempts)
			s.logContent(ctx, req, reply.String())
			if storeReply {
				if resp := collected.reply(ev, p); cacheable(resp) {
					s.store(ctx, key, resp)
				}
			}
			return stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_End{End: &stratav1.StreamEnd{
				StopReason:   toStopReason(ev.StopReason),
				Usage:        toUsage(ev.Usage),
				CostUsd:      costUSD,
				Attempts:     int32(attempts),
				LatencyMs:    time.Since(start).Milliseconds(),
				PriceUnknown: s.priceUnknown(ctx, p.req.ModelID, p.req.Model),
				ServiceTier:  tier,

				GuardrailSummary: ev.GuardrailSummary,
			}}})
		}
		if msg := toDelta(ev); msg != nil {
			if err := stream.Send(msg); err != nil {
				return err
			}
			deltas++
			streamed += len(ev.Text)
		}
		ev, err = up.Recv()
		if errors.Is(err, io.EOF) {
			err = &backend.Error{Kind: backend.KindTruncated, Model: p.req.ModelID, Message: "the stream ended without its end event"}
		}
		if err != nil {
			return withPartialUsage(toStatus(ctx, attemptError(ctx, upCtx, p.req.ModelID, err), s.opts.Region), estimateInput(p.req), streamed, deltas)
		}
	}
}

// deltaMessage holds the three messages of one streamed delta in one allocation: a long reply
// sends hundreds of them. It is never reused: gRPC may read a message after Send returns.
type deltaMessage struct {
	resp  stratav1.ChatStreamResponse
	event stratav1.ChatStreamResponse_Delta
	delta stratav1.StreamDelta
}

// toDelta is the message that forwards ev, or nil for an event that carries nothing to forward.
func toDelta(ev backend.Event) *stratav1.ChatStreamResponse {
	m := &deltaMessage{}
	d := &m.delta
	switch ev.Kind {
	case backend.EventText:
		d.Text = ev.Text
	case backend.EventReasoning:
		d.Reasoning = ev.Text
	case backend.EventReasoningSignature:
		d.ReasoningSignature = ev.Signature
	case backend.EventReasoningRedacted:
		d.ReasoningRedacted = ev.Redacted
	case backend.EventToolCallStart:
		d.ToolCall = &stratav1.ToolCallDelta{Index: int32(ev.Index), Id: ev.ToolID, Name: ev.ToolName}
	case backend.EventToolCallArgs:
		d.ToolCall = &stratav1.ToolCallDelta{Index: int32(ev.Index), ArgumentsJson: ev.Text}
	default:
		return nil
	}
	m.event.Delta = d
	m.resp.Event = &m.event
	return &m.resp
}

var inputTypes = map[stratav1.InputType]string{
	stratav1.InputType_INPUT_TYPE_SEARCH_DOCUMENT: "search_document",
	stratav1.InputType_INPUT_TYPE_SEARCH_QUERY:    "search_query",
	stratav1.InputType_INPUT_TYPE_CLASSIFICATION:  "classification",
	stratav1.InputType_INPUT_TYPE_CLUSTERING:      "clustering",
}

// Embed implements [stratav1.LLMServiceServer].
func (s *Service) Embed(ctx context.Context, req *stratav1.EmbedRequest) (*stratav1.EmbedResponse, error) {
	rec := startRecord(ctx, req.GetTag())
	name, route, err := s.opts.Router.embeddingModel(req.GetTag(), req.GetModel())
	if err != nil {
		return nil, invalidArgument(fieldViolation{"model", err.Error()})
	}
	rec.route, rec.model = route, name.ModelID
	if err := validateEmbed(req, name.Model); err != nil {
		return nil, err
	}
	breq := &backend.EmbedRequest{
		ModelID:   name.ModelID,
		Model:     name.Model,
		Inputs:    req.GetInputs(),
		Normalize: req.Normalize,
		InputType: inputTypes[req.GetInputType()],
		MaxBatch:  s.opts.EmbedMaxBatch,
	}
	if req.Dimensions != nil {
		breq.Dimensions = int(*req.Dimensions)
	}
	// Each upstream call of the fan-out is retried on its own: a throttled 19th text does not
	// send the 18 that succeeded again. Each is also one request to the model's circuit and
	// limits, as Bedrock counts it; the tokens are charged once the usage is known.
	lims := s.limits.forCall(route, breq.ModelID, breq.Model)
	breq.Retry = func(caller context.Context, call func(context.Context) error) (int, error) {
		settle, err := s.admit(caller, breq.ModelID, breq.ModelID, lims, 0)
		if err != nil {
			return 0, err
		}
		defer settle(0)
		n, err := s.opts.Retry.do(caller, func(caller context.Context) error {
			ctx, cancel := s.upstreamContext(caller)
			defer cancel()
			return attemptError(caller, ctx, breq.ModelID, call(ctx))
		})
		s.breakers.record(breq.ModelID, err)
		return n, err
	}
	// The cache first, text by text: only the texts it lacks go to Bedrock.
	vectors, missing := make([][]float32, len(breq.Inputs)), allIndexes(len(breq.Inputs))
	cacheOn := s.opts.Cache.Store != nil
	if cacheOn && s.opts.Cache.ReadEmbeddings {
		vectors, missing = s.cachedVectors(ctx, breq)
	}
	resp := &backend.EmbedResponse{}
	if len(missing) > 0 {
		upstream := *breq
		upstream.Inputs = make([]string, len(missing))
		for j, i := range missing {
			upstream.Inputs[j] = breq.Inputs[i]
		}
		resp, err = s.opts.Backend.Embed(ctx, &upstream)
		if err != nil {
			return nil, toStatus(ctx, err, s.opts.Region)
		}
		if len(resp.Vectors) != len(missing) {
			return nil, toStatus(ctx, fmt.Errorf("backend returned %d vectors for %d inputs", len(resp.Vectors), len(missing)), s.opts.Region)
		}
		for j, i := range missing {
			vectors[i] = resp.Vectors[j]
			if cacheOn && s.opts.Cache.WriteEmbeddings {
				if err := s.opts.Cache.Store.Set(ctx, embedKey(breq, breq.Inputs[i]), encodeVector(resp.Vectors[j]), s.opts.Cache.TTL); err != nil {
					s.log.WarnContext(ctx, "the response cache failed: a vector was not stored", "error", err)
					cacheOn = false
				}
			}
		}
	}
	s.limits.charge(lims, resp.Usage.Input)
	attempts := resp.Calls // for Embed: the upstream calls made, retries included
	rec.attempts = int32(attempts)
	out := &stratav1.EmbedResponse{Model: name.ModelID, Usage: toUsage(resp.Usage), CostUsd: cost(name.Model, name.ModelID, "", resp.Usage),
		PriceUnknown: s.priceUnknown(ctx, name.ModelID, name.Model), CachedInputs: int32(len(breq.Inputs) - len(missing))}
	out.Embeddings = make([]*stratav1.Embedding, len(vectors))
	for i, v := range vectors {
		out.Embeddings[i] = &stratav1.Embedding{Values: v}
	}
	rec.account(resp.Usage, out.CostUsd, attempts)
	return out, nil
}

// ListModels implements [stratav1.LLMServiceServer].
func (s *Service) ListModels(context.Context, *stratav1.ListModelsRequest) (*stratav1.ListModelsResponse, error) {
	chat, embedding := s.opts.Router.Defaults()
	out := &stratav1.ListModelsResponse{DefaultChatModel: chat.Model.ModelID, DefaultEmbeddingModel: embedding.ModelID}
	for _, rt := range s.opts.Router.Routes() {
		r := &stratav1.Route{Key: rt.Key, Model: rt.Model.ModelID, Temperature: rt.Temperature, ReasoningEffort: toEffort(rt.Effort), Known: rt.Model.Known()}
		if rt.MaxTokens != nil {
			n := int32(*rt.MaxTokens)
			r.MaxTokens = &n
		}
		out.Routes = append(out.Routes, r)
	}
	models := s.opts.Catalog.Models()
	out.Models = make([]*stratav1.ModelInfo, 0, len(models))
	for i := range models {
		out.Models = append(out.Models, modelInfo(&models[i], s.opts.Catalog))
	}
	out.Circuits = s.circuits()
	return out, nil
}

func modelInfo(m *catalog.Model, cat *catalog.Catalog) *stratav1.ModelInfo {
	asOf, source := cat.PricesAsOf()
	const perThousand = 1e-3
	info := &stratav1.ModelInfo{
		Id:               m.ID,
		Name:             m.Name,
		Provider:         m.Provider,
		Family:           string(m.Family),
		Aliases:          m.Aliases(),
		InputModalities:  m.InputModalities,
		OutputModalities: m.OutputModalities,
		ContextWindow:    int32(m.ContextWindow),
		MaxOutputTokens:  int32(m.MaxOutputTokens),
		Streaming:        m.Streaming,
		Tools:            m.Tools,
		Reasoning:        m.Reasoning != catalog.ReasoningNone,
		PromptCaching:    m.CachePoints,
		StructuredOutput: m.StructuredOutput,
		Profiles:         m.Profiles,
		OnDemand:         m.OnDemand,
		Price: &stratav1.Price{
			InputPer_1K:      m.Price.InputPerMTok * perThousand,
			OutputPer_1K:     m.Price.OutputPerMTok * perThousand,
			CacheReadPer_1K:  m.Price.CacheReadPerMTok * perThousand,
			CacheWritePer_1K: m.Price.CacheWritePerMTok * perThousand,
			RegionalPremium:  m.Price.RegionalPremium,
			// The service tiers' multipliers are the same for every model.
			PriorityMultiplier: catalog.ServiceTierMultiplier("priority"),
			FlexMultiplier:     catalog.ServiceTierMultiplier("flex"),
			AsOf:               asOf,
			Source:             source,
		},
	}
	if m.Embedding != nil {
		for _, d := range m.Embedding.Dimensions {
			info.EmbeddingDimensions = append(info.EmbeddingDimensions, int32(d))
		}
	}
	return info
}

// logContent logs the prompt and reply when LOG_LLM_CHAT_CONTENT is on.
func (s *Service) logContent(ctx context.Context, req *stratav1.ChatRequest, reply string) {
	if !s.opts.LogContent {
		return
	}
	var prompt []string
	for _, m := range req.GetMessages() {
		texts := []string{m.GetText()}
		for _, p := range m.GetParts() {
			switch k := p.GetKind().(type) {
			case *stratav1.Part_Text:
				texts = append(texts, k.Text)
			case *stratav1.Part_ToolResult:
				texts = append(texts, k.ToolResult.GetContent())
			}
		}
		prompt = append(prompt, m.GetRole().String()+": "+strings.Join(slices.DeleteFunc(texts, func(t string) bool { return t == "" }), " "))
	}
	s.log.InfoContext(ctx, "chat content", "tag", req.GetTag(), "prompt", prompt, "reply", reply)
}

// HealthCheck implements [stratav1.LLMServiceServer].
func (s *Service) HealthCheck(ctx context.Context, req *stratav1.HealthCheckRequest) (*stratav1.HealthCheckResponse, error) {
	resp := &stratav1.HealthCheckResponse{Status: stratav1.HealthStatus_HEALTH_STATUS_OK}
	if s.opts.Health != nil {
		resp = s.opts.Health.Run(ctx, req.GetInvokeModels())
	}
	if pinger, ok := s.opts.Cache.Store.(interface{ Ping(context.Context) error }); ok {
		// Calls are served uncached meanwhile.
		resp.Checks = append(resp.Checks, sharedStoreCheck(ctx, resp, "cache", pinger.Ping, func(failed bool) string {
			if failed {
				return "the shared response cache does not answer: calls are served uncached"
			}
			return "the shared response cache answers"
		}))
	}
	if shared := s.limits.shared; shared != nil {
		// Each replica enforces its share meanwhile.
		resp.Checks = append(resp.Checks, sharedStoreCheck(ctx, resp, "limits", shared.Heartbeat, func(failed bool) string {
			n := shared.Replicas()
			if failed {
				return fmt.Sprintf("the shared limits' Redis does not answer: each of the %d replicas last counted enforces 1/%d of the requests and tokens per minute limits", n, n)
			}
			return fmt.Sprintf("the requests and tokens per minute limits are shared through Redis by %d replicas", n)
		}))
	}
	for _, c := range s.breakers.snapshot() {
		if c.State == CircuitClosed {
			continue // failures counted, calls still going through
		}
		resp.Checks = append(resp.Checks, &stratav1.Check{Name: "circuit:" + c.Model, Status: stratav1.HealthStatus_HEALTH_STATUS_WARN,
			Detail: fmt.Sprintf("circuit %s after %d failed calls in a row, since %s: calls to it fail at once or go to a fallback", c.State, c.Failures, c.OpenedAt.UTC().Format(time.RFC3339))})
		if resp.Status == stratav1.HealthStatus_HEALTH_STATUS_OK {
			resp.Status = stratav1.HealthStatus_HEALTH_STATUS_WARN
		}
	}
	return resp, nil
}

// sharedStoreCheck is the check, named name, of a store replicas share (Redis): probe answers
// OK; a failure is a warning, not a failure, as calls go on without the store, and makes resp's
// status WARN if it was OK. detail says what the outcome means, once probe has run.
func sharedStoreCheck(ctx context.Context, resp *stratav1.HealthCheckResponse, name string, probe func(context.Context) error, detail func(failed bool) string) *stratav1.Check {
	began := time.Now()
	err := probe(ctx)
	check := &stratav1.Check{Name: name, Status: stratav1.HealthStatus_HEALTH_STATUS_OK, Detail: detail(err != nil), LatencyMs: time.Since(began).Milliseconds()}
	if err != nil {
		check.Status = stratav1.HealthStatus_HEALTH_STATUS_WARN
		if resp.Status == stratav1.HealthStatus_HEALTH_STATUS_OK {
			resp.Status = stratav1.HealthStatus_HEALTH_STATUS_WARN
		}
	}
	return check
}

// circuits lists the breakers' circuits for ListModels.
func (s *Service) circuits() []*stratav1.Circuit {
	var out []*stratav1.Circuit
	for _, c := range s.breakers.snapshot() {
		pc := &stratav1.Circuit{Model: c.Model, State: string(c.State), Failures: int32(c.Failures)}
		if !c.OpenedAt.IsZero() {
			pc.OpenedAt = c.OpenedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, pc)
	}
	return out
}

// CountTokens implements [stratav1.LLMServiceServer]: the request is resolved and validated as
// Chat would, then counted without running the model.
func (s *Service) CountTokens(ctx context.Context, req *stratav1.ChatRequest) (*stratav1.CountTokensResponse, error) {
	p, err := s.prepareChat(ctx, req)
	if err != nil {
		return nil, err
	}
	var count backend.TokenCount
	_, err = s.opts.Retry.do(ctx, func(caller context.Context) error {
		ctx, cancel := s.upstreamContext(caller)
		defer cancel()
		c, err := s.opts.Backend.CountTokens(ctx, p.req)
		count = c
		return attemptError(caller, ctx, p.req.ModelID, err)
	})
	if err != nil {
		return nil, toStatus(ctx, err, s.opts.Region)
	}
	return &stratav1.CountTokensResponse{InputTokens: count.Input, Exact: count.Exact, Model: p.req.ModelID, Route: p.route.Key}, nil
}
