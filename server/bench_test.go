package server

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/strata-gateway/strata/backend/bedrock"
	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// BenchmarkChatSideBySide measures, in one run against one zero-latency emulator, what Strata
// adds to a Bedrock call: (a) the AWS SDK calling the emulator directly, SigV4-signed, as an
// application would without Strata; (b) the same request through Strata's gRPC Chat; (c) a bare
// grpc.health.v1 round trip to the same server, the price of the hop itself. Strata's own cost
// is (b) − (a) − (c). The full harness with percentiles and load is `strata bench` (a later issue).
func BenchmarkChatSideBySide(b *testing.B) {
	const prompt = "Summarize the plot of a short story about a lighthouse keeper in three sentences."
	const key, secret = "AKIDBENCH", "bench-secret"
	emu, err := emulator.New(emulator.Options{AccessKeyID: key, SecretAccessKey: secret})
	if err != nil {
		b.Fatal(err)
	}
	url := listenEmulator(b, emu)
	h := startStrataWith(b, harnessOptions{backend: BackendBedrock, emu: emu, environ: map[string]string{
		"API_BASE": url, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "STRATA_LOG_LEVEL": "warn",
	}})
	ctx := b.Context()

	b.Run("a_direct_sdk", func(b *testing.B) {
		// The same tuned pool Strata uses, so the comparison is of Strata, not of pool sizes.
		hc := bedrock.NewHTTPClient(bedrock.PoolOptions{})
		client := bedrockruntime.New(bedrockruntime.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(url), HTTPClient: hc,
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), Retryer: aws.NopRetryer{},
		})
		b.Cleanup(hc.CloseIdleConnections)
		in := &bedrockruntime.ConverseInput{
			ModelId:         aws.String("us.amazon.nova-micro-v1:0"),
			Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}},
			InferenceConfig: &types.InferenceConfiguration{Temperature: aws.Float32(0.5)},
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Converse(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("b_strata_chat", func(b *testing.B) {
		req := &stratav1.ChatRequest{Messages: user(prompt)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.client.Chat(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("c_grpc_health", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
