package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run: what `strata bench` prints as a table, or as JSON with --json
// so that runs can be compared by a script. Latencies are in microseconds, memory in megabytes.
type Report struct {
	Started   time.Time `json:"started"`
	GoVersion string    `json:"go_version"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	// CPUs is how many CPUs the harness could use when it started.
	CPUs int `json:"cpus"`
	// Server is ServerProcess or ServerInProcess; Pinning says which CPUs ran what.
	Server  string `json:"server"`
	Pinning string `json:"pinning"`
	// ResourceScope says whose CPU time, RSS and goroutines the report gives.
	ResourceScope string `json:"resource_scope"`
	// MinimalGateway says where the minimal gateway of path (e) ran; empty when no scenario
	// measured it.
	MinimalGateway string `json:"minimal_gateway,omitempty"`
	// DurationSeconds is the measured time of each path of each scenario, after WarmupSeconds.
	DurationSeconds float64 `json:"duration_s"`
	WarmupSeconds   float64 `json:"warmup_s"`
	// LogLevel is the server's STRATA_LOG_LEVEL.
	LogLevel string `json:"log_level"`
	// StartupMS is the time from launch (exec, in process mode) to the first Chat served.
	StartupMS float64 `json:"startup_ms"`
	// Idle is the server at rest after its first call; End after the last scenario.
	Idle      Resources  `json:"idle"`
	End       Resources  `json:"end"`
	Scenarios []Scenario `json:"scenarios"`
	// Checks are the run's own budgets (start-up, idle memory); each scenario has its own.
	Checks []Check `json:"checks"`
}

// Resources is a reading of the server's memory and goroutines.
type Resources struct {
	RSSMB      float64 `json:"rss_mb"`
	Goroutines int     `json:"goroutines"`
}

// Scenario is the result of one workload driven through each path: (a) the AWS SDK straight
// to the emulator, (b) Strata, (c) the bare gRPC hop to Strata, for ChatStream (d) a bare gRPC
// stream to Strata, and for Chat (e) the minimal gateway.
type Scenario struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Loop says how calls were made (closed loop and its callers, or open loop and its rate);
	// Upstream the emulator's latency model.
	Loop     string `json:"loop"`
	Upstream string `json:"upstream"`
	Direct   *Path  `json:"direct"`
	Strata   *Path  `json:"strata"`
	Hop      *Path  `json:"hop,omitempty"`
	// StreamHop, for ChatStream, is (d): a bare gRPC stream to Strata's server, timed to its
	// first message, the price of a stream itself.
	StreamHop *Path `json:"stream_hop,omitempty"`
	// Added is Strata's latency over the direct call, (b) − (a), percentile by percentile.
	Added *Added `json:"added"`
	// OwnCost is Added minus the bare hop, (b) − (a) − (c): what Strata's own work costs beyond
	// any gRPC round trip. It is taken on OwnCostOf: the whole call, or the time to first token
	// of a stream.
	OwnCost   *Delta `json:"own_cost,omitempty"`
	OwnCostOf string `json:"own_cost_of,omitempty"`
	// OwnCostBeyondStreamHop is (b) − (a) − (d) on the time to first token: Strata's own cost
	// beyond the price of a bare gRPC stream.
	OwnCostBeyondStreamHop *Delta `json:"own_cost_beyond_stream_hop,omitempty"`
	// Minimal is (e): the same calls through the minimal gateway (minimal.go), a Chat that
	// forwards the Converse request over plain net/http with the SDK's SigV4 signer and does
	// nothing else, run as Strata is (process, CPU), one after the other: issue 5's reference.
	Minimal *Path `json:"minimal,omitempty"`
	// MinimalAdded is (e) − (a), and MinimalOwnCost (e) − (a) − (c): the minimal gateway's own
	// cost, what any gateway costs on this machine. (c) is the hop to Strata's server; both own
	// costs subtract the same hop, so their difference does not depend on it.
	MinimalAdded   *Delta `json:"minimal_added,omitempty"`
	MinimalOwnCost *Delta `json:"minimal_own_cost,omitempty"`
	// BeyondMinimal is (b) − (e): what Strata costs beyond the minimal gateway.
	BeyondMinimal *Delta `json:"beyond_minimal,omitempty"`
	// StrataCPUPerCallUS is the server's CPU time during the Strata phase over its calls, in
	// microseconds; HopCPUPerCallUS the same during the hop phase.
	StrataCPUPerCallUS float64 `json:"strata_cpu_per_call_us"`
	HopCPUPerCallUS    float64 `json:"hop_cpu_per_call_us,omitempty"`
	// MinimalCPUPerCallUS is the minimal gateway's CPU time during (e) over its calls.
	MinimalCPUPerCallUS float64 `json:"minimal_cpu_per_call_us,omitempty"`
	// Peak is the highest reading during the Strata phase; After the reading shortly after the
	// scenario (and its other paths). Settled, for the open streams, is a reading taken
	// SettledAfterSeconds after the scenario, the server idle meanwhile.
	Peak                Resources  `json:"peak"`
	After               Resources  `json:"after"`
	Settled             *Resources `json:"settled,omitempty"`
	SettledAfterSeconds float64    `json:"settled_after_s,omitempty"`
	Checks              []Check    `json:"checks,omitempty"`
}

// Path is what one way of making the calls measured.
type Path struct {
	Calls  int `json:"calls"`
	Errors int `json:"errors"`
	// ErrorSamples are the first few distinct error messages.
	ErrorSamples   []string `json:"error_samples,omitempty"`
	Seconds        float64  `json:"seconds"`
	CallsPerSecond float64  `json:"calls_per_second"`
	// Latency is each successful call's duration: to the reply, or to the end of the stream.
	// In an open loop it runs from the call's scheduled send time.
	Latency Summary `json:"latency"`
	// TTFT and TTLT are a stream's times to its first and to its last text delta; PerEvent is
	// (TTLT − TTFT)/(deltas − 1), the mean gap between deltas after the first.
	TTFT     *Summary `json:"ttft,omitempty"`
	TTLT     *Summary `json:"ttlt,omitempty"`
	PerEvent *Summary `json:"per_event,omitempty"`
	// SendLag, in an open loop, is how late each call left after its scheduled time: the
	// harness's own delay, which Latency includes.
	SendLag *Summary `json:"send_lag,omitempty"`
	// HarnessCPUPercent is the CPU the harness (load, direct client, emulator) used over the
	// phase, as a share of the CPUs it may use. Near 100 the harness queued its own work, and
	// the latencies include that queueing.
	HarnessCPUPercent float64 `json:"harness_cpu_percent"`
	// HarnessBound marks a path whose latencies the harness's own queueing inflated (see
	// markHarnessBound); budgets on it are not judged.
	HarnessBound bool `json:"harness_bound,omitempty"`
}

// Thresholds of markHarnessBound.
const (
	harnessBoundCPU     = 80
	harnessBoundSendLag = 5000 // µs
)

// markHarnessBound flags p when the harness, not the server, may have set its latencies: with
// several calls in flight, the harness used at least 80% of its CPUs (calls then queue in it),
// or an open loop's calls left more than 5 ms late at p99. One caller alone cannot queue behind
// itself, so a closed loop of one is never flagged, however busy its core.
func (p *Path) markHarnessBound(concurrent bool) {
	p.HarnessBound = concurrent && p.HarnessCPUPercent >= harnessBoundCPU ||
		p.SendLag != nil && p.SendLag.P99 > harnessBoundSendLag
}

// harnessBoundNote is why a check on paths is not judged, or "" when none is harness-bound.
func harnessBoundNote(paths ...*Path) string {
	for _, p := range paths {
		if p != nil && p.HarnessBound {
			return "the bench process was CPU-bound, so its own queueing is in the figures: give it more CPUs or --pin=false"
		}
	}
	return ""
}

// firstReason returns the first non-empty reason.
func firstReason(reasons ...string) string {
	for _, r := range reasons {
		if r != "" {
			return r
		}
	}
	return ""
}

// Added is (b) − (a) for each measure of a scenario.
type Added struct {
	Latency  Delta  `json:"latency"`
	TTFT     *Delta `json:"ttft,omitempty"`
	TTLT     *Delta `json:"ttlt,omitempty"`
	PerEvent *Delta `json:"per_event,omitempty"`
}

// Verdicts of a [Check].
const (
	VerdictMet       = "met"
	VerdictMissed    = "missed"
	VerdictNotJudged = "not judged"
)

// Check is one budget beside what was measured.
type Check struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	// AtLeast marks a floor (throughput); otherwise the limit is a ceiling.
	AtLeast bool   `json:"at_least,omitempty"`
	Verdict string `json:"verdict"`
	// Note says why a check was not judged.
	Note string `json:"note,omitempty"`
	// Minimal is the same measure taken on the minimal gateway (e) in the same run: how far
	// from the budget the machine itself is. It does not change the verdict.
	Minimal *Reference `json:"minimal,omitempty"`
}

// Reference is a check's measure taken on the minimal gateway.
type Reference struct {
	Measured float64 `json:"measured"`
	// Ratio is the check's measure over this one; 0 when either is not positive.
	Ratio float64 `json:"ratio,omitempty"`
}

// beside returns c with the minimal gateway's measure of the same thing beside it.
func (c Check) beside(minimal float64) Check {
	c.Minimal = &Reference{Measured: minimal}
	if minimal > 0 && c.Measured > 0 {
		c.Minimal.Ratio = round(c.Measured/minimal, 2)
	}
	return c
}

// judge compares measured with limit; a non-empty notJudged leaves the check unjudged, saying why.
func judge(name string, measured, limit float64, unit string, atLeast bool, notJudged string) Check {
	c := Check{Name: name, Measured: measured, Limit: limit, Unit: unit, AtLeast: atLeast}
	switch {
	case notJudged != "":
		c.Verdict, c.Note = VerdictNotJudged, notJudged
	case atLeast && measured >= limit, !atLeast && measured <= limit:
		c.Verdict = VerdictMet
	default:
		c.Verdict = VerdictMissed
	}
	return c
}

// pathOf turns a phase's samples into its report.
func pathOf(s *samples) *Path {
	p := &Path{Calls: s.calls(), Errors: s.errors, ErrorSamples: s.errorSamples, Seconds: round(s.elapsed.Seconds(), 3)}
	if s.elapsed > 0 {
		p.CallsPerSecond = round(float64(len(s.latency))/s.elapsed.Seconds(), 1)
	}
	p.Latency = summarize(s.latency)
	if len(s.ttft) > 0 {
		ttft, ttlt, perEvent := summarize(s.ttft), summarize(s.ttlt), summarize(s.perEvent)
		p.TTFT, p.TTLT, p.PerEvent = &ttft, &ttlt, &perEvent
	}
	if len(s.sendLag) > 0 {
		lag := summarize(s.sendLag)
		p.SendLag = &lag
	}
	if s.elapsed > 0 && s.procs > 0 {
		p.HarnessCPUPercent = round(100*s.harnessCPU.Seconds()/(s.elapsed.Seconds()*float64(s.procs)), 0)
	}
	return p
}

// compare fills Added and OwnCost from the paths.
func (s *Scenario) compare() {
	if s.Direct == nil || s.Strata == nil {
		return
	}
	a, b := s.Direct, s.Strata
	s.Added = &Added{Latency: b.Latency.minus(a.Latency.Percentiles)}
	if a.TTFT != nil && b.TTFT != nil {
		ttft, ttlt, pe := b.TTFT.minus(a.TTFT.Percentiles), b.TTLT.minus(a.TTLT.Percentiles), b.PerEvent.minus(a.PerEvent.Percentiles)
		s.Added.TTFT, s.Added.TTLT, s.Added.PerEvent = &ttft, &ttlt, &pe
	}
	if s.StreamHop != nil && s.Added.TTFT != nil {
		own := s.Added.TTFT.minus(s.StreamHop.Latency.Percentiles)
		s.OwnCostBeyondStreamHop = &own
	}
	if e := s.Minimal; e != nil {
		added, beyond := e.Latency.minus(a.Latency.Percentiles), b.Latency.minus(e.Latency.Percentiles)
		s.MinimalAdded, s.BeyondMinimal = &added, &beyond
		if s.Hop != nil {
			own := added.minus(s.Hop.Latency.Percentiles)
			s.MinimalOwnCost = &own
		}
	}
	if s.Hop == nil {
		return
	}
	own, of := s.Added.Latency.minus(s.Hop.Latency.Percentiles), "latency"
	if s.Added.TTFT != nil {
		own, of = s.Added.TTFT.minus(s.Hop.Latency.Percentiles), "ttft"
	}
	s.OwnCost, s.OwnCostOf = &own, of
}

// Verdicts counts the checks of the run and of every scenario by verdict.
func (r *Report) Verdicts() map[string]int {
	n := map[string]int{}
	for _, c := range r.Checks {
		n[c.Verdict]++
	}
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			n[c.Verdict]++
		}
	}
	return n
}

// Errors counts the failed calls of every path of every scenario.
func (r *Report) Errors() int {
	n := 0
	for _, s := range r.Scenarios {
		for _, p := range []*Path{s.Direct, s.Strata, s.Hop, s.StreamHop, s.Minimal} {
			if p != nil {
				n += p.Errors
			}
		}
	}
	return n
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// WriteTable writes the report for a reader: a header, then per scenario one row per path and
// measure, Strata's added latency and own cost, its resources, and each budget with its verdict.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "strata bench: server %s, %s\n", r.Server, r.Pinning)
	fmt.Fprintf(&b, "%s %s/%s, %d CPUs; each path %s warm-up then %s measured; server log level %s\n",
		r.GoVersion, r.OS, r.Arch, r.CPUs, seconds(r.WarmupSeconds), seconds(r.DurationSeconds), r.LogLevel)
	fmt.Fprintf(&b, "paths: (a) AWS SDK direct to the emulator, (b) through Strata over gRPC, (c) bare grpc.health.v1 Check to Strata,\n")
	fmt.Fprintf(&b, "       (d) for ChatStream, a bare gRPC stream to Strata (server reflection), timed to its first message\n")
	if r.MinimalGateway != "" {
		fmt.Fprintf(&b, "       (e) for Chat, a minimal gateway run as Strata is (%s): Converse over plain net/http\n", r.MinimalGateway)
		fmt.Fprintf(&b, "           signed by the SDK's SigV4 signer, no retries, logging or validation: the floor on this machine\n")
	}
	fmt.Fprintf(&b, "percentiles are exact (every call recorded and sorted); added = b − a and own cost = b − a − c, percentile by percentile\n")
	if r.MinimalGateway != "" {
		fmt.Fprintf(&b, "minimal own = e − a − c, the minimal gateway's own cost; beyond minimal = b − e, what Strata costs beyond it\n")
	}
	fmt.Fprintf(&b, "CPU, RSS and goroutines: %s\n\n", r.ResourceScope)
	fmt.Fprintf(&b, "start-up to first served call %.1f ms; idle: RSS %.1f MB, %d goroutines\n", r.StartupMS, r.Idle.RSSMB, r.Idle.Goroutines)
	writeChecks(&b, r.Checks)
	for _, s := range r.Scenarios {
		b.WriteString("\n")
		writeScenario(&b, s)
	}
	fmt.Fprintf(&b, "\nend: RSS %.1f MB, %d goroutines (idle: %.1f MB, %d)\n", r.End.RSSMB, r.End.Goroutines, r.Idle.RSSMB, r.Idle.Goroutines)
	v := r.Verdicts()
	fmt.Fprintf(&b, "budgets: %d met, %d missed, %d not judged; %d failed calls\n", v[VerdictMet], v[VerdictMissed], v[VerdictNotJudged], r.Errors())
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

func writeScenario(b *strings.Builder, s Scenario) {
	fmt.Fprintf(b, "== %s: %s; %s; %s\n", s.Name, s.Title, s.Loop, s.Upstream)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tmeasure\tcalls\tcalls/s\terrors\tp50\tp90\tp99\tmax\tharness cpu\t")
	row := func(path, measure string, p *Path, sum *Summary, first bool) {
		if first {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%d\t%s\t%.0f%%\t\n", path, measure, p.Calls, p.CallsPerSecond, p.Errors, percentileCells(sum.Percentiles), p.HarnessCPUPercent)
		} else {
			fmt.Fprintf(tw, "\t%s\t\t\t\t%s\t\t\n", measure, percentileCells(sum.Percentiles))
		}
	}
	for _, x := range []struct {
		name string
		p    *Path
	}{{"(a) direct", s.Direct}, {"(b) strata", s.Strata}, {"(c) hop", s.Hop}, {"(d) stream hop", s.StreamHop}, {"(e) minimal", s.Minimal}} {
		if x.p == nil {
			continue
		}
		if x.p.TTFT == nil {
			row(x.name, "latency", x.p, &x.p.Latency, true)
		} else {
			row(x.name, "ttft", x.p, x.p.TTFT, true)
			row(x.name, "ttlt", x.p, x.p.TTLT, false)
			row(x.name, "per event", x.p, x.p.PerEvent, false)
			row(x.name, "to end", x.p, &x.p.Latency, false)
		}
		if x.p.SendLag != nil {
			row(x.name, "send lag", x.p, x.p.SendLag, false)
		}
	}
	if s.Added != nil {
		if s.Added.TTFT == nil {
			fmt.Fprintf(tw, "added (b−a)\tlatency\t\t\t\t%s\t\t\n", deltaCells(s.Added.Latency))
		} else {
			fmt.Fprintf(tw, "added (b−a)\tttft\t\t\t\t%s\t\t\n", deltaCells(*s.Added.TTFT))
			fmt.Fprintf(tw, "\tttlt\t\t\t\t%s\t\t\n", deltaCells(*s.Added.TTLT))
			fmt.Fprintf(tw, "\tper event\t\t\t\t%s\t\t\n", deltaCells(*s.Added.PerEvent))
			fmt.Fprintf(tw, "\tto end\t\t\t\t%s\t\t\n", deltaCells(s.Added.Latency))
		}
	}
	if s.OwnCost != nil {
		fmt.Fprintf(tw, "own (b−a−c)\t%s\t\t\t\t%s\t\t\n", s.OwnCostOf, deltaCells(*s.OwnCost))
	}
	if s.OwnCostBeyondStreamHop != nil {
		fmt.Fprintf(tw, "own (b−a−d)\tttft\t\t\t\t%s\t\t\n", deltaCells(*s.OwnCostBeyondStreamHop))
	}
	if s.MinimalOwnCost != nil {
		fmt.Fprintf(tw, "minimal own (e−a−c)\tlatency\t\t\t\t%s\t\t\n", deltaCells(*s.MinimalOwnCost))
	}
	if s.BeyondMinimal != nil {
		fmt.Fprintf(tw, "beyond minimal (b−e)\tlatency\t\t\t\t%s\t\t\n", deltaCells(*s.BeyondMinimal))
	}
	_ = tw.Flush()
	fmt.Fprintf(b, "strata: CPU %s per call", us(s.StrataCPUPerCallUS))
	var also []string
	if s.Hop != nil {
		also = append(also, "hop: "+us(s.HopCPUPerCallUS))
	}
	if s.Minimal != nil {
		also = append(also, "minimal gateway: "+us(s.MinimalCPUPerCallUS))
	}
	if len(also) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(also, "; "))
	}
	fmt.Fprintf(b, "; RSS peak %.1f MB, after %.1f MB", s.Peak.RSSMB, s.After.RSSMB)
	if s.Settled != nil {
		fmt.Fprintf(b, ", %s after %.1f MB", seconds(s.SettledAfterSeconds), s.Settled.RSSMB)
	}
	fmt.Fprintf(b, "; goroutines peak %s, after %s", count(s.Peak.Goroutines), count(s.After.Goroutines))
	if s.Settled != nil {
		fmt.Fprintf(b, ", %s after %s", seconds(s.SettledAfterSeconds), count(s.Settled.Goroutines))
	}
	b.WriteString("\n")
	for _, x := range []struct {
		name string
		p    *Path
	}{{"(a)", s.Direct}, {"(b)", s.Strata}, {"(c)", s.Hop}, {"(d)", s.StreamHop}, {"(e)", s.Minimal}} {
		if x.p == nil {
			continue
		}
		if len(x.p.ErrorSamples) > 0 {
			fmt.Fprintf(b, "errors %s: %s\n", x.name, strings.Join(x.p.ErrorSamples, " | "))
		}
		if x.p.HarnessBound {
			fmt.Fprintf(b, "note: the bench process was CPU-bound during %s (%.0f%% CPU): its latencies include the bench's own queueing\n", x.name, x.p.HarnessCPUPercent)
		}
	}
	writeChecks(b, s.Checks)
}

func writeChecks(b *strings.Builder, checks []Check) {
	for _, c := range checks {
		cmp := "≤"
		if c.AtLeast {
			cmp = "≥"
		}
		fmt.Fprintf(b, "budget %-32s %s %s: %s  %s", c.Name, cmp, formatValue(c.Limit, c.Unit), formatValue(c.Measured, c.Unit), strings.ToUpper(c.Verdict))
		if c.Note != "" {
			fmt.Fprintf(b, " (%s)", c.Note)
		}
		b.WriteString("\n")
		if m := c.Minimal; m != nil {
			fmt.Fprintf(b, "       vs the minimal gateway in this run: Strata %s, minimal gateway %s", formatValue(c.Measured, c.Unit), formatValue(m.Measured, c.Unit))
			if m.Ratio > 0 {
				fmt.Fprintf(b, " (%.2f×)", m.Ratio)
			}
			b.WriteString("\n")
		}
	}
}

func deltaCells(d Delta) string {
	return strings.Join([]string{us(d.P50), us(d.P90), us(d.P99), ""}, "\t")
}

func percentileCells(p Percentiles) string {
	return strings.Join([]string{us(p.P50), us(p.P90), us(p.P99), us(p.Max)}, "\t")
}

// us formats microseconds: µs below 10 ms, ms above.
func us(v float64) string {
	if math.Abs(v) >= 10_000 {
		return fmt.Sprintf("%.2fms", v/1000)
	}
	return fmt.Sprintf("%.0fµs", v)
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "µs":
		return us(v)
	case "MB", "ms":
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func count(n int) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

func seconds(s float64) string { return (time.Duration(s * float64(time.Second))).String() }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
