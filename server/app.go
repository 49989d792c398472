package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/backend/bedrock"
	"github.com/strata-gateway/strata/cache"
	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/config"
	"github.com/strata-gateway/strata/emulator"
	"github.com/strata-gateway/strata/ratelimit"
	"github.com/strata-gateway/strata/service"
)

// Backend kinds `strata serve --backend` takes.
const (
	BackendBedrock  = "bedrock"
	BackendEmulator = "emulator"
)

// Demo credentials `--backend emulator` signs with (and its emulator verifies), so the full SigV4
// path runs without any AWS setup.
const (
	demoAccessKeyID     = "AKIDSTRATADEMO"
	demoSecretAccessKey = "strata-demo-secret"
)

// stack is everything a running Strata holds, built from the configuration.
type stack struct {
	cfg     *config.Config
	log     *slog.Logger
	catalog *catalog.Catalog
	backend backend.Backend
	service *service.Service
	health  *service.HealthChecker
	// emulator and emulatorServer are set with --backend emulator.
	emulator       *emulator.Emulator
	emulatorServer *emulator.Server
	// httpClient carries every Bedrock call.
	httpClient *http.Client
	// closers are the shared stores' connections (Redis), closed last.
	closers []io.Closer
}

// close releases what the stack opened.
func (s *stack) close(ctx context.Context) {
	if s.httpClient != nil {
		// Idle pool connections would hold the emulator's graceful shutdown for seconds.
		s.httpClient.CloseIdleConnections()
	}
	if s.emulatorServer != nil {
		_ = s.emulatorServer.Shutdown(ctx)
	}
	for _, c := range s.closers {
		_ = c.Close()
	}
}

// newLogger builds the process logger from the configuration: JSON (or text) on w.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Server.LogLevel}
	if cfg.Server.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// build wires configuration into a backend and a service. With backendKind "emulator" it starts
// the Bedrock emulator on a loopback port and points the real adapter at it, so only AWS is
// replaced: SigV4, the wire protocol and the adapter all run as in production.
func build(ctx context.Context, cfg *config.Config, backendKind string, log *slog.Logger) (*stack, error) {
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w)
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	routes := make([]service.RouteConfig, 0, len(cfg.LLM.ModelMap))
	for _, r := range cfg.LLM.ModelMap {
		routes = append(routes, service.RouteConfig(r))
	}
	temperature := cfg.LLM.Temperature
	router, warnings, err := service.NewRouter(cat, service.RouterConfig{
		ChatModel:       cfg.LLM.ChatModel,
		EmbeddingModel:  cfg.LLM.EmbeddingModel,
		Temperature:     &temperature,
		MaxTokens:       cfg.LLM.MaxTokens,
		ReasoningEffort: cfg.LLM.ReasoningEffort,
		Routes:          routes,
		Region:          cfg.AWS.Region,

		PreferGlobalProfiles: cfg.LLM.PreferGlobalProfiles,
		ProfileRoutingOff:    cfg.LLM.InferenceProfileRouting == "off",
	})
	if err != nil {
		return nil, fmt.Errorf("resolve models: %w", err)
	}
	for _, w := range warnings {
		log.Warn("configuration", "warning", w)
	}
	st := &stack{cfg: cfg, log: log, catalog: cat, httpClient: bedrock.NewHTTPClient(bedrock.PoolOptions{
		MaxIdleConnsPerHost: cfg.Pool.MaxIdleConnsPerHost,
		IdleConnTimeout:     cfg.Pool.IdleConnTimeout,
		DialTimeout:         cfg.Pool.DialTimeout,
		KeepAlive:           cfg.Pool.KeepAlive,
	})}
	opts := bedrock.Options{
		Region:     cfg.AWS.Region,
		Endpoint:   cfg.AWS.APIBase,
		HTTPClient: st.httpClient,
		Catalog:    cat,
		ReasoningBudgets: map[backend.Effort]int{
			backend.EffortLow:    cfg.LLM.ReasoningBudgetLow,
			backend.EffortMedium: cfg.LLM.ReasoningBudgetMedium,
			backend.EffortHigh:   cfg.LLM.ReasoningBudgetHigh,
		},
		EmbedConcurrency: cfg.Pool.EmbedConcurrency,
		Logger:           log,
	}
	var credentialsCheck func(context.Context) error
	switch backendKind {
	case BackendEmulator:
		if st.emulator, err = emulator.New(emulator.Options{Catalog: cat, AccessKeyID: demoAccessKeyID, SecretAccessKey: demoSecretAccessKey, Region: cfg.AWS.Region, Logger: log.With("component", "emulator")}); err != nil {
			return nil, err
		}
		if st.emulatorServer, err = emulator.Listen("127.0.0.1:0", st.emulator, nil); err != nil {
			return nil, err
		}
		log.Info("bedrock emulator started in-process", "url", st.emulatorServer.URL)
		opts.Endpoint = st.emulatorServer.URL
		opts.Credentials = credentials.NewStaticCredentialsProvider(demoAccessKeyID, demoSecretAccessKey, "")
	case BackendBedrock:
		if key := cfg.AWS.APIKey.Value(); key != "" {
			opts.BearerToken = key
			break
		}
		provider, region, err := bedrock.LoadCredentials(ctx, bedrock.CredentialOptions{
			Region:               cfg.AWS.Region,
			AccessKeyID:          cfg.AWS.AccessKeyID,
			SecretAccessKey:      cfg.AWS.SecretAccessKey.Value(),
			SessionToken:         cfg.AWS.SessionToken.Value(),
			Profile:              cfg.AWS.Profile,
			RoleARN:              cfg.AWS.RoleARN,
			SessionName:          cfg.AWS.RoleSessionName,
			ExternalID:           cfg.AWS.ExternalID,
			WebIdentityTokenFile: cfg.AWS.WebIdentityTokenFile,
		})
		if err != nil {
			return nil, fmt.Errorf("aws credentials: %w", err)
		}
		opts.Credentials, opts.Region = provider, region
		credentialsCheck = func(ctx context.Context) error {
			_, err := provider.Retrieve(ctx)
			return err
		}
	default:
		return nil, fmt.Errorf("--backend %q: want %s or %s", backendKind, BackendBedrock, BackendEmulator)
	}
	be, err := bedrock.New(opts)
	if err != nil {
		st.close(ctx)
		return nil, err
	}
	st.backend = be
	st.health = &service.HealthChecker{
		Backend:     be,
		Router:      router,
		Region:      opts.Region,
		Credentials: credentialsCheck,
		Warnings:    append(append([]string(nil), cfg.Warnings...), warnings...),
		Timeout:     10 * time.Second,
		Logger:      log,
	}
	cacheOpts, err := chatCache(cfg.LLM)
	if err != nil {
		st.close(ctx)
		return nil, err
	}
	if c, ok := cacheOpts.Store.(io.Closer); ok {
		st.closers = append(st.closers, c)
	}
	var shared service.SharedLimiter
	if url := string(cfg.LLM.LimitsBackend); url != "local" {
		r, err := ratelimit.NewRedis(ctx, url, ratelimit.Options{Logger: log})
		if err != nil {
			st.close(ctx)
			return nil, errors.New("LIMITS_BACKEND: not a Redis URL") // the URL may hold a password
		}
		st.closers = append(st.closers, r)
		shared = r
	}
	st.service, err = service.New(service.Options{
		Backend:         be,
		Router:          router,
		Catalog:         cat,
		Region:          opts.Region,
		Retry:           service.RetryPolicy{MaxAttempts: cfg.LLM.MaxRetry, BaseWait: cfg.LLM.RetryWait, MaxWait: cfg.LLM.RetryMaxWait},
		Breaker:         service.BreakerOptions{Failures: cfg.LLM.CircuitBreakerFailures, Cooldown: cfg.LLM.CircuitBreakerCooldown},
		ModelLimits:     modelLimits(cfg.LLM.ModelLimits),
		SharedLimits:    shared,
		Cache:           cacheOpts,
		EmbedMaxBatch:   cfg.LLM.EmbeddingMaxStrNum,
		UpstreamTimeout: cfg.Pool.UpstreamTimeout,
		LogContent:      cfg.LLM.LogChatContent,
		Logger:          log,
		Health:          st.health,
	})
	if err != nil {
		st.close(ctx)
		return nil, err
	}
	return st, nil
}

// grpcOptions turns the server settings into the gRPC server's options.
func grpcOptions(cfg *config.Config) (GRPCOptions, error) {
	o := GRPCOptions{
		MaxRecvMsgBytes:       cfg.Server.MaxRecvMsgBytes,
		MaxInFlight:           cfg.Server.MaxInFlight,
		KeepaliveTime:         cfg.Server.KeepaliveTime,
		KeepaliveTimeout:      cfg.Server.KeepaliveTimeout,
		MaxConnectionAge:      cfg.Server.MaxConnectionAge,
		MaxConnectionAgeGrace: cfg.Server.MaxConnectionAgeGrace,
		DrainDelay:            cfg.Server.ShutdownDrainDelay,
		ShutdownTimeout:       cfg.Server.ShutdownTimeout,
	}
	if cfg.Server.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCert, cfg.Server.TLSKey)
		if err != nil {
			return o, fmt.Errorf("STRATA_TLS_CERT/STRATA_TLS_KEY: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// listen opens the server's listener; a bare port means all interfaces.
func listen(addr string) (net.Listener, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// modelLimits converts MODEL_LIMITS to the service's form.
func modelLimits(m config.ModelLimits) map[string]service.Limit {
	out := make(map[string]service.Limit, len(m))
	for id, l := range m {
		out[id] = service.Limit(l)
	}
	return out
}

// chatCache builds the response cache CACHE_BACKEND names.
func chatCache(llm config.LLM) (service.CacheOptions, error) {
	opts := service.CacheOptions{TTL: llm.CacheTTL, Read: llm.UseChatCache, Write: llm.DumpChatCache,
		ReadEmbeddings: llm.UseEmbeddingCache, WriteEmbeddings: llm.DumpEmbeddingCache}
	switch backend := string(llm.CacheBackend); backend {
	case "none":
		return service.CacheOptions{}, nil
	case "memory":
		opts.Store = cache.NewMemory(llm.CacheMaxEntries, int64(llm.CacheMaxBytes), nil)
	default:
		r, err := cache.NewRedis(backend)
		if err != nil {
			return service.CacheOptions{}, errors.New("CACHE_BACKEND: not a Redis URL") // the URL may hold a password
		}
		opts.Store = r
	}
	return opts, nil
}
