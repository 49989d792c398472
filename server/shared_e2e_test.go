package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/internal/redistest"
)

// childServe, set in a child's environment, makes this test binary run `strata serve` with the
// arguments after the program name, so that a test can run Strata as separate processes: what
// those share goes through Redis and nothing else.
const childServe = "STRATA_TEST_CHILD_SERVE"

// TestMain runs the test binary as `strata serve` in a child process started by startChild.
func TestMain(m *testing.M) {
	if os.Getenv(childServe) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		env := map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && k != childServe {
				env[k] = v
			}
		}
		err := Serve(ctx, os.Args[1:], env, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "strata serve:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is Strata running as a process of its own: this test binary as `strata serve`.
type child struct {
	client stratav1.LLMServiceClient
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan error // receives cmd.Wait's result once

	once sync.Once
	err  error
}

// startChild runs Strata as a process of its own with exactly env (and harnessDefaults), stops
// it with SIGTERM when the test ends, and returns a client of it.
func startChild(t *testing.T, env map[string]string) stratav1.LLMServiceClient {
	t.Helper()
	return runChild(t, env).client
}

// runChild is startChild returning the process too, for tests that signal it themselves. When
// the test ends, the process is sent SIGTERM (if the test did not already) and must exit 0.
func runChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0", "--env-file", os.DevNull, "--backend", BackendBedrock)
	cmd.Env = []string{childServe + "=1"}
	for k, v := range harnessDefaults {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = c.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n') // `strata serve` prints its address first
		addr <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if err := c.terminate(10 * time.Second); err != nil {
			t.Errorf("strata serve: %v; log:\n%s", err, c.logs.String())
		}
	})
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("strata serve printed no address; log:\n%s", c.logs.String())
	}
	if a == "" {
		t.Fatalf("strata serve exited before serving; log:\n%s", c.logs.String())
	}
	conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c.client = stratav1.NewLLMServiceClient(conn)
	return c
}

// terminate sends the process SIGTERM and waits up to timeout for it to exit. It returns nil
// when the process exited with status 0, its *exec.ExitError otherwise, or an error saying it
// had to be killed; later calls return the same.
func (c *child) terminate(timeout time.Duration) error {
	c.once.Do(func() {
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			c.err = fmt.Errorf("SIGTERM: %w", err)
		}
		select {
		case err := <-c.exited:
			if c.err == nil {
				c.err = err
			}
		case <-time.After(timeout):
			_ = c.cmd.Process.Kill()
			<-c.exited
			c.err = fmt.Errorf("did not exit within %v of SIGTERM; killed", timeout)
		}
	})
	return c.err
}

// TestReplicasShareRedis: two Strata processes, one Bedrock (the emulator) and one Redis. A reply
// one process cached is served by the other without a call to Bedrock; a limit of 10 requests
// per minute holds for both together: one call goes through, the calls after it, on either
// process, wait for their turn or, with a short deadline, are refused with RetryInfo.
func TestReplicasShareRedis(t *testing.T) {
	t.Parallel()
	const key, secret = "AKIDREPLICAS", "replicas-secret"
	emu, err := emulator.New(emulator.Options{AccessKeyID: key, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	redis := redistest.Start(t)
	env := map[string]string{
		"API_BASE": listenEmulator(t, emu), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
		"CACHE_BACKEND": redis.URL(), "LIMITS_BACKEND": redis.URL(),
		"MODEL_LIMITS": `{"` + novaMicro + `": {"requests_per_minute": 10}}`,
	}
	a, b := startChild(t, env), startChild(t, env)

	// The cache: a's reply, from Redis, on b.
	ask := &stratav1.ChatRequest{Model: novaLite, Messages: user("Cached by one replica, served by the other?")}
	first, err := a.Chat(t.Context(), ask)
	if err != nil || first.GetCached() {
		t.Fatalf("a: cached=%v, %v", first.GetCached(), err)
	}
	fromB, err := b.Chat(t.Context(), ask)
	if err != nil || !fromB.GetCached() || fromB.GetText() != first.GetText() {
		t.Fatalf("b: cached=%v, %v; want a's reply from Redis", fromB.GetCached(), err)
	}
	if n := settledStats(t, emu).Count(emulator.OpConverse, "ok"); n != 1 {
		t.Errorf("%d calls reached Bedrock, want 1", n)
	}

	// The limit: 10 a minute is one every 6 s, for a and b together.
	limited := func(text string) *stratav1.ChatRequest {
		return &stratav1.ChatRequest{Model: novaMicro, Messages: user(text), Cache: stratav1.CacheMode_CACHE_MODE_BYPASS}
	}
	if _, err := a.Chat(t.Context(), limited("the one call this minute's first turn allows")); err != nil {
		t.Fatalf("a's first call: %v", err)
	}
	for i, c := range []stratav1.LLMServiceClient{b, a, b} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := c.Chat(ctx, limited(fmt.Sprintf("call %d after it", i+1)))
		cancel()
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("call %d after the first, on %s: %v; want RESOURCE_EXHAUSTED, the shared turn being ~6 s away", i+1, []string{"b", "a", "b"}[i], err)
		}
		if ri := retryInfo(err); ri == nil || ri.GetRetryDelay().AsDuration() < 4*time.Second {
			t.Errorf("call %d: RetryInfo %v, want the ~6 s until the next shared turn", i+1, ri)
		}
	}
	start := time.Now()
	if _, err := b.Chat(t.Context(), limited("a call that can wait for its turn")); err != nil {
		t.Fatalf("b, waiting: %v", err)
	}
	if waited := time.Since(start); waited < 4*time.Second {
		t.Errorf("b's call went through after %v; want it to wait for the next shared turn, ~6 s after a's", waited)
	}
	if n := settledStats(t, emu).Count(emulator.OpConverse, "ok"); n != 3 {
		t.Errorf("%d calls reached Bedrock, want 3 (the cached one, then two turns of the limit)", n)
	}
}

// TestSharedLimitsOutage: with the shared limits' Redis gone, calls are neither failed nor slowed
// by it: each replica enforces its share (the limit over the replicas last counted), and
// HealthCheck warns; once Redis is back, the limits are shared again.
func TestSharedLimitsOutage(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	env := map[string]string{"LIMITS_BACKEND": redis.URL(), "MODEL_LIMITS": `{"` + novaMicro + `": {"requests_per_minute": 20}}`}
	a, b := startStrata(t, env), startStrata(t, env)
	limitsCheck := func(h *harness) *stratav1.Check { return healthCheckNamed(t, h, "limits") }
	limitsCheck(a) // a counts both replicas now that b is up
	if c := limitsCheck(b); c.GetStatus() != stratav1.HealthStatus_HEALTH_STATUS_OK || !strings.Contains(c.GetDetail(), "by 2 replicas") {
		t.Errorf("limits check with Redis up: %v", c)
	}
	call := func(h *harness, deadline time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Model: novaMicro, Messages: user("Within the limit?")})
		return err
	}
	if err := call(a, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := call(b, time.Second); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("b right after a, with Redis up: %v; want the shared limit to refuse it", err)
	}

	redis.Stop()
	if c := limitsCheck(a); c.GetStatus() != stratav1.HealthStatus_HEALTH_STATUS_WARN || !strings.Contains(c.GetDetail(), "1/2") {
		t.Errorf("limits check with Redis gone: %v; want WARN and each replica's share", c)
	}
	// Each replica now enforces its share, 10 a minute: a first call each goes through at once.
	for name, h := range map[string]*harness{"a": a, "b": b} {
		start := time.Now()
		if err := call(h, 5*time.Second); err != nil || time.Since(start) > time.Second {
			t.Errorf("%s with Redis gone: %v after %v; want served, promptly", name, err, time.Since(start))
		}
	}
	err := call(a, time.Second)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a's second call with Redis gone: %v; want its share of the limit to refuse it", err)
	}
	if ri := retryInfo(err); ri == nil || ri.GetRetryDelay().AsDuration() < 4500*time.Millisecond {
		t.Errorf("RetryInfo %v: want ~6 s, a share of 10 a minute, not the whole limit's 3 s", ri)
	}

	redis.Restart(t)
	waitFor(t, 5*time.Second, "the limits check to find Redis back", func() bool {
		return limitsCheck(a).GetStatus() == stratav1.HealthStatus_HEALTH_STATUS_OK
	})
	waitFor(t, 5*time.Second, "b to find Redis back", func() bool {
		return limitsCheck(b).GetStatus() == stratav1.HealthStatus_HEALTH_STATUS_OK
	})
	if err := call(b, 5*time.Second); err != nil {
		t.Fatalf("b with Redis back (an empty Redis): %v", err)
	}
	if err := call(a, time.Second); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a right after b, with Redis back: %v; want the shared limit to refuse it", err)
	}
}

// healthCheckNamed runs h's HealthCheck and returns its check of that name.
func healthCheckNamed(t *testing.T, h *harness, name string) *stratav1.Check {
	t.Helper()
	health, err := h.client.HealthCheck(t.Context(), &stratav1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range health.GetChecks() {
		if c.GetName() == name {
			return c
		}
	}
	t.Fatalf("HealthCheck %v has no %s check", health, name)
	return nil
}
