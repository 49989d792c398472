package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/strata-gateway/strata/catalog"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// TestMinimalGatewayChat calls the minimal gateway's Chat against the emulator, which verifies
// every SigV4 signature against the bench's key: the escaped model id must be signed as the SDK
// signs it, and a wrong key must fail.
func TestMinimalGatewayChat(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	up, err := startUpstream(cat, latency{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.close(context.Background()) })
	good, err := minimalConfigFrom(func(k string) string { return minimalEnv(up.url())[k] })
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := good
	wrongKey.secretKey = "not-the-bench-secret"
	conversation := []*stratav1.Message{
		{Role: stratav1.Role_ROLE_SYSTEM, Text: "Be brief."},
		{Role: stratav1.Role_ROLE_USER, Text: "Hello!"},
		{Role: stratav1.Role_ROLE_ASSISTANT, Parts: []*stratav1.Part{{Kind: &stratav1.Part_Text{Text: "Hi."}}}},
		{Role: stratav1.Role_ROLE_USER, Text: "Tell me about lighthouses."},
	}
	tests := []struct {
		name    string
		cfg     minimalConfig
		req     *stratav1.ChatRequest
		wantErr string
	}{
		{name: "the bench's chat", cfg: good, req: chatRequest(shortPrompt, 0)},
		{name: "a conversation, capped", cfg: good, req: &stratav1.ChatRequest{Model: chatModel, Messages: conversation, MaxTokens: aws.Int32(16)}},
		{name: "a model ARN: ':' and '/' escaped in the path and signed", cfg: good,
			req: &stratav1.ChatRequest{Model: "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", Messages: conversation[1:2]}},
		{name: "a wrong key is refused", cfg: wrongKey, req: chatRequest(shortPrompt, 0), wantErr: "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newMinimalGateway(tt.cfg)
			defer gw.client.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := gw.Chat(ctx, tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Chat error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			u := resp.GetUsage()
			if resp.GetText() == "" || resp.GetModel() != tt.req.GetModel() || u.GetInputTokens() <= 0 || u.GetOutputTokens() <= 0 ||
				u.GetTotalTokens() != u.GetInputTokens()+u.GetOutputTokens() {
				t.Errorf("Chat = %v", resp)
			}
			if tt.req.MaxTokens != nil && u.GetOutputTokens() > int64(*tt.req.MaxTokens) {
				t.Errorf("%d output tokens, capped at %d", u.GetOutputTokens(), *tt.req.MaxTokens)
			}
		})
	}
}

func TestMinimalConfigFrom(t *testing.T) {
	t.Parallel()
	env := minimalEnv("http://127.0.0.1:4000/")
	c, err := minimalConfigFrom(func(k string) string { return env[k] })
	if err != nil || c.endpoint != "http://127.0.0.1:4000" || c.accessKeyID != benchAccessKeyID || c.region != benchRegion {
		t.Errorf("minimalConfigFrom = %+v, %v", c, err)
	}
	_, err = minimalConfigFrom(func(k string) string {
		if k == envSecretAccessKey {
			return ""
		}
		return env[k]
	})
	if err == nil || !strings.Contains(err.Error(), envSecretAccessKey) {
		t.Errorf("without a secret: %v", err)
	}
}
