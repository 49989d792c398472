package service

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/cache"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// CacheOptions configure the response cache (issue 8). A nil Store turns it off.
type CacheOptions struct {
	Store cache.Store
	// TTL is how long a reply is kept.
	TTL time.Duration
	// Read and Write say whether chat replies are read from and written to the cache
	// (RD-Agent's USE_CHAT_CACHE and DUMP_CHAT_CACHE).
	Read, Write bool
	// ReadEmbeddings and WriteEmbeddings do the same for embeddings, one vector per input text
	// (USE_EMBEDDING_CACHE and DUMP_EMBEDDING_CACHE).
	ReadEmbeddings, WriteEmbeddings bool
}

// chatKey is the cache key of a request: a hash of everything that changes the answer (the model
// called, the conversation, the tools, every inference parameter, the response format, the
// reasoning, the guardrail, the caller's seed) and of nothing that does not (the tag, metadata,
// the order of keys inside a schema, which encoding/json sorts).
func chatKey(req *backend.ChatRequest, seed *int64) string {
	k := struct {
		Version          int
		Model, Region    string
		System           []backend.Part
		Messages         []backend.Message
		MaxTokens        *int
		Temperature      *float64
		TopP             *float64
		TopK             *int
		Stop             []string
		Effort           backend.Effort
		ReasoningBudget  int
		Tools            []backend.Tool
		ToolChoice       backend.ToolChoice
		Format           backend.ResponseFormat
		Guardrail        *backend.Guardrail
		AdditionalFields map[string]any
		LatencyOptimized bool
		Seed             *int64
	}{
		1, req.ModelID, req.Region, req.System, req.Messages, req.MaxTokens, req.Temperature, req.TopP, req.TopK, req.Stop,
		req.Effort, req.ReasoningBudget, req.Tools, req.ToolChoice, req.Format, req.Guardrail, req.AdditionalFields,
		req.LatencyOptimized, seed,
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return "" // values decoded from protobuf always encode; an empty key is never cached
	}
	sum := sha256.Sum256(raw)
	return "chat:" + hex.EncodeToString(sum[:])
}

// cacheable reports a reply worth keeping: a complete answer, not one a guardrail or a content
// filter cut.
func cacheable(resp *stratav1.ChatResponse) bool {
	switch resp.GetStopReason() {
	case stratav1.StopReason_STOP_REASON_GUARDRAIL_INTERVENED, stratav1.StopReason_STOP_REASON_CONTENT_FILTERED:
		return false
	}
	return true
}

// chatCached serves a Chat from the cache when it holds the answer, else from Bedrock, storing
// the reply. Identical misses at once make one upstream call (single flight); the callers that
// waited for it get its reply as a cached one. A cache that fails is passed by, never failing the
// call.
func (s *Service) chatCached(ctx context.Context, req *stratav1.ChatRequest, p *preparedChat, rec *callRecord, start time.Time) (*stratav1.ChatResponse, error) {
	c := s.opts.Cache
	key := chatKey(p.req, req.Seed)
	read := c.Read && req.GetCache() != stratav1.CacheMode_CACHE_MODE_BYPASS && key != ""
	write := c.Write && req.GetCache() != stratav1.CacheMode_CACHE_MODE_NO_STORE && key != ""
	if read {
		if raw, ok, err := c.Store.Get(ctx, key); err != nil {
			s.log.WarnContext(ctx, "the response cache failed: serving uncached", "error", err)
		} else if ok {
			var resp stratav1.ChatResponse
			if err := proto.Unmarshal(raw, &resp); err == nil {
				return s.fromCache(&resp, p, rec, start), nil
			}
		}
	}
	if !read {
		resp, err := s.chatUpstream(ctx, req, p, rec, start)
		if err == nil && write && cacheable(resp) {
			s.store(ctx, key, resp)
		}
		return resp, err
	}
	v, shared, err := s.flights.Do(ctx, key, func() (any, error) {
		resp, err := s.chatUpstream(ctx, req, p, rec, start)
		if err == nil && write && cacheable(resp) {
			s.store(ctx, key, resp)
		}
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	resp := v.(*stratav1.ChatResponse)
	if shared {
		return s.fromCache(proto.Clone(resp).(*stratav1.ChatResponse), p, rec, start), nil
	}
	return resp, nil
}

// store keeps a reply in the cache.
func (s *Service) store(ctx context.Context, key string, resp *stratav1.ChatResponse) {
	raw, err := proto.Marshal(resp)
	if err == nil {
		err = s.opts.Cache.Store.Set(ctx, key, raw, s.opts.Cache.TTL)
	}
	if err != nil {
		s.log.WarnContext(ctx, "the response cache failed: the reply was not stored", "error", err)
	}
}

// fromCache marks a reply served without calling Bedrock: cached, free, no attempts, its original
// usage kept, and logged as such.
func (s *Service) fromCache(resp *stratav1.ChatResponse, p *preparedChat, rec *callRecord, start time.Time) *stratav1.ChatResponse {
	resp.Cached, resp.CostUsd, resp.Attempts = true, 0, 0
	resp.Route = p.route.Key
	resp.LatencyMs = time.Since(start).Milliseconds()
	u := resp.GetUsage()
	rec.account(backend.Usage{Input: u.GetInputTokens(), Output: u.GetOutputTokens(), CacheRead: u.GetCacheReadTokens(), CacheWrite: u.GetCacheWriteTokens()}, 0, 0)
	return resp
}

// embedKey is the cache key of one text's vector: the model called, the request's shaping of the
// vector, and the text.
func embedKey(req *backend.EmbedRequest, text string) string {
	normalize := "default"
	if req.Normalize != nil {
		normalize = strconv.FormatBool(*req.Normalize)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{"1", req.ModelID, strconv.Itoa(req.Dimensions), normalize, req.InputType, text}, "\x00")))
	return "embed:" + hex.EncodeToString(sum[:])
}

// encodeVector and decodeVector store a vector as little-endian float32s.
func encodeVector(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

func decodeVector(b []byte) ([]float32, bool) {
	if len(b)%4 != 0 || len(b) == 0 {
		return nil, false
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, true
}

// cachedVectors looks each input up in the cache; it returns the vectors found (nil where
// missing) and the indexes still to embed. A failing cache finds nothing.
func (s *Service) cachedVectors(ctx context.Context, req *backend.EmbedRequest) ([][]float32, []int) {
	found := make([][]float32, len(req.Inputs))
	var missing []int
	for i, text := range req.Inputs {
		raw, ok, err := s.opts.Cache.Store.Get(ctx, embedKey(req, text))
		if err != nil {
			s.log.WarnContext(ctx, "the response cache failed: embedding uncached", "error", err)
			return make([][]float32, len(req.Inputs)), allIndexes(len(req.Inputs))
		}
		if v, valid := decodeVector(raw); ok && valid {
			found[i] = v
			continue
		}
		missing = append(missing, i)
	}
	return found, missing
}

func allIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// cachedReply is the reply stored under key, or nil.
func (s *Service) cachedReply(ctx context.Context, key string) *stratav1.ChatResponse {
	raw, ok, err := s.opts.Cache.Store.Get(ctx, key)
	if err != nil {
		s.log.WarnContext(ctx, "the response cache failed: serving uncached", "error", err)
		return nil
	}
	if !ok {
		return nil
	}
	var resp stratav1.ChatResponse
	if proto.Unmarshal(raw, &resp) != nil {
		return nil
	}
	return &resp
}

// replay sends a cached reply as a stream: the start, one delta per part, the end.
func replay(stream grpc.ServerStreamingServer[stratav1.ChatStreamResponse], resp *stratav1.ChatResponse) error {
	delta := func(d *stratav1.StreamDelta) *stratav1.ChatStreamResponse {
		return &stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_Delta{Delta: d}}
	}
	if err := stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_Start{Start: &stratav1.StreamStart{
		Model: resp.GetModel(), Route: resp.GetRoute(), Warnings: resp.GetWarnings(), Cached: true,
	}}}); err != nil {
		return err
	}
	calls := int32(0)
	for _, part := range resp.GetMessage().GetParts() {
		var ds []*stratav1.StreamDelta
		switch k := part.GetKind().(type) {
		case *stratav1.Part_Text:
			ds = append(ds, &stratav1.StreamDelta{Text: k.Text})
		case *stratav1.Part_Reasoning:
			if k.Reasoning.GetText() != "" {
				ds = append(ds, &stratav1.StreamDelta{Reasoning: k.Reasoning.GetText()})
			}
			if k.Reasoning.GetSignature() != "" {
				ds = append(ds, &stratav1.StreamDelta{ReasoningSignature: k.Reasoning.GetSignature()})
			}
			if len(k.Reasoning.GetRedacted()) > 0 {
				ds = append(ds, &stratav1.StreamDelta{ReasoningRedacted: k.Reasoning.GetRedacted()})
			}
		case *stratav1.Part_ToolCall:
			args, _ := protojson.Marshal(k.ToolCall.GetArguments()) // a Struct always encodes
			ds = append(ds,
				&stratav1.StreamDelta{ToolCall: &stratav1.ToolCallDelta{Index: calls, Id: k.ToolCall.GetId(), Name: k.ToolCall.GetName()}},
				&stratav1.StreamDelta{ToolCall: &stratav1.ToolCallDelta{Index: calls, ArgumentsJson: string(args)}})
			calls++
		}
		for _, d := range ds {
			if err := stream.Send(delta(d)); err != nil {
				return err
			}
		}
	}
	return stream.Send(&stratav1.ChatStreamResponse{Event: &stratav1.ChatStreamResponse_End{End: &stratav1.StreamEnd{
		StopReason: resp.GetStopReason(), Usage: resp.GetUsage(), LatencyMs: resp.GetLatencyMs(), ServiceTier: resp.GetServiceTier(),
	}}})
}

// streamedReply joins a stream's events into the reply a Chat would have given, for the cache.
type streamedReply struct {
	text      strings.Builder
	reasoning []*streamedReasoning // the reasoning blocks, in order
	calls     []*streamedCall
}

// streamedReasoning is one reasoning block: text closed by its signature, or a redacted block,
// which arrives whole in one event. Bedrock takes the blocks back only as they were.
type streamedReasoning struct {
	text, signature strings.Builder
	redacted        []byte
}

// openReasoning is the reasoning block text goes to: the last one, unless it is closed (signed or
// redacted) or there is none.
func (r *streamedReply) openReasoning() *streamedReasoning {
	if n := len(r.reasoning); n > 0 {
		if last := r.reasoning[n-1]; last.signature.Len() == 0 && last.redacted == nil {
			return last
		}
	}
	b := &streamedReasoning{}
	r.reasoning = append(r.reasoning, b)
	return b
}

type streamedCall struct {
	id, name string
	args     strings.Builder
}

func (r *streamedReply) add(ev backend.Event) {
	switch ev.Kind {
	case backend.EventText:
		r.text.WriteString(ev.Text)
	case backend.EventReasoning:
		r.openReasoning().text.WriteString(ev.Text)
	case backend.EventReasoningSignature:
		r.openReasoning().signature.WriteString(ev.Signature)
	case backend.EventReasoningRedacted:
		r.reasoning = append(r.reasoning, &streamedReasoning{redacted: slices.Clone(ev.Redacted)})
	case backend.EventToolCallStart:
		for len(r.calls) <= ev.Index {
			r.calls = append(r.calls, &streamedCall{})
		}
		r.calls[ev.Index].id, r.calls[ev.Index].name = ev.ToolID, ev.ToolName
	case backend.EventToolCallArgs:
		if ev.Index < len(r.calls) {
			r.calls[ev.Index].args.WriteString(ev.Text)
		}
	}
}

// reply is the joined reply, ended by end; its parts are in the order Chat gives them.
func (r *streamedReply) reply(end backend.Event, p *preparedChat) *stratav1.ChatResponse {
	var parts []backend.Part
	for _, b := range r.reasoning {
		parts = append(parts, backend.Part{Kind: backend.PartReasoning, Reasoning: &backend.Reasoning{
			Text: b.text.String(), Signature: b.signature.String(), Redacted: b.redacted}})
	}
	if r.text.Len() > 0 {
		parts = append(parts, backend.Part{Kind: backend.PartText, Text: r.text.String()})
	}
	for _, c := range r.calls {
		var args map[string]any
		if json.Unmarshal([]byte(c.args.String()), &args) != nil {
			args = map[string]any{}
		}
		parts = append(parts, backend.Part{Kind: backend.PartToolCall, ToolCall: &backend.ToolCall{ID: c.id, Name: c.name, Arguments: args}})
	}
	msg, text, reasoning := fromBackendParts(parts)
	return &stratav1.ChatResponse{
		Text: text, Message: msg, Reasoning: reasoning, StopReason: toStopReason(end.StopReason), Usage: toUsage(end.Usage),
		Model: p.req.ModelID, Route: p.route.Key, ServiceTier: cmp.Or(end.ServiceTier, p.req.ServiceTier),
	}
}
