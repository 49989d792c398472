package service

import (
	"context"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
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
// the logging interceptor, whose finish line reads the record through [LogFields].
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

// LogFields adds the call's record to the logging interceptor's lines (logging.WithFieldsFromContext).
func LogFields(ctx context.Context) logging.Fields {
	r, ok := ctx.Value(recordKey{}).(*callRecord)
	if !ok || !r.set {
		return nil
	}
	return logging.Fields{
		"tag", r.tag, "route", r.route, "model", r.model,
		"input_tokens", r.inputTokens, "output_tokens", r.outputTokens,
		"cache_read_tokens", r.cacheReadTokens, "cache_write_tokens", r.cacheWriteTokens,
		"cost_usd", r.costUSD, "attempts", r.attempts,
	}
}
