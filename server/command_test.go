package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-gateway/strata/config"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// startServeCommand runs `strata serve --backend emulator --addr 127.0.0.1:0` and returns the
// address it printed; the command stops, and must return nil, when the test ends.
func startServeCommand(t *testing.T, environ map[string]string, args ...string) (addr string, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	args = append([]string{"--backend", "emulator", "--addr", "127.0.0.1:0"}, args...)
	go func() { done <- Serve(ctx, args, environ, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after cancellation, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not return after cancellation")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "\n") {
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\nstderr:\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address; stderr:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return strings.TrimSpace(stdout.String()), stderr
}

func TestServeCommand(t *testing.T) {
	t.Parallel()
	const secret = "supersecretvalue123"
	addr, stderr := startServeCommand(t, map[string]string{
		"STRATA_SHUTDOWN_DRAIN_DELAY": "0",
		"STRATA_ADDR":                 "127.0.0.1:1", // the flag wins over the environment
		"AWS_SECRET_ACCESS_KEY":       secret,
		"AWS_ACCESS_KEY_ID":           "AKIDCOMMANDTEST",
		"CHAT_MODEL_MAP":              `{"coder": {"model": "` + novaLite + `"}}`,
	})
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:0" || addr == "127.0.0.1:1" {
		t.Fatalf("printed address %q, want the port the listener got", addr)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := stratav1.NewLLMServiceClient(conn).Chat(t.Context(), &stratav1.ChatRequest{Tag: "coder", Messages: user("hello")})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if resp.GetModel() != novaLite || resp.GetRoute() != "coder" {
		t.Errorf("model, route = %q, %q", resp.GetModel(), resp.GetRoute())
	}
	// The default log format is JSON, one object per line, on stderr.
	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"strata serving"`) || !strings.Contains(logs, `"msg":"finished call"`) {
		t.Errorf("stderr lacks the start and call lines:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the secret key is in the logs:\n%s", logs)
	}
}

func TestServeCommandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		environ map[string]string
		wantErr string
	}{
		{name: "invalid configuration", args: []string{"--addr", "127.0.0.1:0"}, environ: map[string]string{"CHAT_TEMPERATURE": "7"}, wantErr: "CHAT_TEMPERATURE"},
		{name: "unknown backend", args: []string{"--backend", "openai", "--addr", "127.0.0.1:0"}, wantErr: "--backend"},
		{name: "a model name that resolves to nothing", args: []string{"--backend", "emulator", "--addr", "127.0.0.1:0"}, environ: map[string]string{"CHAT_MODEL": "my-favourite-model"}, wantErr: "CHAT_MODEL"},
		{name: "missing env file", args: []string{"--env-file", "/nonexistent/.env"}, wantErr: "env file"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			err := Serve(ctx, tt.args, tt.environ, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Serve = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing: no address was served", stdout.String())
			}
		})
	}
}

func TestHealthCommand(t *testing.T) {
	t.Parallel()
	addr, _ := startServeCommand(t, map[string]string{"STRATA_SHUTDOWN_DRAIN_DELAY": "0"})
	badEnv := filepath.Join(t.TempDir(), "bad.env")
	if err := os.WriteFile(badEnv, []byte("CHAT_MODEL=bedrock/us.amazon.nova-micro-v1:0\nMAX_RETRY=many\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		environ   map[string]string
		wantErr   string // "" means success
		wantLines []string
	}{
		{name: "against a running server", args: []string{"--addr", addr}, wantLines: []string{"OK config", "OK model:" + novaMicro, "OK model:" + titanEmbed, "overall: OK"}},
		{name: "against a running server, with 1-token calls", args: []string{"--addr", addr, "--invoke"}, wantLines: []string{"answered a 1-token call", "overall: OK"}},
		{name: "in-process on the emulator", args: []string{"--backend", "emulator"}, wantLines: []string{"OK config", "OK model:" + novaMicro, "overall: OK"}},
		{
			name: "in-process, a model Bedrock does not know", args: []string{"--backend", "emulator"},
			environ:   map[string]string{"CHAT_MODEL": "amazon.nova-mega-v9:0"},
			wantErr:   "a health check failed",
			wantLines: []string{"WARN config", "FAIL model:amazon.nova-mega-v9:0", "overall: FAIL"},
		},
		{name: "invalid configuration", args: []string{"--backend", "emulator"}, environ: map[string]string{"CHAT_TEMPERATURE": "7"}, wantErr: "CHAT_TEMPERATURE"},
		{name: "invalid env file", args: []string{"--backend", "emulator", "--env-file", badEnv}, wantErr: "MAX_RETRY"},
		{name: "no server at the address", args: []string{"--addr", "127.0.0.1:1", "--timeout", "2s"}, wantErr: "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr syncBuffer
			err := Health(t.Context(), tt.args, tt.environ, &stdout, &stderr)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Health = %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Health = %v, want an error mentioning %q\nstdout:\n%s", err, tt.wantErr, stdout.String())
			}
			var cfgErr *config.Error
			if tt.name == "invalid configuration" && !errors.As(err, &cfgErr) {
				t.Errorf("Health = %T, want a *config.Error listing the problems", err)
			}
			out := normalizeSpaces(stdout.String())
			for _, want := range tt.wantLines {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

// normalizeSpaces turns the tabwriter's column padding into one space, so lines compare simply.
func normalizeSpaces(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(strings.Join(strings.Fields(line), " "))
		b.WriteByte('\n')
	}
	return b.String()
}
