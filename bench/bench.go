// Package bench is `strata bench`: it measures what Strata adds to a Bedrock call.
//
// It starts the Bedrock emulator and a Strata server (in this process, or as a separate `strata
// serve` pinned to a core of its own) on 127.0.0.1, and drives each scenario's workload several
// ways in the same run: (a) with the AWS SDK straight to the emulator, SigV4-signed, as an
// application would without Strata; (b) through Strata over gRPC with the same payloads; (c) as
// a bare grpc.health.v1 Check to the same server, the price of the hop itself; and for Chat
// (e) through a minimal gateway (minimal.go), run as Strata is: the floor any gateway reaches on
// this machine. Strata's added latency is (b) − (a) and its own cost (b) − (a) − (c), percentile
// by percentile; the minimal gateway's own cost is (e) − (a) − (c), and what Strata costs beyond
// it (b) − (e). Beside them come CPU time per call, memory and goroutines, and the budgets.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/strata-gateway/strata/backend/bedrock"
	"github.com/strata-gateway/strata/catalog"
)

// Options configure a run. A zero field takes its default (see [DefaultOptions]), except Warmup,
// Pin, TTFT and TokensPerSecond, whose zero means none.
type Options struct {
	// Duration is the measured time of each path of each scenario; Warmup runs before it,
	// unrecorded, so connection pools are full and code paths warm.
	Duration, Warmup time.Duration
	// Concurrency is the closed-loop callers of the latency scenarios (chat, stream, embed).
	Concurrency int
	// Scenarios names the scenarios to run (see [ScenarioNames]); empty runs them all.
	Scenarios []string
	// Server is ServerProcess or ServerInProcess. Executable is the strata binary that process
	// mode runs as `strata serve`; empty means this program (os.Executable).
	Server     string
	Executable string
	// Pin, in process mode with at least two CPUs, pins the server to the first CPU (taskset -c)
	// and this process (load and emulator) to the others.
	Pin bool
	// TTFT and TokensPerSecond are the emulator's latency model for the latency and saturation
	// scenarios; zero answers at once.
	TTFT            time.Duration
	TokensPerSecond float64
	// Rate is the open loop's calls per second; UpstreamLatency its emulator's TTFT.
	Rate            float64
	UpstreamLatency time.Duration
	// SaturationCallers is the closed-loop callers of the saturation scenario.
	SaturationCallers int
	// InFlight is the callers of the in-flight scenario, each call held 250 ms upstream.
	InFlight int
	// Streams is the number of streams the open-streams scenario holds open at once, each for
	// about StreamsHold.
	Streams     int
	StreamsHold time.Duration
	// StreamsSettle is how long the server idles after the open-streams scenario before the
	// settled memory reading that the "back near idle" budget is judged on.
	StreamsSettle time.Duration
	// LogLevel is the server's STRATA_LOG_LEVEL; info logs each call, as in production.
	LogLevel string
	// CallTimeout bounds each call, so a stalled server cannot hold the run.
	CallTimeout time.Duration
	// CPUProfileDir, when set, receives a CPU profile of the server during each scenario's
	// Strata phase, as SCENARIO.pprof (in-process: of the whole process).
	CPUProfileDir string
	// Progress receives a line as each phase starts; nil discards them.
	Progress io.Writer
}

// DefaultOptions are the defaults of every option: the budgets' own conditions (one caller for
// latency, 16 for saturation, 3,000 calls/s over 20 ms upstream, 512 calls in flight, 1,000 open
// streams), 3 s per path, and a Strata server of its own on a pinned core.
func DefaultOptions() Options {
	return Options{
		Duration:          3 * time.Second,
		Warmup:            500 * time.Millisecond,
		Concurrency:       1,
		Server:            ServerProcess,
		Pin:               true,
		Rate:              budgetOpenLoopRate,
		UpstreamLatency:   budgetOpenLoopLatency,
		SaturationCallers: budgetSaturationCalls,
		InFlight:          budgetInFlightCalls,
		Streams:           budgetStreamsOpen,
		StreamsHold:       2 * time.Second,
		StreamsSettle:     5 * time.Second,
		LogLevel:          "info",
		CallTimeout:       30 * time.Second,
	}
}

// withDefaults fills the zero fields of o from DefaultOptions. Pin and the latency model keep
// their zero values, which mean something.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Duration == 0 {
		o.Duration = d.Duration
	}
	if o.Concurrency == 0 {
		o.Concurrency = d.Concurrency
	}
	if o.Server == "" {
		o.Server = d.Server
	}
	if o.Rate == 0 {
		o.Rate = d.Rate
	}
	if o.UpstreamLatency == 0 {
		o.UpstreamLatency = d.UpstreamLatency
	}
	if o.SaturationCallers == 0 {
		o.SaturationCallers = d.SaturationCallers
	}
	if o.InFlight == 0 {
		o.InFlight = d.InFlight
	}
	if o.Streams == 0 {
		o.Streams = d.Streams
	}
	if o.StreamsHold == 0 {
		o.StreamsHold = d.StreamsHold
	}
	if o.StreamsSettle == 0 {
		o.StreamsSettle = d.StreamsSettle
	}
	if o.LogLevel == "" {
		o.LogLevel = d.LogLevel
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = d.CallTimeout
	}
	return o
}

// validate reports every problem with o at once.
func (o Options) validate() error {
	var errs []error
	if o.Duration < 0 || o.Warmup < 0 {
		errs = append(errs, errors.New("--duration and --warmup must not be negative"))
	}
	if o.Server != ServerProcess && o.Server != ServerInProcess {
		errs = append(errs, fmt.Errorf("--server %q: want %s or %s", o.Server, ServerProcess, ServerInProcess))
	}
	for name, v := range map[string]int{"--concurrency": o.Concurrency, "--saturation-callers": o.SaturationCallers, "--inflight": o.InFlight, "--streams": o.Streams} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s %d: want at least 1", name, v))
		}
	}
	if o.Rate <= 0 {
		errs = append(errs, fmt.Errorf("--rate %g: want more than 0", o.Rate))
	}
	if o.TTFT < 0 || o.TokensPerSecond < 0 || o.UpstreamLatency < 0 || o.StreamsHold < 0 || o.StreamsSettle < 0 {
		errs = append(errs, errors.New("--ttft, --tokens-per-second, --upstream-latency, --streams-hold and --streams-settle must not be negative"))
	}
	known := map[string]bool{}
	for _, n := range ScenarioNames() {
		known[n] = true
	}
	for _, n := range o.Scenarios {
		if !known[n] {
			errs = append(errs, fmt.Errorf("unknown scenario %q (want some of %v)", n, ScenarioNames()))
		}
	}
	return errors.Join(errs...)
}

// directClient is the application without Strata: the AWS SDK's Bedrock Runtime client on the
// same tuned connection pool Strata uses, so that the comparison is of Strata, not of pool sizes.
type directClient struct {
	sdk  *bedrockruntime.Client
	pool *http.Client
}

func newDirectClient(endpoint string) directClient {
	pool := bedrock.NewHTTPClient(bedrock.PoolOptions{})
	return directClient{pool: pool, sdk: bedrockruntime.New(bedrockruntime.Options{
		Region:       benchRegion,
		BaseEndpoint: aws.String(endpoint),
		// The request-body guard every SDK client in a process talking to a fast endpoint needs.
		HTTPClient:  bedrock.SDKHTTPClient(pool),
		Credentials: credentials.NewStaticCredentialsProvider(benchAccessKeyID, benchSecretAccessKey, ""),
		Retryer:     aws.NopRetryer{},
	})}
}

// Run starts the emulator and the server, runs the scenarios o selects, stops everything it
// started, and returns the report. Missed budgets and failed calls are in the report, not errors.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	pin := planPinning(o)
	rep = &Report{
		Started: time.Now().UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: pin.cpus, Server: o.Server, Pinning: pin.desc,
		DurationSeconds: o.Duration.Seconds(), WarmupSeconds: o.Warmup.Seconds(), LogLevel: o.LogLevel,
	}
	if o.CPUProfileDir != "" {
		if err := os.MkdirAll(o.CPUProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, fmt.Errorf("load the catalog: %w", err)
	}
	up, err := startUpstream(cat, latency{ttft: o.TTFT, tokensPerSecond: o.TokensPerSecond})
	if err != nil {
		return nil, err
	}
	defer up.close(context.WithoutCancel(ctx))
	fmt.Fprintf(progress, "emulator on %s; starting strata (%s)\n", up.url(), o.Server)
	tgt, err := startTarget(ctx, o, up.url(), pin.server)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := tgt.stop(); serr != nil && err == nil {
			err = fmt.Errorf("stop strata: %w", serr)
		}
	}()
	if len(pin.load) > 0 {
		restore, err := pinSelf(pin.load, pin.all)
		if err != nil {
			return nil, err
		}
		defer restore()
	}
	direct := newDirectClient(up.url())
	defer direct.pool.CloseIdleConnections()

	rep.ResourceScope = tgt.scope
	rep.StartupMS = round(float64(tgt.startup)/float64(time.Millisecond), 1)
	time.Sleep(200 * time.Millisecond) // let the first call's garbage settle before the idle reading
	idle, err := tgt.usage(ctx)
	if err != nil {
		return nil, err
	}
	rep.Idle = resourcesOf(idle)
	notJudged := ""
	if o.Server != ServerProcess {
		notJudged = "in-process: no exec, and the reading is the whole process"
	}
	rep.Checks = []Check{
		judge("start-up to first served call", rep.StartupMS, budgetStartupMS, "ms", false, notJudged),
		judge("RSS idle", rep.Idle.RSSMB, budgetIdleMB, "MB", false, notJudged),
	}

	r := &runner{o: o, up: up, tgt: tgt, paths: paths{direct: direct, strata: tgt}, progress: progress,
		info: &runInfo{mode: o.Server, pinned: len(pin.server) > 0, o: o, idle: rep.Idle}}
	r.startMinimal = func(ctx context.Context) (*target, error) { return startMinimal(ctx, o, up.url(), pin.server) }
	defer func() {
		if r.minimal == nil {
			return
		}
		if serr := r.minimal.stop(); serr != nil && err == nil {
			err = fmt.Errorf("stop the minimal gateway: %w", serr)
		}
	}()
	for _, sc := range scenarios(o) {
		res, err := r.scenario(ctx, sc)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", sc.name, err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if r.minimal != nil {
		rep.MinimalGateway = r.minimal.scope
	}
	end, err := tgt.usage(ctx)
	if err != nil {
		return nil, err
	}
	rep.End = resourcesOf(end)
	return rep, nil
}

// pinning is which CPUs run what.
type pinning struct {
	// cpus is how many CPUs this process may use; all lists them.
	cpus int
	all  []int
	// server and load are the CPUs of the Strata process and of this one; empty: not pinned.
	server, load []int
	desc         string
}

// planPinning gives Strata the first CPU this process may use and the harness the others, when
// o asks for pinning and it can be done.
func planPinning(o Options) pinning {
	all, err := allowedCPUs()
	p := pinning{cpus: len(all), all: all}
	if err != nil {
		p.cpus = runtime.NumCPU()
	}
	switch {
	case !o.Pin:
		p.desc = "not pinned"
	case o.Server != ServerProcess:
		p.desc = "not pinned (in-process: server, emulator and load share the process)"
	case err != nil:
		p.desc = "not pinned (" + err.Error() + ")"
	case len(all) < 2:
		p.desc = "not pinned (one CPU)"
	default:
		p.server, p.load = all[:1], all[1:]
		p.desc = fmt.Sprintf("Strata pinned to CPU %s, load and emulator to CPU %s", joinInts(p.server), joinInts(p.load))
	}
	return p
}

// startTarget starts the Strata server o asks for, against the emulator at upstreamURL.
func startTarget(ctx context.Context, o Options, upstreamURL string, cpus []int) (*target, error) {
	if o.Server == ServerInProcess {
		return startInProcess(ctx, upstreamURL, o.LogLevel)
	}
	exe, err := strataBinary(o)
	if err != nil {
		return nil, err
	}
	return startProcess(ctx, upstreamURL, o.LogLevel, processOptions{exe: exe, cpus: cpus})
}

// strataBinary is the absolute path of the strata binary process mode runs.
func strataBinary(o Options) (string, error) {
	var err error
	exe := o.Executable
	if exe == "" {
		exe, err = os.Executable()
	} else {
		exe, err = exec.LookPath(exe)
	}
	if err == nil {
		exe, err = filepath.Abs(exe)
	}
	if err != nil {
		return "", fmt.Errorf("find the strata binary: %w", err)
	}
	return exe, nil
}

// pinSelf pins this process to cpus and sizes GOMAXPROCS to them; restore undoes both.
func pinSelf(cpus, all []int) (restore func(), err error) {
	pid := os.Getpid()
	if err := pinProcess(pid, cpus); err != nil {
		return nil, err
	}
	prev := runtime.GOMAXPROCS(len(cpus))
	return func() {
		runtime.GOMAXPROCS(prev)
		_ = pinProcess(pid, all)
	}, nil
}

// runner runs scenarios against one emulator and one server.
type runner struct {
	o        Options
	up       *upstream
	tgt      *target
	paths    paths
	progress io.Writer
	info     *runInfo
	// minimal is the minimal gateway, started by startMinimal for the first scenario that
	// measures it (e), and stopped by Run at the end.
	minimal      *target
	startMinimal func(context.Context) (*target, error)
}

// minimalTarget returns the minimal gateway, starting it on first use.
func (r *runner) minimalTarget(ctx context.Context) (*target, error) {
	if r.minimal == nil {
		fmt.Fprintf(r.progress, "starting the minimal gateway (%s)\n", r.o.Server)
		gw, err := r.startMinimal(ctx)
		if err != nil {
			return nil, err
		}
		r.minimal = gw
	}
	return r.minimal, nil
}

// sampleEvery is how often the server's RSS and goroutines are read during the Strata phase.
// Reading RSS costs the server nothing (the kernel answers); the goroutine count is one small
// request to its debug listener.
const sampleEvery = 50 * time.Millisecond

// defaultSettle is how long a scenario waits before its "after" reading.
const defaultSettle = 300 * time.Millisecond

func (r *runner) scenario(ctx context.Context, sc scenario) (Scenario, error) {
	res := Scenario{Name: sc.name, Title: sc.title, Loop: sc.loop.String(), Upstream: sc.upstream.String()}
	if err := r.up.use(sc.upstream); err != nil {
		return res, err
	}
	fmt.Fprintf(r.progress, "%s: (a) direct SDK\n", sc.name)
	concurrent := sc.loop.workers != 1 || sc.fanOut
	res.Direct = pathOf(r.phase(ctx, sc, sc.direct(r.paths)))
	res.Direct.markHarnessBound(concurrent)

	fmt.Fprintf(r.progress, "%s: (b) strata\n", sc.name)
	var profile string
	if r.o.CPUProfileDir != "" {
		profile = filepath.Join(r.o.CPUProfileDir, sc.name+".pprof")
	}
	s, cpu, peak, err := r.watched(ctx, sc, sc.strata(r.paths), r.tgt, profile)
	if err != nil {
		return res, err
	}
	res.Strata, res.Peak = pathOf(s), resourcesOf(peak)
	res.Strata.markHarnessBound(concurrent)
	res.StrataCPUPerCallUS = perCall(cpu, s.calls())

	if sc.hop {
		fmt.Fprintf(r.progress, "%s: (c) bare hop\n", sc.name)
		s, cpu, _, err := r.watched(ctx, sc, hop(r.tgt.health), r.tgt, "")
		if err != nil {
			return res, err
		}
		res.Hop = pathOf(s)
		res.Hop.markHarnessBound(concurrent)
		res.HopCPUPerCallUS = perCall(cpu, s.calls())
	}
	if sc.streamHop {
		fmt.Fprintf(r.progress, "%s: (d) bare stream hop\n", sc.name)
		res.StreamHop = pathOf(r.phase(ctx, sc, streamHop(r.tgt.refl)))
		res.StreamHop.markHarnessBound(concurrent)
	}
	if sc.minimal {
		gw, err := r.minimalTarget(ctx)
		if err != nil {
			return res, err
		}
		// Strata idles while the minimal gateway is measured: one of them is loaded at a time.
		fmt.Fprintf(r.progress, "%s: (e) minimal gateway\n", sc.name)
		s, cpu, _, err := r.watched(ctx, sc, sc.strata(paths{direct: r.paths.direct, strata: gw}), gw, "")
		if err != nil {
			return res, err
		}
		res.Minimal = pathOf(s)
		res.Minimal.markHarnessBound(concurrent)
		res.MinimalCPUPerCallUS = perCall(cpu, s.calls())
	}
	res.compare()

	settle := sc.settle
	if settle == 0 {
		settle = defaultSettle
	}
	time.Sleep(min(settle, r.o.Duration)) // a short run settles as briefly as it measures
	after, err := r.tgt.usage(ctx)
	if err != nil {
		return res, err
	}
	res.After = resourcesOf(after)
	if sc.settledReading {
		// Go returns freed memory to the kernel over minutes, not at once: the budget is judged
		// once the server has idled a while, and the reading right after is kept beside it.
		if wait := r.o.StreamsSettle - min(settle, r.o.Duration); wait > 0 {
			fmt.Fprintf(r.progress, "%s: idle %v before the settled reading\n", sc.name, r.o.StreamsSettle)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
		settled, err := r.tgt.usage(ctx)
		if err != nil {
			return res, err
		}
		rs := resourcesOf(settled)
		res.Settled, res.SettledAfterSeconds = &rs, r.o.StreamsSettle.Seconds()
	}
	if sc.checks != nil && res.Added != nil {
		res.Checks = sc.checks(&res, r.info)
	}
	return res, nil
}

// phase warms fn up (unless the scenario says not to), then measures it.
func (r *runner) phase(ctx context.Context, sc scenario, fn op) *samples {
	r.warm(ctx, sc, fn)
	return r.measure(ctx, sc, fn)
}

// warm drives fn unrecorded for the warm-up, unless the scenario says not to.
func (r *runner) warm(ctx context.Context, sc scenario, fn op) {
	if !sc.noWarmup && r.o.Warmup > 0 {
		sc.loop.drive(ctx, r.o.Warmup, r.o.CallTimeout, fn)
	}
}

// measure drives fn for the measured duration, noting the CPU time the harness itself used.
func (r *runner) measure(ctx context.Context, sc scenario, fn op) *samples {
	before, berr := selfCPU()
	s := sc.loop.drive(ctx, r.o.Duration, r.o.CallTimeout, fn)
	if after, err := selfCPU(); err == nil && berr == nil {
		s.harnessCPU, s.procs = after-before, runtime.GOMAXPROCS(0)
	}
	return s
}

// watched is phase with srv observed over the measured part: the CPU time it used, and the peak
// of its RSS and goroutines; with profile, a CPU profile is written there.
func (r *runner) watched(ctx context.Context, sc scenario, fn op, srv *target, profile string) (*samples, time.Duration, usage, error) {
	r.warm(ctx, sc, fn)
	before, err := srv.usage(ctx)
	if err != nil {
		return nil, 0, usage{}, err
	}
	var finish func() error
	if profile != "" {
		if finish, err = srv.profile(ctx, profile, r.o.Duration); err != nil {
			return nil, 0, usage{}, err
		}
	}
	peak := watch(ctx, srv.usage, sampleEvery)
	s := r.measure(ctx, sc, fn)
	top := peak()
	after, err := srv.usage(ctx)
	if err != nil {
		return nil, 0, usage{}, err
	}
	if finish != nil {
		if err := finish(); err != nil {
			return nil, 0, usage{}, err
		}
	}
	top.rss, top.goroutines = max(top.rss, after.rss), max(top.goroutines, after.goroutines)
	return s, after.cpu - before.cpu, top, nil
}

// watch reads read every interval until the returned function is called, which returns the
// highest RSS and goroutine count seen.
func watch(ctx context.Context, read func(context.Context) (usage, error), every time.Duration) func() usage {
	stop := make(chan struct{})
	var (
		wg   sync.WaitGroup
		peak = usage{goroutines: -1}
	)
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if u, err := read(ctx); err == nil {
				peak.rss, peak.goroutines = max(peak.rss, u.rss), max(peak.goroutines, u.goroutines)
			}
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return func() usage {
		close(stop)
		wg.Wait()
		return peak
	}
}

func resourcesOf(u usage) Resources {
	return Resources{RSSMB: round(float64(u.rss)/(1<<20), 1), Goroutines: u.goroutines}
}

func perCall(cpu time.Duration, calls int) float64 {
	if calls == 0 {
		return 0
	}
	return round(float64(cpu)/float64(time.Microsecond)/float64(calls), 1)
}
