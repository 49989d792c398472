// Command strata is the Strata LLM gateway's single binary. Its subcommands:
//
//	strata serve      serve the gRPC API (strata.v1.LLMService)
//	strata health     run the deep health checks
//	strata emulator   serve the Bedrock Runtime emulator
//	strata bench      measure what Strata adds to a Bedrock call
//	strata version    print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/strata-gateway/strata/bench"
	"github.com/strata-gateway/strata/emulator"
	"github.com/strata-gateway/strata/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "strata:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: strata <command> [flags]

commands:
  serve      serve the gRPC API (strata serve -h for its flags)
  health     run the deep health checks, in-process or against a server (--addr)
  emulator   serve the Bedrock Runtime emulator (strata emulator -h for its flags)
  bench      measure what Strata adds to a Bedrock call, against the emulator (strata bench -h)
  version    print the version
`

// environ returns the process environment as a map.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return server.Serve(ctx, args[1:], env, stdout, stderr)
	case "health":
		return server.Health(ctx, args[1:], env, stdout, stderr)
	case "emulator":
		return emulator.Command(ctx, args[1:], func(k string) string { return env[k] }, stdout, stderr)
	case "bench":
		return bench.Command(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "strata", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
