package bench

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		check     func(o Options) bool
		wantJSON  bool
		wantStrct bool
		wantServe string
	}{{
		name: "defaults are the budgets' conditions",
		check: func(o Options) bool {
			return o.Duration == 3*time.Second && o.Concurrency == 1 && o.Server == ServerProcess && o.Pin &&
				o.Rate == 3000 && o.UpstreamLatency == 20*time.Millisecond && o.SaturationCallers == 16 &&
				o.InFlight == 512 && o.Streams == 1000 && o.StreamsSettle == 5*time.Second && o.Scenarios == nil && o.LogLevel == "info"
		},
	}, {
		name: "flags are taken",
		args: []string{"--duration", "200ms", "--concurrency", "4", "--scenarios", "chat, stream", "--json", "--strict",
			"--server", "inprocess", "--pin=false", "--ttft", "5ms", "--tokens-per-second", "50", "--rate", "100"},
		wantJSON: true, wantStrct: true,
		check: func(o Options) bool {
			return o.Duration == 200*time.Millisecond && o.Concurrency == 4 && slices.Equal(o.Scenarios, []string{"chat", "stream"}) &&
				o.Server == ServerInProcess && !o.Pin && o.TTFT == 5*time.Millisecond && o.TokensPerSecond == 50 && o.Rate == 100
		},
	}, {
		name: "quick is short and picks the latency scenarios",
		args: []string{"--quick"},
		check: func(o Options) bool {
			return o.Duration == time.Second && o.Warmup == 200*time.Millisecond && slices.Equal(o.Scenarios, quickScenarios())
		},
	}, {
		name: "quick keeps what is given",
		args: []string{"--quick", "--scenarios", "saturation", "--duration", "2s"},
		check: func(o Options) bool {
			return o.Duration == 2*time.Second && slices.Equal(o.Scenarios, []string{"saturation"})
		},
	},
		{name: "the internal minimal gateway", args: []string{"--serve-minimal-gateway", "127.0.0.1:0"}, wantServe: "127.0.0.1:0",
			check: func(Options) bool { return true }},
		{name: "unknown scenario", args: []string{"--scenarios", "chat,warp"}, wantErr: `unknown scenario "warp"`},
		{name: "unknown server mode", args: []string{"--server", "cloud"}, wantErr: `--server "cloud"`},
		{name: "no callers", args: []string{"--concurrency", "0"}, wantErr: "--concurrency 0"},
		{name: "no rate", args: []string{"--rate", "-1"}, wantErr: "--rate -1"},
		{name: "negative latency", args: []string{"--ttft", "-1s"}, wantErr: "must not be negative"},
		{name: "stray argument", args: []string{"now"}, wantErr: `unexpected argument "now"`},
		{name: "bad duration", args: []string{"--duration", "soon"}, wantErr: "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) error = %v, want it to mention %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if !tt.check(c.o) || c.asJSON != tt.wantJSON || c.strict != tt.wantStrct || c.serveMinimal != tt.wantServe {
				t.Errorf("parseFlags(%q) = %+v", tt.args, c)
			}
		})
	}
}

// TestUsageMarksTheMinimalGatewayInternal: the minimal gateway is a flag for the bench's own
// child process, said so in the help, and no scenario.
func TestUsageMarksTheMinimalGatewayInternal(t *testing.T) {
	t.Parallel()
	var help strings.Builder
	if _, err := parseFlags([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags(-h) = %v", err)
	}
	if !strings.Contains(help.String(), "-serve-minimal-gateway ADDR\n    \tinternal, not for direct use") {
		t.Errorf("the help does not mark --serve-minimal-gateway internal:\n%s", help.String())
	}
	if slices.ContainsFunc(ScenarioNames(), func(n string) bool { return strings.Contains(n, "minimal") }) {
		t.Errorf("a minimal-gateway scenario in %v", ScenarioNames())
	}
}

func TestScenariosSelectInOrder(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.Scenarios = []string{ScenarioStreams, ScenarioChat}
	var got []string
	for _, sc := range scenarios(o) {
		got = append(got, sc.name)
	}
	if want := []string{ScenarioChat, ScenarioStreams}; !slices.Equal(got, want) {
		t.Errorf("scenarios = %v, want %v (running order, not the order asked)", got, want)
	}
	o.Scenarios = nil
	if n := len(scenarios(o)); n != len(ScenarioNames()) {
		t.Errorf("all scenarios: %d, want %d", n, len(ScenarioNames()))
	}
	for _, sc := range scenarios(o) {
		if !slices.Contains(ScenarioNames(), sc.name) {
			t.Errorf("scenario %q is not in ScenarioNames", sc.name)
		}
	}
}

func TestLongPrompt(t *testing.T) {
	t.Parallel()
	p := longPrompt(8 << 10)
	if len(p) != 8<<10 || len(strings.Fields(p)) < 1000 {
		t.Errorf("longPrompt: %d bytes, %d words", len(p), len(strings.Fields(p)))
	}
}
