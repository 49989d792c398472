package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/schemas"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// The models the scenarios call. The chat model is Strata's default, named in every request as
// a caller would; the embedding models are the two families Strata calls differently: Titan
// takes one text per call (Strata fans out), Cohere takes batches (Strata chunks).
const (
	chatModel   = "us.amazon.nova-micro-v1:0"
	titanModel  = "amazon.titan-embed-text-v2:0"
	cohereModel = "cohere.embed-english-v3"
)

// shortPrompt is the prompt of the short-chat and streaming scenarios.
const shortPrompt = "Summarize the plot of a short story about a lighthouse keeper in three sentences."

// chatTemperature is sent on both paths. It is Strata's default (CHAT_TEMPERATURE), so the
// Converse request Strata makes is the one the direct client makes.
const chatTemperature = 0.5

// What Strata does to a 64-text Embed with its default settings, which the direct path repeats
// so that both send Bedrock the same calls: Cohere batches of at most EMBEDDING_MAX_STR_NUM (50)
// texts, and at most STRATA_EMBED_CONCURRENCY (8) upstream calls at once.
const (
	embedBatch       = 50
	embedConcurrency = 8
)

// longPrompt returns a prompt of size bytes: varied English words, so it tokenizes like text.
func longPrompt(size int) string {
	words := strings.Fields(`the keeper climbed the spiral stair each evening to light the lamp while
		storms rolled in from the north sea and ships passed the reef in the dark his logbook
		recorded wind tide visibility and every vessel that answered the signal`)
	var b strings.Builder
	b.Grow(size + 16)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[(i*7+i/len(words))%len(words)])
	}
	return b.String()[:size]
}

// embedTexts returns n distinct short texts.
func embedTexts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Document %d: the lighthouse keeper's log for night %d records wind, tide and passing ships.", i, i+1)
	}
	return out
}

// chatRequest is a one-message Strata chat; maxTokens 0 leaves the reply uncapped.
func chatRequest(prompt string, maxTokens int32) *stratav1.ChatRequest {
	req := &stratav1.ChatRequest{
		Model:       chatModel,
		Messages:    []*stratav1.Message{{Role: stratav1.Role_ROLE_USER, Text: prompt}},
		Temperature: aws.Float64(chatTemperature),
	}
	if maxTokens > 0 {
		req.MaxTokens = aws.Int32(maxTokens)
	}
	return req
}

// converseParts are the Converse fields of the same chat.
func converseParts(prompt string, maxTokens int32) ([]types.Message, *types.InferenceConfiguration) {
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}}
	inf := &types.InferenceConfiguration{Temperature: aws.Float32(chatTemperature)}
	if maxTokens > 0 {
		inf.MaxTokens = aws.Int32(maxTokens)
	}
	return msgs, inf
}

// directChat is Converse through the AWS SDK: the application without Strata.
func directChat(client *bedrockruntime.Client, prompt string, maxTokens int32) op {
	msgs, inf := converseParts(prompt, maxTokens)
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(chatModel), Messages: msgs, InferenceConfig: inf}
	return func(ctx context.Context, _ *call) error {
		_, err := client.Converse(ctx, in)
		return err
	}
}

// ownEventStreamCodec gives one ConverseStream call its own protocol object, and with it its own
// event-stream codec: the client-wide one is written by every open stream's reader goroutine, a
// data race under concurrent streams (aws/smithy-go#714) that -race reports. An application
// running concurrent streams through the SDK has to do the same; building a protocol is two small
// allocations per call.
func ownEventStreamCodec(o *bedrockruntime.Options) {
	o.Protocol = restjson1.New(schemas.AmazonBedrockFrontendService)
}

// directStream is ConverseStream through the AWS SDK, read to its end.
func directStream(client *bedrockruntime.Client, prompt string, maxTokens int32) op {
	msgs, inf := converseParts(prompt, maxTokens)
	in := &bedrockruntime.ConverseStreamInput{ModelId: aws.String(chatModel), Messages: msgs, InferenceConfig: inf}
	return func(ctx context.Context, c *call) error {
		out, err := client.ConverseStream(ctx, in, ownEventStreamCodec)
		if err != nil {
			return err
		}
		stream := out.GetStream()
		for ev := range stream.Events() {
			if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
				if _, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					c.delta()
				}
			}
		}
		return errors.Join(stream.Err(), stream.Close())
	}
}

// directEmbed embeds texts with InvokeModel as an application would without Strata: the bodies
// Strata sends, perCall texts per call, embedConcurrency calls at once, every vector decoded.
func directEmbed(client *bedrockruntime.Client, model string, texts []string, perCall int) op {
	type batch struct{ lo, hi int }
	var batches []batch
	for lo := 0; lo < len(texts); lo += perCall {
		batches = append(batches, batch{lo, min(lo+perCall, len(texts))})
	}
	one := func(ctx context.Context, b batch) (int, error) {
		var body any = map[string]any{"inputText": texts[b.lo]}
		if perCall > 1 {
			body = map[string]any{"texts": texts[b.lo:b.hi], "input_type": "search_document"}
		}
		payload, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		out, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
			ModelId: aws.String(model), Body: payload,
			ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
		})
		if err != nil {
			return 0, err
		}
		var resp struct {
			Embedding  []float32   `json:"embedding"`
			Embeddings [][]float32 `json:"embeddings"`
		}
		if err := json.Unmarshal(out.Body, &resp); err != nil {
			return 0, fmt.Errorf("decode %s embedding: %w", model, err)
		}
		if resp.Embedding != nil {
			return 1, nil
		}
		return len(resp.Embeddings), nil
	}
	return func(ctx context.Context, _ *call) error {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
			errs  []error
			sem   = make(chan struct{}, embedConcurrency)
		)
		for _, b := range batches {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				n, err := one(ctx, b)
				mu.Lock()
				total += n
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if total != len(texts) {
			return fmt.Errorf("%d vectors for %d texts", total, len(texts))
		}
		return nil
	}
}

// strataChat is the same chat through Strata's Chat (or the minimal gateway's). A reply without
// text counts as a failed call.
func strataChat(llm stratav1.LLMServiceClient, prompt string, maxTokens int32) op {
	req := chatRequest(prompt, maxTokens)
	return func(ctx context.Context, _ *call) error {
		resp, err := llm.Chat(ctx, req)
		if err != nil {
			return err
		}
		if resp.GetText() == "" {
			return errors.New("chat: a reply without text")
		}
		return nil
	}
}

// strataStream is the same chat through Strata's ChatStream, read to its end.
func strataStream(llm stratav1.LLMServiceClient, prompt string, maxTokens int32) op {
	req := chatRequest(prompt, maxTokens)
	return func(ctx context.Context, c *call) error {
		stream, err := llm.ChatStream(ctx, req)
		if err != nil {
			return err
		}
		for {
			ev, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if d := ev.GetDelta(); d != nil && d.GetText() != "" {
				c.delta()
			}
		}
	}
}

// strataEmbed embeds texts through Strata's Embed.
func strataEmbed(llm stratav1.LLMServiceClient, model string, texts []string) op {
	req := &stratav1.EmbedRequest{Model: model, Inputs: texts}
	return func(ctx context.Context, _ *call) error {
		resp, err := llm.Embed(ctx, req)
		if err != nil {
			return err
		}
		if n := len(resp.GetEmbeddings()); n != len(texts) {
			return fmt.Errorf("%d vectors for %d texts", n, len(texts))
		}
		return nil
	}
}

// hop is a bare grpc.health.v1 Check: the round trip to Strata's server with no work behind it.
func hop(health healthpb.HealthClient) op {
	req := &healthpb.HealthCheckRequest{}
	return func(ctx context.Context, _ *call) error {
		_, err := health.Check(ctx, req)
		return err
	}
}

// streamHop opens a bare gRPC stream to Strata's server (server reflection, listing the
// services), the way server/bench_test.go does, and returns at its first message: the price of a
// stream itself, to read ChatStream's time to first token against. The stream is canceled after.
func streamHop(refl reflectionpb.ServerReflectionClient) op {
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
	return func(ctx context.Context, _ *call) error {
		st, err := refl.ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		if err := st.Send(req); err != nil {
			return err
		}
		if err := st.CloseSend(); err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}
}
