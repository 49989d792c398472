package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/service"
)

// The account-owned model ids these tests give the emulator, all over Claude Sonnet 4.5.
const (
	opaqueSonnet   = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	opaqueAccount  = "arn:aws:bedrock:us-east-1:123456789012:"
	opaqueCustomID = opaqueSonnet + ":200k/ft0research"
)

// startOpaque serves Strata over an emulator that knows a Provisioned Throughput of Claude Sonnet
// 4.5 (pt0sonnet), one of a custom model of it (pt0custom), and the custom model.
func startOpaque(t *testing.T) (*harness, *emulator.Emulator) {
	t.Helper()
	const key, secret = "AKIDOPAQUE", "opaque-secret"
	emu, err := emulator.New(emulator.Options{AccessKeyID: key, SecretAccessKey: secret,
		CustomModels:      map[string]string{opaqueCustomID: opaqueSonnet},
		ProvisionedModels: map[string]string{"pt0sonnet": opaqueSonnet, "pt0custom": opaqueCustomID},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startStrataWith(t, harnessOptions{backend: BackendBedrock, emu: emu, environ: map[string]string{
		"API_BASE": listenEmulator(t, emu), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
	}})
	return h, emu
}

// TestChatOpaqueModelARNs: a Provisioned Throughput ARN (of a foundation model or of a custom
// model) and a custom model ARN behave exactly like Claude Sonnet 4.5 behind them: thinking and
// prompt caching on, in Chat and ChatStream, counted exactly by CountTokens, with the model resolved on the control plane once per
// ARN however many calls follow. Their cost is unknown (Provisioned Throughput is billed per model
// unit per hour, a custom model's price is not in the catalog): cost_usd 0 with price_unknown, the
// reason said once in the log.
func TestChatOpaqueModelARNs(t *testing.T) {
	t.Parallel()
	h, emu := startOpaque(t)
	tests := []struct {
		name, arn, wantReason string
	}{
		{"provisioned throughput", opaqueAccount + "provisioned-model/pt0sonnet", "billed per model unit per hour"},
		{"provisioned throughput of a custom model", opaqueAccount + "provisioned-model/pt0custom", "billed per model unit per hour"},
		{"custom model", opaqueAccount + "custom-model/" + opaqueCustomID, "not a custom model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := thinkingCachedRequest(tt.arn)
			for i := range 2 {
				resp, err := h.client.Chat(t.Context(), req)
				if err != nil {
					t.Fatalf("Chat %d: %v", i, err)
				}
				if resp.GetModel() != tt.arn || resp.GetReasoning() == "" {
					t.Errorf("call %d: model %q, reasoning %q: want the ARN served with thinking on", i, resp.GetModel(), resp.GetReasoning())
				}
				if u := resp.GetUsage(); u.GetCacheWriteTokens()+u.GetCacheReadTokens() == 0 || u.GetOutputTokens() == 0 {
					t.Errorf("call %d: usage %v, want the cache point honoured", i, u)
				}
				if !resp.GetPriceUnknown() || resp.GetCostUsd() != 0 {
					t.Errorf("call %d: price_unknown %v, cost %v: want an unknown price", i, resp.GetPriceUnknown(), resp.GetCostUsd())
				}
			}
			events, err := chatStream(t, h, req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			_, streamed, end := joinDeltas(t, events)
			if streamed.reasoning == "" || streamed.text == "" || !end.GetPriceUnknown() || end.GetCostUsd() != 0 ||
				end.GetUsage().GetCacheReadTokens() == 0 {
				t.Errorf("stream: reasoning %q, text %q, end %v: want thinking, a cache read and an unknown price", streamed.reasoning, streamed.text, end)
			}
			count, err := h.client.CountTokens(t.Context(), req)
			if err != nil || !count.GetExact() || count.GetInputTokens() == 0 {
				t.Errorf("CountTokens = %v, %v: want Bedrock's exact count, as for Claude Sonnet 4.5", count, err)
			}
			var said int
			for line := range strings.Lines(h.logs.String()) {
				if strings.Contains(line, tt.wantReason) && strings.Contains(line, tt.arn) {
					said++
				}
			}
			if said != 1 {
				t.Errorf("the reason the price is unknown (%q) was logged %d times for %s, want once", tt.wantReason, said, tt.arn)
			}
		})
	}
	stats := settledStats(t, emu)
	if n := stats.Total(emulator.OpGetProvisioned); n != 2 {
		t.Errorf("GetProvisionedModelThroughput calls = %d, want 2: each throughput's model is looked up once", n)
	}
	if n := stats.Total(emulator.OpGetCustomModel); n != 1 {
		t.Errorf("GetCustomModel calls = %d, want 1: the custom model's base is looked up once", n)
	}
}

// TestChatOpaqueModelUnknown: an ARN the account does not have fails as an unknown application
// profile does, with INVALID_ARGUMENT and UNKNOWN_MODEL, and a message that names the ARN and says
// to check it; the failed lookup is not repeated on the next call.
func TestChatOpaqueModelUnknown(t *testing.T) {
	t.Parallel()
	h, emu := startOpaque(t)
	arns := []string{
		opaqueAccount + "application-inference-profile/gone",
		opaqueAccount + "provisioned-model/gone",
		opaqueAccount + "custom-model/gone",
	}
	for _, arn := range arns {
		t.Run(arn[len(opaqueAccount):], func(t *testing.T) {
			for range 2 {
				_, err := h.client.Chat(t.Context(), &stratav1.ChatRequest{Model: arn, Messages: user("hi")})
				if code := status.Code(err); code != codes.InvalidArgument {
					t.Fatalf("Chat: %v, want INVALID_ARGUMENT", err)
				}
				if msg := status.Convert(err).Message(); !strings.Contains(msg, arn) || !strings.Contains(msg, "check the ARN") || strings.Contains(msg, "us.arn:") {
					t.Errorf("message %q: want the ARN and what to check about it (no profile hint, which is for model ids)", msg)
				}
				if info := errorInfo(t, err); info.GetReason() != service.ReasonUnknownModel {
					t.Errorf("reason %q, want %q", info.GetReason(), service.ReasonUnknownModel)
				}
			}
		})
	}
	stats := settledStats(t, emu)
	for _, op := range []string{emulator.OpGetProfile, emulator.OpGetProvisioned, emulator.OpGetCustomModel} {
		if n := stats.Count(op, emulator.CodeResourceNotFound); n != 1 {
			t.Errorf("%s ResourceNotFound answers = %d, want 1: a failed lookup stands for a while", op, n)
		}
	}
}
