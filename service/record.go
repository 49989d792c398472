package service

import (
	"context"

	"log/slog"

	"google.golang.org/grpc"
)

// callRecord is what a handler learned about a call, for the one log line each call gets: the
// record RD-Agent calls token_cost (tag, route, model, tokens, cost, latency, attempts).
type callRecord struct {
	tag, route, model                 string
	inputTokens, outputTokens         int64
	cacheReadTokens, cacheWriteTokens int64
	costUSD                           float64
	attempts                          int32
	set                               bool
}

type recordKey struct{}

// recordFrom returns the call's record, or a throwaway one outside an intercepted call.
func recordFrom(ctx context.Context) *callRecord {
	if r, ok := ctx.Value(recordKey{}).(*callRecord); ok {
		return r
	}
	return &callRecord{}
}

// RecordUnaryInterceptor gives each unary call a record the handler fills; it must sit outside
// the call log, whose finish line reads the record through [AppendCallAttrs].
func RecordUnaryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(context.WithValue(ctx, recordKey{}, &callRecord{}), req)
}

// RecordStreamInterceptor is RecordUnaryInterceptor for streams.
func RecordStreamInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &recordStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), recordKey{}, &callRecord{})})
}

type recordStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *recordStream) Context() context.Context { return s.ctx }

// AppendCallAttrs appends the call's record to a log line's attributes, once the handler has
// filled it; a call refused before routing adds its tag only.
func AppendCallAttrs(attrs []slog.Attr, ctx context.Context) []slog.Attr {
	r, ok := ctx.Value(recordKey{}).(*callRecord)
	if !ok || !r.set {
		return attrs
	}
	return append(attrs,
		slog.String("tag", r.tag), slog.String("route", r.route), slog.String("model", r.model),
		slog.Int64("input_tokens", r.inputTokens), slog.Int64("output_tokens", r.outputTokens),
		slog.Int64("cache_read_tokens", r.cacheReadTokens), slog.Int64("cache_write_tokens", r.cacheWriteTokens),
		slog.Float64("cost_usd", r.costUSD), slog.Int("attempts", int(r.attempts)),
	)
}
