package corpus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-gateway/strata/internal/corpus"
)

func cassette(t *testing.T, name string) corpus.Cassette {
	t.Helper()
	for _, c := range corpus.ForTest(t) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("cassette %q not in corpus", name)
	return corpus.Cassette{}
}

// newClient returns the real SDK client pointed at srv, configured as bedrock-wire.md §0 advises
// for a fake: static keys (anonymous credentials panic, item 8), and one attempt so recorded
// errors are seen as recorded rather than retried.
func newClient(srv *httptest.Server) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
	})
}

func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// minimalMessages is the conversation sent for Converse-shaped calls. Rebuilding the recorded
// request in SDK types is not needed: the replayer falls back to matching on method and path, in
// recorded order, and the assertions are about what the SDK makes of the response.
func minimalMessages() []types.Message {
	return []types.Message{{
		Role:    types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "replay"}},
	}}
}

// call sends the request for in's operation. InvokeModel sends the recorded body as is.
func call(ctx context.Context, client *bedrockruntime.Client, in corpus.Interaction) (any, error) {
	id := aws.String(in.Request.ModelID)
	switch in.Request.Operation {
	case corpus.OpConverse:
		return client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: id, Messages: minimalMessages()})
	case corpus.OpConverseStream:
		return client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: id, Messages: minimalMessages()})
	case corpus.OpInvoke:
		return client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
			ModelId:     id,
			Body:        in.Request.Body,
			ContentType: headerPtr(in.Request.Headers.Get("Content-Type")),
			Accept:      headerPtr(in.Request.Headers.Get("Accept")),
		})
	case corpus.OpCountTokens:
		return client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
			ModelId: id,
			Input:   &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: minimalMessages()}},
		})
	default:
		return nil, fmt.Errorf("no replay for operation %q", in.Request.Operation)
	}
}

func headerPtr(v string) *string {
	if v == "" {
		return nil
	}
	return aws.String(v)
}

// TestReplayCorpus serves every recorded Bedrock interaction to the real aws-sdk-go-v2 client and
// checks what the SDK parses against what the recording says.
func TestReplayCorpus(t *testing.T) {
	t.Parallel()
	cs := corpus.ForTest(t)
	var mu sync.Mutex
	replayed := map[string]int{}
	total := 0
	for _, c := range cs {
		total += len(c.Interactions)
	}

	t.Run("cassettes", func(t *testing.T) {
		for _, c := range cs {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				r := corpus.NewReplayer(c)
				srv := httptest.NewServer(r)
				defer srv.Close()
				client := newClient(srv)
				for _, in := range c.Interactions {
					name := fmt.Sprintf("%d_%s", in.Index, in.Request.Operation)
					kind := string(in.Request.Operation)
					if in.Response.Status >= 400 {
						kind += " (error)"
					}
					t.Run(name, func(t *testing.T) {
						replayOne(t, client, r, c.Name, in)
					})
					mu.Lock()
					replayed[kind]++
					mu.Unlock()
				}
				if r.Remaining() != 0 || len(r.Misses()) != 0 {
					t.Errorf("replayer left %d interactions unserved, misses %q", r.Remaining(), r.Misses())
				}
				for i, s := range r.Served() {
					if i >= len(c.Interactions) || s.Index != c.Interactions[i].Index {
						t.Errorf("request %d answered by interaction %d: out of recorded order", i, s.Index)
					}
				}
			})
		}
	})

	sum := 0
	for _, n := range replayed {
		sum += n
	}
	if sum != total {
		t.Errorf("replayed %d interactions, corpus has %d", sum, total)
	}
	t.Logf("replayed %d interactions through the SDK: %v", sum, replayed)
}

func replayOne(t *testing.T, client *bedrockruntime.Client, r *corpus.Replayer, cassetteName string, in corpus.Interaction) {
	ctx := callContext(t)
	out, err := call(ctx, client, in)
	if in.Response.Status >= 400 {
		checkError(t, err, cassetteName, in)
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", in.Request.Operation, err)
	}
	var md middleware.Metadata
	switch o := out.(type) {
	case *bedrockruntime.ConverseOutput:
		md = o.ResultMetadata
		checkConverse(t, o, in.Response.Body)
	case *bedrockruntime.ConverseStreamOutput:
		md = o.ResultMetadata
		checkConverseStream(t, o, in.Response.Body)
	case *bedrockruntime.InvokeModelOutput:
		md = o.ResultMetadata
		checkInvoke(t, o, in)
		if s := r.Served(); len(s) == 0 || !s[len(s)-1].ExactBody {
			t.Errorf("the SDK did not send the recorded InvokeModel body byte for byte")
		}
	case *bedrockruntime.CountTokensOutput:
		md = o.ResultMetadata
		var want struct {
			InputTokens *int32 `json:"inputTokens"`
		}
		mustUnmarshal(t, in.Response.Body, &want)
		if want.InputTokens == nil || !eqPtr(o.InputTokens, want.InputTokens) {
			t.Errorf("inputTokens = %v, recorded %v", deref(o.InputTokens), deref(want.InputTokens))
		}
	default:
		t.Fatalf("unexpected output %T", out)
	}
	// Every response carries a request id, recorded or derived, as real Bedrock's do (§1.5).
	if id, _ := awsmiddleware.GetRequestIDMetadata(md); id != corpus.RequestID(cassetteName, in) {
		t.Errorf("request id %q, want %q", id, corpus.RequestID(cassetteName, in))
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("recorded body: %v: %.200s", err, b)
	}
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// jsonEqual compares two JSON texts as values (key order and number spelling aside).
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func docJSON(t *testing.T, d document.Interface) []byte {
	t.Helper()
	if d == nil {
		return nil
	}
	b, err := d.MarshalSmithyDocument()
	if err != nil {
		t.Fatalf("marshal document: %v", err)
	}
	return b
}

// The recorded JSON, in Bedrock's wire shapes (bedrock-wire.md §2.3, §3.2).
type wireUsage struct {
	InputTokens           *int32 `json:"inputTokens"`
	OutputTokens          *int32 `json:"outputTokens"`
	TotalTokens           *int32 `json:"totalTokens"`
	CacheReadInputTokens  *int32 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens *int32 `json:"cacheWriteInputTokens"`
	CacheDetails          []struct {
		InputTokens *int32 `json:"inputTokens"`
		TTL         string `json:"ttl"`
	} `json:"cacheDetails"`
}

type wireConverse struct {
	Output struct {
		Message struct {
			Role    string                       `json:"role"`
			Content []map[string]json.RawMessage `json:"content"`
		} `json:"message"`
	} `json:"output"`
	StopReason string     `json:"stopReason"`
	Usage      *wireUsage `json:"usage"`
	Metrics    struct {
		LatencyMs *int64 `json:"latencyMs"`
	} `json:"metrics"`
	PerformanceConfig *struct {
		Latency string `json:"latency"`
	} `json:"performanceConfig"`
	ServiceTier *struct {
		Type string `json:"type"`
	} `json:"serviceTier"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields"`
}

type wireToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type"`
}

type wireToolResult struct {
	ToolUseID string  `json:"toolUseId"`
	Status    string  `json:"status"`
	Type      *string `json:"type"`
	Content   []struct {
		JSON json.RawMessage `json:"json"`
		Text *string         `json:"text"`
	} `json:"content"`
}

type wireReasoning struct {
	ReasoningText *struct {
		Text      string  `json:"text"`
		Signature *string `json:"signature"`
	} `json:"reasoningText"`
	RedactedContent []byte `json:"redactedContent"` // base64 on the wire
}

func checkUsage(t *testing.T, where string, got *types.TokenUsage, want *wireUsage) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Errorf("%s: usage %+v, none recorded", where, got)
		}
		return
	}
	if got == nil {
		t.Fatalf("%s: no usage parsed", where)
	}
	fields := []struct {
		name      string
		got, want *int32
	}{
		{"inputTokens", got.InputTokens, want.InputTokens},
		{"outputTokens", got.OutputTokens, want.OutputTokens},
		{"totalTokens", got.TotalTokens, want.TotalTokens},
		{"cacheReadInputTokens", got.CacheReadInputTokens, want.CacheReadInputTokens},
		{"cacheWriteInputTokens", got.CacheWriteInputTokens, want.CacheWriteInputTokens},
	}
	for _, f := range fields {
		if !eqPtr(f.got, f.want) {
			t.Errorf("%s: usage.%s = %v, recorded %v", where, f.name, deref(f.got), deref(f.want))
		}
	}
	if len(got.CacheDetails) != len(want.CacheDetails) {
		t.Fatalf("%s: %d cacheDetails, recorded %d", where, len(got.CacheDetails), len(want.CacheDetails))
	}
	for i, d := range want.CacheDetails {
		if g := got.CacheDetails[i]; string(g.Ttl) != d.TTL || !eqPtr(g.InputTokens, d.InputTokens) {
			t.Errorf("%s: cacheDetails[%d] = {%s %v}, recorded {%s %v}", where, i, g.Ttl, deref(g.InputTokens), d.TTL, deref(d.InputTokens))
		}
	}
}

func checkConverse(t *testing.T, out *bedrockruntime.ConverseOutput, body []byte) {
	var want wireConverse
	mustUnmarshal(t, body, &want)
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		t.Fatalf("output is %T, want a message", out.Output)
	}
	if string(msg.Value.Role) != want.Output.Message.Role {
		t.Errorf("role = %q, recorded %q", msg.Value.Role, want.Output.Message.Role)
	}
	if len(msg.Value.Content) != len(want.Output.Message.Content) {
		t.Fatalf("%d content blocks, recorded %d", len(msg.Value.Content), len(want.Output.Message.Content))
	}
	for i, raw := range want.Output.Message.Content {
		checkBlock(t, i, msg.Value.Content[i], raw)
	}
	if string(out.StopReason) != want.StopReason || want.StopReason == "" {
		t.Errorf("stopReason = %q, recorded %q", out.StopReason, want.StopReason)
	}
	checkUsage(t, "converse", out.Usage, want.Usage)
	if out.Metrics == nil || !eqPtr(out.Metrics.LatencyMs, want.Metrics.LatencyMs) {
		t.Errorf("metrics = %+v, recorded latencyMs %v", out.Metrics, deref(want.Metrics.LatencyMs))
	}
	if want.PerformanceConfig != nil && (out.PerformanceConfig == nil || string(out.PerformanceConfig.Latency) != want.PerformanceConfig.Latency) {
		t.Errorf("performanceConfig = %+v, recorded %+v", out.PerformanceConfig, *want.PerformanceConfig)
	}
	if want.ServiceTier != nil && (out.ServiceTier == nil || string(out.ServiceTier.Type) != want.ServiceTier.Type) {
		t.Errorf("serviceTier = %+v, recorded %+v", out.ServiceTier, *want.ServiceTier)
	}
	if len(want.AdditionalModelResponseFields) > 0 {
		if got := docJSON(t, out.AdditionalModelResponseFields); !jsonEqual(got, want.AdditionalModelResponseFields) {
			t.Errorf("additionalModelResponseFields = %s, recorded %s", got, want.AdditionalModelResponseFields)
		}
	}
}

// onlyMember returns the single key of a union object; Bedrock unions have exactly one.
func onlyMember(t *testing.T, where string, m map[string]json.RawMessage) (string, json.RawMessage) {
	t.Helper()
	if len(m) != 1 {
		t.Fatalf("%s: union with %d members: %v", where, len(m), m)
	}
	for k, v := range m {
		return k, v
	}
	return "", nil
}

func checkBlock(t *testing.T, i int, got types.ContentBlock, raw map[string]json.RawMessage) {
	where := fmt.Sprintf("content[%d]", i)
	kind, v := onlyMember(t, where, raw)
	switch kind {
	case "text":
		var want string
		mustUnmarshal(t, v, &want)
		g, ok := got.(*types.ContentBlockMemberText)
		if !ok || g.Value != want {
			t.Errorf("%s = %#v, recorded text %q", where, got, want)
		}
	case "toolUse":
		var want wireToolUse
		mustUnmarshal(t, v, &want)
		g, ok := got.(*types.ContentBlockMemberToolUse)
		if !ok {
			t.Fatalf("%s = %T, recorded toolUse", where, got)
		}
		if aws.ToString(g.Value.ToolUseId) != want.ToolUseID || aws.ToString(g.Value.Name) != want.Name || string(g.Value.Type) != want.Type {
			t.Errorf("%s = toolUse{%s %s %s}, recorded {%s %s %s}", where,
				aws.ToString(g.Value.ToolUseId), aws.ToString(g.Value.Name), g.Value.Type, want.ToolUseID, want.Name, want.Type)
		}
		if input := docJSON(t, g.Value.Input); !jsonEqual(input, want.Input) {
			t.Errorf("%s: toolUse input = %s, recorded %s", where, input, want.Input)
		}
	case "toolResult":
		var want wireToolResult
		mustUnmarshal(t, v, &want)
		g, ok := got.(*types.ContentBlockMemberToolResult)
		if !ok {
			t.Fatalf("%s = %T, recorded toolResult", where, got)
		}
		if aws.ToString(g.Value.ToolUseId) != want.ToolUseID || string(g.Value.Status) != want.Status || !eqPtr(g.Value.Type, want.Type) {
			t.Errorf("%s = toolResult{%s %s %v}, recorded {%s %s %v}", where,
				aws.ToString(g.Value.ToolUseId), g.Value.Status, deref(g.Value.Type), want.ToolUseID, want.Status, deref(want.Type))
		}
		if len(g.Value.Content) != len(want.Content) {
			t.Fatalf("%s: %d toolResult items, recorded %d", where, len(g.Value.Content), len(want.Content))
		}
		for j, wc := range want.Content {
			switch gc := g.Value.Content[j].(type) {
			case *types.ToolResultContentBlockMemberJson:
				if got := docJSON(t, gc.Value); !jsonEqual(got, wc.JSON) {
					t.Errorf("%s: toolResult[%d] json = %s, recorded %s", where, j, got, wc.JSON)
				}
			case *types.ToolResultContentBlockMemberText:
				if wc.Text == nil || gc.Value != *wc.Text {
					t.Errorf("%s: toolResult[%d] text = %q, recorded %v", where, j, gc.Value, deref(wc.Text))
				}
			default:
				t.Errorf("%s: toolResult[%d] = %T: not compared", where, j, gc)
			}
		}
	case "reasoningContent":
		var want wireReasoning
		mustUnmarshal(t, v, &want)
		g, ok := got.(*types.ContentBlockMemberReasoningContent)
		if !ok {
			t.Fatalf("%s = %T, recorded reasoningContent", where, got)
		}
		switch rc := g.Value.(type) {
		case *types.ReasoningContentBlockMemberReasoningText:
			if want.ReasoningText == nil || aws.ToString(rc.Value.Text) != want.ReasoningText.Text || !eqPtr(rc.Value.Signature, want.ReasoningText.Signature) {
				t.Errorf("%s: reasoningText differs from the recording", where)
			}
		case *types.ReasoningContentBlockMemberRedactedContent:
			if len(want.RedactedContent) == 0 || !bytes.Equal(rc.Value, want.RedactedContent) {
				t.Errorf("%s: redactedContent = %d bytes, recorded %d", where, len(rc.Value), len(want.RedactedContent))
			}
		default:
			t.Errorf("%s: reasoningContent = %T", where, rc)
		}
	default:
		t.Errorf("%s: recorded block %q is not compared; extend checkBlock", where, kind)
	}
}

// wireEvent is a ConverseStream event payload (bedrock-wire.md §3.2).
type wireEvent struct {
	Role              string                     `json:"role"`
	ContentBlockIndex *int32                     `json:"contentBlockIndex"`
	Start             map[string]json.RawMessage `json:"start"`
	Delta             map[string]json.RawMessage `json:"delta"`
	StopReason        string                     `json:"stopReason"`
	AdditionalFields  json.RawMessage            `json:"additionalModelResponseFields"`
	Usage             *wireUsage                 `json:"usage"`
	Metrics           *struct {
		LatencyMs *int64 `json:"latencyMs"`
	} `json:"metrics"`
}

func checkConverseStream(t *testing.T, out *bedrockruntime.ConverseStreamOutput, body []byte) {
	msgs, err := corpus.DecodeStream(body)
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var got []types.ConverseStreamOutput
	for ev := range stream.Events() {
		got = append(got, ev)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream.Err() = %v", err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("SDK delivered %d events, recording has %d frames", len(got), len(msgs))
	}
	if _, ok := got[0].(*types.ConverseStreamOutputMemberMessageStart); !ok {
		t.Errorf("first event %T, want messageStart", got[0])
	}
	if _, ok := got[len(got)-1].(*types.ConverseStreamOutputMemberMetadata); !ok {
		t.Errorf("last event %T, want metadata", got[len(got)-1])
	}
	var gotText, wantText strings.Builder
	for i, m := range msgs {
		where := fmt.Sprintf("event %d", i)
		if mt := corpus.HeaderString(m, ":message-type"); mt != "event" {
			t.Fatalf("%s: recorded :message-type %q; exceptions are not compared yet", where, mt)
		}
		eventType := corpus.HeaderString(m, ":event-type")
		var want wireEvent
		mustUnmarshal(t, m.Payload, &want)
		if want.Delta != nil {
			if text, ok := want.Delta["text"]; ok {
				var s string
				mustUnmarshal(t, text, &s)
				wantText.WriteString(s)
			}
		}
		if d, ok := got[i].(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if tx, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				gotText.WriteString(tx.Value)
			}
		}
		checkEvent(t, where, eventType, got[i], want)
	}
	if gotText.String() != wantText.String() {
		t.Errorf("joined text = %q, recorded %q", gotText.String(), wantText.String())
	}
}

func checkEvent(t *testing.T, where, eventType string, got types.ConverseStreamOutput, want wireEvent) {
	t.Helper()
	switch eventType {
	case "messageStart":
		g, ok := got.(*types.ConverseStreamOutputMemberMessageStart)
		if !ok || string(g.Value.Role) != want.Role {
			t.Errorf("%s = %#v, recorded messageStart role %q", where, got, want.Role)
		}
	case "contentBlockStart":
		g, ok := got.(*types.ConverseStreamOutputMemberContentBlockStart)
		if !ok {
			t.Fatalf("%s = %T, recorded contentBlockStart", where, got)
		}
		if !eqPtr(g.Value.ContentBlockIndex, want.ContentBlockIndex) {
			t.Errorf("%s: index %v, recorded %v", where, deref(g.Value.ContentBlockIndex), deref(want.ContentBlockIndex))
		}
		kind, v := onlyMember(t, where, want.Start)
		switch kind {
		case "toolUse":
			var w wireToolUse
			mustUnmarshal(t, v, &w)
			s, ok := g.Value.Start.(*types.ContentBlockStartMemberToolUse)
			if !ok || aws.ToString(s.Value.ToolUseId) != w.ToolUseID || aws.ToString(s.Value.Name) != w.Name || string(s.Value.Type) != w.Type {
				t.Errorf("%s: start = %#v, recorded %s", where, g.Value.Start, v)
			}
		case "toolResult":
			var w wireToolResult
			mustUnmarshal(t, v, &w)
			s, ok := g.Value.Start.(*types.ContentBlockStartMemberToolResult)
			if !ok || aws.ToString(s.Value.ToolUseId) != w.ToolUseID || string(s.Value.Status) != w.Status || !eqPtr(s.Value.Type, w.Type) {
				t.Errorf("%s: start = %#v, recorded %s", where, g.Value.Start, v)
			}
		default:
			t.Errorf("%s: recorded start %q is not compared", where, kind)
		}
	case "contentBlockDelta":
		g, ok := got.(*types.ConverseStreamOutputMemberContentBlockDelta)
		if !ok {
			t.Fatalf("%s = %T, recorded contentBlockDelta", where, got)
		}
		if !eqPtr(g.Value.ContentBlockIndex, want.ContentBlockIndex) {
			t.Errorf("%s: index %v, recorded %v", where, deref(g.Value.ContentBlockIndex), deref(want.ContentBlockIndex))
		}
		checkDelta(t, where, g.Value.Delta, want.Delta)
	case "contentBlockStop":
		g, ok := got.(*types.ConverseStreamOutputMemberContentBlockStop)
		if !ok || !eqPtr(g.Value.ContentBlockIndex, want.ContentBlockIndex) {
			t.Errorf("%s = %#v, recorded contentBlockStop %v", where, got, deref(want.ContentBlockIndex))
		}
	case "messageStop":
		g, ok := got.(*types.ConverseStreamOutputMemberMessageStop)
		if !ok || string(g.Value.StopReason) != want.StopReason {
			t.Errorf("%s = %#v, recorded messageStop %q", where, got, want.StopReason)
		}
		if ok && len(want.AdditionalFields) > 0 && !jsonEqual(docJSON(t, g.Value.AdditionalModelResponseFields), want.AdditionalFields) {
			t.Errorf("%s: additionalModelResponseFields differ from %s", where, want.AdditionalFields)
		}
	case "metadata":
		g, ok := got.(*types.ConverseStreamOutputMemberMetadata)
		if !ok {
			t.Fatalf("%s = %T, recorded metadata", where, got)
		}
		checkUsage(t, where, g.Value.Usage, want.Usage)
		if want.Metrics == nil || g.Value.Metrics == nil || !eqPtr(g.Value.Metrics.LatencyMs, want.Metrics.LatencyMs) {
			t.Errorf("%s: metrics = %+v, recorded %+v", where, g.Value.Metrics, want.Metrics)
		}
	default:
		t.Errorf("%s: recorded event type %q is not compared (SDK gave %T)", where, eventType, got)
	}
}

func checkDelta(t *testing.T, where string, got types.ContentBlockDelta, want map[string]json.RawMessage) {
	t.Helper()
	kind, v := onlyMember(t, where, want)
	switch kind {
	case "text":
		var s string
		mustUnmarshal(t, v, &s)
		if g, ok := got.(*types.ContentBlockDeltaMemberText); !ok || g.Value != s {
			t.Errorf("%s: delta = %#v, recorded text %q", where, got, s)
		}
	case "toolUse":
		var w struct {
			Input string `json:"input"` // a fragment of JSON text, not an object
		}
		mustUnmarshal(t, v, &w)
		if g, ok := got.(*types.ContentBlockDeltaMemberToolUse); !ok || aws.ToString(g.Value.Input) != w.Input {
			t.Errorf("%s: delta = %#v, recorded toolUse input %q", where, got, w.Input)
		}
	case "toolResult":
		var w []struct {
			JSON json.RawMessage `json:"json"`
			Text *string         `json:"text"`
		}
		mustUnmarshal(t, v, &w)
		g, ok := got.(*types.ContentBlockDeltaMemberToolResult)
		if !ok || len(g.Value) != len(w) {
			t.Fatalf("%s: delta = %#v, recorded toolResult %s", where, got, v)
		}
		for j, item := range w {
			switch gi := g.Value[j].(type) {
			case *types.ToolResultBlockDeltaMemberJson:
				if got := docJSON(t, gi.Value); !jsonEqual(got, item.JSON) {
					t.Errorf("%s: toolResult[%d] json = %s, recorded %s", where, j, got, item.JSON)
				}
			case *types.ToolResultBlockDeltaMemberText:
				if item.Text == nil || gi.Value != *item.Text {
					t.Errorf("%s: toolResult[%d] text = %q, recorded %v", where, j, gi.Value, deref(item.Text))
				}
			default:
				t.Errorf("%s: toolResult[%d] = %T", where, j, gi)
			}
		}
	case "reasoningContent":
		var w struct {
			Text            *string `json:"text"`
			Signature       *string `json:"signature"`
			RedactedContent []byte  `json:"redactedContent"`
		}
		mustUnmarshal(t, v, &w)
		switch g := got.(type) {
		case *types.ContentBlockDeltaMemberReasoningContent:
			switch r := g.Value.(type) {
			case *types.ReasoningContentBlockDeltaMemberText:
				if w.Text == nil || r.Value != *w.Text {
					t.Errorf("%s: reasoning text differs", where)
				}
			case *types.ReasoningContentBlockDeltaMemberSignature:
				if w.Signature == nil || r.Value != *w.Signature {
					t.Errorf("%s: reasoning signature differs", where)
				}
			case *types.ReasoningContentBlockDeltaMemberRedactedContent:
				if !bytes.Equal(r.Value, w.RedactedContent) {
					t.Errorf("%s: redacted content differs", where)
				}
			default:
				t.Errorf("%s: reasoning delta %T", where, r)
			}
		default:
			t.Errorf("%s: delta = %T, recorded reasoningContent", where, got)
		}
	default:
		t.Errorf("%s: recorded delta %q is not compared", where, kind)
	}
}

func checkInvoke(t *testing.T, out *bedrockruntime.InvokeModelOutput, in corpus.Interaction) {
	if !bytes.Equal(out.Body, in.Response.Body) {
		t.Errorf("body: %d bytes, recorded %d", len(out.Body), len(in.Response.Body))
	}
	if got, want := aws.ToString(out.ContentType), in.Response.Headers.Get("Content-Type"); got != want {
		t.Errorf("ContentType = %q, recorded %q", got, want)
	}
	// Token counts are unmodeled headers (bedrock-wire.md §0 item 12): only the raw response has them.
	raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if !ok {
		t.Fatalf("raw response is %T", awsmiddleware.GetRawResponse(out.ResultMetadata))
	}
	for _, h := range []string{"X-Amzn-Bedrock-Input-Token-Count", "X-Amzn-Bedrock-Output-Token-Count", "X-Amzn-Bedrock-Invocation-Latency"} {
		if got, want := raw.Header.Get(h), in.Response.Headers.Get(h); got != want {
			t.Errorf("%s = %q, recorded %q", h, got, want)
		}
	}
	if raw.Header.Get("X-Amzn-Bedrock-Input-Token-Count") == "" {
		t.Errorf("no input token count header recorded")
	}
}

func checkError(t *testing.T, err error, cassetteName string, in corpus.Interaction) {
	t.Helper()
	if err == nil {
		t.Fatalf("recorded status %d, SDK returned no error", in.Response.Status)
	}
	var body struct {
		Message string `json:"message"`
	}
	mustUnmarshal(t, in.Response.Body, &body)
	wantCode := corpus.ErrorTypeForStatus(in.Response.Status)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != wantCode || apiErr.ErrorMessage() != body.Message {
		t.Errorf("error = %v; want code %q message %q", err, wantCode, body.Message)
	}
	if !isTyped(err, wantCode) {
		t.Errorf("error %T is not the SDK's typed %s", apiErr, wantCode)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != in.Response.Status || re.RequestID != corpus.RequestID(cassetteName, in) {
		t.Errorf("response error = %v; want status %d, request id %s", err, in.Response.Status, corpus.RequestID(cassetteName, in))
	}
}

// isTyped reports whether err wraps the SDK's modeled exception type for code.
func isTyped(err error, code string) bool {
	switch code {
	case "ValidationException":
		var e *types.ValidationException
		return errors.As(err, &e)
	case "AccessDeniedException":
		var e *types.AccessDeniedException
		return errors.As(err, &e)
	case "ResourceNotFoundException":
		var e *types.ResourceNotFoundException
		return errors.As(err, &e)
	case "ModelTimeoutException":
		var e *types.ModelTimeoutException
		return errors.As(err, &e)
	case "ModelErrorException":
		var e *types.ModelErrorException
		return errors.As(err, &e)
	case "ThrottlingException":
		var e *types.ThrottlingException
		return errors.As(err, &e)
	case "InternalServerException":
		var e *types.InternalServerException
		return errors.As(err, &e)
	case "ServiceUnavailableException":
		var e *types.ServiceUnavailableException
		return errors.As(err, &e)
	default:
		return false
	}
}

// TestReplayErrorNeedsErrorType documents why the Replayer derives X-Amzn-ErrorType: served
// verbatim, the recorded 400 reaches the SDK without it and comes out as "UnknownError"
// (bedrock-wire.md §0 item 5, §5.4); with it, as *types.ValidationException.
func TestReplayErrorNeedsErrorType(t *testing.T) {
	t.Parallel()
	c := cassette(t, "converse/test_bedrock_error")
	tests := []struct {
		name      string
		verbatim  bool
		wantCode  string
		wantTyped bool
	}{
		{name: "verbatim recording", verbatim: true, wantCode: "UnknownError"},
		{name: "error type derived", wantCode: "ValidationException", wantTyped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := corpus.NewReplayer(c)
			r.Verbatim = tt.verbatim
			srv := httptest.NewServer(r)
			defer srv.Close()
			_, err := call(callContext(t), newClient(srv), c.Interactions[0])
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v, want an API error", err)
			}
			if apiErr.ErrorCode() != tt.wantCode || apiErr.ErrorMessage() != "The provided model identifier is invalid." {
				t.Errorf("code %q message %q, want %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tt.wantCode)
			}
			if isTyped(err, "ValidationException") != tt.wantTyped {
				t.Errorf("typed ValidationException = %v, want %v (%T)", !tt.wantTyped, tt.wantTyped, apiErr)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
				t.Errorf("status: %v", err)
			}
		})
	}
}
