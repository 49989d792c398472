package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/server"
)

// Server modes of [Options].Server.
const (
	// ServerProcess runs Strata as a child process (`strata serve`), so its CPU time, memory and
	// goroutines are its own, and it can be pinned to a core of its own.
	ServerProcess = "process"
	// ServerInProcess runs Strata in the harness's process: no binary needed, as in tests, but
	// resources can only be read for the whole process.
	ServerInProcess = "inprocess"
)

// usage is one reading of the server's resources.
type usage struct {
	// cpu is the user plus system CPU time used so far.
	cpu time.Duration
	// rss is the resident set size in bytes; 0 when unknown.
	rss int64
	// goroutines is the live goroutine count; -1 when unknown.
	goroutines int
}

// target is the Strata server under test, as the harness reaches and observes it.
type target struct {
	conn   *grpc.ClientConn
	llm    stratav1.LLMServiceClient
	health healthpb.HealthClient
	refl   reflectionpb.ServerReflectionClient
	// startup is the time from launch (exec, in process mode) to the first Chat served.
	startup time.Duration
	// scope names whose resources usage reads.
	scope string
	// usage reads the server's resources.
	usage func(ctx context.Context) (usage, error)
	// profile starts a CPU profile of the server to path, lasting about d; finish waits for it.
	profile func(ctx context.Context, path string, d time.Duration) (finish func() error, err error)
	// stop shuts the server down and waits for it.
	stop func() error
}

// serverEnv is the whole environment Strata runs with: nothing is inherited, so neither a .env
// file nor the caller's AWS settings can change what is measured. Settings not named here keep
// their defaults, as in production; only the shutdown drain is skipped.
func serverEnv(upstreamURL, logLevel, debugAddr string) map[string]string {
	env := map[string]string{
		"API_BASE":                    upstreamURL,
		"AWS_ACCESS_KEY_ID":           benchAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       benchSecretAccessKey,
		"AWS_REGION":                  benchRegion,
		"STRATA_LOG_LEVEL":            logLevel,
		"STRATA_SHUTDOWN_DRAIN_DELAY": "0",
		"STRATA_SHUTDOWN_TIMEOUT":     "5s",
	}
	if debugAddr != "" {
		env["STRATA_DEBUG_ADDR"] = debugAddr
	}
	return env
}

// serveArgs are the `strata serve` arguments: a loopback port of the kernel's choosing, and no
// .env file.
func serveArgs() []string {
	return []string{"--addr", "127.0.0.1:0", "--env-file", os.DevNull, "--backend", server.BackendBedrock}
}

// startupTimeout bounds how long the server may take to serve its first call.
const startupTimeout = 15 * time.Second

// startInProcess serves Strata in this process through server.Serve, exactly as `strata serve`.
func startInProcess(ctx context.Context, upstreamURL, logLevel string) (*target, error) {
	ctx, cancel := context.WithCancel(ctx)
	addr := newLineWriter()
	logs := newTailBuffer(8 << 10)
	served := make(chan error, 1)
	begin := time.Now()
	go func() { served <- server.Serve(ctx, serveArgs(), serverEnv(upstreamURL, logLevel, ""), addr, logs) }()
	stop := func() error {
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("the in-process server did not stop within 10s")
		}
	}
	var line string
	select {
	case line = <-addr.line:
	case err := <-served:
		cancel()
		return nil, fmt.Errorf("start strata in-process: %w (log: %s)", err, logs.String())
	case <-time.After(startupTimeout):
		_ = stop()
		return nil, fmt.Errorf("start strata in-process: no address within %v (log: %s)", startupTimeout, logs.String())
	}
	t, err := connect(ctx, line, begin)
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("start strata in-process: %w (log: %s)", err, logs.String())
	}
	t.scope = "whole process: Strata, emulator and load together"
	t.usage = selfUsage
	t.profile = func(_ context.Context, path string, _ time.Duration) (func() error, error) {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		return func() error {
			pprof.StopCPUProfile()
			return f.Close()
		}, nil
	}
	t.stop = func() error {
		_ = t.conn.Close()
		return stop()
	}
	return t, nil
}

// processOptions say how to run Strata as a child process.
type processOptions struct {
	// exe is the strata binary.
	exe string
	// cpus, when set, pins the server to these CPUs: with taskset if it is installed, else by
	// setting every thread's affinity right after start.
	cpus []int
}

// child is a server the bench runs as a child process: Strata, or the minimal gateway.
type child struct {
	pid int
	// begin is just before exec; addr the address the child printed as its first line.
	begin time.Time
	addr  string
	// logs keeps the tail of the child's stderr, to explain a failure.
	logs *tailBuffer
	// stop sends SIGTERM, waits up to 10s (then kills), and returns how the child exited; it
	// may be called again and returns the same.
	stop func() error
}

// startChild runs exe with args and exactly env, pinned to cpus when given, and waits for the
// address it prints on stdout.
func startChild(ctx context.Context, exe string, args []string, env map[string]string, cpus []int) (*child, error) {
	env = maps.Clone(env)
	name := exe
	pinAfterStart := false
	if len(cpus) > 0 {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"-c", joinInts(cpus), exe}, args...)
			name = taskset
		} else {
			// Without taskset the runtime would size GOMAXPROCS before the pinning.
			env["GOMAXPROCS"] = strconv.Itoa(len(cpus))
			pinAfterStart = true
		}
	}
	cmd := exec.Command(name, args...)
	cmd.Env = environList(env)
	addr := newLineWriter()
	c := &child{logs: newTailBuffer(8 << 10)}
	cmd.Stdout, cmd.Stderr = addr, c.logs
	c.begin = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.pid = cmd.Process.Pid // taskset execs the server in its own place: the same pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waitErr error
	waited := false
	c.stop = func() error {
		if !waited {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case waitErr = <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				waitErr = <-exited
			}
			waited = true
		}
		return waitErr
	}
	fail := func(err error) (*child, error) {
		_ = c.stop()
		return nil, fmt.Errorf("%w (log: %s)", err, c.logs.String())
	}
	if pinAfterStart {
		if err := pinProcess(c.pid, cpus); err != nil {
			return fail(err)
		}
	}
	select {
	case c.addr = <-addr.line:
	case err := <-exited:
		waited, waitErr = true, err
		return fail(fmt.Errorf("exited before serving: %v", err))
	case <-time.After(startupTimeout):
		return fail(fmt.Errorf("no address within %v", startupTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return c, nil
}

// processUsage reads process pid's resources; goroutines, when not nil, counts its goroutines.
func processUsage(pid int, goroutines func(context.Context) int) func(context.Context) (usage, error) {
	return func(ctx context.Context) (usage, error) {
		cpu, err := processCPU(pid)
		if err != nil {
			return usage{}, err
		}
		rss, err := processRSS(pid)
		if err != nil {
			return usage{}, err
		}
		u := usage{cpu: cpu, rss: rss, goroutines: -1}
		if goroutines != nil {
			u.goroutines = goroutines(ctx)
		}
		return u, nil
	}
}

// startProcess runs `strata serve` as a child process and measures its start-up: from just
// before exec to the first Chat it answers.
func startProcess(ctx context.Context, upstreamURL, logLevel string, po processOptions) (*target, error) {
	debugAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	c, err := startChild(ctx, po.exe, append([]string{"serve"}, serveArgs()...), serverEnv(upstreamURL, logLevel, debugAddr), po.cpus)
	if err != nil {
		return nil, fmt.Errorf("start strata serve: %w", err)
	}
	t, err := connect(ctx, c.addr, c.begin)
	if err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("start strata serve: %w (log: %s)", err, c.logs.String())
	}
	t.scope = fmt.Sprintf("strata server process (pid %d)", c.pid)
	debug := &http.Client{Timeout: 2 * time.Second}
	t.usage = processUsage(c.pid, func(ctx context.Context) int { return goroutinesAt(ctx, debug, debugAddr) })
	t.profile = func(ctx context.Context, path string, d time.Duration) (func() error, error) {
		return fetchProfile(ctx, debugAddr, path, d)
	}
	t.stop = func() error {
		debug.CloseIdleConnections()
		_ = t.conn.Close()
		return exitError("strata serve", c)
	}
	return t, nil
}

// exitError stops c and returns how it exited, with its log when it failed.
func exitError(what string, c *child) error {
	err := c.stop()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%s exited with %v (log: %s)", what, err, c.logs.String())
	}
	return err
}

// startMinimal starts the minimal gateway (minimal.go) the way Strata runs: in process mode as a
// child process, `strata bench --serve-minimal-gateway`, pinned to Strata's CPUs; in-process in
// this process.
func startMinimal(ctx context.Context, o Options, upstreamURL string, cpus []int) (*target, error) {
	cfg := minimalEnv(upstreamURL)
	if o.Server == ServerInProcess {
		c, err := minimalConfigFrom(func(k string) string { return cfg[k] })
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		addr := newLineWriter()
		served := make(chan error, 1)
		begin := time.Now()
		go func() { served <- serveMinimalGateway(ctx, "127.0.0.1:0", c, addr) }()
		stop := func() error {
			cancel()
			return <-served
		}
		var line string
		select {
		case line = <-addr.line:
		case err := <-served:
			cancel()
			return nil, fmt.Errorf("start the minimal gateway: %w", err)
		}
		t, err := connect(ctx, line, begin)
		if err != nil {
			_ = stop()
			return nil, fmt.Errorf("start the minimal gateway: %w", err)
		}
		t.scope = "in the bench's process"
		t.usage = selfUsage
		t.stop = func() error {
			_ = t.conn.Close()
			return stop()
		}
		return t, nil
	}
	exe, err := strataBinary(o)
	if err != nil {
		return nil, err
	}
	c, err := startChild(ctx, exe, []string{"bench", "--" + flagServeMinimal, "127.0.0.1:0"}, cfg, cpus)
	if err != nil {
		return nil, fmt.Errorf("start the minimal gateway: %w", err)
	}
	t, err := connect(ctx, c.addr, c.begin)
	if err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("start the minimal gateway: %w (log: %s)", err, c.logs.String())
	}
	t.scope = fmt.Sprintf("minimal gateway process (pid %d)", c.pid)
	t.usage = processUsage(c.pid, nil)
	t.stop = func() error {
		_ = t.conn.Close()
		return exitError("the minimal gateway", c)
	}
	return t, nil
}

// selfUsage reads this process's resources.
func selfUsage(context.Context) (usage, error) {
	cpu, err := selfCPU()
	if err != nil {
		return usage{}, err
	}
	rss, err := processRSS(os.Getpid())
	if err != nil {
		return usage{}, err
	}
	return usage{cpu: cpu, rss: rss, goroutines: runtime.NumGoroutine()}, nil
}

// connect dials the server at addr and times its first Chat from begin.
func connect(ctx context.Context, addr string, begin time.Time) (*target, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	t := &target{conn: conn, llm: stratav1.NewLLMServiceClient(conn), health: healthpb.NewHealthClient(conn),
		refl: reflectionpb.NewServerReflectionClient(conn)}
	cctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if _, err := t.llm.Chat(cctx, chatRequest(shortPrompt, 0), grpc.WaitForReady(true)); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("first chat: %w", err)
	}
	t.startup = time.Since(begin)
	return t, nil
}

// goroutinesAt reads the live goroutine count from a server's debug listener; -1 when it cannot.
func goroutinesAt(ctx context.Context, hc *http.Client, addr string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/goroutines", nil)
	if err != nil {
		return -1
	}
	resp, err := hc.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(body)))
	if err != nil {
		return -1
	}
	return n
}

// fetchProfile asks the server's debug listener for a CPU profile of d (whole seconds, at least
// one) and writes it to path in the background; finish waits for it.
func fetchProfile(ctx context.Context, addr, path string, d time.Duration) (func() error, error) {
	secs := max(1, int((d+time.Second-1)/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	hc := &http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second}
	done := make(chan error, 1)
	go func() {
		resp, err := hc.Do(req)
		if err != nil {
			done <- fmt.Errorf("cpu profile: %w", err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("cpu profile: %s", resp.Status)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- fmt.Errorf("cpu profile: %w", err)
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() error { return <-done }, nil
}

// freeLoopbackAddr returns a loopback address with a port free now, for the server's debug
// listener, whose address `strata serve` does not print.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

// environList turns an environment map into exec's KEY=value list, sorted.
func environList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// lineWriter hands the first line written to it to its channel and discards the rest: what
// `strata serve` prints on stdout is its address, once.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	sent bool
	line chan string
}

func newLineWriter() *lineWriter { return &lineWriter{line: make(chan string, 1)} }

// Write implements [io.Writer].
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if i := strings.IndexByte(string(w.buf), '\n'); i >= 0 {
		w.line <- strings.TrimSpace(string(w.buf[:i]))
		w.sent, w.buf = true, nil
	}
	return len(p), nil
}

// tailBuffer keeps the last bytes of the server's log, to explain a failure.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{max: n} }

// Write implements [io.Writer]. It trims only when twice the limit is held, so a busy server's
// log costs a copy now and then, not one per line.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

// String returns the kept tail.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if len(s) > b.max {
		s = s[len(s)-b.max:]
	}
	return strings.TrimSpace(string(s))
}
