package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"time"
)

// debugHandler serves Go's runtime profiles under /debug/pprof/ (what `go tool pprof` reads) and
// the live goroutine count at /debug/goroutines as a bare number. The count is what `strata
// bench` polls while it loads the server: runtime.NumGoroutine costs nothing, where the goroutine
// profile walks every stack.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/goroutines", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(strconv.AppendInt(nil, int64(runtime.NumGoroutine()), 10))
	})
	return mux
}

// serveDebug serves debugHandler on addr until the returned stop is called. It listens before
// returning, so a bad address fails start-up rather than being logged and forgotten.
func serveDebug(addr string, log *slog.Logger) (stop func(context.Context), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("STRATA_DEBUG_ADDR: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug listener stopped", "error", err)
		}
	}()
	log.Info("debug listener serving runtime profiles", "addr", ln.Addr().String())
	return func(ctx context.Context) {
		// A CPU profile in progress holds its request for its whole duration: cut it.
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}
