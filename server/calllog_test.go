package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

func TestCallLogLine(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantLevel string
		wantCode  string
	}{
		{"ok", nil, "INFO", "OK"},
		{"the caller's mistake", status.Error(codes.InvalidArgument, "messages: must hold at least one message"), "INFO", "InvalidArgument"},
		{"throttled upstream", status.Error(codes.ResourceExhausted, "bedrock is throttling"), "WARN", "ResourceExhausted"},
		{"strata's own failure", errors.New("boom"), "ERROR", "Unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
			logCall(ctx, log, "/strata.v1.LLMService/Chat", "unary", time.Now().Add(-1500*time.Microsecond), tt.err)
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			want := map[string]any{"msg": "finished call", "level": tt.wantLevel, "grpc.code": tt.wantCode,
				"grpc.service": "strata.v1.LLMService", "grpc.method": "Chat", "grpc.method_type": "unary",
				"peer.address": "127.0.0.1:4242"}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if ms, err := strconv.ParseFloat(fmt.Sprint(line["grpc.time_ms"]), 64); err != nil || ms < 1.5 {
				t.Errorf("grpc.time_ms = %v, want a number of at least 1.5", line["grpc.time_ms"])
			}
			if _, hasErr := line["grpc.error"]; hasErr != (tt.err != nil) {
				t.Errorf("grpc.error present = %v, want %v", hasErr, tt.err != nil)
			}
		})
	}
}
