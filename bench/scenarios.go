package bench

import (
	"fmt"
	"time"
)

// Scenario names, as --scenarios takes them, in the order they run.
const (
	ScenarioChat        = "chat"
	ScenarioChat8K      = "chat-8k"
	ScenarioStream      = "stream"
	ScenarioEmbed       = "embed"
	ScenarioEmbedTitan  = "embed-titan-64"
	ScenarioEmbedCohere = "embed-cohere-64"
	ScenarioSaturation  = "saturation"
	ScenarioOpenLoop    = "open-loop"
	ScenarioInFlight    = "inflight"
	ScenarioStreams     = "streams"
)

// ScenarioNames lists every scenario, in the order they run: the latency scenarios first, on an
// idle server, and the ones that fill its memory last.
func ScenarioNames() []string {
	return []string{ScenarioChat, ScenarioChat8K, ScenarioStream, ScenarioEmbed, ScenarioEmbedTitan,
		ScenarioEmbedCohere, ScenarioSaturation, ScenarioOpenLoop, ScenarioInFlight, ScenarioStreams}
}

// The budgets Strata is held to (issue 5). Latencies are in microseconds, memory in megabytes.
const (
	budgetChatOwnP50      = 60
	budgetChatAddedP99    = 400
	budgetStreamTTFTP50   = 150
	budgetStreamTTFTP99   = 1000
	budgetEmbedOwnP50     = 80
	budgetSaturation      = 12_000
	budgetOpenLoopP99     = 1500
	budgetIdleMB          = 30
	budgetInFlightMB      = 80
	budgetStreamsMB       = 150
	budgetStartupMS       = 100
	budgetAfterAboveIdle  = 20
	budgetOpenLoopRate    = 3000
	budgetOpenLoopLatency = 20 * time.Millisecond
	budgetInFlightCalls   = 512
	budgetStreamsOpen     = 1000
	budgetSaturationCalls = 16
)

// inFlightLatency is the upstream latency of the in-flight scenario: long enough that every
// caller's call is in Strata at once (512 callers at 250 ms is some 2,000 calls/s).
const inFlightLatency = 250 * time.Millisecond

// streamTokens caps the reply of each open stream, so the slow emulator's pace sets its length.
const streamTokens = 40

// paths are the clients a scenario's ops call through.
type paths struct {
	direct directClient
	strata *target
}

// scenario is one workload, driven the same way through each path.
type scenario struct {
	name, title string
	loop        loop
	upstream    latency
	// direct and strata build the op of each path; hop adds the bare health check, streamHop
	// a bare gRPC stream.
	direct, strata func(p paths) op
	hop, streamHop bool
	// minimal adds (e): the strata op driven against the minimal gateway instead of Strata, so
	// that both make the same calls.
	minimal bool
	// fanOut marks a workload whose every call makes several upstream calls at once, so one
	// caller keeps several in flight.
	fanOut bool
	// noWarmup skips the warm-up (a round of calls that each outlast it).
	noWarmup bool
	// settle is how long to wait after the scenario before reading the server's resources.
	settle time.Duration
	// settledReading reads them once more after Options.StreamsSettle of idling.
	settledReading bool
	// checks judges the result against the budgets.
	checks func(s *Scenario, run *runInfo) []Check
}

// runInfo is what the checks need to know about the run.
type runInfo struct {
	mode   string
	pinned bool
	o      Options
	idle   Resources
}

// wholeProcess is why memory budgets are not judged in-process.
const wholeProcess = "in-process: the reading is the whole process, load and emulator included"

// scenarios builds the scenarios o selects, in their running order.
func scenarios(o Options) []scenario {
	base := latency{ttft: o.TTFT, tokensPerSecond: o.TokensPerSecond}
	lat := loop{workers: o.Concurrency}
	long := longPrompt(8 << 10)
	titanTexts, cohereTexts := embedTexts(64), embedTexts(64)
	oneText := embedTexts(1)
	bound := func(s *Scenario) string { return harnessBoundNote(s.Direct, s.Strata, s.Hop) }
	atC1 := func(run *runInfo) string {
		if run.o.Concurrency != 1 {
			return "the budget is for 1 caller"
		}
		return ""
	}
	all := []scenario{{
		name: ScenarioChat, title: "Chat, short prompt", loop: lat, upstream: base, hop: true, minimal: true,
		direct: func(p paths) op { return directChat(p.direct.sdk, shortPrompt, 0) },
		strata: func(p paths) op { return strataChat(p.strata.llm, shortPrompt, 0) },
		checks: func(s *Scenario, run *runInfo) []Check {
			own := judge("own cost p50 (added − hop)", s.OwnCost.P50, budgetChatOwnP50, "µs", false, firstReason(atC1(run), bound(s)))
			added := judge("added p99 (b − a)", s.Added.Latency.P99, budgetChatAddedP99, "µs", false, firstReason(atC1(run), bound(s)))
			if s.MinimalOwnCost != nil {
				own = own.beside(s.MinimalOwnCost.P50)
			}
			if s.MinimalAdded != nil {
				added = added.beside(s.MinimalAdded.P99)
			}
			return []Check{own, added}
		},
	}, {
		name: ScenarioChat8K, title: "Chat, 8 KB prompt", loop: lat, upstream: base, hop: true, minimal: true,
		direct: func(p paths) op { return directChat(p.direct.sdk, long, 0) },
		strata: func(p paths) op { return strataChat(p.strata.llm, long, 0) },
	}, {
		name: ScenarioStream, title: "ChatStream, short prompt", loop: lat, upstream: base, hop: true, streamHop: true,
		direct: func(p paths) op { return directStream(p.direct.sdk, shortPrompt, 0) },
		strata: func(p paths) op { return strataStream(p.strata.llm, shortPrompt, 0) },
		checks: func(s *Scenario, run *runInfo) []Check {
			return []Check{
				judge("added TTFT p50 beyond the hop", s.OwnCost.P50, budgetStreamTTFTP50, "µs", false, firstReason(atC1(run), bound(s))),
				judge("added TTFT p99 beyond the hop", s.OwnCost.P99, budgetStreamTTFTP99, "µs", false, firstReason(atC1(run), bound(s))),
			}
		},
	}, {
		name: ScenarioEmbed, title: "Embed, 1 text (" + titanModel + ")", loop: lat, upstream: base, hop: true,
		direct: func(p paths) op { return directEmbed(p.direct.sdk, titanModel, oneText, 1) },
		strata: func(p paths) op { return strataEmbed(p.strata.llm, titanModel, oneText) },
		checks: func(s *Scenario, run *runInfo) []Check {
			return []Check{judge("own cost p50 (added − hop)", s.OwnCost.P50, budgetEmbedOwnP50, "µs", false, firstReason(atC1(run), bound(s)))}
		},
	}, {
		name: ScenarioEmbedTitan, title: "Embed, 64 texts, Titan fan-out (" + titanModel + ")", loop: lat, upstream: base, hop: true, fanOut: true,
		direct: func(p paths) op { return directEmbed(p.direct.sdk, titanModel, titanTexts, 1) },
		strata: func(p paths) op { return strataEmbed(p.strata.llm, titanModel, titanTexts) },
	}, {
		name: ScenarioEmbedCohere, title: "Embed, 64 texts, Cohere batches (" + cohereModel + ")", loop: lat, upstream: base, hop: true, fanOut: true,
		direct: func(p paths) op { return directEmbed(p.direct.sdk, cohereModel, cohereTexts, embedBatch) },
		strata: func(p paths) op { return strataEmbed(p.strata.llm, cohereModel, cohereTexts) },
	}, {
		name: ScenarioSaturation, title: "saturation: Chat, short prompt", loop: loop{workers: o.SaturationCallers}, upstream: base, hop: true, minimal: true,
		direct: func(p paths) op { return directChat(p.direct.sdk, shortPrompt, 0) },
		strata: func(p paths) op { return strataChat(p.strata.llm, shortPrompt, 0) },
		checks: func(s *Scenario, run *runInfo) []Check {
			why := ""
			switch {
			case run.mode != ServerProcess || !run.pinned:
				why = "the budget is for Strata alone on one core: --server process --pin"
			case run.o.SaturationCallers != budgetSaturationCalls:
				why = fmt.Sprintf("the budget is for %d callers", budgetSaturationCalls)
			}
			c := judge("Strata calls/s", s.Strata.CallsPerSecond, budgetSaturation, "calls/s", true, firstReason(why, harnessBoundNote(s.Strata)))
			if s.Minimal != nil {
				c = c.beside(s.Minimal.CallsPerSecond)
			}
			return []Check{c}
		},
	}, {
		name: ScenarioOpenLoop, title: "open loop: Chat, short prompt", loop: loop{rate: o.Rate},
		upstream: latency{ttft: o.UpstreamLatency}, hop: true,
		direct: func(p paths) op { return directChat(p.direct.sdk, shortPrompt, 0) },
		strata: func(p paths) op { return strataChat(p.strata.llm, shortPrompt, 0) },
		checks: func(s *Scenario, run *runInfo) []Check {
			why := ""
			if run.o.Rate != budgetOpenLoopRate || run.o.UpstreamLatency != budgetOpenLoopLatency {
				why = fmt.Sprintf("the budget is for %d calls/s with %v upstream", budgetOpenLoopRate, budgetOpenLoopLatency)
			}
			return []Check{
				judge("added p99 (b − a)", s.Added.Latency.P99, budgetOpenLoopP99, "µs", false, firstReason(why, harnessBoundNote(s.Direct, s.Strata))),
				judge("Strata errors", float64(s.Strata.Errors), 0, "calls", false, why),
			}
		},
	}, {
		name: ScenarioInFlight, title: fmt.Sprintf("%d calls in flight: Chat, short prompt", o.InFlight),
		loop: loop{workers: o.InFlight}, upstream: latency{ttft: inFlightLatency},
		direct: func(p paths) op { return directChat(p.direct.sdk, shortPrompt, 0) },
		strata: func(p paths) op { return strataChat(p.strata.llm, shortPrompt, 0) },
		checks: func(s *Scenario, run *runInfo) []Check {
			why := ""
			switch {
			case run.mode != ServerProcess:
				why = wholeProcess
			case run.o.InFlight != budgetInFlightCalls:
				why = fmt.Sprintf("the budget is for %d calls in flight", budgetInFlightCalls)
			}
			return []Check{judge("RSS at peak", s.Peak.RSSMB, budgetInFlightMB, "MB", false, why)}
		},
	}, {
		name: ScenarioStreams, title: fmt.Sprintf("%d open streams: ChatStream of %d tokens", o.Streams, streamTokens),
		loop: loop{workers: o.Streams, once: true}, noWarmup: true, settle: time.Second, settledReading: true,
		// Half the hold waiting for the first token, so every stream is open at once, then the
		// reply paced over the other half.
		upstream: latency{ttft: o.StreamsHold / 2, tokensPerSecond: streamTokens / (o.StreamsHold / 2).Seconds()},
		direct:   func(p paths) op { return directStream(p.direct.sdk, shortPrompt, streamTokens) },
		strata:   func(p paths) op { return strataStream(p.strata.llm, shortPrompt, streamTokens) },
		checks: func(s *Scenario, run *runInfo) []Check {
			why := ""
			switch {
			case run.mode != ServerProcess:
				why = wholeProcess
			case run.o.Streams != budgetStreamsOpen:
				why = fmt.Sprintf("the budget is for %d open streams", budgetStreamsOpen)
			}
			// Judged on the settled reading; the one right after is in the report beside it.
			after, name := s.After.RSSMB, "RSS after, back near idle"
			if s.Settled != nil {
				after, name = s.Settled.RSSMB, fmt.Sprintf("RSS %v after, back near idle", seconds(s.SettledAfterSeconds))
			}
			return []Check{
				judge("RSS at peak", s.Peak.RSSMB, budgetStreamsMB, "MB", false, why),
				judge(name, after, run.idle.RSSMB+budgetAfterAboveIdle, "MB", false, why),
			}
		},
	}}
	want := map[string]bool{}
	for _, n := range o.Scenarios {
		want[n] = true
	}
	var out []scenario
	for _, sc := range all {
		if len(want) == 0 || want[sc.name] {
			out = append(out, sc)
		}
	}
	return out
}
