package server

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/service"
)

// The call log: one "finished call" line per RPC, with the keys of go-grpc-middleware's logging
// interceptor (grpc.service, grpc.method, grpc.method_type, peer.address, grpc.code, grpc.time_ms,
// grpc.error) and the call's record (tag, route, model, tokens, cost, attempts: RD-Agent's
// token-cost record).
//
// Strata writes the line itself, with slog.LogAttrs, rather than through go-grpc-middleware's
// interceptor: that one builds its fields as a list of key-value pairs per call, and with slog's
// conversion of them the line was 10% of Strata's CPU at saturation (BENCHMARKS.md). For the same
// reason the line leaves out that interceptor's constant fields (protocol, grpc.component) and
// grpc.start_time, which the line's own time less grpc.time_ms gives: slog's JSON handler is still
// 10% of the CPU of a saturated server, each attribute a share of it.

// logUnary logs each unary call when it finishes, and counts it in flight while it runs (health
// checks and reflection excepted: a probe is not work).
func logUnary(log *slog.Logger, calls *inflight) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		counted := !exemptMethod(info.FullMethod)
		if counted {
			calls.begin()
		}
		resp, err := handler(ctx, req)
		if counted {
			calls.end()
		}
		logCall(ctx, log, info.FullMethod, "unary", start, err)
		return resp, err
	}
}

// logStream logs each streaming call when it finishes, and counts it in flight while it runs.
func logStream(log *slog.Logger, calls *inflight) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		// A health Watch stream lasts as long as its watcher: counted, it would keep the server
		// from ever looking idle.
		counted := !exemptMethod(info.FullMethod)
		if counted {
			calls.begin()
		}
		err := handler(srv, ss)
		if counted {
			calls.end()
		}
		kind := "server_stream"
		switch {
		case info.IsClientStream && info.IsServerStream:
			kind = "bidi_stream"
		case info.IsClientStream:
			kind = "client_stream"
		}
		logCall(ss.Context(), log, info.FullMethod, kind, start, err)
		return err
	}
}

func logCall(ctx context.Context, log *slog.Logger, fullMethod, kind string, start time.Time, err error) {
	code := status.Code(err)
	level := levelFor(code)
	if !log.Enabled(ctx, level) {
		return
	}
	svc, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	attrs := make([]slog.Attr, 0, 24)
	attrs = service.AppendCallAttrs(attrs, ctx)
	attrs = append(attrs,
		slog.String("grpc.service", svc),
		slog.String("grpc.method", method),
		slog.String("grpc.method_type", kind),
	)
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer.address", p.Addr.String()))
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	attrs = append(attrs,
		slog.String("grpc.code", code.String()),
		slog.String("grpc.time_ms", strconv.FormatFloat(ms, 'f', 3, 64)),
	)
	if err != nil {
		attrs = append(attrs, slog.String("grpc.error", err.Error()))
	}
	log.LogAttrs(ctx, level, "finished call", attrs...)
}

// levelFor is the level of a call's line by its code, as go-grpc-middleware's
// DefaultServerCodeToLevel has it: the caller's mistakes at info, what an operator should look
// at as warn, Strata's own failures as error.
func levelFor(code codes.Code) slog.Level {
	switch code {
	case codes.OK, codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.Unauthenticated:
		return slog.LevelInfo
	case codes.DeadlineExceeded, codes.PermissionDenied, codes.ResourceExhausted, codes.FailedPrecondition,
		codes.Aborted, codes.OutOfRange, codes.Unavailable:
		return slog.LevelWarn
	}
	return slog.LevelError
}
