package server

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/strata-gateway/strata/backend/bedrock"
	"github.com/strata-gateway/strata/emulator"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// latencies records one duration per call and reports p50 and p99 with the benchmark, so the
// added latency at each percentile can be read side by side.
type latencies []time.Duration

func (l *latencies) time(call func()) {
	start := time.Now()
	call()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	at := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// benchPrompt is the short prompt the side-by-side benchmarks send.
const benchPrompt = "Summarize the plot of a short story about a lighthouse keeper in three sentences."

// benchUpstream is the side-by-side benchmarks' Bedrock: a zero-latency emulator on loopback that
// checks every call's SigV4 signature, as AWS would.
type benchUpstream struct {
	emu *emulator.Emulator
	url string
}

const benchKey, benchSecret = "AKIDBENCH", "bench-secret"

func newBenchUpstream(b *testing.B) benchUpstream {
	emu, err := emulator.New(emulator.Options{AccessKeyID: benchKey, SecretAccessKey: benchSecret})
	if err != nil {
		b.Fatal(err)
	}
	return benchUpstream{emu: emu, url: listenEmulator(b, emu)}
}

// strata serves Strata against u as in production (--backend bedrock, SigV4 on), logging at
// warn, with env on top.
func (u benchUpstream) strata(b *testing.B, env map[string]string) *harness {
	environ := map[string]string{"API_BASE": u.url, "AWS_ACCESS_KEY_ID": benchKey, "AWS_SECRET_ACCESS_KEY": benchSecret, "STRATA_LOG_LEVEL": "warn"}
	maps.Copy(environ, env)
	return startStrataWith(b, harnessOptions{backend: BackendBedrock, emu: u.emu, environ: environ})
}

// direct is the application without Strata: the SDK on the same tuned pool Strata uses, so the
// comparison is of Strata, not of pool sizes.
func (u benchUpstream) direct(b *testing.B) *bedrockruntime.Client {
	hc := bedrock.NewHTTPClient(bedrock.PoolOptions{})
	b.Cleanup(hc.CloseIdleConnections)
	return bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(u.url), HTTPClient: bedrock.SDKHTTPClient(hc),
		Credentials: credentials.NewStaticCredentialsProvider(benchKey, benchSecret, ""), Retryer: aws.NopRetryer{},
	})
}

// directConverse benchmarks the direct SDK call of in, with its latencies.
func (u benchUpstream) directConverse(in *bedrockruntime.ConverseInput) func(b *testing.B) {
	return func(b *testing.B) {
		client := u.direct(b)
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			lat.time(func() {
				if _, err := client.Converse(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			})
		}
		lat.report(b)
	}
}

// BenchmarkChatSideBySide measures, in one run against one zero-latency emulator, what Strata
// adds to a Bedrock call: (a) the AWS SDK calling the emulator directly, SigV4-signed, as an
// application would without Strata; (b) the same request through Strata's gRPC Chat, and its
// ChatStream to the first delta (time to first token); (c) a bare grpc.health.v1 round trip to
// the same server, the price of the hop itself. Strata's own cost is (b) − (a) − (c) at each
// percentile. `make bench-check` runs it briefly; the full harness with load is `strata bench`.
func BenchmarkChatSideBySide(b *testing.B) {
	const prompt = benchPrompt
	up := newBenchUpstream(b)
	h := up.strata(b, nil)
	ctx := b.Context()
	direct := up.direct
	modelID := aws.String("us.amazon.nova-micro-v1:0")
	messages := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}}
	inference := &types.InferenceConfiguration{Temperature: aws.Float32(0.5)}

	b.Run("a_direct_sdk", up.directConverse(&bedrockruntime.ConverseInput{ModelId: modelID, Messages: messages, InferenceConfig: inference}))
	b.Run("a_direct_sdk_stream_first_delta", func(b *testing.B) {
		client := direct(b)
		in := &bedrockruntime.ConverseStreamInput{ModelId: modelID, Messages: messages, InferenceConfig: inference}
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			out, err := client.ConverseStream(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			stream := out.GetStream()
			for ev := range stream.Events() {
				if _, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
					lat = append(lat, time.Since(start))
					break
				}
			}
			for range stream.Events() { // drain, so the next call starts clean
			}
			if err := stream.Close(); err != nil {
				b.Fatal(err)
			}
		}
		lat.report(b)
	})
	b.Run("b_strata_chat", func(b *testing.B) {
		req := &stratav1.ChatRequest{Messages: user(prompt)}
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			lat.time(func() {
				if _, err := h.client.Chat(ctx, req); err != nil {
					b.Fatal(err)
				}
			})
		}
		lat.report(b)
	})
	b.Run("b_strata_stream_first_delta", func(b *testing.B) {
		req := &stratav1.ChatRequest{Messages: user(prompt)}
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			stream, err := h.client.ChatStream(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			for {
				ev, err := stream.Recv()
				if err != nil {
					b.Fatal(err)
				}
				if ev.GetDelta() != nil {
					lat = append(lat, time.Since(start))
					break
				}
			}
			for { // drain, so the next call starts clean
				if _, err := stream.Recv(); err != nil {
					break
				}
			}
		}
		lat.report(b)
	})
	b.Run("d_grpc_stream_hop", func(b *testing.B) {
		// A bare server-streaming-sized hop: one reflection request and its answer on a new
		// stream, the price of a gRPC stream itself, for reading ChatStream's figures.
		refl := reflectionpb.NewServerReflectionClient(h.conn)
		req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			lat.time(func() {
				st, err := refl.ServerReflectionInfo(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Send(req); err != nil {
					b.Fatal(err)
				}
				if err := st.CloseSend(); err != nil {
					b.Fatal(err)
				}
				if _, err := st.Recv(); err != nil {
					b.Fatal(err)
				}
			})
		}
		lat.report(b)
	})
	b.Run("c_grpc_health", healthHop(h))
}

// healthHop benchmarks a bare grpc.health.v1 round trip to h: the price of the gRPC hop itself.
func healthHop(h *harness) func(b *testing.B) {
	return func(b *testing.B) {
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			lat.time(func() {
				if _, err := h.health.Check(b.Context(), &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			})
		}
		lat.report(b)
	}
}
