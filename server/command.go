package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-gateway/strata/config"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// commonFlags are the flags `serve` and `health` share. Flags override the environment.
type commonFlags struct {
	envFile string
	backend string
}

func (c *commonFlags) register(fs *flag.FlagSet, environ map[string]string) {
	fs.StringVar(&c.envFile, "env-file", "", "the .env file to read (default: .env in the working directory, if present)")
	def := environ["STRATA_BACKEND"]
	if def == "" {
		def = BackendBedrock
	}
	fs.StringVar(&c.backend, "backend", def, "bedrock, or emulator to serve from the built-in Bedrock emulator (env STRATA_BACKEND)")
}

// loadConfig reads the configuration, applying the --addr flag over STRATA_ADDR.
func loadConfig(environ map[string]string, envFile, addr string) (*config.Config, error) {
	if addr != "" {
		env := make(map[string]string, len(environ)+1)
		for k, v := range environ {
			env[k] = v
		}
		env["STRATA_ADDR"] = addr
		delete(env, config.LiteLLMPrefix+"STRATA_ADDR")
		environ = env
	}
	return config.Load(environ, envFile)
}

// Serve runs `strata serve`: it loads the configuration, builds the backend (Bedrock, or the
// in-process emulator), serves gRPC until ctx ends, then drains and shuts down.
func Serve(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("strata serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, environ)
	addr := fs.String("addr", "", `address to listen on (env STRATA_ADDR, default ":50051")`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(environ, common.envFile, *addr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	st, err := build(ctx, cfg, common.backend, log)
	if err != nil {
		return err
	}
	defer st.close(context.WithoutCancel(ctx))
	gopts, err := grpcOptions(cfg)
	if err != nil {
		return err
	}
	ln, err := listen(cfg.Server.Addr)
	if err != nil {
		return err
	}
	if cfg.Server.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.Server.DebugAddr, log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer stopDebug(context.WithoutCancel(ctx))
	}
	srv := NewGRPC(st.service, gopts, log)
	if check := st.health.Credentials; check != nil {
		srv.SetServing(false) // not ready until the credentials resolve
		go watchCredentials(ctx, srv, check, credentialRetryInterval, log)
	}
	log.Info("strata serving", "addr", ln.Addr().String(), "backend", common.backend, "region", cfg.AWS.Region,
		"chat_model", cfg.LLM.ChatModel, "embedding_model", cfg.LLM.EmbeddingModel, "routes", len(cfg.LLM.ModelMap), "tls", gopts.TLS != nil)
	fmt.Fprintln(stdout, ln.Addr().String())
	return srv.Serve(ctx, ln)
}

// credentialRetryInterval is how often readiness retries credentials that did not resolve.
const credentialRetryInterval = 5 * time.Second

// watchCredentials holds grpc.health.v1 at NOT_SERVING until the AWS credentials resolve, so a
// replica that cannot sign is not sent traffic; it never calls Bedrock itself.
func watchCredentials(ctx context.Context, srv *Server, check func(context.Context) error, retry time.Duration, log *slog.Logger) {
	for {
		cctx, cancel := context.WithTimeout(ctx, max(retry, time.Second))
		err := check(cctx)
		cancel()
		if err == nil {
			srv.SetServing(true)
			return
		}
		srv.SetServing(false)
		log.Warn("aws credentials do not resolve: reporting NOT_SERVING until they do", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// Health runs `strata health`: the deep checks of HealthCheck, against a running server (--addr)
// or in-process from the local configuration, like `rdagent health_check --check-env`. It prints
// one line per check and fails when any check fails.
func Health(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("strata health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, environ)
	addr := fs.String("addr", "", "a running Strata server to ask (host:port); empty runs the checks in-process")
	invoke := fs.Bool("invoke", false, "also make a 1-token call to each configured model")
	timeout := fs.Duration("timeout", 30*time.Second, "how long the checks may take")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var resp *stratav1.HealthCheckResponse
	if *addr != "" {
		conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return fmt.Errorf("connect to %s: %w", *addr, err)
		}
		defer conn.Close()
		if resp, err = stratav1.NewLLMServiceClient(conn).HealthCheck(ctx, &stratav1.HealthCheckRequest{InvokeModels: *invoke}); err != nil {
			return fmt.Errorf("health check at %s: %w", *addr, err)
		}
	} else {
		cfg, err := loadConfig(environ, common.envFile, "")
		if err != nil {
			return err
		}
		st, err := build(ctx, cfg, common.backend, newLogger(cfg, stderr))
		if err != nil {
			return err
		}
		defer st.close(context.WithoutCancel(ctx))
		resp = st.health.Run(ctx, *invoke)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, c := range resp.GetChecks() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%dms\n", statusWord(c.GetStatus()), c.GetName(), c.GetDetail(), c.GetLatencyMs())
	}
	_ = tw.Flush()
	fmt.Fprintln(stdout, "overall:", statusWord(resp.GetStatus()))
	if resp.GetStatus() == stratav1.HealthStatus_HEALTH_STATUS_FAIL {
		return errors.New("a health check failed")
	}
	return nil
}

func statusWord(s stratav1.HealthStatus) string {
	return strings.TrimPrefix(s.String(), "HEALTH_STATUS_")
}
