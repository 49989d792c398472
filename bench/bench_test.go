package bench

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunEndToEnd runs a tiny bench through the real parts: the emulator over HTTP on
// 127.0.0.1, a real Strata gRPC server (in-process, through server.Serve as `strata serve`
// runs it), the real AWS SDK client, and the minimal gateway over gRPC with real SigV4. One
// scenario of each kind: unary (with the minimal gateway), streaming, fan-out, an open loop, and
// a round of open streams. It is not parallel: goleak checks that everything the run started has
// stopped.
func TestRunEndToEnd(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, ignore)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Options{
		Server:          ServerInProcess,
		Duration:        200 * time.Millisecond,
		Warmup:          50 * time.Millisecond,
		Scenarios:       []string{ScenarioChat, ScenarioStream, ScenarioEmbedCohere, ScenarioOpenLoop, ScenarioStreams},
		Rate:            200,
		UpstreamLatency: 2 * time.Millisecond,
		Streams:         20,
		StreamsHold:     100 * time.Millisecond,
		StreamsSettle:   300 * time.Millisecond,
		LogLevel:        "warn",
		Progress:        &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Scenarios) != 5 {
		t.Fatalf("%d scenarios, want 5", len(rep.Scenarios))
	}
	if rep.Server != ServerInProcess || rep.StartupMS <= 0 || rep.MinimalGateway == "" {
		t.Errorf("server %q, start-up %v ms, minimal gateway %q", rep.Server, rep.StartupMS, rep.MinimalGateway)
	}
	if runtime.GOOS == "linux" && (rep.Idle.RSSMB <= 0 || rep.Idle.Goroutines <= 0) {
		t.Errorf("idle reading %+v", rep.Idle)
	}
	for _, s := range rep.Scenarios {
		paths := map[string]*Path{"direct": s.Direct, "strata": s.Strata}
		if s.Name != ScenarioStreams {
			paths["hop"] = s.Hop
		}
		if s.Name == ScenarioChat {
			// Its calls fail on an error or a reply without text: zero errors is text every time.
			paths["minimal gateway"] = s.Minimal
			if s.MinimalOwnCost == nil || s.BeyondMinimal == nil || s.MinimalAdded == nil || s.MinimalCPUPerCallUS <= 0 {
				t.Errorf("chat: minimal gateway figures missing: %+v", s)
			}
		} else if s.Minimal != nil {
			t.Errorf("%s: a minimal gateway path", s.Name)
		}
		if s.Name == ScenarioStream {
			paths["stream hop"] = s.StreamHop
			if s.OwnCostBeyondStreamHop == nil {
				t.Errorf("stream: no own cost beyond the stream hop")
			}
		}
		for name, p := range paths {
			if p == nil {
				t.Errorf("%s: no %s path", s.Name, name)
				continue
			}
			if p.Errors != 0 {
				t.Errorf("%s %s: %d errors: %q", s.Name, name, p.Errors, p.ErrorSamples)
			}
			if p.Calls == 0 || p.CallsPerSecond <= 0 || p.Latency.N == 0 {
				t.Errorf("%s %s: %d calls, %v calls/s", s.Name, name, p.Calls, p.CallsPerSecond)
			}
			l := p.Latency
			if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
				t.Errorf("%s %s: percentiles out of order: %+v", s.Name, name, l)
			}
		}
		if s.Added == nil {
			t.Errorf("%s: no added latency", s.Name)
		}
		if s.StrataCPUPerCallUS <= 0 {
			t.Errorf("%s: Strata CPU per call %v", s.Name, s.StrataCPUPerCallUS)
		}
		if s.Name == ScenarioStream || s.Name == ScenarioStreams {
			if s.Strata.TTFT == nil || s.Direct.TTFT == nil || s.Strata.TTFT.P50 > s.Strata.TTLT.P50 {
				t.Errorf("%s: stream measures %+v", s.Name, s.Strata)
				continue
			}
		}
		switch s.Name {
		case ScenarioOpenLoop:
			// 200 calls/s for 200 ms, each held 2 ms upstream, timed from its scheduled send.
			if s.Strata.Calls != 40 || s.Direct.Calls != 40 || s.Strata.SendLag == nil || s.Strata.Latency.P50 < 2000 {
				t.Errorf("open loop: %d and %d calls, strata %+v", s.Direct.Calls, s.Strata.Calls, s.Strata.Latency)
			}
		case ScenarioStreams:
			if s.Strata.Calls != 20 || s.Strata.TTFT.P50 < 50_000 {
				t.Errorf("streams: %d calls, ttft %+v; want 20 held 50 ms before their first token", s.Strata.Calls, s.Strata.TTFT)
			}
			if s.Settled == nil || s.SettledAfterSeconds != 0.3 || len(s.Checks) != 2 || s.Checks[1].Name != "RSS 300ms after, back near idle" {
				t.Errorf("streams: settled %+v after %vs, checks %+v", s.Settled, s.SettledAfterSeconds, s.Checks)
			}
		}
	}
	if s := rep.Scenarios[0]; s.OwnCost == nil || len(s.Checks) != 2 || s.Checks[0].Verdict == "" || s.Checks[0].Minimal == nil || s.Checks[1].Minimal == nil {
		t.Errorf("chat: own cost %v, checks %+v", s.OwnCost, s.Checks)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== chat", "== streams", "own (b−a−c)", "(e) minimal", "minimal own (e−a−c)", "beyond minimal (b−e)",
		"vs the minimal gateway in this run", "send lag", "300ms after", "budgets:"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, table.String())
		}
	}
	if !strings.Contains(progress.String(), "chat: (b) strata") || !strings.Contains(progress.String(), "chat: (e) minimal gateway") {
		t.Errorf("progress = %q", progress.String())
	}
}

// TestRunRejectsBadOptions fails before starting anything.
func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := Run(context.Background(), Options{Server: "cloud"}); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Errorf("Run with a bad server mode: %v", err)
	}
}
