package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// quickScenarios are what --quick runs unless --scenarios says otherwise: the per-call costs
// the latency budgets are about, for a check in seconds rather than minutes.
func quickScenarios() []string { return []string{ScenarioChat, ScenarioStream, ScenarioEmbed} }

// Quick-check durations of --quick.
const (
	quickDuration = time.Second
	quickWarmup   = 200 * time.Millisecond
)

// ErrBudgetMissed is returned by Command with --strict when a budget was missed or a call failed.
var ErrBudgetMissed = errors.New("a budget was missed or a call failed")

// flagServeMinimal is the internal flag that makes `strata bench` the minimal gateway's process
// in process mode (see startMinimal); the parent passes the emulator and key in the environment.
const flagServeMinimal = "serve-minimal-gateway"

// Command runs `strata bench`: it parses flags, runs the benchmark, and prints the report on
// stdout as a table, or as JSON with --json. Progress goes to stderr. With the internal
// --serve-minimal-gateway it serves the minimal gateway instead, until ctx is done.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.serveMinimal != "" {
		cfg, err := minimalConfigFrom(os.Getenv)
		if err != nil {
			return err
		}
		return serveMinimalGateway(ctx, c.serveMinimal, cfg, stdout)
	}
	o, asJSON, strict := c.o, c.asJSON, c.strict
	o.Progress = stderr
	rep, err := Run(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if strict && (rep.Verdicts()[VerdictMissed] > 0 || rep.Errors() > 0) {
		return ErrBudgetMissed
	}
	return nil
}

// commandLine is what the flags ask for.
type commandLine struct {
	o              Options
	asJSON, strict bool
	// serveMinimal, when set, is the address to serve the minimal gateway on (internal).
	serveMinimal string
}

// parseFlags turns the command line into Options.
func parseFlags(args []string, stderr io.Writer) (commandLine, error) {
	var (
		o              Options
		asJSON, strict bool
	)
	d := DefaultOptions()
	fs := flag.NewFlagSet("strata bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: strata bench [flags]\n\nscenarios: %s\n\nflags:\n", strings.Join(ScenarioNames(), ", "))
		fs.PrintDefaults()
	}
	fs.DurationVar(&o.Duration, "duration", d.Duration, "measured time of each path of each scenario")
	fs.DurationVar(&o.Warmup, "warmup", d.Warmup, "unrecorded warm-up before each measured path")
	fs.IntVar(&o.Concurrency, "concurrency", d.Concurrency, "closed-loop callers of the chat, stream and embed scenarios (the latency budgets are for 1)")
	scenarioList := fs.String("scenarios", "all", "comma-separated scenarios to run, or all")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&o.Server, "server", d.Server, "process: strata serve as a child process (its own CPU, memory, goroutines); inprocess: in this process")
	fs.StringVar(&o.Executable, "strata-binary", "", "the strata binary process mode runs (default: this program)")
	fs.BoolVar(&o.Pin, "pin", d.Pin, "in process mode, with 2+ CPUs: pin the server to the first CPU (taskset -c) and load and emulator to the others")
	fs.DurationVar(&o.TTFT, "ttft", d.TTFT, "the emulator's time to first token in the latency and saturation scenarios (0 answers at once)")
	fs.Float64Var(&o.TokensPerSecond, "tokens-per-second", d.TokensPerSecond, "the emulator's output pace in the latency and saturation scenarios (0 = no delay)")
	fs.Float64Var(&o.Rate, "rate", d.Rate, "the open loop's calls per second")
	fs.DurationVar(&o.UpstreamLatency, "upstream-latency", d.UpstreamLatency, "the open loop's upstream latency (the emulator's time to first token)")
	fs.IntVar(&o.SaturationCallers, "saturation-callers", d.SaturationCallers, "closed-loop callers of the saturation scenario")
	fs.IntVar(&o.InFlight, "inflight", d.InFlight, "callers of the in-flight scenario, each call held 250ms upstream")
	fs.IntVar(&o.Streams, "streams", d.Streams, "streams the open-streams scenario holds open at once")
	fs.DurationVar(&o.StreamsHold, "streams-hold", d.StreamsHold, "how long each open stream lasts")
	fs.DurationVar(&o.StreamsSettle, "streams-settle", d.StreamsSettle, "how long the server idles after the open streams before the settled RSS reading the \"back near idle\" budget is judged on")
	fs.StringVar(&o.LogLevel, "log-level", d.LogLevel, "the server's STRATA_LOG_LEVEL (info logs every call, as in production)")
	fs.DurationVar(&o.CallTimeout, "call-timeout", d.CallTimeout, "deadline of each call")
	fs.StringVar(&o.CPUProfileDir, "cpuprofile", "", "write a CPU profile of the server's Strata phase of each scenario to DIR/SCENARIO.pprof")
	quick := fs.Bool("quick", false, fmt.Sprintf("a quick check: %v per path after %v warm-up, scenarios %s unless --scenarios is given", quickDuration, quickWarmup, strings.Join(quickScenarios(), ",")))
	fs.BoolVar(&strict, "strict", false, "exit non-zero when a budget is missed or a call fails")
	serveMinimal := fs.String(flagServeMinimal, "", "internal, not for direct use: serve the minimal reference gateway of path (e) on `ADDR` and nothing else; process-mode runs start it so, with the emulator and key in the environment")
	if err := fs.Parse(args); err != nil {
		return commandLine{}, err
	}
	if fs.NArg() > 0 {
		return commandLine{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *serveMinimal != "" {
		return commandLine{serveMinimal: *serveMinimal}, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *scenarioList != "all" {
		for _, s := range strings.Split(*scenarioList, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.Scenarios = append(o.Scenarios, s)
			}
		}
	}
	if *quick {
		if !set["duration"] {
			o.Duration = quickDuration
		}
		if !set["warmup"] {
			o.Warmup = quickWarmup
		}
		if !set["scenarios"] {
			o.Scenarios = quickScenarios()
		}
	}
	if o.Duration <= 0 {
		return commandLine{}, fmt.Errorf("--duration %v: want more than 0", o.Duration)
	}
	if err := o.validate(); err != nil {
		return commandLine{}, err
	}
	return commandLine{o: o, asJSON: asJSON, strict: strict}, nil
}
