package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Command runs `strata emulator`: it parses flags (each with an environment variable as its
// default), serves until ctx ends, then shuts down cleanly. getenv reads the environment.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", cfg.logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.opts.Logger = logger
	emu, err := New(cfg.opts)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	switch {
	case cfg.selfSignedDir != "":
		if tlsConfig, err = SelfSignedTLS(cfg.selfSignedDir); err != nil {
			return err
		}
	case cfg.certFile != "" || cfg.keyFile != "":
		if cfg.certFile == "" || cfg.keyFile == "" {
			return errors.New("--tls-cert and --tls-key go together")
		}
		if tlsConfig, err = LoadTLS(cfg.certFile, cfg.keyFile); err != nil {
			return err
		}
	}
	srv, err := Listen(cfg.addr, emu, tlsConfig)
	if err != nil {
		return err
	}
	auth := "demo (any well-formed signature)"
	if cfg.opts.AccessKeyID != "" {
		auth = "SigV4 with access key " + cfg.opts.AccessKeyID
	}
	logger.Info("bedrock emulator listening", "url", srv.URL, "auth", auth, "api_keys", len(cfg.opts.APIKeys),
		"ttft", cfg.opts.TTFT, "tokens_per_second", cfg.opts.TokensPerSecond, "faults", len(cfg.opts.Faults))
	fmt.Fprintln(stdout, srv.URL)
	<-ctx.Done()
	logger.Info("shutting down", "timeout", cfg.shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

type commandConfig struct {
	opts                             Options
	addr                             string
	certFile, keyFile, selfSignedDir string
	logLevel                         string
	shutdownTimeout                  time.Duration
}

// listFlag is a repeatable flag whose environment default is a list split on sep.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }
func (l *listFlag) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true // the first flag replaces the environment's list
	}
	l.values = append(l.values, v)
	return nil
}

func envList(getenv func(string) string, name, sep string) []string {
	var out []string
	for _, v := range strings.Split(getenv(name), sep) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*commandConfig, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("strata emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &commandConfig{}
	fs.StringVar(&cfg.addr, "addr", env("STRATA_EMULATOR_ADDR", "127.0.0.1:4000"), "address to listen on (env STRATA_EMULATOR_ADDR)")
	fs.StringVar(&cfg.opts.AccessKeyID, "access-key-id", env("STRATA_EMULATOR_ACCESS_KEY_ID", ""), "verify SigV4 signatures against this access key id (env STRATA_EMULATOR_ACCESS_KEY_ID)")
	fs.StringVar(&cfg.opts.SecretAccessKey, "secret-access-key", env("STRATA_EMULATOR_SECRET_ACCESS_KEY", ""), "the secret of --access-key-id (env STRATA_EMULATOR_SECRET_ACCESS_KEY)")
	apiKeys := &listFlag{values: envList(getenv, "STRATA_EMULATOR_API_KEYS", ",")}
	fs.Var(apiKeys, "api-key", "accept this Bedrock API key as a bearer token; repeatable (env STRATA_EMULATOR_API_KEYS, comma-separated)")
	fs.StringVar(&cfg.certFile, "tls-cert", env("STRATA_EMULATOR_TLS_CERT", ""), "serve HTTPS with this PEM certificate (env STRATA_EMULATOR_TLS_CERT)")
	fs.StringVar(&cfg.keyFile, "tls-key", env("STRATA_EMULATOR_TLS_KEY", ""), "the PEM key of --tls-cert (env STRATA_EMULATOR_TLS_KEY)")
	fs.StringVar(&cfg.selfSignedDir, "tls-self-signed", env("STRATA_EMULATOR_TLS_SELF_SIGNED", ""), "serve HTTPS with a new self-signed certificate written to this directory (env STRATA_EMULATOR_TLS_SELF_SIGNED)")
	ttft := env("STRATA_EMULATOR_TTFT", "0")
	fs.StringVar(&ttft, "ttft", ttft, "time to first token, e.g. 300ms; 0 answers at once (env STRATA_EMULATOR_TTFT)")
	tps := env("STRATA_EMULATOR_TOKENS_PER_SECOND", "0")
	fs.StringVar(&tps, "tokens-per-second", tps, "output pace after the first token; 0 = no delay (env STRATA_EMULATOR_TOKENS_PER_SECOND)")
	seed := env("STRATA_EMULATOR_SEED", "0")
	fs.StringVar(&seed, "seed", seed, "seed of the deterministic generator (env STRATA_EMULATOR_SEED)")
	faults := &listFlag{values: envList(getenv, "STRATA_EMULATOR_FAULTS", "|")}
	fs.Var(faults, "fault", "inject a fault, e.g. 'error=ThrottlingException,every=3'; repeatable (env STRATA_EMULATOR_FAULTS, '|'-separated)")
	profiles := &listFlag{values: envList(getenv, "STRATA_EMULATOR_APPLICATION_PROFILES", ",")}
	fs.Var(profiles, "application-profile", "route an application inference profile to a model, as ID=MODEL; repeatable (env STRATA_EMULATOR_APPLICATION_PROFILES, comma-separated)")
	provisioned := &listFlag{values: envList(getenv, "STRATA_EMULATOR_PROVISIONED_MODELS", ",")}
	fs.Var(provisioned, "provisioned-model", "serve a Provisioned Throughput as a model (a foundation id or a --custom-model id), as ID=MODEL; repeatable (env STRATA_EMULATOR_PROVISIONED_MODELS, comma-separated)")
	custom := &listFlag{values: envList(getenv, "STRATA_EMULATOR_CUSTOM_MODELS", ",")}
	fs.Var(custom, "custom-model", "serve a custom model as the foundation model it was customized from, as ID=MODEL; repeatable (env STRATA_EMULATOR_CUSTOM_MODELS, comma-separated)")
	guardrails := &listFlag{values: envList(getenv, "STRATA_EMULATOR_GUARDRAILS", ",")}
	fs.Var(guardrails, "guardrail", "a guardrail that blocks requests holding one of its words, as ID=WORD[|WORD...]; repeatable (env STRATA_EMULATOR_GUARDRAILS, comma-separated)")
	fs.StringVar(&cfg.opts.Region, "region", env("STRATA_EMULATOR_REGION", "us-east-1"), "region named in the ARNs the control plane returns (env STRATA_EMULATOR_REGION)")
	fs.StringVar(&cfg.logLevel, "log-level", env("STRATA_EMULATOR_LOG_LEVEL", "info"), "debug, info, warn or error (env STRATA_EMULATOR_LOG_LEVEL)")
	shutdown := env("STRATA_EMULATOR_SHUTDOWN_TIMEOUT", "10s")
	fs.StringVar(&shutdown, "shutdown-timeout", shutdown, "how long to let requests in flight finish at shutdown (env STRATA_EMULATOR_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.opts.TTFT, err = time.ParseDuration(ttft); err != nil {
		return nil, fmt.Errorf("--ttft: %w", err)
	}
	if cfg.opts.TokensPerSecond, err = strconv.ParseFloat(tps, 64); err != nil {
		return nil, fmt.Errorf("--tokens-per-second: %w", err)
	}
	if cfg.opts.Seed, err = strconv.ParseUint(seed, 10, 64); err != nil {
		return nil, fmt.Errorf("--seed: %w", err)
	}
	if cfg.shutdownTimeout, err = time.ParseDuration(shutdown); err != nil {
		return nil, fmt.Errorf("--shutdown-timeout: %w", err)
	}
	cfg.opts.APIKeys = apiKeys.values
	for _, spec := range faults.values {
		f, err := ParseFault(spec)
		if err != nil {
			return nil, fmt.Errorf("--fault: %w", err)
		}
		cfg.opts.Faults = append(cfg.opts.Faults, f)
	}
	if cfg.opts.ApplicationProfiles, err = idMap("--application-profile", profiles.values); err != nil {
		return nil, err
	}
	if cfg.opts.ProvisionedModels, err = idMap("--provisioned-model", provisioned.values); err != nil {
		return nil, err
	}
	if cfg.opts.CustomModels, err = idMap("--custom-model", custom.values); err != nil {
		return nil, err
	}
	for _, g := range guardrails.values {
		id, words, ok := strings.Cut(g, "=")
		if !ok || id == "" || words == "" {
			return nil, fmt.Errorf("--guardrail %q: want ID=WORD[|WORD...]", g)
		}
		if cfg.opts.Guardrails == nil {
			cfg.opts.Guardrails = map[string][]string{}
		}
		cfg.opts.Guardrails[id] = append(cfg.opts.Guardrails[id], strings.Split(words, "|")...)
	}
	return cfg, nil
}

// idMap reads ID=MODEL values; nil when there are none.
func idMap(flag string, values []string) (map[string]string, error) {
	var m map[string]string
	for _, v := range values {
		id, model, ok := strings.Cut(v, "=")
		if !ok || id == "" || model == "" {
			return nil, fmt.Errorf("%s %q: want ID=MODEL", flag, v)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[id] = model
	}
	return m, nil
}
