package server

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestWatchCredentials: grpc.health.v1 reports NOT_SERVING while the credentials do not resolve,
// SERVING once they do, and a draining server stays NOT_SERVING.
func TestWatchCredentials(t *testing.T) {
	t.Parallel()
	srv := NewGRPC(stratav1.UnimplementedLLMServiceServer{}, GRPCOptions{}, slog.New(slog.DiscardHandler))
	var failures atomic.Int32
	failures.Store(3)
	check := func(context.Context) error {
		if failures.Add(-1) >= 0 {
			return errors.New("no credentials")
		}
		return nil
	}
	status := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := srv.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: healthService})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		watchCredentials(ctx, srv, check, 20*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	sawNotServing := false
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		switch status() {
		case healthpb.HealthCheckResponse_NOT_SERVING:
			sawNotServing = true
		case healthpb.HealthCheckResponse_SERVING:
			if failures.Load() < 0 {
				<-done
				if !sawNotServing {
					t.Error("never reported NOT_SERVING while the credentials failed")
				}
				srv.health.Shutdown()
				srv.SetServing(true)
				if got := status(); got != healthpb.HealthCheckResponse_NOT_SERVING {
					t.Errorf("after shutdown began: %v, want NOT_SERVING", got)
				}
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("never reported SERVING after the credentials resolved")
}
