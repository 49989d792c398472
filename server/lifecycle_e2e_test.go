package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// These tests are not parallel: goleak compares the goroutines at the end with those at the
// start, so nothing else may start goroutines meanwhile.

// verifyNoLeaks registers, before anything else is set up, a check that runs after every other
// cleanup: no goroutine the test started outlives it.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// startPaced serves Strata's real Bedrock adapter against an emulator that emits tokensPerSecond,
// so a reply takes long enough to be interrupted.
func startPaced(t *testing.T, tokensPerSecond float64, environ map[string]string) *harness {
	t.Helper()
	emu, err := emulator.New(emulator.Options{TokensPerSecond: tokensPerSecond})
	if err != nil {
		t.Fatal(err)
	}
	url := listenEmulator(t, emu)
	env := map[string]string{
		"API_BASE":              url,
		"AWS_ACCESS_KEY_ID":     "AKIDPACEDTEST",
		"AWS_SECRET_ACCESS_KEY": "paced-test-secret",
	}
	for k, v := range environ {
		env[k] = v
	}
	return startStrataWith(t, harnessOptions{backend: BackendBedrock, emu: emu, environ: env})
}

// longPrompt makes the emulator's reply long: it quotes up to 240 bytes of the prompt.
var longPrompt = user(strings.Repeat("Tell me everything about lighthouses and their keepers. ", 5))

func TestChatStreamCancel(t *testing.T) {
	verifyNoLeaks(t)
	h := startPaced(t, 40, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := h.client.ChatStream(ctx, &stratav1.ChatRequest{Messages: longPrompt})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	for i := range 3 {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if i == 0 && ev.GetStart() == nil {
			t.Fatalf("first event = %v, want start", ev)
		}
		if ev.GetEnd() != nil {
			t.Fatal("the reply ended before the test could cancel it: slow the emulator down")
		}
	}
	cancel()
	if _, err := streamEvents(stream); status.Code(err) != codes.Canceled {
		t.Errorf("after cancel: %v, want CANCELED", err)
	}
	// The upstream request ends too: the emulator sees its client go away.
	waitFor(t, 5*time.Second, "the upstream request to end", func() bool {
		s := h.emu.Stats()
		return s.ClientGone == 1 && s.InFlight == 0
	})
	waitFor(t, 5*time.Second, "the call's log line", func() bool { return len(h.finishedCalls("ChatStream")) == 1 })
	if line := h.finishedCalls("ChatStream")[0]; logField(line, "grpc.code") != "Canceled" {
		t.Errorf("log line = %s, want grpc.code=Canceled", line)
	}
}

// TestChatStreamNotBuffered checks that deltas are forwarded as Bedrock sends them: under a
// paced emulator the first delta arrives long before the end.
func TestChatStreamNotBuffered(t *testing.T) {
	t.Parallel()
	h := startPaced(t, 50, nil)
	start := time.Now()
	stream, err := h.client.ChatStream(t.Context(), &stratav1.ChatRequest{Messages: longPrompt})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	var firstDelta, end time.Duration
	deltas := 0
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if ev.GetDelta() != nil {
			deltas++
			if firstDelta == 0 {
				firstDelta = time.Since(start)
			}
		}
		if ev.GetEnd() != nil {
			end = time.Since(start)
			break
		}
	}
	if deltas < 10 || firstDelta > end/3 {
		t.Errorf("%d deltas, the first after %v of %v: the stream was buffered", deltas, firstDelta, end)
	}
}

func TestChatCancel(t *testing.T) {
	verifyNoLeaks(t)
	h := startPaced(t, 20, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := h.client.Chat(ctx, &stratav1.ChatRequest{Messages: longPrompt})
	wantCode(t, err, codes.DeadlineExceeded)
	waitFor(t, 5*time.Second, "the upstream request to end", func() bool {
		s := h.emu.Stats()
		return s.ClientGone == 1 && s.InFlight == 0
	})
}

// TestShutdown cancels Serve's context while a stream is in flight: health goes NOT_SERVING at
// once, the stream finishes (or, past STRATA_SHUTDOWN_TIMEOUT, is cut), and Serve returns.
func TestShutdown(t *testing.T) {
	tests := []struct {
		name            string
		shutdownTimeout string
		wantEnd         bool
	}{
		{name: "the stream in flight completes", shutdownTimeout: "20s", wantEnd: true},
		{name: "the stream is cut at the timeout", shutdownTimeout: "200ms", wantEnd: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifyNoLeaks(t)
			h := startPaced(t, 60, map[string]string{
				"STRATA_SHUTDOWN_TIMEOUT":     tt.shutdownTimeout,
				"STRATA_SHUTDOWN_DRAIN_DELAY": "100ms",
			})
			watchCtx, stopWatch := context.WithCancel(t.Context())
			defer stopWatch()
			watch, err := h.health.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "strata.v1.LLMService"})
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if st, err := watch.Recv(); err != nil || st.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health = %v, %v; want SERVING", st, err)
			}

			stream, err := h.client.ChatStream(t.Context(), &stratav1.ChatRequest{Messages: longPrompt})
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			if ev, err := stream.Recv(); err != nil || ev.GetStart() == nil {
				t.Fatalf("first event = %v, %v; want start", ev, err)
			}

			start := time.Now()
			served := make(chan error, 1)
			go func() { served <- h.stop(30 * time.Second) }()

			if st, err := watch.Recv(); err != nil || st.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Errorf("health during shutdown = %v, %v; want NOT_SERVING", st, err)
			}
			stopWatch() // a watcher is a call in flight too; let the graceful stop wait only for the chat

			events, err := streamEvents(stream)
			ended := len(events) > 0 && events[len(events)-1].GetEnd() != nil
			if tt.wantEnd {
				if err != nil || !ended {
					t.Errorf("stream ended with %v (end event: %v); want it to complete", err, ended)
				}
			} else {
				if err == nil || ended {
					t.Errorf("stream ended with %v (end event: %v); want it cut", err, ended)
				}
				if c := status.Code(err); c != codes.Unavailable && c != codes.Canceled {
					t.Errorf("cut stream code = %v, want UNAVAILABLE or CANCELED", c)
				}
			}
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Serve did not return")
			}
			if !tt.wantEnd && time.Since(start) > 5*time.Second {
				t.Errorf("Serve returned after %v, want about the 200ms shutdown timeout", time.Since(start))
			}
			// New calls are refused once stopped.
			_, err = h.client.Chat(t.Context(), &stratav1.ChatRequest{Messages: user("hi")})
			wantCode(t, err, codes.Unavailable)
			if !tt.wantEnd {
				waitFor(t, 5*time.Second, "the upstream request to end", func() bool {
					s := h.emu.Stats()
					return s.InFlight == 0 && s.ClientGone == 1
				})
			}
		})
	}
}

// TestShutdownManyStreams: a shutdown with 50 streams open lets every one of them finish intact,
// and Serve returns without error (the process exits 0).
func TestShutdownManyStreams(t *testing.T) {
	verifyNoLeaks(t)
	h := startPaced(t, 100, map[string]string{"STRATA_SHUTDOWN_TIMEOUT": "20s", "STRATA_SHUTDOWN_DRAIN_DELAY": "100ms"})
	const n = 50
	streams := make([]grpc.ServerStreamingClient[stratav1.ChatStreamResponse], n)
	for i := range streams {
		s, err := h.client.ChatStream(t.Context(), &stratav1.ChatRequest{Messages: longPrompt})
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if ev, err := s.Recv(); err != nil || ev.GetStart() == nil {
			t.Fatalf("stream %d: first event %v, %v", i, ev, err)
		}
		streams[i] = s
	}
	served := make(chan error, 1)
	go func() { served <- h.stop(30 * time.Second) }()

	var wg sync.WaitGroup
	intact := make([]bool, n)
	for i, s := range streams {
		wg.Go(func() {
			events, err := streamEvents(s)
			intact[i] = err == nil && len(events) > 0 && events[len(events)-1].GetEnd() != nil
		})
	}
	wg.Wait()
	for i, ok := range intact {
		if !ok {
			t.Errorf("stream %d did not finish intact", i)
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestSIGTERMManyStreams is TestShutdownManyStreams on a real process: `strata serve` in a child
// process, the emulator (paced, so that replies take seconds) in this one. SIGTERM with 50 streams
// open: new calls are refused, every stream finishes intact (the whole reply, then its end event
// with the usage), and the process exits 0.
func TestSIGTERMManyStreams(t *testing.T) {
	const key, secret = "AKIDSIGTERM", "sigterm-secret"
	// At 40 tokens a second a reply to longPrompt takes about 2 s: long enough for the 50 streams
	// to be open when the signal comes, short enough for the test to take ~5 s.
	emu, err := emulator.New(emulator.Options{AccessKeyID: key, SecretAccessKey: secret, TokensPerSecond: 40})
	if err != nil {
		t.Fatal(err)
	}
	strata := runChild(t, map[string]string{
		"API_BASE": listenEmulator(t, emu), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
		// Longer than a reply takes, so that only the drain can end the streams early.
		"STRATA_SHUTDOWN_TIMEOUT": "20s",
	})
	req := &stratav1.ChatRequest{Messages: longPrompt}
	// What a whole reply is: the same request to an emulator with the same seed, unpaced.
	refEvents, err := chatStream(t, startPaced(t, 0, nil), req)
	if err != nil {
		t.Fatalf("reference stream: %v", err)
	}
	_, want, _ := joinDeltas(t, refEvents)
	if want.text == "" {
		t.Fatal("the reference reply has no text")
	}

	const n = 50
	type result struct {
		events []*stratav1.ChatStreamResponse
		err    error
		endAt  time.Time
	}
	results := make([]result, n)
	var started, done sync.WaitGroup
	for i := range n {
		started.Add(1)
		done.Go(func() {
			r := &results[i]
			defer func() { r.endAt = time.Now() }()
			stream, err := strata.client.ChatStream(t.Context(), req)
			if err != nil {
				r.err = err
				started.Done()
				return
			}
			first, err := stream.Recv()
			started.Done()
			if err != nil {
				r.err = err
				return
			}
			r.events, r.err = streamEvents(stream)
			r.events = append([]*stratav1.ChatStreamResponse{first}, r.events...)
		})
	}
	started.Wait()
	if s := emu.Stats(); s.InFlight != n {
		t.Fatalf("%d requests in flight at the emulator before SIGTERM, want %d: the replies are too fast for the test", s.InFlight, n)
	}
	termAt := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- strata.terminate(15 * time.Second) }()

	// A new call is refused once the server stops accepting them (at once: no drain delay).
	waitFor(t, 3*time.Second, "a new call to be refused", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, err := strata.client.ListModels(ctx, &stratav1.ListModelsRequest{})
		return status.Code(err) == codes.Unavailable
	})

	done.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Errorf("stream %d ended with %v after %d events; want it to finish", i, r.err, len(r.events))
			continue
		}
		if !r.endAt.After(termAt) {
			t.Errorf("stream %d ended before SIGTERM: it was not in flight", i)
		}
		_, got, end := joinDeltas(t, r.events)
		if got.text != want.text {
			t.Errorf("stream %d: text %q, want the whole reply %q", i, got.text, want.text)
		}
		if end.GetStopReason() != stratav1.StopReason_STOP_REASON_END_TURN || end.GetUsage().GetInputTokens() <= 0 || end.GetUsage().GetOutputTokens() <= 0 {
			t.Errorf("stream %d: end %v, want end_turn with the usage", i, end)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("strata serve after SIGTERM: %v, want exit status 0; log:\n%s", err, strata.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("strata serve did not exit")
	}
	t.Logf("the 50 streams finished and the process exited %v after SIGTERM", time.Since(termAt).Round(time.Millisecond))
}
