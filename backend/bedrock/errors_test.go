package bedrock

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strata-gateway/strata/backend"
	"github.com/strata-gateway/strata/emulator"
)

// TestErrors: every Bedrock error reaches the caller as a *backend.Error with the right kind, from
// each operation, with Bedrock's code and message, status, request id and retry hint.
func TestErrors(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name       string
		fault      string
		model      string // default novaMicro / titanV2
		wantKind   backend.Kind
		wantCode   string
		wantStatus int
		wantRetry  time.Duration
		wantMsg    string
	}{
		{"throttling", "error=ThrottlingException,retry-after=1500ms", "", backend.KindThrottled, "ThrottlingException", 429, 1500 * time.Millisecond, "Too many requests"},
		{"model not ready", "error=ModelNotReadyException", "", backend.KindModelNotReady, "ModelNotReadyException", 429, 0, "not ready"},
		{"model timeout", "error=ModelTimeoutException", "", backend.KindTimeout, "ModelTimeoutException", 408, 0, "timed out"},
		{"model error", "error=ModelErrorException", "", backend.KindUnavailable, "ModelErrorException", 424, 0, "error"},
		{"service unavailable", "error=ServiceUnavailableException,retry-after=2s", "", backend.KindUnavailable, "ServiceUnavailableException", 503, 2 * time.Second, "unable"},
		{"internal server", "error=InternalServerException", "", backend.KindUnavailable, "InternalServerException", 500, 0, "internal"},
		{"access denied", "error=AccessDeniedException", "", backend.KindAccessDenied, "AccessDeniedException", 403, 0, "access"},
		{"validation", "error=ValidationException,message=Malformed input request", "", backend.KindInvalid, "ValidationException", 400, 0, "Malformed input request"},
		{"not found", "error=ResourceNotFoundException", "", backend.KindNotFound, "ResourceNotFoundException", 404, 0, "not be found"},
		{"quota", "error=ServiceQuotaExceededException", "", backend.KindQuotaExceeded, "ServiceQuotaExceededException", 400, 0, "quota"},
		{"unknown model", "", "us.nope.nope-v1:0", backend.KindUnknownModel, "ValidationException", 400, 0, msgInvalidModel},
	}
	ops := []struct {
		name  string
		model string
		call  func(ctx context.Context, b *Backend, model string) error
	}{
		{"chat", novaMicro, func(ctx context.Context, b *Backend, model string) error {
			_, err := b.Chat(ctx, &backend.ChatRequest{ModelID: model, Messages: []backend.Message{userText("hi")}})
			return err
		}},
		{"stream", novaMicro, func(ctx context.Context, b *Backend, model string) error {
			s, err := b.ChatStream(ctx, &backend.ChatRequest{ModelID: model, Messages: []backend.Message{userText("hi")}})
			if err == nil {
				s.Close()
				t.Fatalf("the stream opened")
			}
			return err
		}},
		{"embed", titanV2, func(ctx context.Context, b *Backend, model string) error {
			_, err := b.Embed(ctx, &backend.EmbedRequest{ModelID: model, Inputs: []string{"a", "b", "c"}})
			return err
		}},
	}
	for _, op := range ops {
		for _, tt := range tests {
			t.Run(op.name+"/"+tt.name, func(t *testing.T) {
				model := tt.model
				if model == "" {
					model = op.model
				}
				if op.name == "embed" && tt.model != "" {
					model = "nope.titan-embed-v9"
				}
				err := op.call(withFault(callCtx(t), tt.fault), h.b, model)
				be := mustKind(t, err, tt.wantKind)
				if be.Code != tt.wantCode || be.HTTPStatus != tt.wantStatus {
					t.Errorf("code %q status %d, want %q %d", be.Code, be.HTTPStatus, tt.wantCode, tt.wantStatus)
				}
				if !strings.Contains(strings.ToLower(be.Message), strings.ToLower(tt.wantMsg)) {
					t.Errorf("message %q, want it to contain %q", be.Message, tt.wantMsg)
				}
				if be.RetryAfter != tt.wantRetry {
					t.Errorf("retry after %v, want %v", be.RetryAfter, tt.wantRetry)
				}
				if be.RequestID == "" || be.Model != model || be.Region != "us-east-1" {
					t.Errorf("request id %q, model %q, region %q", be.RequestID, be.Model, be.Region)
				}
			})
		}
	}
}

func TestErrorsAuthAndTransport(t *testing.T) {
	h := newHarness(t, nil)
	chat := func(b *Backend) error {
		_, err := b.Chat(callCtx(t), &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("hi")}})
		return err
	}

	t.Run("wrong secret", func(t *testing.T) {
		b, err := New(Options{Endpoint: h.srv.URL, HTTPClient: h.hc, Credentials: credentials.NewStaticCredentialsProvider(testKeyID, "not-the-secret", "")})
		if err != nil {
			t.Fatal(err)
		}
		be := mustKind(t, chat(b), backend.KindAccessDenied)
		if be.Code != "InvalidSignatureException" || strings.Contains(be.Error(), "not-the-secret") {
			t.Errorf("%v", be)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		b, err := New(Options{Endpoint: h.srv.URL, HTTPClient: h.hc, Credentials: credentials.NewStaticCredentialsProvider("AKIDOTHER", testSecret, "")})
		if err != nil {
			t.Fatal(err)
		}
		mustKind(t, chat(b), backend.KindAccessDenied)
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		b, err := New(Options{Endpoint: "http://" + addr, HTTPClient: h.hc, Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")})
		if err != nil {
			t.Fatal(err)
		}
		be := mustKind(t, chat(b), backend.KindUnavailable)
		if !be.Retryable() || be.HTTPStatus != 0 {
			t.Errorf("%+v", be)
		}
	})
	t.Run("stall past the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(withFault(t.Context(), "stall=5s"), 100*time.Millisecond)
		defer cancel()
		_, err := h.b.Chat(ctx, &backend.ChatRequest{ModelID: novaMicro, Messages: []backend.Message{userText("hi")}})
		mustKind(t, err, backend.KindCanceled)
	})
	t.Run("a proxy's 502 page", func(t *testing.T) {
		srv, err := emulator.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		defer h.hc.CloseIdleConnections()
		b, err := New(Options{Endpoint: srv.URL, HTTPClient: h.hc, Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")})
		if err != nil {
			t.Fatal(err)
		}
		be := mustKind(t, chat(b), backend.KindUnavailable)
		if be.HTTPStatus != 502 {
			t.Errorf("%+v", be)
		}
	})
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		code, message string
		status        int
		want          backend.Kind
	}{
		{"ValidationException", msgInvalidModel, 400, backend.KindUnknownModel},
		{"ValidationException", "Malformed input request", 400, backend.KindInvalid},
		// The corpus stripped X-Amzn-ErrorType: the SDK says UnknownError and the status decides (§5.4).
		{"UnknownError", msgInvalidModel, 400, backend.KindUnknownModel},
		{"UnknownError", "something", 400, backend.KindInvalid},
		{"UnknownError", "", 403, backend.KindAccessDenied},
		{"UnknownError", "", 404, backend.KindNotFound},
		{"UnknownError", "", 408, backend.KindTimeout},
		{"UnknownError", "", 424, backend.KindUnavailable},
		{"UnknownError", "", 429, backend.KindThrottled},
		{"UnknownError", "", 500, backend.KindUnavailable},
		{"UnknownError", "", 502, backend.KindUnavailable},
		{"UnknownError", "", 504, backend.KindUnavailable},
		{"UnknownError", "", 418, backend.KindInternal},
		{"ExpiredTokenException", "", 403, backend.KindAccessDenied},
		{"UnrecognizedClientException", "", 403, backend.KindAccessDenied},
		{"TooManyRequestsException", "", 429, backend.KindThrottled},
		{"ModelStreamErrorException", "", 424, backend.KindUnavailable},
		{"somethingElse", "", 0, backend.KindInternal},
	}
	for _, tt := range tests {
		if got := kindOf(tt.code, tt.message, tt.status); got != tt.want {
			t.Errorf("kindOf(%q, %q, %d) = %v, want %v", tt.code, tt.message, tt.status, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"none", http.Header{}, 0},
		{"x-amz milliseconds", http.Header{"X-Amz-Retry-After": {"2500"}}, 2500 * time.Millisecond},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"date", http.Header{"Retry-After": {now.Add(10 * time.Second).Format(http.TimeFormat)}}, 10 * time.Second},
		{"x-amz wins", http.Header{"X-Amz-Retry-After": {"100"}, "Retry-After": {"3"}}, 100 * time.Millisecond},
		{"garbage", http.Header{"X-Amz-Retry-After": {"soon"}}, 0},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.h, now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
