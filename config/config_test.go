package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeEnv writes a .env file into a fresh temporary directory and returns its path.
func writeEnv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// emptyEnv is a .env path with nothing in it, so that tests never read ./.env.
func emptyEnv(t *testing.T) string { return writeEnv(t, "") }

// problems returns the problems of a Load error, failing the test if err is not an *Error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error = %v, want a *config.Error", err)
	}
	return cerr.Problems
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	want := &Config{
		LLM: LLM{
			ChatModel:               "us.amazon.nova-micro-v1:0",
			EmbeddingModel:          "amazon.titan-embed-text-v2:0",
			Temperature:             0.5,
			MaxTokens:               nil,
			ReasoningEffort:         "",
			ModelMap:                nil,
			InferenceProfileRouting: "auto",
			LogChatContent:          false,
			MaxRetry:                10,
			RetryWait:               time.Second,
			RetryMaxWait:            20 * time.Second,
			CacheBackend:            "none",
			CacheTTL:                time.Hour,
			CacheMaxEntries:         10000,
			CacheMaxBytes:           64 << 20,
			UseChatCache:            true,
			DumpChatCache:           true,
			UseEmbeddingCache:       true,
			DumpEmbeddingCache:      true,
			LimitsBackend:           "local",
			CircuitBreakerFailures:  5,
			CircuitBreakerCooldown:  30 * time.Second,
			EmbeddingMaxStrNum:      50,
			ReasoningBudgetLow:      1024,
			ReasoningBudgetMedium:   4096,
			ReasoningBudgetHigh:     16384,
		},
		AWS: AWS{Region: "us-east-1"},
		Server: Server{
			Addr:                  ":50051",
			MaxRecvMsgBytes:       32 << 20,
			MaxInFlight:           2048,
			KeepaliveTime:         2 * time.Hour,
			KeepaliveTimeout:      20 * time.Second,
			MaxConnectionAge:      30 * time.Minute,
			MaxConnectionAgeGrace: 30 * time.Second,
			ShutdownDrainDelay:    2 * time.Second,
			ShutdownTimeout:       15 * time.Second,
			LogLevel:              slog.LevelInfo,
			LogFormat:             "json",
		},
		Pool: Pool{
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DialTimeout:         10 * time.Second,
			KeepAlive:           30 * time.Second,
			UpstreamTimeout:     10 * time.Minute,
			EmbedConcurrency:    8,
		},
	}
	if got := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("Defaults() =\n%+v\nwant\n%+v", got, want)
	}

	path := emptyEnv(t)
	got, err := Load(map[string]string{"PATH": "/usr/bin", "HOME": "/root"}, path)
	if err != nil {
		t.Fatal(err)
	}
	want.EnvFile = path
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(empty) =\n%+v\nwant\n%+v", got, want)
	}
}

// TestEveryDefaultIsValid sets each variable to its own default: defaults skip the checks, so a
// default outside its own bounds would otherwise go unnoticed.
func TestEveryDefaultIsValid(t *testing.T) {
	t.Parallel()
	for _, v := range Variables() {
		if v.Default == "" {
			continue
		}
		if _, err := Load(map[string]string{v.Name: v.Default}, emptyEnv(t)); err != nil {
			t.Errorf("%s=%s: %v", v.Name, v.Default, err)
		}
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	var secrets []string
	for _, v := range Variables() {
		for _, name := range append([]string{v.Name}, v.Aliases...) {
			for _, n := range []string{name, LiteLLMPrefix + name} {
				if other, dup := seen[n]; dup {
					t.Errorf("%s is read for both %s and %s", n, other, v.Name)
				}
				seen[n] = v.Name
			}
		}
		if v.Secret {
			secrets = append(secrets, v.Name)
		}
	}
	if want := []string{"CACHE_BACKEND", "LIMITS_BACKEND", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "API_KEY"}; !slices.Equal(secrets, want) {
		t.Errorf("secrets = %v, want %v", secrets, want)
	}
	for _, name := range []string{
		"CHAT_MODEL", "EMBEDDING_MODEL", "CHAT_TEMPERATURE", "CHAT_MAX_TOKENS", "REASONING_EFFORT",
		"CHAT_MODEL_MAP", "LOG_LLM_CHAT_CONTENT", "MAX_RETRY", "RETRY_WAIT_SECONDS", "RETRY_MAX_WAIT_SECONDS",
		"EMBEDDING_MAX_STR_NUM", "REASONING_BUDGET_LOW", "REASONING_BUDGET_MEDIUM", "REASONING_BUDGET_HIGH",
		"AWS_REGION", "AWS_REGION_NAME", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_ROLE_NAME", "AWS_ROLE_SESSION_NAME",
		"AWS_SESSION_NAME", "AWS_EXTERNAL_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "API_KEY",
		"AWS_BEARER_TOKEN_BEDROCK", "API_BASE", "AWS_BEDROCK_RUNTIME_ENDPOINT",
		"STRATA_ADDR", "STRATA_TLS_CERT", "STRATA_TLS_KEY", "STRATA_MAX_RECV_MSG_BYTES",
		"STRATA_KEEPALIVE_TIME", "STRATA_KEEPALIVE_TIMEOUT", "STRATA_MAX_CONNECTION_AGE",
		"STRATA_MAX_CONNECTION_AGE_GRACE", "STRATA_SHUTDOWN_DRAIN_DELAY", "STRATA_SHUTDOWN_TIMEOUT",
		"STRATA_LOG_LEVEL", "STRATA_LOG_FORMAT", "STRATA_HTTP_MAX_IDLE_CONNS_PER_HOST",
		"STRATA_HTTP_IDLE_CONN_TIMEOUT", "STRATA_HTTP_DIAL_TIMEOUT", "STRATA_HTTP_KEEPALIVE",
		"STRATA_UPSTREAM_TIMEOUT", "STRATA_EMBED_CONCURRENCY", "STRATA_DEBUG_ADDR",
	} {
		if _, ok := seen[name]; !ok {
			t.Errorf("%s is not read", name)
		}
	}
	// Every bound tag must parse in its field's syntax (bound panics otherwise).
	for _, s := range settingsOf(reflect.TypeFor[Config]()) {
		for _, tag := range []string{"min", "max"} {
			if b, ok := s.field.Tag.Lookup(tag); ok {
				bound(s.field.Type, b)
			}
		}
	}
}

// rdagentEnv is an RD-Agent .env as its users write it for the LiteLLM backend on Bedrock.
const rdagentEnv = `# RD-Agent configuration: the LiteLLM backend, reaching AWS Bedrock.
BACKEND=rdagent.oai.backend.LiteLLMAPIBackend
CHAT_STREAM=True

# Chat and embedding models: any model LiteLLM supports.
export LITELLM_CHAT_MODEL=bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0
LITELLM_EMBEDDING_MODEL="bedrock/amazon.titan-embed-text-v2:0"
CHAT_TEMPERATURE=0.7    # RD-Agent's default is 0.5
CHAT_MAX_TOKENS=4096
REASONING_EFFORT=medium
LOG_LLM_CHAT_CONTENT=False
MAX_RETRY=5
RETRY_WAIT_SECONDS=0.5
EMBEDDING_MAX_STR_NUM=20

# AWS, with LiteLLM's names
AWS_REGION_NAME=us-west-2
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

# Per-stage models: the first key contained in the caller's tag wins.
LITELLM_CHAT_MODEL_MAP='{
  "coding": {
    "model": "bedrock/converse/us.anthropic.claude-sonnet-4-20250514-v1:0",
    "temperature": "1",
    "max_tokens": "16000",
    "reasoning_effort": "high"
  },
  "running": {"model": "bedrock/us.amazon.nova-pro-v1:0", "temperature": "0.2"},
  "feedback": {"model": "us.amazon.nova-lite-v1:0", "reasoning_effort": "none"}
}'

# Scenario settings Strata does not read
DS_LOCAL_DATA_PATH=/data/kaggle
DS_CODER_ON_WHOLE_PIPELINE=True
QLIB_QUANT_SCEN_NAME="quant"
`

func TestLoadRDAgentEnvFile(t *testing.T) {
	t.Parallel()
	path := writeEnv(t, rdagentEnv)
	cfg, err := Load(map[string]string{"HOME": "/home/researcher"}, path)
	if err != nil {
		t.Fatal(err)
	}
	llm := cfg.LLM
	if llm.ChatModel != "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0" ||
		llm.EmbeddingModel != "bedrock/amazon.titan-embed-text-v2:0" ||
		llm.Temperature != 0.7 || llm.MaxTokens == nil || *llm.MaxTokens != 4096 ||
		llm.ReasoningEffort != "medium" || llm.LogChatContent || llm.MaxRetry != 5 ||
		llm.RetryWait != 500*time.Millisecond || llm.EmbeddingMaxStrNum != 20 {
		t.Errorf("LLM = %+v", llm)
	}
	wantMap := ModelMap{
		{Key: "coding", Model: "bedrock/converse/us.anthropic.claude-sonnet-4-20250514-v1:0", Temperature: ptr(1.0), MaxTokens: ptr(16000), ReasoningEffort: "high"},
		{Key: "running", Model: "bedrock/us.amazon.nova-pro-v1:0", Temperature: ptr(0.2), ReasoningEffort: "medium"},
		{Key: "feedback", Model: "us.amazon.nova-lite-v1:0", ReasoningEffort: ""},
	}
	if !reflect.DeepEqual(llm.ModelMap, wantMap) {
		t.Errorf("ModelMap = %s\nwant %s", format(llm.ModelMap), format(wantMap))
	}
	if cfg.AWS.Region != "us-west-2" || cfg.AWS.AccessKeyID != "AKIAIOSFODNN7EXAMPLE" ||
		cfg.AWS.SecretAccessKey.Value() != "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" {
		t.Errorf("AWS = %#v (secret %q)", cfg.AWS, cfg.AWS.SecretAccessKey.Value())
	}
	if cfg.EnvFile != path || len(cfg.Warnings) != 0 {
		t.Errorf("EnvFile = %q, Warnings = %q", cfg.EnvFile, cfg.Warnings)
	}
	if r, ok := llm.ModelMap.Match("data_science.coding.evolving"); !ok || r.Key != "coding" {
		t.Errorf("Match(coding tag) = %+v, %v", r, ok)
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ map[string]string
		check   func(t *testing.T, c *Config)
	}{
		{
			name:    "durations: seconds with fractions, or Go durations",
			environ: map[string]string{"RETRY_WAIT_SECONDS": "0.25", "RETRY_MAX_WAIT_SECONDS": "1m", "STRATA_SHUTDOWN_TIMEOUT": "15", "STRATA_MAX_CONNECTION_AGE": "1h30m", "STRATA_MAX_CONNECTION_AGE_GRACE": "0"},
			check: func(t *testing.T, c *Config) {
				if c.LLM.RetryWait != 250*time.Millisecond || c.LLM.RetryMaxWait != time.Minute ||
					c.Server.ShutdownTimeout != 15*time.Second || c.Server.MaxConnectionAge != 90*time.Minute ||
					c.Server.MaxConnectionAgeGrace != 0 {
					t.Errorf("got %v %v %v %v %v", c.LLM.RetryWait, c.LLM.RetryMaxWait, c.Server.ShutdownTimeout, c.Server.MaxConnectionAge, c.Server.MaxConnectionAgeGrace)
				}
			},
		},
		{
			name:    "booleans as pydantic reads them",
			environ: map[string]string{"LOG_LLM_CHAT_CONTENT": "True"},
			check: func(t *testing.T, c *Config) {
				if !c.LLM.LogChatContent {
					t.Error("LogChatContent = false")
				}
			},
		},
		{
			name:    "yes is true",
			environ: map[string]string{"LOG_LLM_CHAT_CONTENT": "yes"},
			check: func(t *testing.T, c *Config) {
				if !c.LLM.LogChatContent {
					t.Error("LogChatContent = false")
				}
			},
		},
		{
			name:    "reasoning effort in any case",
			environ: map[string]string{"REASONING_EFFORT": "High"},
			check: func(t *testing.T, c *Config) {
				if c.LLM.ReasoningEffort != "high" || len(c.Warnings) != 0 {
					t.Errorf("ReasoningEffort = %q, warnings %q", c.LLM.ReasoningEffort, c.Warnings)
				}
			},
		},
		{
			name:    "reasoning effort none is off, silently",
			environ: map[string]string{"REASONING_EFFORT": "none"},
			check: func(t *testing.T, c *Config) {
				if c.LLM.ReasoningEffort != "" || len(c.Warnings) != 0 {
					t.Errorf("ReasoningEffort = %q, warnings %q", c.LLM.ReasoningEffort, c.Warnings)
				}
			},
		},
		{
			name:    "reasoning budgets",
			environ: map[string]string{"REASONING_BUDGET_LOW": "2000", "REASONING_BUDGET_MEDIUM": "3000", "REASONING_BUDGET_HIGH": "30000"},
			check: func(t *testing.T, c *Config) {
				got := []int{c.LLM.ReasoningBudget("low"), c.LLM.ReasoningBudget("medium"), c.LLM.ReasoningBudget("high"), c.LLM.ReasoningBudget("")}
				if !slices.Equal(got, []int{2000, 3000, 30000, 0}) {
					t.Errorf("budgets = %v", got)
				}
			},
		},
		{
			name:    "API_BASE: a bare host means https, the trailing slash goes",
			environ: map[string]string{"API_BASE": "vpce-0123.bedrock-runtime.us-east-1.vpce.amazonaws.com/"},
			check: func(t *testing.T, c *Config) {
				if c.AWS.APIBase != "https://vpce-0123.bedrock-runtime.us-east-1.vpce.amazonaws.com" {
					t.Errorf("APIBase = %q", c.AWS.APIBase)
				}
			},
		},
		{
			name:    "API_BASE: http is kept, and a path",
			environ: map[string]string{"AWS_BEDROCK_RUNTIME_ENDPOINT": "http://127.0.0.1:4000/proxy/"},
			check: func(t *testing.T, c *Config) {
				if c.AWS.APIBase != "http://127.0.0.1:4000/proxy" {
					t.Errorf("APIBase = %q", c.AWS.APIBase)
				}
			},
		},
		{
			name:    "credentials",
			environ: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "t0k3n", "AWS_BEARER_TOKEN_BEDROCK": "ABSKexample", "AWS_PROFILE": "research"},
			check: func(t *testing.T, c *Config) {
				a := c.AWS
				if a.AccessKeyID != "AKIDEXAMPLE" || a.SecretAccessKey.Value() != "s3cr3t" || a.SessionToken.Value() != "t0k3n" || a.APIKey.Value() != "ABSKexample" || a.Profile != "research" {
					t.Errorf("AWS = %+v", a)
				}
			},
		},
		{
			name: "assume role, LiteLLM's names",
			environ: map[string]string{
				"AWS_ROLE_NAME": "arn:aws:iam::123456789012:role/bedrock", "AWS_SESSION_NAME": "strata",
				"AWS_EXTERNAL_ID": "ext-1", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
			},
			check: func(t *testing.T, c *Config) {
				a := c.AWS
				if a.RoleARN != "arn:aws:iam::123456789012:role/bedrock" || a.RoleSessionName != "strata" || a.ExternalID != "ext-1" || a.WebIdentityTokenFile == "" {
					t.Errorf("AWS = %+v", a)
				}
			},
		},
		{
			name: "server and pool",
			environ: map[string]string{
				"STRATA_ADDR": "50052", "STRATA_LOG_LEVEL": "DEBUG", "STRATA_LOG_FORMAT": "Text",
				"STRATA_MAX_RECV_MSG_BYTES": "1048576", "STRATA_KEEPALIVE_TIME": "1m", "STRATA_KEEPALIVE_TIMEOUT": "5s",
				"STRATA_SHUTDOWN_DRAIN_DELAY": "0s", "STRATA_HTTP_MAX_IDLE_CONNS_PER_HOST": "1024",
				"STRATA_HTTP_IDLE_CONN_TIMEOUT": "0", "STRATA_HTTP_DIAL_TIMEOUT": "2s", "STRATA_HTTP_KEEPALIVE": "15s",
				"STRATA_UPSTREAM_TIMEOUT": "30m", "STRATA_EMBED_CONCURRENCY": "32",
			},
			check: func(t *testing.T, c *Config) {
				s, p := c.Server, c.Pool
				if s.Addr != ":50052" || s.LogLevel != slog.LevelDebug || s.LogFormat != "text" ||
					s.MaxRecvMsgBytes != 1<<20 || s.KeepaliveTime != time.Minute || s.KeepaliveTimeout != 5*time.Second ||
					s.ShutdownDrainDelay != 0 {
					t.Errorf("Server = %+v", s)
				}
				if p.MaxIdleConnsPerHost != 1024 || p.IdleConnTimeout != 0 || p.DialTimeout != 2*time.Second ||
					p.KeepAlive != 15*time.Second || p.UpstreamTimeout != 30*time.Minute || p.EmbedConcurrency != 32 {
					t.Errorf("Pool = %+v", p)
				}
			},
		},
		{
			name:    "the LITELLM_ prefix works for Strata's own names too",
			environ: map[string]string{"LITELLM_STRATA_ADDR": "127.0.0.1:6000"},
			check: func(t *testing.T, c *Config) {
				if c.Server.Addr != "127.0.0.1:6000" {
					t.Errorf("Addr = %q", c.Server.Addr)
				}
			},
		},
		{
			name:    "values are trimmed",
			environ: map[string]string{"CHAT_MODEL": "  us.amazon.nova-lite-v1:0\n", "MAX_RETRY": " 3 "},
			check: func(t *testing.T, c *Config) {
				if c.LLM.ChatModel != "us.amazon.nova-lite-v1:0" || c.LLM.MaxRetry != 3 {
					t.Errorf("ChatModel = %q, MaxRetry = %d", c.LLM.ChatModel, c.LLM.MaxRetry)
				}
			},
		},
		{
			name:    "a set but empty variable takes its default",
			environ: map[string]string{"CHAT_MODEL": "", "CHAT_TEMPERATURE": " ", "CHAT_MAX_TOKENS": "", "CHAT_MODEL_MAP": ""},
			check: func(t *testing.T, c *Config) {
				if c.LLM.ChatModel != "us.amazon.nova-micro-v1:0" || c.LLM.Temperature != 0.5 || c.LLM.MaxTokens != nil || c.LLM.ModelMap != nil {
					t.Errorf("LLM = %+v", c.LLM)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(tt.environ, emptyEnv(t))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ map[string]string
		file    string
		want    string // CHAT_MODEL, or AWS_REGION for the alias cases
		region  bool
	}{
		{name: "the file alone", file: "CHAT_MODEL=file", want: "file"},
		{name: "the environment over the file", environ: map[string]string{"CHAT_MODEL": "env"}, file: "CHAT_MODEL=file", want: "env"},
		{name: "the environment's plain name over the file's LITELLM_ name", environ: map[string]string{"CHAT_MODEL": "env"}, file: "LITELLM_CHAT_MODEL=file", want: "env"},
		{name: "LITELLM_ over plain in the environment", environ: map[string]string{"CHAT_MODEL": "plain", "LITELLM_CHAT_MODEL": "prefixed"}, want: "prefixed"},
		{name: "LITELLM_ over plain in the file", file: "LITELLM_CHAT_MODEL=prefixed\nCHAT_MODEL=plain", want: "prefixed"},
		{name: "an empty LITELLM_ value falls back to the plain name", environ: map[string]string{"LITELLM_CHAT_MODEL": "", "CHAT_MODEL": "plain"}, want: "plain"},
		{name: "an empty environment value falls back to the file", environ: map[string]string{"CHAT_MODEL": ""}, file: "CHAT_MODEL=file", want: "file"},
		{name: "an empty file value takes the default", file: "CHAT_MODEL=", want: "us.amazon.nova-micro-v1:0"},
		{name: "names are case-sensitive", environ: map[string]string{"chat_model": "lower"}, want: "us.amazon.nova-micro-v1:0"},
		{name: "the canonical name over its aliases", region: true, environ: map[string]string{"AWS_REGION": "eu-west-1", "AWS_REGION_NAME": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-3"}, want: "eu-west-1"},
		{name: "the first alias over the next", region: true, environ: map[string]string{"AWS_REGION_NAME": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-3"}, want: "eu-west-2"},
		{name: "the last alias", region: true, environ: map[string]string{"AWS_DEFAULT_REGION": "eu-west-3"}, want: "eu-west-3"},
		{name: "an alias with LITELLM_ over the alias", region: true, environ: map[string]string{"AWS_REGION_NAME": "eu-west-2", "LITELLM_AWS_REGION_NAME": "ap-south-1"}, want: "ap-south-1"},
		{name: "an alias in the environment over the canonical name in the file", region: true, environ: map[string]string{"AWS_REGION_NAME": "eu-west-2"}, file: "AWS_REGION=eu-west-1", want: "eu-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(tt.environ, writeEnv(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.LLM.ChatModel
			if tt.region {
				got = cfg.AWS.Region
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name    string
		environ map[string]string
		want    []string
	}{
		{"temperature not a number", map[string]string{"CHAT_TEMPERATURE": "hot"}, []string{`CHAT_TEMPERATURE: "hot" is not a number between 0 and 1`}},
		{"temperature too high", map[string]string{"CHAT_TEMPERATURE": "1.5"}, []string{`CHAT_TEMPERATURE: "1.5" is not a number between 0 and 1`}},
		{"temperature NaN", map[string]string{"CHAT_TEMPERATURE": "NaN"}, []string{`CHAT_TEMPERATURE: "NaN" is not a number between 0 and 1`}},
		{"the message names the variable read", map[string]string{"LITELLM_CHAT_TEMPERATURE": "-1"}, []string{`LITELLM_CHAT_TEMPERATURE: "-1" is not a number between 0 and 1`}},
		{"max tokens zero", map[string]string{"CHAT_MAX_TOKENS": "0"}, []string{`CHAT_MAX_TOKENS: "0" is not a whole number of at least 1`}},
		{"max tokens not whole", map[string]string{"CHAT_MAX_TOKENS": "4k"}, []string{`CHAT_MAX_TOKENS: "4k" is not a whole number of at least 1`}},
		{"max retry zero", map[string]string{"MAX_RETRY": "0"}, []string{`MAX_RETRY: "0" is not a whole number of at least 1`}},
		{"retry wait negative", map[string]string{"RETRY_WAIT_SECONDS": "-1"}, []string{`RETRY_WAIT_SECONDS: "-1" is not a number of seconds of at least 0`}},
		{"retry wait not a number", map[string]string{"RETRY_WAIT_SECONDS": "soon"}, []string{`RETRY_WAIT_SECONDS: "soon" is not a number of seconds of at least 0`}},
		{"retry max wait below retry wait", map[string]string{"RETRY_WAIT_SECONDS": "30"}, []string{`RETRY_MAX_WAIT_SECONDS: must be at least RETRY_WAIT_SECONDS (30 s), but is 20 s`}},
		{"embedding batch zero", map[string]string{"EMBEDDING_MAX_STR_NUM": "0"}, []string{`EMBEDDING_MAX_STR_NUM: "0" is not a whole number of at least 1`}},
		{"budget below Claude's minimum", map[string]string{"REASONING_BUDGET_LOW": "512"}, []string{`REASONING_BUDGET_LOW: "512" is not a whole number of at least 1024`}},
		{"boolean", map[string]string{"LOG_LLM_CHAT_CONTENT": "maybe"}, []string{`LOG_LLM_CHAT_CONTENT: "maybe" is not true or false`}},
		{"model map entries", map[string]string{"CHAT_MODEL_MAP": `{"a": {"temperature": "0.1"}, "b": {"model": ""}}`}, []string{`CHAT_MODEL_MAP: entry "a": has no model`, `CHAT_MODEL_MAP: entry "b": model is empty`}},
		{"model map syntax", map[string]string{"LITELLM_CHAT_MODEL_MAP": `{"a": {"model": "m"},}`}, []string{`LITELLM_CHAT_MODEL_MAP: is not a JSON object of entries: invalid character '}' looking for beginning of object key string at line 1, column 22`}},
		{"region", map[string]string{"AWS_REGION_NAME": "US East"}, []string{`AWS_REGION_NAME: "US East" is not an AWS region such as us-east-1`}},
		{"access key without secret", map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}, []string{`AWS_SECRET_ACCESS_KEY: is not set, but AWS_ACCESS_KEY_ID is: set both or neither`}},
		{"secret without access key", map[string]string{"AWS_SECRET_ACCESS_KEY": "s"}, []string{`AWS_ACCESS_KEY_ID: is not set, but AWS_SECRET_ACCESS_KEY is: set both or neither`}},
		{"session token alone", map[string]string{"AWS_SESSION_TOKEN": "t"}, []string{`AWS_SESSION_TOKEN: needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`}},
		{"role name instead of ARN", map[string]string{"AWS_ROLE_NAME": "BedrockRole"}, []string{`AWS_ROLE_NAME: "BedrockRole" is not an IAM role ARN such as arn:aws:iam::123456789012:role/name`}},
		{
			"role settings without a role",
			map[string]string{"AWS_SESSION_NAME": "s", "AWS_EXTERNAL_ID": "e", "AWS_WEB_IDENTITY_TOKEN_FILE": "/token"},
			[]string{`AWS_SESSION_NAME: needs AWS_ROLE_ARN, the role to assume`, `AWS_EXTERNAL_ID: needs AWS_ROLE_ARN, the role to assume`, `AWS_WEB_IDENTITY_TOKEN_FILE: needs AWS_ROLE_ARN, the role to assume`},
		},
		{"endpoint scheme", map[string]string{"API_BASE": "ftp://bedrock.example.com"}, []string{`API_BASE: "ftp://bedrock.example.com" is not an endpoint URL such as https://bedrock-runtime.us-east-1.amazonaws.com`}},
		{"endpoint with a query", map[string]string{"API_BASE": "https://bedrock.example.com/?x=1"}, []string{`API_BASE: "https://bedrock.example.com/?x=1" is not an endpoint URL such as https://bedrock-runtime.us-east-1.amazonaws.com (no query or fragment)`}},
		{"endpoint with user info", map[string]string{"AWS_BEDROCK_RUNTIME_ENDPOINT": "https://user:pass@bedrock.example.com"}, []string{`AWS_BEDROCK_RUNTIME_ENDPOINT: must not hold user info (user:password@): use API_KEY or AWS credentials`}},
		{"listen address", map[string]string{"STRATA_ADDR": "localhost"}, []string{`STRATA_ADDR: "localhost" is not a listen address such as :50051 or 127.0.0.1:50051`}},
		{"listen address with a named port", map[string]string{"STRATA_ADDR": ":grpc"}, []string{`STRATA_ADDR: ":grpc" is not a listen address such as :50051 or 127.0.0.1:50051`}},
		{"TLS cert without key", map[string]string{"STRATA_TLS_CERT": missing}, []string{
			`STRATA_TLS_KEY: is not set, but STRATA_TLS_CERT is: set both for TLS, or neither for plaintext`,
			`STRATA_TLS_CERT: cannot read "` + missing + `": no such file or directory`,
		}},
		{"TLS key without cert", map[string]string{"STRATA_TLS_KEY": missing}, []string{
			`STRATA_TLS_CERT: is not set, but STRATA_TLS_KEY is: set both for TLS, or neither for plaintext`,
			`STRATA_TLS_KEY: cannot read "` + missing + `": no such file or directory`,
		}},
		{"message size", map[string]string{"STRATA_MAX_RECV_MSG_BYTES": "10"}, []string{`STRATA_MAX_RECV_MSG_BYTES: "10" is not a whole number of at least 1024`}},
		{"keepalive below gRPC's floor", map[string]string{"STRATA_KEEPALIVE_TIME": "500ms"}, []string{`STRATA_KEEPALIVE_TIME: "500ms" is not a duration of at least 1s (such as 30s, 1m30s, or 90 for seconds)`}},
		{"negative duration", map[string]string{"STRATA_SHUTDOWN_TIMEOUT": "-1s"}, []string{`STRATA_SHUTDOWN_TIMEOUT: "-1s" is not a duration of at least 0 (such as 30s, 1m30s, or 90 for seconds)`}},
		{"log level", map[string]string{"STRATA_LOG_LEVEL": "verbose"}, []string{`STRATA_LOG_LEVEL: "verbose" is not one of debug, info, warn, error`}},
		{"log format", map[string]string{"STRATA_LOG_FORMAT": "xml"}, []string{`STRATA_LOG_FORMAT: "xml" is not one of json, text`}},
		{"dial timeout zero", map[string]string{"STRATA_HTTP_DIAL_TIMEOUT": "0"}, []string{`STRATA_HTTP_DIAL_TIMEOUT: "0" is not a duration of at least 1ms (such as 30s, 1m30s, or 90 for seconds)`}},
		{"upstream timeout", map[string]string{"STRATA_UPSTREAM_TIMEOUT": "forever"}, []string{`STRATA_UPSTREAM_TIMEOUT: "forever" is not a duration of at least 1s (such as 30s, 1m30s, or 90 for seconds)`}},
		{"idle conns", map[string]string{"STRATA_HTTP_MAX_IDLE_CONNS_PER_HOST": "-1"}, []string{`STRATA_HTTP_MAX_IDLE_CONNS_PER_HOST: "-1" is not a whole number of at least 1`}},
		{"embed concurrency", map[string]string{"STRATA_EMBED_CONCURRENCY": "0"}, []string{`STRATA_EMBED_CONCURRENCY: "0" is not a whole number of at least 1`}},
		{"long values are shortened", map[string]string{"CHAT_TEMPERATURE": strings.Repeat("9", 100)}, []string{`CHAT_TEMPERATURE: "` + strings.Repeat("9", 64) + `…" is not a number between 0 and 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(tt.environ, emptyEnv(t))
			if cfg != nil {
				t.Errorf("Load returned a config with an error")
			}
			if got := problems(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidationReportsEverythingInOneError(t *testing.T) {
	t.Parallel()
	path := writeEnv(t, "# broken file\nMAX_RETRY=zero\nCHAT_MODEL_MAP='{\"a\": {\"model\": \"m\"}}\nEMBEDDING_MAX_STR_NUM=0 # too few\n")
	_, err := Load(map[string]string{"CHAT_TEMPERATURE": "hot", "STRATA_LOG_FORMAT": "xml", "AWS_SESSION_TOKEN": "t"}, path)
	want := "invalid configuration:\n" +
		"  " + path + ":3: the single-quoted value of CHAT_MODEL_MAP is not closed\n" +
		`  CHAT_TEMPERATURE: "hot" is not a number between 0 and 1` + "\n" +
		`  MAX_RETRY: "zero" is not a whole number of at least 1 (set in ` + path + ")\n" +
		`  EMBEDDING_MAX_STR_NUM: "0" is not a whole number of at least 1 (set in ` + path + ")\n" +
		`  STRATA_LOG_FORMAT: "xml" is not one of json, text` + "\n" +
		`  AWS_SESSION_TOKEN: needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	path := writeEnv(t, `CHAT_MODEL_MAP='{"a": {"model": "m", "presence_penalty": "0.9", "reasoning_effort": "max"}}'`)
	cfg, err := Load(map[string]string{"LITELLM_REASONING_EFFORT": "hgih"}, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`LITELLM_REASONING_EFFORT: "hgih" is not low, medium or high, so reasoning is off`,
		`CHAT_MODEL_MAP: entry "a": reasoning_effort "max" is not low, medium or high, so reasoning is off (set in ` + path + ")",
		`CHAT_MODEL_MAP: entry "a": unknown field "presence_penalty" is ignored (set in ` + path + ")",
	}
	if !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if cfg.LLM.ReasoningEffort != "" || cfg.LLM.ModelMap[0].ReasoningEffort != "" {
		t.Errorf("efforts = %q, %q; want off", cfg.LLM.ReasoningEffort, cfg.LLM.ModelMap[0].ReasoningEffort)
	}
}

func TestTLSFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for _, p := range []string{cert, key} {
		if err := os.WriteFile(p, []byte("pem"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Load(map[string]string{"STRATA_TLS_CERT": cert, "STRATA_TLS_KEY": key}, emptyEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.TLSCert != cert || cfg.Server.TLSKey != key {
		t.Errorf("Server = %+v", cfg.Server)
	}
	_, err = Load(map[string]string{"STRATA_TLS_CERT": dir, "STRATA_TLS_KEY": key}, emptyEnv(t))
	if got, want := problems(t, err), []string{`STRATA_TLS_CERT: "` + dir + `" is a directory, not a PEM file`}; !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

func TestEnvFileExplicitMissing(t *testing.T) {
	t.Parallel()
	_, err := Load(nil, filepath.Join(t.TempDir(), "nope.env"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want fs.ErrNotExist", err)
	}
	var cerr *Error
	if errors.As(err, &cerr) {
		t.Errorf("a missing file is not a validation problem: %v", err)
	}
}

// TestEnvFileDefault changes the working directory, so it cannot run in parallel.
func TestEnvFileDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	cfg, err := Load(map[string]string{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EnvFile != "" || cfg.LLM.ChatModel != "us.amazon.nova-micro-v1:0" {
		t.Errorf("without ./.env: EnvFile = %q, ChatModel = %q", cfg.EnvFile, cfg.LLM.ChatModel)
	}

	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("CHAT_MODEL=from-dot-env\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(map[string]string{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EnvFile != ".env" || cfg.LLM.ChatModel != "from-dot-env" {
		t.Errorf("with ./.env: EnvFile = %q, ChatModel = %q", cfg.EnvFile, cfg.LLM.ChatModel)
	}

	if err := os.Remove(".env"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(".env", 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(map[string]string{}, ""); err == nil {
		t.Error("./.env is a directory: want an error")
	}
}

// TestIgnoresProcessEnvironment proves Load reads only the map it is given: caarlos0/env falls back
// to os.Environ when handed a nil map. It sets a real variable, so it cannot run in parallel.
func TestIgnoresProcessEnvironment(t *testing.T) {
	t.Setenv("CHAT_MODEL", "from-the-process")
	t.Setenv("LITELLM_CHAT_MODEL", "from-the-process")
	for _, environ := range []map[string]string{nil, {}} {
		cfg, err := Load(environ, emptyEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.LLM.ChatModel != "us.amazon.nova-micro-v1:0" {
			t.Errorf("Load(%v) read the process environment: ChatModel = %q", environ, cfg.LLM.ChatModel)
		}
	}
	if got := Defaults().LLM.ChatModel; got != "us.amazon.nova-micro-v1:0" {
		t.Errorf("Defaults read the process environment: ChatModel = %q", got)
	}
}
