package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestDebugHandler(t *testing.T) {
	t.Parallel()
	h := debugHandler()
	tests := []struct {
		name, path string
		wantCode   int
		check      func(body string) bool
	}{
		{name: "goroutine count", path: "/debug/goroutines", wantCode: http.StatusOK, check: func(b string) bool {
			n, err := strconv.Atoi(b)
			return err == nil && n > 0
		}},
		{name: "profile index", path: "/debug/pprof/", wantCode: http.StatusOK, check: func(b string) bool { return strings.Contains(b, "goroutine") }},
		{name: "a named profile", path: "/debug/pprof/goroutine?debug=1", wantCode: http.StatusOK, check: func(b string) bool { return strings.HasPrefix(b, "goroutine profile: total") }},
		{name: "nothing else", path: "/", wantCode: http.StatusNotFound, check: func(string) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantCode || !tt.check(rec.Body.String()) {
				t.Errorf("GET %s = %d %q", tt.path, rec.Code, rec.Body.String())
			}
		})
	}
}

func TestServeDebug(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	if _, err := serveDebug("256.0.0.1:0", log); err == nil || !strings.Contains(err.Error(), "STRATA_DEBUG_ADDR") {
		t.Errorf("serveDebug on a bad address: %v", err)
	}
	stop, err := serveDebug("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	stop(context.Background())
}
