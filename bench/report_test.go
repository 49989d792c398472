package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		measured  float64
		limit     float64
		atLeast   bool
		notJudged string
		want      string
	}{
		{name: "under a ceiling", measured: 59, limit: 60, want: VerdictMet},
		{name: "at a ceiling", measured: 60, limit: 60, want: VerdictMet},
		{name: "over a ceiling", measured: 61, limit: 60, want: VerdictMissed},
		{name: "negative is under", measured: -5, limit: 0, want: VerdictMet},
		{name: "over a floor", measured: 13_000, limit: 12_000, atLeast: true, want: VerdictMet},
		{name: "under a floor", measured: 4_000, limit: 12_000, atLeast: true, want: VerdictMissed},
		{name: "not judged, with its reason", measured: 1e9, limit: 1, notJudged: "why", want: VerdictNotJudged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := judge("x", tt.measured, tt.limit, "µs", tt.atLeast, tt.notJudged)
			if c.Verdict != tt.want || c.Note != tt.notJudged {
				t.Errorf("verdict %q note %q, want %q note %q", c.Verdict, c.Note, tt.want, tt.notJudged)
			}
		})
	}
}

func TestMarkHarnessBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cpu        float64
		lagP99     float64
		concurrent bool
		want       bool
	}{
		{name: "one caller on a busy core", cpu: 100, want: false},
		{name: "many callers, harness busy", cpu: 85, concurrent: true, want: true},
		{name: "many callers, harness has room", cpu: 60, concurrent: true, want: false},
		{name: "open loop sending late", cpu: 50, lagP99: 9000, concurrent: true, want: true},
		{name: "open loop on time", cpu: 50, lagP99: 1200, concurrent: true, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &Path{HarnessCPUPercent: tt.cpu}
			if tt.lagP99 > 0 {
				p.SendLag = &Summary{Percentiles: Percentiles{P99: tt.lagP99}}
			}
			p.markHarnessBound(tt.concurrent)
			if p.HarnessBound != tt.want {
				t.Errorf("HarnessBound = %v, want %v", p.HarnessBound, tt.want)
			}
			if note := harnessBoundNote(nil, p); (note != "") != tt.want {
				t.Errorf("harnessBoundNote = %q", note)
			}
		})
	}
}

// pathWith builds a Path from latencies in microseconds; ttft, when given, makes it a stream.
func pathWith(latency []int, ttft []int) *Path {
	us := func(v []int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, n := range v {
			out[i] = time.Duration(n) * time.Microsecond
		}
		return out
	}
	s := &samples{latency: us(latency), elapsed: time.Second, procs: 1, harnessCPU: time.Second / 2}
	if ttft != nil {
		s.ttft, s.ttlt = us(ttft), us(latency)
		for i := range ttft {
			s.perEvent = append(s.perEvent, (s.ttlt[i]-s.ttft[i])/10)
		}
	}
	return pathOf(s)
}

func TestCompare(t *testing.T) {
	t.Parallel()
	t.Run("unary: own cost on the whole call", func(t *testing.T) {
		t.Parallel()
		s := &Scenario{Direct: pathWith([]int{100, 200}, nil), Strata: pathWith([]int{250, 400}, nil), Hop: pathWith([]int{50, 60}, nil)}
		s.compare()
		if want := (Delta{P50: 150, P90: 200, P99: 200}); s.Added.Latency != want {
			t.Errorf("added = %+v, want %+v", s.Added.Latency, want)
		}
		if want := (Delta{P50: 100, P90: 140, P99: 140}); s.OwnCostOf != "latency" || *s.OwnCost != want {
			t.Errorf("own cost of %s = %+v, want latency %+v", s.OwnCostOf, *s.OwnCost, want)
		}
		if s.Strata.CallsPerSecond != 2 || s.Strata.HarnessCPUPercent != 50 {
			t.Errorf("calls/s %v, harness cpu %v%%; want 2 and 50", s.Strata.CallsPerSecond, s.Strata.HarnessCPUPercent)
		}
	})
	t.Run("stream: own cost on the time to first token", func(t *testing.T) {
		t.Parallel()
		s := &Scenario{Direct: pathWith([]int{1000}, []int{300}), Strata: pathWith([]int{1500}, []int{500}), Hop: pathWith([]int{80}, nil)}
		s.compare()
		if s.Added.TTFT == nil || s.Added.TTFT.P50 != 200 || s.Added.Latency.P50 != 500 || s.Added.PerEvent.P50 != 30 {
			t.Fatalf("added = %+v / ttft %+v / per event %+v", s.Added.Latency, s.Added.TTFT, s.Added.PerEvent)
		}
		if s.OwnCostOf != "ttft" || s.OwnCost.P50 != 120 {
			t.Errorf("own cost of %s p50 = %v, want ttft 120", s.OwnCostOf, s.OwnCost.P50)
		}
	})
	t.Run("minimal gateway: its own cost and Strata's beyond it", func(t *testing.T) {
		t.Parallel()
		s := &Scenario{Direct: pathWith([]int{100, 200}, nil), Strata: pathWith([]int{250, 400}, nil), Hop: pathWith([]int{50, 60}, nil),
			Minimal: pathWith([]int{180, 300}, nil)}
		s.compare()
		if want := (Delta{P50: 80, P90: 100, P99: 100}); s.MinimalAdded == nil || *s.MinimalAdded != want {
			t.Errorf("minimal added = %+v, want %+v", s.MinimalAdded, want)
		}
		if want := (Delta{P50: 30, P90: 40, P99: 40}); s.MinimalOwnCost == nil || *s.MinimalOwnCost != want {
			t.Errorf("minimal own cost = %+v, want %+v", s.MinimalOwnCost, want)
		}
		// b − e is the difference of the two own costs: the hop cancels out.
		if want := (Delta{P50: 70, P90: 100, P99: 100}); s.BeyondMinimal == nil || *s.BeyondMinimal != want ||
			s.OwnCost.P50-s.MinimalOwnCost.P50 != want.P50 {
			t.Errorf("beyond minimal = %+v, want %+v", s.BeyondMinimal, want)
		}
	})
	t.Run("no hop: no own cost", func(t *testing.T) {
		t.Parallel()
		s := &Scenario{Direct: pathWith([]int{100}, nil), Strata: pathWith([]int{150}, nil)}
		s.compare()
		if s.Added == nil || s.OwnCost != nil {
			t.Errorf("added %+v, own cost %+v; want added and no own cost", s.Added, s.OwnCost)
		}
	})
}

func sampleReport() *Report {
	s := Scenario{Name: ScenarioChat, Title: "Chat", Loop: "closed loop, 1 caller", Upstream: "zero-latency upstream",
		Direct: pathWith([]int{100, 200}, nil), Strata: pathWith([]int{250, 400}, nil), Hop: pathWith([]int{50, 60}, nil),
		StrataCPUPerCallUS: 120, Peak: Resources{RSSMB: 28.1, Goroutines: 14}, After: Resources{RSSMB: 27.9, Goroutines: 12}}
	s.compare()
	s.Strata.ErrorSamples = []string{"rpc error: code = Unavailable"}
	s.Minimal, s.MinimalCPUPerCallUS = pathWith([]int{180, 300}, nil), 70
	s.compare()
	s.Checks = []Check{judge("own cost p50 (added − hop)", s.OwnCost.P50, budgetChatOwnP50, "µs", false, "").beside(s.MinimalOwnCost.P50)}
	st := Scenario{Name: ScenarioStream, Title: "ChatStream", Direct: pathWith([]int{1000}, []int{300}),
		Strata: pathWith([]int{1500}, []int{500}), Hop: pathWith([]int{80}, nil)}
	st.compare()
	streams := Scenario{Name: ScenarioStreams, Title: "open streams", Direct: pathWith([]int{1000}, []int{300}),
		Strata: pathWith([]int{1500}, []int{500}), After: Resources{RSSMB: 60, Goroutines: 30},
		Settled: &Resources{RSSMB: 35.5, Goroutines: 12}, SettledAfterSeconds: 5}
	streams.compare()
	return &Report{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), GoVersion: "go1.26", OS: "linux", Arch: "amd64", CPUs: 2,
		Server: ServerProcess, Pinning: "Strata pinned to CPU 0", ResourceScope: "strata server process",
		MinimalGateway:  "minimal gateway process (pid 7)",
		DurationSeconds: 3, WarmupSeconds: 0.5, LogLevel: "info", StartupMS: 12.5,
		Idle: Resources{RSSMB: 22.5, Goroutines: 12}, End: Resources{RSSMB: 30, Goroutines: 20},
		Scenarios: []Scenario{s, st, streams},
		Checks:    []Check{judge("start-up to first served call", 12.5, budgetStartupMS, "ms", false, "")},
	}
}

func TestReportJSONRoundTrips(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*rep, back) {
		t.Errorf("the report changed through JSON:\n got %+v\nwant %+v", back, *rep)
	}
	for _, key := range []string{`"p99_us"`, `"own_cost"`, `"calls_per_second"`, `"verdict": "met"`, `"ttft"`, `"harness_cpu_percent"`,
		`"minimal"`, `"minimal_own_cost"`, `"beyond_minimal"`, `"minimal_cpu_per_call_us"`, `"ratio"`, `"settled"`, `"settled_after_s"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("the JSON has no %s", key)
		}
	}
}

func TestReportTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"strata bench: server process, Strata pinned to CPU 0",
		"== chat: Chat",
		"(a) direct", "(b) strata", "(c) hop", "added (b−a)", "own (b−a−c)",
		"ttft", "ttlt", "per event",
		"strata: CPU 120µs per call (hop: 0µs; minimal gateway: 70µs)",
		"(e) for Chat, a minimal gateway run as Strata is (minimal gateway process (pid 7))",
		"(e) minimal", "minimal own (e−a−c)", "beyond minimal (b−e)",
		"errors (b): rpc error: code = Unavailable",
		"budget own cost p50 (added − hop)       ≤ 60µs: 100µs  MISSED\n" +
			"       vs the minimal gateway in this run: Strata 100µs, minimal gateway 30µs (3.33×)\n",
		"RSS peak 0.0 MB, after 60.0 MB, 5s after 35.5 MB; goroutines peak 0, after 30, 5s after 12",
		"budgets: 1 met, 1 missed, 0 not judged; 0 failed calls",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}
}
