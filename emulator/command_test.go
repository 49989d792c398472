package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"go.uber.org/goleak"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	defaults := func(edit func(c *commandConfig)) *commandConfig {
		c := &commandConfig{addr: "127.0.0.1:4000", opts: Options{Region: "us-east-1"}, logLevel: "info", shutdownTimeout: 10 * time.Second}
		if edit != nil {
			edit(c)
		}
		return c
	}
	fullEnv := map[string]string{
		"STRATA_EMULATOR_ADDR":                 "0.0.0.0:9000",
		"STRATA_EMULATOR_ACCESS_KEY_ID":        "AKIDENV",
		"STRATA_EMULATOR_SECRET_ACCESS_KEY":    "env-secret",
		"STRATA_EMULATOR_API_KEYS":             " ABSKone, ABSKtwo,,ABSKthree ",
		"STRATA_EMULATOR_TLS_CERT":             "/etc/cert.pem",
		"STRATA_EMULATOR_TLS_KEY":              "/etc/key.pem",
		"STRATA_EMULATOR_TLS_SELF_SIGNED":      "/tmp/tls",
		"STRATA_EMULATOR_TTFT":                 "250ms",
		"STRATA_EMULATOR_TOKENS_PER_SECOND":    "40.5",
		"STRATA_EMULATOR_SEED":                 "7",
		"STRATA_EMULATOR_FAULTS":               "error=ThrottlingException,every=3| cut-after=2,abort ||",
		"STRATA_EMULATOR_APPLICATION_PROFILES": "p1=amazon.nova-micro-v1:0, p2=amazon.nova-lite-v1:0",
		"STRATA_EMULATOR_REGION":               "eu-west-1",
		"STRATA_EMULATOR_LOG_LEVEL":            "debug",
		"STRATA_EMULATOR_SHUTDOWN_TIMEOUT":     "30s",
	}
	fromEnv := func(c *commandConfig) {
		c.addr = "0.0.0.0:9000"
		c.opts.AccessKeyID, c.opts.SecretAccessKey = "AKIDENV", "env-secret"
		c.opts.APIKeys = []string{"ABSKone", "ABSKtwo", "ABSKthree"}
		c.certFile, c.keyFile, c.selfSignedDir = "/etc/cert.pem", "/etc/key.pem", "/tmp/tls"
		c.opts.TTFT, c.opts.TokensPerSecond, c.opts.Seed = 250*time.Millisecond, 40.5, 7
		c.opts.Faults = []Fault{{Error: CodeThrottling, Every: 3}, {CutAfter: 2, Abort: true}}
		c.opts.ApplicationProfiles = map[string]string{"p1": "amazon.nova-micro-v1:0", "p2": "amazon.nova-lite-v1:0"}
		c.opts.Region, c.logLevel, c.shutdownTimeout = "eu-west-1", "debug", 30*time.Second
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    *commandConfig
		wantErr string
	}{
		{name: "defaults", want: defaults(nil)},
		{name: "set but empty variables take the default", env: map[string]string{"STRATA_EMULATOR_ADDR": "", "STRATA_EMULATOR_TTFT": "", "STRATA_EMULATOR_API_KEYS": ""}, want: defaults(nil)},
		{name: "everything from the environment", env: fullEnv, want: defaults(fromEnv)},
		{name: "everything from flags", args: []string{
			"--addr", ":0", "--access-key-id", "AKIDFLAG", "--secret-access-key", "flag-secret",
			"--api-key", "ABSKa", "--api-key=ABSKb", "--tls-self-signed", "/srv/tls",
			"--ttft=1s", "--tokens-per-second", "12", "--seed", "99",
			"--fault", "stall=2s,op=converse", "--fault", "error=modelStreamErrorException,cut-after=4",
			"--application-profile", "app=amazon.nova-pro-v1:0", "--region", "ap-south-1",
			"--custom-model", "amazon.nova-pro-v1:0:300k/ft1=amazon.nova-pro-v1:0", "--provisioned-model", "pt1=amazon.nova-pro-v1:0:300k/ft1",
			"--guardrail", "gr-1=Project Falcon|payroll", "--guardrail", "gr-2=secret",
			"--log-level", "warn", "--shutdown-timeout", "1m",
		}, want: defaults(func(c *commandConfig) {
			c.opts.Guardrails = map[string][]string{"gr-1": {"Project Falcon", "payroll"}, "gr-2": {"secret"}}
			c.addr = ":0"
			c.opts.AccessKeyID, c.opts.SecretAccessKey = "AKIDFLAG", "flag-secret"
			c.opts.APIKeys = []string{"ABSKa", "ABSKb"}
			c.selfSignedDir = "/srv/tls"
			c.opts.TTFT, c.opts.TokensPerSecond, c.opts.Seed = time.Second, 12, 99
			c.opts.Faults = []Fault{{Stall: 2 * time.Second, Operation: OpConverse}, {Error: CodeModelStreamError, CutAfter: 4}}
			c.opts.ApplicationProfiles = map[string]string{"app": "amazon.nova-pro-v1:0"}
			c.opts.CustomModels = map[string]string{"amazon.nova-pro-v1:0:300k/ft1": "amazon.nova-pro-v1:0"}
			c.opts.ProvisionedModels = map[string]string{"pt1": "amazon.nova-pro-v1:0:300k/ft1"}
			c.opts.Region, c.logLevel, c.shutdownTimeout = "ap-south-1", "warn", time.Minute
		})},
		{name: "flags override the environment; a list flag replaces the whole list", env: fullEnv, args: []string{
			"--addr", "127.0.0.1:0", "--api-key", "ABSKflag", "--fault", "ttft=1s", "--ttft", "0", "--seed", "1",
		}, want: defaults(func(c *commandConfig) {
			fromEnv(c)
			c.addr = "127.0.0.1:0"
			c.opts.APIKeys = []string{"ABSKflag"}
			c.opts.Faults = []Fault{{TTFT: time.Second}}
			c.opts.TTFT, c.opts.Seed = 0, 1
		})},
		{name: "bad ttft flag", args: []string{"--ttft", "fast"}, wantErr: "--ttft"},
		{name: "bad ttft in the environment", env: map[string]string{"STRATA_EMULATOR_TTFT": "300"}, wantErr: `--ttft: time: missing unit in duration "300"`},
		{name: "bad tokens per second", args: []string{"--tokens-per-second", "many"}, wantErr: "--tokens-per-second"},
		{name: "negative seed", args: []string{"--seed", "-1"}, wantErr: "--seed"},
		{name: "bad shutdown timeout", env: map[string]string{"STRATA_EMULATOR_SHUTDOWN_TIMEOUT": "soon"}, wantErr: "--shutdown-timeout"},
		{name: "unknown fault error", args: []string{"--fault", "error=NoSuchException"}, wantErr: `--fault: fault "error=NoSuchException": unknown error code "NoSuchException"`},
		{name: "bad fault in the environment", env: map[string]string{"STRATA_EMULATOR_FAULTS": "error=ThrottlingException|abort"}, wantErr: "--fault"},
		{name: "fault with an unknown key", args: []string{"--fault", "error=ThrottlingException,sometimes"}, wantErr: `unknown key "sometimes"`},
		{name: "application profile without =", args: []string{"--application-profile", "app"}, wantErr: `--application-profile "app": want ID=MODEL`},
		{name: "guardrail without words", args: []string{"--guardrail", "gr-1="}, wantErr: `--guardrail "gr-1=": want ID=WORD[|WORD...]`},
		{name: "application profile without an id", args: []string{"--application-profile", "=amazon.nova-micro-v1:0"}, wantErr: "want ID=MODEL"},
		{name: "provisioned model without a model", env: map[string]string{"STRATA_EMULATOR_PROVISIONED_MODELS": "pt1="}, wantErr: `--provisioned-model "pt1=": want ID=MODEL`},
		{name: "custom model without =", args: []string{"--custom-model", "ft1"}, wantErr: `--custom-model "ft1": want ID=MODEL`},
		{name: "unknown flag", args: []string{"--port", "4000"}, wantErr: "flag provided but not defined: -port"},
		{name: "positional argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			got, err := parseFlags(tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseFlags =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, func(string) string { return "" }, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
	// Every flag names the variable that sets its default.
	for _, name := range []string{"STRATA_EMULATOR_ADDR", "STRATA_EMULATOR_API_KEYS", "STRATA_EMULATOR_FAULTS", "STRATA_EMULATOR_SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("usage does not mention %s:\n%s", name, stderr.String())
		}
	}
}

// txLockedBuffer is a bytes.Buffer safe to write from the command's goroutines.
type txLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *txLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *txLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// txCommand runs Command in a goroutine and returns the URL it printed, the channel its result
// arrives on, and the function that cancels it.
func txCommand(t *testing.T, args []string, env map[string]string, stderr io.Writer) (string, <-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Command(ctx, args, func(k string) string { return env[k] }, pw, stderr)
		_ = pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("Command printed no URL (%v); it returned %v", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // nothing more is expected on stdout
	return strings.TrimSpace(line), done, cancel
}

// txWaitDone waits for Command to return.
func txWaitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Command did not return after its context was cancelled")
		return nil
	}
}

// TestCommand serves through Command as `strata emulator` does and checks the shutdown at both
// ends: a stream in flight completes within --shutdown-timeout, and one that would outlast it is
// cut with an error. Not parallel, for goleak.
func TestCommand(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	env := map[string]string{"STRATA_EMULATOR_ACCESS_KEY_ID": testAccessKey, "STRATA_EMULATOR_SECRET_ACCESS_KEY": testSecretKey}
	tests := []struct {
		name         string
		args         []string
		wantComplete bool
		wantErr      string
	}{
		{name: "graceful shutdown lets a stream finish", args: []string{"--addr", "127.0.0.1:0", "--ttft", "300ms", "--shutdown-timeout", "10s"}, wantComplete: true},
		{name: "shutdown timeout cuts a slow stream", args: []string{"--addr", "127.0.0.1:0", "--tokens-per-second", "5", "--shutdown-timeout", "100ms"}, wantErr: "shut down: context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr txLockedBuffer
			url, done, cancel := txCommand(t, tt.args, env, &stderr)
			defer cancel()
			if !strings.HasPrefix(url, "http://127.0.0.1:") {
				t.Fatalf("Command printed %q, want http://127.0.0.1:PORT", url)
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			client := runtimeClient(url, testAccessKey, testSecretKey, txGuarded(tr))
			ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
			defer stop()
			short := txConverse(txModel, "hello")
			short.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(1)} // quick under a slow latency model
			if _, err := client.Converse(ctx, short); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if _, err := runtimeClient(url, testAccessKey, "wrong", txGuarded(tr)).Converse(ctx, short); err == nil {
				t.Error("the environment's keys were not enforced")
			}
			out, err := client.ConverseStream(ctx, txConverseStream(txModel, "Explain the tides in detail."))
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			streamDone := make(chan txStreamResult, 1)
			go func() { streamDone <- txDrain(out) }()

			start := time.Now()
			cancel()
			err = txWaitDone(t, done)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Command = %v, want %q", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Command took %v to return", elapsed)
			}
			r := <-streamDone
			if complete := r.messageStop && r.metadata && r.err == nil; complete != tt.wantComplete {
				t.Errorf("stream complete = %v (messageStop %v, err %v), want %v", complete, r.messageStop, r.err, tt.wantComplete)
			}
			if _, err := client.Converse(ctx, txConverse(txModel, "hello")); err == nil {
				t.Error("Converse succeeded after Command returned")
			}
			for _, want := range []string{"bedrock emulator listening", "auth=\"SigV4 with access key " + testAccessKey + "\"", "shutting down"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), testSecretKey) {
				t.Errorf("the log shows the secret:\n%s", stderr.String())
			}
			tr.CloseIdleConnections()
			goleak.VerifyNone(t, ignore)
		})
	}
}

func TestCommandTLS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	tests := []struct {
		name string
		args []string
	}{
		// Runs first: it writes the files the second case loads.
		{name: "self-signed", args: []string{"--addr", "127.0.0.1:0", "--tls-self-signed", dir}},
		{name: "certificate files", args: []string{"--addr", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, SelfSignedCertFile), "--tls-key", filepath.Join(dir, SelfSignedKeyFile)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, done, cancel := txCommand(t, tt.args, nil, io.Discard)
			defer cancel()
			if !strings.HasPrefix(url, "https://127.0.0.1:") {
				t.Fatalf("Command printed %q, want https://127.0.0.1:PORT", url)
			}
			if info, err := os.Stat(filepath.Join(dir, SelfSignedKeyFile)); err != nil {
				t.Errorf("key.pem: %v", err)
			} else if info.Mode().Perm() != 0o600 {
				t.Errorf("key.pem has mode %v, want 0600", info.Mode().Perm())
			}
			client := txRuntime(t, url, "AKIDANY", "any", txTrust(t, dir, true))
			out, err := client.Converse(testContext(t), txConverse(txModel, "hello"))
			if err != nil {
				t.Fatalf("Converse over TLS: %v", err)
			}
			if p := txRawResponse(t, out.ResultMetadata).ProtoMajor; p != 2 {
				t.Errorf("TLS client spoke HTTP/%d, want 2", p)
			}
			cancel()
			if err := txWaitDone(t, done); err != nil {
				t.Errorf("Command: %v", err)
			}
		})
	}
}

// TestCommandRefuses checks settings only Command or New can judge fail before anything is served.
func TestCommandRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: `--log-level "loud"`},
		{name: "access key without a secret", env: map[string]string{"STRATA_EMULATOR_ACCESS_KEY_ID": "AKID"}, wantErr: "set both the access key id and the secret access key"},
		{name: "negative ttft", args: []string{"--ttft", "-1s"}, wantErr: "negative"},
		{name: "profile to an unknown model", args: []string{"--application-profile", "app=amazon.no-such-model-v1:0"}, wantErr: "not in the catalog"},
		{name: "certificate without a key", args: []string{"--tls-cert", "/nonexistent/cert.pem"}, wantErr: "--tls-cert and --tls-key go together"},
		{name: "missing certificate files", args: []string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, wantErr: "load TLS certificate"},
		{name: "address in use or invalid", args: []string{"--addr", "256.0.0.1:0"}, wantErr: "listen on 256.0.0.1:0"},
		{name: "flag error", args: []string{"--nope"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"--addr", "127.0.0.1:0"}, tt.args...)
			var stdout bytes.Buffer
			err := Command(ctx, args, func(k string) string { return tt.env[k] }, &stdout, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Command = %v, want an error containing %q", err, tt.wantErr)
			}
			if ctx.Err() != nil {
				t.Error("Command served instead of failing at once")
			}
			if stdout.Len() != 0 {
				t.Errorf("Command printed %q before failing", stdout.String())
			}
		})
	}
}
