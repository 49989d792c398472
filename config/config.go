// Package config is Strata's configuration: one struct per concern (LLM, AWS, Server, Pool), read
// from the process environment and an optional .env file, and validated in one pass.
//
// Every variable is read as LITELLM_<NAME> first, then <NAME>, so the .env an RD-Agent user already
// has (RD-Agent's LiteLLM backend reads its settings with the LITELLM_ prefix and falls back to the
// plain names) works as is. Some settings also accept the names LiteLLM users know (AWS_REGION_NAME,
// AWS_BEDROCK_RUNTIME_ENDPOINT, ...); those aliases are listed on each field.
//
// Precedence, highest first:
//
//  1. the process environment: LITELLM_<NAME>, <NAME>, then each alias (LITELLM_ form first);
//  2. the .env file, in the same order.
//
// So the real environment always wins over the file, and within one source the LITELLM_ name wins
// over the plain one and the canonical name over its aliases. A variable that is set but empty (or
// only whitespace) counts as unset, so it takes its default. Names are case-sensitive. Names Strata
// does not know (RD-Agent's BACKEND, CHAT_STREAM, ...) are ignored.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is Strata's whole configuration. Build it with [Load] (or [Defaults] in tests); a Config
// that Load returned has passed validation.
//
// Config implements [fmt.Stringer] and [slog.LogValuer] with every secret redacted, so it is safe
// to print or log whole.
type Config struct {
	LLM    LLM
	AWS    AWS
	Server Server
	Pool   Pool

	// EnvFile is the path of the .env file that was read, or "" when none was.
	EnvFile string `env:"-"`
	// Warnings are settings that were accepted but probably do not do what was meant (an unknown
	// reasoning effort, an unknown field in a CHAT_MODEL_MAP entry, ...), one line each, naming the
	// variable. Log them at start-up.
	Warnings []string `env:"-"`
}

// LLM holds the model defaults, the tag-to-model map, retries and logging of calls: the settings
// RD-Agent's LLM layer has, under the same names.
type LLM struct {
	// ChatModel is the chat model used when a request names none and no CHAT_MODEL_MAP key matches
	// its tag. Env CHAT_MODEL; default "us.amazon.nova-micro-v1:0" (cheap, and served by the
	// emulator). Any form the service resolves is accepted: a Bedrock id, an inference profile, an
	// ARN, a LiteLLM name such as bedrock/<id>, or a friendly name; it is not resolved here.
	ChatModel string `env:"CHAT_MODEL" envDefault:"us.amazon.nova-micro-v1:0"`

	// EmbeddingModel is the default embedding model. Env EMBEDDING_MODEL; default
	// "amazon.titan-embed-text-v2:0".
	EmbeddingModel string `env:"EMBEDDING_MODEL" envDefault:"amazon.titan-embed-text-v2:0"`

	// Temperature is the default sampling temperature. Env CHAT_TEMPERATURE; default 0.5
	// (RD-Agent's); between 0 and 1.
	Temperature float64 `env:"CHAT_TEMPERATURE" envDefault:"0.5" min:"0" max:"1"`

	// MaxTokens caps the tokens of a reply. Env CHAT_MAX_TOKENS; default unset (nil), which leaves
	// the model's own default; at least 1.
	MaxTokens *int `env:"CHAT_MAX_TOKENS" min:"1"`

	// ReasoningEffort is the default reasoning effort: "low", "medium", "high", or "" for off.
	// Env REASONING_EFFORT; default off. As in RD-Agent any other value means off (Strata also
	// accepts any letter case, and warns about values other than none/off).
	ReasoningEffort string `env:"REASONING_EFFORT"`

	// ModelMap routes requests by tag to a model and its parameters. Env CHAT_MODEL_MAP; default
	// empty. See [ModelMap] for the format and the matching rule.
	ModelMap ModelMap `env:"CHAT_MODEL_MAP"`

	// InferenceProfileRouting says what happens to the bare id of a model Bedrock serves only
	// through inference profiles: "auto" calls the profile of AWS_REGION's geography (us., eu.,
	// apac., ...), as Bedrock refuses the bare id ("on-demand throughput isn't supported"); "off"
	// sends the id as written. Env INFERENCE_PROFILE_ROUTING; default "auto".
	InferenceProfileRouting string `env:"INFERENCE_PROFILE_ROUTING" envDefault:"auto" oneof:"auto,off"`

	// PreferGlobalProfiles routes those models to their global. profile first, where they have
	// one. Env PREFER_GLOBAL_PROFILES; default false.
	PreferGlobalProfiles bool `env:"PREFER_GLOBAL_PROFILES" envDefault:"false"`

	// LogChatContent puts prompts and replies in the per-call log line. Env LOG_LLM_CHAT_CONTENT;
	// default false. RD-Agent's default is true; Strata's is false because a gateway logs for many
	// callers, and their prompts may hold secrets and personal data that must not end up in a log
	// pipeline nobody reviewed.
	LogChatContent bool `env:"LOG_LLM_CHAT_CONTENT" envDefault:"false"`

	// MaxRetry is the number of attempts per call, the first included, for retryable Bedrock
	// errors. Env MAX_RETRY; default 10 (RD-Agent's); at least 1 (1 means no retry).
	MaxRetry int `env:"MAX_RETRY" envDefault:"10" min:"1"`

	// RetryWait is the base of the exponential backoff between attempts. Env RETRY_WAIT_SECONDS,
	// in seconds, fractions allowed ("0.25"); default 1 (RD-Agent's); at least 0.
	RetryWait time.Duration `env:"RETRY_WAIT_SECONDS" envDefault:"1" min:"0" expect:"a number of seconds"`

	// RetryMaxWait caps one backoff wait. Env RETRY_MAX_WAIT_SECONDS, in seconds, fractions
	// allowed; default 20; at least RETRY_WAIT_SECONDS.
	RetryMaxWait time.Duration `env:"RETRY_MAX_WAIT_SECONDS" envDefault:"20" min:"0" expect:"a number of seconds"`

	// CacheBackend is the response cache: "none", "memory" (in this process), or a Redis URL
	// (redis://host:port/db, rediss:// for TLS) that replicas share. Env CACHE_BACKEND; default
	// "none". The URL may hold a password: it is never logged.
	CacheBackend Secret `env:"CACHE_BACKEND" envDefault:"none"`

	// CacheTTL is how long a cached reply is served. Env CACHE_TTL, in seconds, fractions
	// allowed; default 3600.
	CacheTTL time.Duration `env:"CACHE_TTL" envDefault:"3600" min:"0" expect:"a number of seconds"`

	// CacheMaxEntries bounds the memory cache's replies. Env CACHE_MAX_ENTRIES; default 10000.
	CacheMaxEntries int `env:"CACHE_MAX_ENTRIES" envDefault:"10000" min:"1"`

	// CacheMaxBytes bounds the memory cache's bytes. Env CACHE_MAX_BYTES; default 67108864 (64 MiB).
	CacheMaxBytes int `env:"CACHE_MAX_BYTES" envDefault:"67108864" min:"1024"`

	// UseChatCache reads chat replies from the cache (RD-Agent's use_chat_cache), when
	// CACHE_BACKEND is set. Env USE_CHAT_CACHE; default true.
	UseChatCache bool `env:"USE_CHAT_CACHE" envDefault:"true"`

	// DumpChatCache writes chat replies to the cache (RD-Agent's dump_chat_cache), when
	// CACHE_BACKEND is set. Env DUMP_CHAT_CACHE; default true.
	DumpChatCache bool `env:"DUMP_CHAT_CACHE" envDefault:"true"`

	// UseEmbeddingCache reads vectors from the cache, text by text (RD-Agent's
	// use_embedding_cache), when CACHE_BACKEND is set. Env USE_EMBEDDING_CACHE; default true.
	UseEmbeddingCache bool `env:"USE_EMBEDDING_CACHE" envDefault:"true"`

	// DumpEmbeddingCache writes vectors to the cache (RD-Agent's dump_embedding_cache), when
	// CACHE_BACKEND is set. Env DUMP_EMBEDDING_CACHE; default true.
	DumpEmbeddingCache bool `env:"DUMP_EMBEDDING_CACHE" envDefault:"true"`

	// ModelLimits are limits per model: calls at once, requests and tokens per minute, to stay
	// within Bedrock's quotas. Env MODEL_LIMITS; default none. See [ModelLimits].
	ModelLimits ModelLimits `env:"MODEL_LIMITS"`

	// LimitsBackend is where the requests- and tokens-per-minute limits (MODEL_LIMITS and the tag
	// map's "limits") are kept: "local" (each replica enforces them alone) or a Redis URL
	// (redis://host:port/db, rediss:// for TLS) that replicas share, so that the limits hold for
	// all of them together, as Bedrock's quotas do. Env LIMITS_BACKEND; default "local". The URL
	// may hold a password: it is never logged.
	LimitsBackend Secret `env:"LIMITS_BACKEND" envDefault:"local"`

	// CircuitBreakerFailures is how many calls to a model in a row must fail with errors retrying
	// could fix (after their retries) for its circuit to open: calls to it then fail at once, or go
	// to the route's fallback, until a probe succeeds. Env CIRCUIT_BREAKER_FAILURES; default 5;
	// 0 turns circuit breaking off.
	CircuitBreakerFailures int `env:"CIRCUIT_BREAKER_FAILURES" envDefault:"5" min:"0"`

	// CircuitBreakerCooldown is how long an open circuit rests before a probe is let through.
	// Env CIRCUIT_BREAKER_COOLDOWN_SECONDS, in seconds, fractions allowed; default 30.
	CircuitBreakerCooldown time.Duration `env:"CIRCUIT_BREAKER_COOLDOWN_SECONDS" envDefault:"30" min:"0" expect:"a number of seconds"`

	// EmbeddingMaxStrNum is the most texts sent to Bedrock in one embedding call (Cohere batches
	// are also capped by the model's own limit). Env EMBEDDING_MAX_STR_NUM; default 50
	// (RD-Agent's); at least 1.
	EmbeddingMaxStrNum int `env:"EMBEDDING_MAX_STR_NUM" envDefault:"50" min:"1"`

	// ReasoningBudgetLow is the Claude thinking budget, in tokens, for reasoning effort "low".
	// Env REASONING_BUDGET_LOW; default 1024, the least Claude accepts; at least 1024.
	ReasoningBudgetLow int `env:"REASONING_BUDGET_LOW" envDefault:"1024" min:"1024"`

	// ReasoningBudgetMedium is the Claude thinking budget for effort "medium".
	// Env REASONING_BUDGET_MEDIUM; default 4096; at least 1024.
	ReasoningBudgetMedium int `env:"REASONING_BUDGET_MEDIUM" envDefault:"4096" min:"1024"`

	// ReasoningBudgetHigh is the Claude thinking budget for effort "high".
	// Env REASONING_BUDGET_HIGH; default 16384; at least 1024.
	ReasoningBudgetHigh int `env:"REASONING_BUDGET_HIGH" envDefault:"16384" min:"1024"`
}

// ReasoningBudget returns the thinking budget configured for a normalised effort ("low",
// "medium", "high"), or 0 for any other value, which means off.
func (l LLM) ReasoningBudget(effort string) int {
	switch effort {
	case EffortLow:
		return l.ReasoningBudgetLow
	case EffortMedium:
		return l.ReasoningBudgetMedium
	case EffortHigh:
		return l.ReasoningBudgetHigh
	}
	return 0
}

// AWS holds how Strata reaches Bedrock: region, endpoint and credentials. Unset credentials leave
// the SDK's default chain (environment, shared config and profile, web identity, ECS, IMDS).
type AWS struct {
	// Region is the Bedrock region. Env AWS_REGION, aliases AWS_REGION_NAME (LiteLLM) and
	// AWS_DEFAULT_REGION (AWS CLI); default "us-east-1".
	Region string `env:"AWS_REGION" alias:"AWS_REGION_NAME,AWS_DEFAULT_REGION" envDefault:"us-east-1"`

	// AccessKeyID is a static access key id; set with SecretAccessKey or not at all.
	// Env AWS_ACCESS_KEY_ID; default unset. Printed masked to its last four characters.
	AccessKeyID string `env:"AWS_ACCESS_KEY_ID" mask:"last4"`

	// SecretAccessKey is the static secret key. Env AWS_SECRET_ACCESS_KEY; default unset.
	SecretAccessKey Secret `env:"AWS_SECRET_ACCESS_KEY"`

	// SessionToken is the session token of temporary static credentials. Env AWS_SESSION_TOKEN;
	// default unset; needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	SessionToken Secret `env:"AWS_SESSION_TOKEN"`

	// Profile is the shared config profile to use. Env AWS_PROFILE; default unset (the SDK's
	// "default" profile).
	Profile string `env:"AWS_PROFILE"`

	// RoleARN is a role to assume: with WebIdentityTokenFile, by web identity (EKS IRSA);
	// otherwise with STS AssumeRole on top of the other credentials. Env AWS_ROLE_ARN, alias
	// AWS_ROLE_NAME (LiteLLM's aws_role_name, which is an ARN too); default unset.
	RoleARN string `env:"AWS_ROLE_ARN" alias:"AWS_ROLE_NAME"`

	// RoleSessionName names the assumed role's session. Env AWS_ROLE_SESSION_NAME, alias
	// AWS_SESSION_NAME (LiteLLM); default unset (the SDK picks one); needs AWS_ROLE_ARN.
	RoleSessionName string `env:"AWS_ROLE_SESSION_NAME" alias:"AWS_SESSION_NAME"`

	// ExternalID is the external id AssumeRole passes. Env AWS_EXTERNAL_ID; default unset; needs
	// AWS_ROLE_ARN.
	ExternalID string `env:"AWS_EXTERNAL_ID"`

	// WebIdentityTokenFile is the OIDC token file for AssumeRoleWithWebIdentity.
	// Env AWS_WEB_IDENTITY_TOKEN_FILE; default unset; needs AWS_ROLE_ARN.
	WebIdentityTokenFile string `env:"AWS_WEB_IDENTITY_TOKEN_FILE"`

	// APIKey is a Bedrock API key, sent as a bearer token instead of SigV4 signing.
	// Env API_KEY, alias AWS_BEARER_TOKEN_BEDROCK (the AWS SDKs' name); default unset.
	APIKey Secret `env:"API_KEY" alias:"AWS_BEARER_TOKEN_BEDROCK"`

	// APIBase overrides the Bedrock Runtime endpoint (a VPC endpoint, a proxy, the emulator).
	// Env API_BASE, alias AWS_BEDROCK_RUNTIME_ENDPOINT (LiteLLM); default unset (the regional
	// endpoint). Normalised: a bare host gets https://, a trailing slash is dropped; it must be an
	// http or https URL without user info, query or fragment.
	APIBase string `env:"API_BASE" alias:"AWS_BEDROCK_RUNTIME_ENDPOINT"`
}

// Server holds the gRPC server's settings. Strata's own settings carry the STRATA_ prefix.
type Server struct {
	// Addr is the listen address. Env STRATA_ADDR; default ":50051". A bare port ("50051") is
	// taken as ":50051"; the port must be numeric (Kubernetes gRPC probes need one).
	Addr string `env:"STRATA_ADDR" envDefault:":50051"`

	// TLSCert is the PEM certificate file for TLS; set with TLSKey or not at all (plaintext).
	// Env STRATA_TLS_CERT; default unset.
	TLSCert string `env:"STRATA_TLS_CERT"`

	// TLSKey is the PEM private key file for TLS. Env STRATA_TLS_KEY; default unset.
	TLSKey string `env:"STRATA_TLS_KEY"`

	// MaxRecvMsgBytes is the largest request accepted, in bytes. Env STRATA_MAX_RECV_MSG_BYTES;
	// default 33554432 (32 MiB: gRPC's 4 MiB default is too small for images and documents);
	// at least 1024.
	MaxRecvMsgBytes int `env:"STRATA_MAX_RECV_MSG_BYTES" envDefault:"33554432" min:"1024"`

	// MaxInFlight bounds the calls the server runs at once; beyond it a new call is refused at
	// once with RESOURCE_EXHAUSTED and a RetryInfo, so that memory stays flat and the caller can
	// go to another replica. Health checks are never refused. Env STRATA_MAX_IN_FLIGHT; default
	// 2048 (about 200 MB of memory at the bound); 0 means no bound.
	MaxInFlight int `env:"STRATA_MAX_IN_FLIGHT" envDefault:"2048" min:"0"`

	// KeepaliveTime is how long a connection is idle before the server pings the client.
	// Env STRATA_KEEPALIVE_TIME; default 2h (gRPC's); at least 1s (gRPC's floor).
	KeepaliveTime time.Duration `env:"STRATA_KEEPALIVE_TIME" envDefault:"2h" min:"1s"`

	// KeepaliveTimeout is how long the server waits for a ping's answer before closing.
	// Env STRATA_KEEPALIVE_TIMEOUT; default 20s (gRPC's); at least 1s.
	KeepaliveTimeout time.Duration `env:"STRATA_KEEPALIVE_TIMEOUT" envDefault:"20s" min:"1s"`

	// MaxConnectionAge closes connections after this long so clients reconnect and load spreads
	// across replicas behind an L4 balancer. Env STRATA_MAX_CONNECTION_AGE; default 30m; 0 means
	// never.
	MaxConnectionAge time.Duration `env:"STRATA_MAX_CONNECTION_AGE" envDefault:"30m" min:"0"`

	// MaxConnectionAgeGrace lets calls in flight finish after MaxConnectionAge.
	// Env STRATA_MAX_CONNECTION_AGE_GRACE; default 30s; at least 0.
	MaxConnectionAgeGrace time.Duration `env:"STRATA_MAX_CONNECTION_AGE_GRACE" envDefault:"30s" min:"0"`

	// ShutdownDrainDelay is how long the server keeps serving after reporting NOT_SERVING, so load
	// balancers stop sending new calls first. Env STRATA_SHUTDOWN_DRAIN_DELAY; default 2s; at least 0.
	ShutdownDrainDelay time.Duration `env:"STRATA_SHUTDOWN_DRAIN_DELAY" envDefault:"2s" min:"0"`

	// ShutdownTimeout bounds the graceful stop; then the server stops hard.
	// Env STRATA_SHUTDOWN_TIMEOUT; default 15s; at least 0.
	ShutdownTimeout time.Duration `env:"STRATA_SHUTDOWN_TIMEOUT" envDefault:"15s" min:"0"`

	// LogLevel is the least severe level logged. Env STRATA_LOG_LEVEL: debug, info, warn or error
	// (any case; slog's "info+2" forms work too); default info.
	LogLevel slog.Level `env:"STRATA_LOG_LEVEL" envDefault:"info" expect:"one of debug, info, warn, error"`

	// LogFormat is "json" or "text" (normalised to lower case). Env STRATA_LOG_FORMAT; default json.
	LogFormat string `env:"STRATA_LOG_FORMAT" envDefault:"json" oneof:"json,text"`

	// DebugAddr, when set, serves Go's runtime profiles (/debug/pprof/) and the live goroutine
	// count (/debug/goroutines) on this address, apart from the gRPC port so it is never exposed
	// with it; `strata bench` reads it from a server it runs as a separate process.
	// Env STRATA_DEBUG_ADDR; default unset (off). Keep it on loopback: profiles show internals.
	DebugAddr string `env:"STRATA_DEBUG_ADDR"`
}

// Pool sizes the one HTTP transport every Bedrock call shares, and bounds the work of one call.
type Pool struct {
	// MaxIdleConnsPerHost is how many idle connections to Bedrock are kept per host (the SDK's
	// default of 10 is too few for a gateway). Env STRATA_HTTP_MAX_IDLE_CONNS_PER_HOST; default 256;
	// at least 1.
	MaxIdleConnsPerHost int `env:"STRATA_HTTP_MAX_IDLE_CONNS_PER_HOST" envDefault:"256" min:"1"`

	// IdleConnTimeout closes connections idle this long. Env STRATA_HTTP_IDLE_CONN_TIMEOUT;
	// default 90s; 0 means the default.
	IdleConnTimeout time.Duration `env:"STRATA_HTTP_IDLE_CONN_TIMEOUT" envDefault:"90s" min:"0"`

	// DialTimeout bounds connecting to Bedrock. Env STRATA_HTTP_DIAL_TIMEOUT; default 10s;
	// at least 1ms.
	DialTimeout time.Duration `env:"STRATA_HTTP_DIAL_TIMEOUT" envDefault:"10s" min:"1ms"`

	// KeepAlive is the TCP keep-alive period of connections to Bedrock.
	// Env STRATA_HTTP_KEEPALIVE; default 30s; 0 means the default.
	KeepAlive time.Duration `env:"STRATA_HTTP_KEEPALIVE" envDefault:"30s" min:"0"`

	// UpstreamTimeout caps one Bedrock call, streams included, whatever the caller's deadline.
	// Env STRATA_UPSTREAM_TIMEOUT; default 10m (long reasoning replies take minutes); at least 1s.
	UpstreamTimeout time.Duration `env:"STRATA_UPSTREAM_TIMEOUT" envDefault:"10m" min:"1s"`

	// EmbedConcurrency bounds the concurrent calls of one Embed request to a one-text-per-call
	// model (Titan). Env STRATA_EMBED_CONCURRENCY; default 8; at least 1.
	EmbedConcurrency int `env:"STRATA_EMBED_CONCURRENCY" envDefault:"8" min:"1"`
}

// LiteLLMPrefix is the prefix read before every plain name, as RD-Agent's LiteLLM backend does.
const LiteLLMPrefix = "LITELLM_"

// DefaultEnvFile is the .env file Load reads when it is given no path and the file exists.
const DefaultEnvFile = ".env"

// Error is the error Load returns for invalid configuration: every problem found, one line each,
// naming the variable and what it expected. Secret values never appear in it.
type Error struct {
	Problems []string
}

// Error implements [error]: a header line, then one indented line per problem.
func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// Load reads the configuration from environ (the process environment as a map; tests pass
// literals) and a .env file, and validates it.
//
// envFile is the .env file to read; "" means [DefaultEnvFile] in the working directory when it
// exists (its absence is fine). An explicit path that cannot be read is an error, which wraps
// [fs.ErrNotExist] when the file is missing. Invalid settings, syntax errors in the file included,
// are returned together as one [*Error].
func Load(environ map[string]string, envFile string) (*Config, error) {
	file, err := readEnvFile(envFile, environ)
	if err != nil {
		return nil, err
	}
	return build(environ, file)
}

// Defaults returns the configuration with every setting at its default, reading neither the
// environment nor any file.
func Defaults() *Config {
	cfg, err := build(nil, nil)
	if err != nil {
		panic("config: the defaults are invalid: " + err.Error())
	}
	return cfg
}

// readEnvFile reads and parses the .env file; nil when there is none to read.
func readEnvFile(path string, environ map[string]string) (*envFile, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultEnvFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read env file: %w", err)
	}
	values, problems := parseDotenv(string(data), func(name string) (string, bool) {
		v, ok := environ[name]
		return v, ok
	})
	f := &envFile{path: path, values: values}
	for _, p := range problems {
		f.problems = append(f.problems, fmt.Sprintf("%s:%d: %s", path, p.line, p.msg))
	}
	return f, nil
}

// envFile is a parsed .env file, or the process environment when path is "".
type envFile struct {
	path     string
	values   map[string]string
	problems []string
}

// source says where a setting's value came from, for messages.
type source struct {
	name string // the variable actually read, such as LITELLM_CHAT_MODEL or AWS_REGION_NAME
	file string // the .env file it was set in, or "" for the process environment
}

// where is a suffix for messages about a value set in the file.
func (s source) where() string {
	if s.file == "" {
		return ""
	}
	return " (set in " + s.file + ")"
}

// loader carries one Load call's state: the values read, where each came from, and what is wrong.
type loader struct {
	cfg      *Config
	values   map[string]string // canonical name → value, only for settings that are set
	sources  map[string]source // canonical name → where its value came from
	bad      map[string]bool   // canonical names that already have a problem
	problems []string
	warnings []string
}

// problem records a problem with the setting whose canonical name is key.
func (l *loader) problem(key, format string, args ...any) {
	src, ok := l.sources[key]
	if !ok {
		src = source{name: key}
	}
	l.bad[key] = true
	l.problems = append(l.problems, src.name+": "+fmt.Sprintf(format, args...)+src.where())
}

// warn records a warning about the setting whose canonical name is key.
func (l *loader) warn(key, format string, args ...any) {
	src, ok := l.sources[key]
	if !ok {
		src = source{name: key}
	}
	l.warnings = append(l.warnings, src.name+": "+fmt.Sprintf(format, args...)+src.where())
}

// isSet reports whether the setting with canonical name key was given a value.
func (l *loader) isSet(key string) bool {
	_, ok := l.values[key]
	return ok
}

// build resolves every setting from the environment and the file, checks and parses them, and
// returns the Config or every problem found.
func build(environ map[string]string, file *envFile) (*Config, error) {
	l := &loader{
		cfg:     &Config{},
		values:  map[string]string{},
		sources: map[string]source{},
		bad:     map[string]bool{},
	}
	// The sources in order of precedence: the process environment, then the file.
	layers := []envFile{{values: environ}}
	if file != nil {
		l.cfg.EnvFile = file.path
		l.problems = append(l.problems, file.problems...)
		layers = append(layers, *file)
	}

	settings := settingsOf(reflect.TypeFor[Config]())
	for _, s := range settings {
	found:
		for _, layer := range layers {
			for _, name := range s.names() {
				if v := strings.TrimSpace(layer.values[name]); v != "" {
					l.values[s.key] = v
					l.sources[s.key] = source{name: name, file: layer.path}
					break found
				}
			}
		}
	}

	for _, s := range settings {
		if v, ok := l.values[s.key]; ok {
			l.check(s, v)
		}
	}

	// With the values checked, env only assigns them and the defaults: any error it still finds
	// is a bug here, reported without the value in case the value is a secret. CHAT_MODEL_MAP is
	// parsed in finish, once the reasoning effort its entries inherit is known.
	values := maps.Clone(l.values) // never nil: env reads os.Environ when given a nil map
	delete(values, "CHAT_MODEL_MAP")
	err := env.ParseWithOptions(l.cfg, env.Options{Environment: values, FuncMap: parsers()})
	if err != nil && len(l.problems) == 0 {
		var perr env.ParseError
		if errors.As(err, &perr) {
			l.problems = append(l.problems, fmt.Sprintf("field %s: the value could not be parsed", perr.Name))
		} else {
			l.problems = append(l.problems, "cannot parse the configuration")
		}
	}

	l.finish()

	l.cfg.Warnings = l.warnings
	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	return l.cfg, nil
}
