package server

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// verifyNoLeaks registers, before anything else is set up, a check that runs after every other
// cleanup: no goroutine the test started outlives it.
//
// A test that calls it must not be parallel: goleak compares the goroutines at the end with those
// at the start, so nothing else may start goroutines meanwhile. Go runs the parallel top-level
// tests only after every other one has finished, so a test that is not parallel runs alone. Its
// own subtests may be parallel: they run alongside each other only, and the check, a cleanup of
// the parent, runs after all of them.
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

// sniffedConn is a client's connection that reads the HTTP/2 frames the server sends on it, just
// enough of RFC 9113 to see a GOAWAY (§6.8: last stream id, error code, debug data) arrive, and
// notes when the connection ended.
type sniffedConn struct {
	net.Conn
	dialedAt time.Time

	mu        sync.Mutex
	buf       []byte    // a partial frame, not parsed yet
	goAway    []byte    // the first GOAWAY's payload; nil before one came
	goAwayAt  time.Time // when it came
	endedAt   time.Time // when the server closed the connection (EOF) or the client did
	endedHere bool      // the client closed it
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p[:n]...)
	// A frame is a 9-byte header (24-bit length, type, flags, stream id), then length bytes (§4.1).
	for len(c.buf) >= 9 {
		size := 9 + (int(c.buf[0])<<16 | int(c.buf[1])<<8 | int(c.buf[2]))
		if len(c.buf) < size {
			break
		}
		const typeGoAway = 0x7
		if c.buf[3] == typeGoAway && c.goAway == nil {
			c.goAway, c.goAwayAt = slices.Clone(c.buf[9:size]), time.Now()
		}
		c.buf = append(c.buf[:0], c.buf[size:]...)
	}
	if err != nil && c.endedAt.IsZero() {
		c.endedAt = time.Now()
	}
	return n, err
}

func (c *sniffedConn) Close() error {
	c.mu.Lock()
	if c.endedAt.IsZero() {
		c.endedAt, c.endedHere = time.Now(), true
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// goAwayReceived returns the debug data and error code of the first GOAWAY, and when it came;
// ok is false before one came.
func (c *sniffedConn) goAwayReceived() (debug string, code uint32, at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.goAway) < 8 {
		return "", 0, time.Time{}, false
	}
	return string(c.goAway[8:]), binary.BigEndian.Uint32(c.goAway[4:8]), c.goAwayAt, true
}

func (c *sniffedConn) ended() (at time.Time, here bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endedAt, c.endedHere
}

// TestMaxConnectionAge: the server ends a connection STRATA_MAX_CONNECTION_AGE after it opened
// (1 s, give or take gRPC's 10% jitter) with a GOAWAY, so that long-lived clients reconnect and
// spread over replicas: the client's next call goes over a new connection. A call in flight on
// the old one finishes within STRATA_MAX_CONNECTION_AGE_GRACE; past the grace the server closes
// the connection, and a call still in flight fails UNAVAILABLE.
func TestMaxConnectionAge(t *testing.T) {
	const age = time.Second
	tests := []struct {
		name     string
		grace    time.Duration
		stall    time.Duration // how long the call in flight waits for Bedrock
		wantCode codes.Code
	}{
		{name: "the call in flight finishes within the grace", grace: 3 * time.Second, stall: 2 * time.Second, wantCode: codes.OK},
		{name: "past the grace the connection is closed", grace: 500 * time.Millisecond, stall: 3 * time.Second, wantCode: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifyNoLeaks(t)
			h := startStrata(t, map[string]string{
				"STRATA_MAX_CONNECTION_AGE": age.String(), "STRATA_MAX_CONNECTION_AGE_GRACE": tt.grace.String(),
			})
			if err := h.emu.SetFaults(emulator.Fault{Operation: emulator.OpConverse, Stall: tt.stall, Times: 1}); err != nil {
				t.Fatal(err)
			}
			var (
				mu    sync.Mutex
				conns []*sniffedConn
			)
			dialed := func() []*sniffedConn {
				mu.Lock()
				defer mu.Unlock()
				return slices.Clone(conns)
			}
			conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
					if err != nil {
						return nil, err
					}
					sc := &sniffedConn{Conn: c, dialedAt: time.Now()}
					mu.Lock()
					conns = append(conns, sc)
					mu.Unlock()
					return sc, nil
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := stratav1.NewLLMServiceClient(conn)

			type result struct {
				err error
				at  time.Time
			}
			inFlight := make(chan result, 1)
			go func() {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				_, err := client.Chat(ctx, &stratav1.ChatRequest{Messages: user("hi")})
				inFlight <- result{err, time.Now()}
			}()

			waitFor(t, 5*time.Second, "a connection", func() bool { return len(dialed()) > 0 })
			first := dialed()[0]
			var debug string
			var code uint32
			var goAwayAt time.Time
			waitFor(t, 3*time.Second, "a GOAWAY", func() bool {
				var ok bool
				debug, code, goAwayAt, ok = first.goAwayReceived()
				return ok
			})
			if after := goAwayAt.Sub(first.dialedAt); debug != "max_age" || code != 0 || after < 9*age/10 || after > 3*age/2 {
				t.Errorf("GOAWAY %q, code %d, %v after the connection opened; want max_age, NO_ERROR, after about %v", debug, code, after, age)
			}
			select {
			case r := <-inFlight:
				t.Fatalf("the call ended (%v) before the GOAWAY: it was not in flight", r.err)
			default:
			}

			// A new call goes over a new connection while the old one drains.
			if _, err := client.ListModels(t.Context(), &stratav1.ListModelsRequest{}); err != nil {
				t.Errorf("a call after the GOAWAY: %v", err)
			}
			if n := len(dialed()); n != 2 {
				t.Errorf("%d connections after the GOAWAY, want 2: the next call on a new one", n)
			}

			r := <-inFlight
			if status.Code(r.err) != tt.wantCode {
				t.Fatalf("the call in flight: %v, want %v", r.err, tt.wantCode)
			}
			waitFor(t, 2*time.Second, "the old connection to end", func() bool {
				at, _ := first.ended()
				return !at.IsZero()
			})
			endedAt, byClient := first.ended()
			t.Logf("from the connection's start: GOAWAY after %v, the call ended after %v, the connection after %v",
				goAwayAt.Sub(first.dialedAt).Round(time.Millisecond), r.at.Sub(first.dialedAt).Round(time.Millisecond), endedAt.Sub(first.dialedAt).Round(time.Millisecond))
			if tt.wantCode == codes.OK {
				// Nothing left on it: the connection ends as soon as the call does.
				if r.at.Sub(goAwayAt) > tt.grace || endedAt.Sub(r.at) > 500*time.Millisecond {
					t.Errorf("the call finished %v after the GOAWAY, the connection ended %v after the call; want both within the %v grace",
						r.at.Sub(goAwayAt), endedAt.Sub(r.at), tt.grace)
				}
			} else {
				// The server closed it at the end of the grace, cutting the call: gRPC closes the
				// socket once its reader is done or 1 s has passed (grpc-go issue 5358: a close
				// with unread data would be a RST), so up to 1 s after the grace.
				if late := endedAt.Sub(goAwayAt); byClient || late < tt.grace || late > tt.grace+1500*time.Millisecond {
					t.Errorf("the connection ended %v after the GOAWAY (by the client: %v); want the server to close it after the %v grace, within 1 s",
						late, byClient, tt.grace)
				}
			}
			waitFor(t, 5*time.Second, "the upstream request to end", func() bool { return h.emu.Stats().InFlight == 0 })
		})
	}
}
