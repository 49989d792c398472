package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/strata-gateway/strata/catalog"
	"github.com/strata-gateway/strata/emulator"
)

// The key the emulator verifies every SigV4 signature against, and that both the direct SDK
// client and Strata sign with: the whole signing path runs, as against AWS.
const (
	benchAccessKeyID     = "AKIDSTRATABENCH"
	benchSecretAccessKey = "strata-bench-secret"
	benchRegion          = "us-east-1"
)

// latency is an emulator's latency model.
type latency struct {
	// ttft delays the first output token (and a unary reply as a whole).
	ttft time.Duration
	// tokensPerSecond paces the output after the first token; 0 = no delay.
	tokensPerSecond float64
}

func (l latency) String() string {
	switch {
	case l.ttft == 0 && l.tokensPerSecond == 0:
		return "zero-latency upstream"
	case l.tokensPerSecond == 0:
		return fmt.Sprintf("upstream TTFT %v", l.ttft)
	}
	return fmt.Sprintf("upstream TTFT %v, %g tokens/s", l.ttft, l.tokensPerSecond)
}

// upstream is the Bedrock both paths call: one emulator per latency model, served on one
// loopback address and switched between scenarios. Strata has one Bedrock endpoint, and a
// scenario's latency belongs to Bedrock, so the switch happens behind the address; the direct
// client and Strata always reach the same emulator.
type upstream struct {
	server  *emulator.Server
	catalog *catalog.Catalog
	current atomic.Pointer[emulator.Emulator]
	// byLatency is touched only by the goroutine running the scenarios.
	byLatency map[latency]*emulator.Emulator
}

// startUpstream serves an emulator with latency l on a loopback port.
func startUpstream(cat *catalog.Catalog, l latency) (*upstream, error) {
	u := &upstream{catalog: cat, byLatency: map[latency]*emulator.Emulator{}}
	if err := u.use(l); err != nil {
		return nil, err
	}
	srv, err := emulator.Listen("127.0.0.1:0", u, nil)
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	u.server = srv
	return u, nil
}

// url is the endpoint to give Strata and the direct client.
func (u *upstream) url() string { return u.server.URL }

// use routes the next requests to an emulator with latency l. No call may be in flight.
func (u *upstream) use(l latency) error {
	emu, ok := u.byLatency[l]
	if !ok {
		var err error
		emu, err = emulator.New(emulator.Options{
			Catalog:         u.catalog,
			AccessKeyID:     benchAccessKeyID,
			SecretAccessKey: benchSecretAccessKey,
			Region:          benchRegion,
			TTFT:            l.ttft,
			TokensPerSecond: l.tokensPerSecond,
		})
		if err != nil {
			return fmt.Errorf("emulator (%v): %w", l, err)
		}
		u.byLatency[l] = emu
	}
	u.current.Store(emu)
	return nil
}

// ServeHTTP implements [http.Handler] by handing the request to the current emulator.
func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.current.Load().ServeHTTP(w, r)
}

// close stops the emulator, cutting whatever is still connected after a short grace.
func (u *upstream) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = u.server.Shutdown(ctx)
}
