// Package server assembles Strata's gRPC server: the LLMService behind its interceptors, the
// standard grpc.health.v1 service and server reflection; and it runs the `strata serve` and
// `strata health` commands.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed requests, answer compressed when asked
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/service"
)

// GRPCOptions are the server's transport settings.
type GRPCOptions struct {
	// TLS, when set, serves TLS; nil serves plaintext (Kubernetes gRPC probes need plaintext).
	TLS *tls.Config
	// MaxRecvMsgBytes bounds one request (images and documents make requests large).
	MaxRecvMsgBytes int
	// KeepaliveTime pings idle clients; MaxConnectionAge closes connections this old (with
	// MaxConnectionAgeGrace for calls in flight) so long-lived clients spread over new replicas.
	KeepaliveTime, KeepaliveTimeout, MaxConnectionAge, MaxConnectionAgeGrace time.Duration
	// DrainDelay is how long health reports NOT_SERVING before the server stops accepting calls,
	// so load balancers stop sending first; ShutdownTimeout bounds the wait for calls in flight.
	DrainDelay, ShutdownTimeout time.Duration
	// MaxInFlight bounds the calls run at once; beyond it calls are refused with
	// RESOURCE_EXHAUSTED. Zero means no bound.
	MaxInFlight int
}

// Server is Strata's gRPC server.
type Server struct {
	grpc   *grpc.Server
	health *health.Server
	opts   GRPCOptions
	log    *slog.Logger
	calls  *inflight
}

// healthService is the service name grpc.health.v1 reports for LLMService; "" reports the server.
const healthService = "strata.v1.LLMService"

// ageGrace is the gRPC form of STRATA_MAX_CONNECTION_AGE_GRACE: gRPC reads a zero grace as
// "forever", where Strata's 0 means none, so calls still running when a connection reaches its
// age are cut at once.
func ageGrace(grace time.Duration) time.Duration {
	if grace <= 0 {
		return time.Nanosecond
	}
	return grace
}

// NewGRPC builds the server. Interceptors, outermost first: the call record (so the log line
// can carry tokens and cost), logging, admission control (so a refused call is logged), and panic
// recovery last.
func NewGRPC(svc stratav1.LLMServiceServer, opts GRPCOptions, log *slog.Logger) *Server {
	calls := &inflight{}
	admit := &admission{max: int64(opts.MaxInFlight)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})}
	serverOpts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			service.RecordUnaryInterceptor,
			logUnary(log, calls),
			admit.unary,
			recovery.UnaryServerInterceptor(recoverOpts...),
		),
		grpc.ChainStreamInterceptor(
			service.RecordStreamInterceptor,
			logStream(log, calls),
			admit.stream,
			recovery.StreamServerInterceptor(recoverOpts...),
		),
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgBytes),
		// Serve calls on a fixed set of worker goroutines whose stacks have already grown to what a
		// call needs, rather than on a new goroutine that grows its stack on every call: stack
		// copying was 6.5% of Strata's CPU at saturation (BENCHMARKS.md). A worker is busy for the
		// whole upstream call, most of it waiting on Bedrock, so one per core is far too few: at
		// 16 callers on one core most calls still got a goroutine of their own, and encoding the
		// Converse body grew its stack each time (12% of CPU). 32 per core cover the calls in
		// flight of a loaded core for 32 × 8 KB of idle stacks; a call that finds every worker
		// busy still gets a goroutine of its own.
		grpc.NumStreamWorkers(uint32(32 * runtime.GOMAXPROCS(0))),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  opts.KeepaliveTime,
			Timeout:               opts.KeepaliveTimeout,
			MaxConnectionAge:      opts.MaxConnectionAge,
			MaxConnectionAgeGrace: ageGrace(opts.MaxConnectionAgeGrace),
		}),
		// Clients may ping as often as every 10 s without being told off.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if opts.TLS != nil {
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	g := grpc.NewServer(serverOpts...)
	stratav1.RegisterLLMServiceServer(g, svc)
	h := health.NewServer()
	healthpb.RegisterHealthServer(g, h)
	reflection.Register(g)
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus(healthService, healthpb.HealthCheckResponse_SERVING)
	return &Server{grpc: g, health: h, opts: opts, log: log, calls: calls}
}

// SetServing sets what grpc.health.v1 reports for the server and for LLMService. Once shutdown
// began it has no effect: a draining server stays NOT_SERVING.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(healthService, st)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: health goes NOT_SERVING, the
// drain delay passes, new calls are refused and calls in flight finish within ShutdownTimeout,
// after which the rest are cut.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(ln) }()
	trimCtx, stopTrim := context.WithCancel(ctx)
	trimmed := make(chan struct{})
	go func() {
		defer close(trimmed)
		idleTrimmer(trimCtx, s.calls, trimEvery, s.log)
	}()
	defer func() {
		stopTrim()
		<-trimmed
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "drain_delay", s.opts.DrainDelay, "timeout", s.opts.ShutdownTimeout)
	s.health.Shutdown() // every service NOT_SERVING
	time.Sleep(s.opts.DrainDelay)
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(s.opts.ShutdownTimeout):
		s.log.Warn("calls still in flight at the shutdown timeout: cutting them")
		s.grpc.Stop()
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
