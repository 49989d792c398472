package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// These tests drive the emulator only through the real aws-sdk-go-v2 clients and assert what the
// SDK parsed, so every claim is one a gateway built on the SDK would see.

// Model ids the tests use, one per behaviour they rely on (catalog/models.json).
const (
	sdkNova         = "amazon.nova-micro-v1:0"                       // on-demand, no images
	sdkNovaLite     = "amazon.nova-lite-v1:0"                        // on-demand, images
	sdkSonnet45     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0" // profile-only, budget thinking
	sdkSonnet45Bare = "anthropic.claude-sonnet-4-5-20250929-v1:0"    // its bare id, refused on demand
	sdkSonnet46     = "us.anthropic.claude-sonnet-4-6"               // adaptive thinking
	sdkHaiku45      = "anthropic.claude-haiku-4-5-20251001-v1:0"     // on-demand Claude, counts tokens
	sdkHaiku3       = "anthropic.claude-3-haiku-20240307-v1:0"       // on-demand Claude, no thinking
	sdkGPTOSS       = "openai.gpt-oss-20b-1:0"                       // always reasons, unsigned
	sdkGLMFlash     = "zai.glm-4.7-flash"                            // structured output
	sdkTitanV2      = "amazon.titan-embed-text-v2:0"                 // embeddings
	sdkAppProfileID = "strata0test0profile"                          // configured in Options.ApplicationProfiles
	sdkAccount      = "111122223333"                                 // any account in an ARN
	sdkRegionARN    = "arn:aws:bedrock:us-east-1"                    // ARN prefix
	sdkFoundARN     = sdkRegionARN + "::foundation-model/" + sdkNova // foundation-model ARN
	sdkProfileARN   = sdkRegionARN + ":" + sdkAccount + ":inference-profile/" + sdkSonnet45
	sdkAppARN       = sdkRegionARN + ":" + sdkAccount + ":application-inference-profile/" + sdkAppProfileID
)

func sdkUser(blocks ...types.ContentBlock) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: blocks}
}

func sdkAssistant(blocks ...types.ContentBlock) types.Message {
	return types.Message{Role: types.ConversationRoleAssistant, Content: blocks}
}

func sdkText(s string) types.ContentBlock { return &types.ContentBlockMemberText{Value: s} }

// sdkAsk is a one-message Converse request.
func sdkAsk(model, text string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{sdkUser(sdkText(text))}}
}

// sdkDoc wraps a JSON text as a document, the way a caller passes a JSON Schema or model fields.
func sdkDoc(t testing.TB, js string) document.Interface {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("test JSON %s: %v", js, err)
	}
	return document.NewLazyDocument(v)
}

// sdkThinking is Claude's budget-thinking request field.
func sdkThinking(budget int) document.Interface {
	return document.NewLazyDocument(map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": budget}})
}

func sdkConverse(t testing.TB, te *testEmulator, in *bedrockruntime.ConverseInput) *bedrockruntime.ConverseOutput {
	t.Helper()
	out, err := te.runtime.Converse(testContext(t), in)
	if err != nil {
		t.Fatalf("Converse(%s): %v", aws.ToString(in.ModelId), err)
	}
	return out
}

func sdkMessage(t testing.TB, out *bedrockruntime.ConverseOutput) types.Message {
	t.Helper()
	m, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		t.Fatalf("Output is %T, want *types.ConverseOutputMemberMessage", out.Output)
	}
	if m.Value.Role != types.ConversationRoleAssistant {
		t.Errorf("role = %q, want assistant", m.Value.Role)
	}
	return m.Value
}

// sdkReplyText joins the text blocks of a Converse reply.
func sdkReplyText(t testing.TB, out *bedrockruntime.ConverseOutput) string {
	t.Helper()
	var b strings.Builder
	for _, c := range sdkMessage(t, out).Content {
		if tb, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(tb.Value)
		}
	}
	return b.String()
}

// sdkToolUses returns the toolUse blocks of a reply.
func sdkToolUses(t testing.TB, out *bedrockruntime.ConverseOutput) []types.ToolUseBlock {
	t.Helper()
	var uses []types.ToolUseBlock
	for _, c := range sdkMessage(t, out).Content {
		if tu, ok := c.(*types.ContentBlockMemberToolUse); ok {
			uses = append(uses, tu.Value)
		}
	}
	return uses
}

func sdkDocJSON(t testing.TB, d document.Interface) []byte {
	t.Helper()
	if d == nil {
		t.Fatal("document is nil")
	}
	b, err := d.MarshalSmithyDocument()
	if err != nil {
		t.Fatalf("MarshalSmithyDocument: %v", err)
	}
	return b
}

func sdkI32(p *int32) int { return int(aws.ToInt32(p)) }

// sdkCheckUsage asserts the TokenUsage invariants Bedrock keeps: every count present and
// non-negative, totalTokens = input + output + cacheRead + cacheWrite (bedrock-wire.md §2.3).
func sdkCheckUsage(t testing.TB, u *types.TokenUsage) {
	t.Helper()
	if u == nil || u.InputTokens == nil || u.OutputTokens == nil || u.TotalTokens == nil {
		t.Fatalf("usage = %+v, want input, output and total set", u)
	}
	in, out := sdkI32(u.InputTokens), sdkI32(u.OutputTokens)
	read, write := sdkI32(u.CacheReadInputTokens), sdkI32(u.CacheWriteInputTokens)
	if in < 0 || out < 0 || read < 0 || write < 0 {
		t.Errorf("usage has a negative count: %+v", u)
	}
	if total := sdkI32(u.TotalTokens); total != in+out+read+write {
		t.Errorf("totalTokens = %d, want input %d + output %d + cacheRead %d + cacheWrite %d", total, in, out, read, write)
	}
}

// sdkSchema compiles a JSON Schema with an independent validator that asserts formats.
func sdkSchema(t testing.TB, schemaJSON string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schemaJSON))
	if err != nil {
		t.Fatalf("schema %s: %v", schemaJSON, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		t.Fatalf("AddResource: %v", err)
	}
	sch, err := c.Compile("mem://schema.json")
	if err != nil {
		t.Fatalf("compile schema %s: %v", schemaJSON, err)
	}
	return sch
}

func sdkValidate(t testing.TB, sch *jsonschema.Schema, raw []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("reply %s is not JSON: %v", raw, err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("reply %s does not validate: %v", raw, err)
	}
}

// sdkSchemas are JSON Schemas of the kinds real tools and structured outputs use.
var sdkSchemas = []struct{ name, schema string }{
	{"nested objects", `{"type":"object","properties":{
		"customer":{"type":"object","properties":{
			"name":{"type":"string","minLength":2,"maxLength":40},
			"address":{"type":"object","properties":{
				"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string","maxLength":10}},
				"required":["street","city"],"additionalProperties":false}},
			"required":["name","address"],"additionalProperties":false},
		"priority":{"type":"boolean"}},
		"required":["customer"],"additionalProperties":false}`},
	{"arrays", `{"type":"object","properties":{
		"tags":{"type":"array","items":{"type":"string","minLength":1},"minItems":2,"maxItems":5},
		"matrix":{"type":"array","items":{"type":"array","items":{"type":"number"},"minItems":1},"minItems":1},
		"empty_ok":{"type":"array","items":{"type":"integer"},"maxItems":0}},
		"required":["tags","matrix"]}`},
	{"enums and consts", `{"type":"object","properties":{
		"unit":{"type":"string","enum":["celsius","fahrenheit"]},
		"level":{"enum":[1,2,3]},
		"mode":{"const":"fast"},
		"colors":{"type":"array","items":{"type":"string","enum":["red","green","blue"]},"uniqueItems":true}},
		"required":["unit","level","mode","colors"]}`},
	{"integer and number bounds", `{"type":"object","properties":{
		"count":{"type":"integer","minimum":5,"maximum":10},
		"offset":{"type":"integer","exclusiveMinimum":0},
		"delta":{"type":"integer","maximum":-3},
		"year":{"type":"integer","minimum":1900,"maximum":2100},
		"ratio":{"type":"number","minimum":0.5,"maximum":0.75},
		"probability":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},
		"learning_rate":{"type":"number","minimum":0.0001,"maximum":0.01}},
		"required":["count","offset","delta","year","ratio","probability","learning_rate"]}`},
	{"$defs and $ref", `{"type":"object","$defs":{
		"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false},
		"label":{"type":"string","enum":["start","stop"]}},
		"properties":{
			"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"},
			"via":{"type":"array","items":{"$ref":"#/$defs/point"},"minItems":1},
			"label":{"$ref":"#/$defs/label"}},
		"required":["from","to","via","label"]}`},
	{"definitions and ref", `{"type":"object","definitions":{
		"money":{"type":"object","properties":{"amount":{"type":"integer","minimum":0},"currency":{"type":"string","enum":["USD","EUR"]}},"required":["amount","currency"]}},
		"properties":{"price":{"$ref":"#/definitions/money"},"discounts":{"type":"array","items":{"$ref":"#/definitions/money"}}},
		"required":["price"]}`},
	{"formats", `{"type":"object","properties":{
		"when":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},
		"at":{"type":"string","format":"time"},"email":{"type":"string","format":"email"},
		"site":{"type":"string","format":"uri"},"id":{"type":"string","format":"uuid"},
		"host":{"type":"string","format":"hostname"},"ip":{"type":"string","format":"ipv4"},
		"ip6":{"type":"string","format":"ipv6"},"wait":{"type":"string","format":"duration"}},
		"required":["when","day","at","email","site","id","host","ip","ip6","wait"]}`},
	{"nullable and unions", `{"type":"object","properties":{
		"note":{"type":["string","null"]},
		"value":{"anyOf":[{"type":"null"},{"type":"integer","minimum":1}]},
		"shape":{"oneOf":[{"type":"object","properties":{"radius":{"type":"number","minimum":0}},"required":["radius"],"additionalProperties":false},
			{"type":"object","properties":{"side":{"type":"number","minimum":0}},"required":["side"],"additionalProperties":false}]},
		"both":{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}]}},
		"required":["note","value","shape","both"]}`},
	{"unique integers", `{"type":"object","properties":{
		"ids":{"type":"array","items":{"type":"integer","minimum":1,"maximum":3},"uniqueItems":true,"minItems":2,"maxItems":3}},
		"required":["ids"]}`},
	{"patterns", `{"type":"object","properties":{
		"currency":{"type":"string","pattern":"^[A-Z]{3}$"},
		"zip":{"type":"string","pattern":"^\\d{5}(-\\d{4})?$"},
		"sku":{"type":"string","pattern":"^SKU-[0-9a-f]{6}$"}},
		"required":["currency","zip","sku"]}`},
	{"no properties", `{"type":"object"}`},
}

func TestConverseText(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name, model string
		// cacheFields: Claude always reports the cache counts; others only when asked to cache.
		cacheFields bool
	}{
		{"nova on demand", sdkNova, false},
		{"claude profile", sdkSonnet45, true},
		{"claude on demand", sdkHaiku45, true},
		{"claude without prompt caching", sdkHaiku3, false},
		{"glm", sdkGLMFlash, false},
		{"mistral", "mistral.mistral-large-3-675b-instruct", false},
		{"llama profile", "us.meta.llama3-3-70b-instruct-v1:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const prompt = "What is the capital of France?"
			out := sdkConverse(t, te, sdkAsk(tt.model, prompt))
			if out.StopReason != types.StopReasonEndTurn {
				t.Errorf("stopReason = %q, want end_turn", out.StopReason)
			}
			msg := sdkMessage(t, out)
			if len(msg.Content) != 1 {
				t.Fatalf("content has %d blocks, want one text block: %#v", len(msg.Content), msg.Content)
			}
			text := sdkReplyText(t, out)
			if want := `You wrote: "` + prompt + `"`; !strings.Contains(text, want) {
				t.Errorf("reply %q does not quote the prompt (%s)", text, want)
			}
			sdkCheckUsage(t, out.Usage)
			if in := sdkI32(out.Usage.InputTokens); in < 7 {
				t.Errorf("inputTokens = %d, want at least the prompt's 7 words", in)
			}
			if n := sdkI32(out.Usage.OutputTokens); n < len(strings.Fields(text))/2 {
				t.Errorf("outputTokens = %d for a %d-word reply", n, len(strings.Fields(text)))
			}
			if got := out.Usage.CacheReadInputTokens != nil; got != tt.cacheFields {
				t.Errorf("cache fields present = %v, want %v", got, tt.cacheFields)
			}
			if out.Metrics == nil || aws.ToInt64(out.Metrics.LatencyMs) <= 0 {
				t.Errorf("metrics = %+v, want latencyMs > 0", out.Metrics)
			}
		})
	}
}

func TestConverseDeterminism(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	other := sdkStart(t, Options{Seed: 42})
	for _, model := range []string{sdkNova, sdkSonnet45, sdkGPTOSS} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			a := sdkConverse(t, te, sdkAsk(model, "Tell me about tides."))
			b := sdkConverse(t, te, sdkAsk(model, "Tell me about tides."))
			c := sdkConverse(t, te, sdkAsk(model, "Tell me about volcanoes."))
			d := sdkConverse(t, other, sdkAsk(model, "Tell me about tides."))
			ta, tb, tc, td := sdkReplyText(t, a), sdkReplyText(t, b), sdkReplyText(t, c), sdkReplyText(t, d)
			if ta != tb {
				t.Errorf("same request, different replies:\n%q\n%q", ta, tb)
			}
			if sdkI32(a.Usage.OutputTokens) != sdkI32(b.Usage.OutputTokens) || sdkI32(a.Usage.InputTokens) != sdkI32(b.Usage.InputTokens) {
				t.Errorf("same request, different usage: %+v vs %+v", a.Usage, b.Usage)
			}
			if ta == tc {
				t.Errorf("different prompts gave the same reply %q", ta)
			}
			if ta == td {
				t.Errorf("a different seed gave the same reply %q", ta)
			}
		})
	}
}

func TestConverseQuotesLastUserText(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name     string
		model    string
		messages []types.Message
		want     string
	}{
		{"single turn", sdkNova, []types.Message{sdkUser(sdkText("Name three rivers."))}, "Name three rivers."},
		{"last of three turns", sdkNova, []types.Message{
			sdkUser(sdkText("first question")), sdkAssistant(sdkText("first answer")), sdkUser(sdkText("the second question"))},
			"the second question"},
		{"two text blocks joined", sdkHaiku45, []types.Message{sdkUser(sdkText("alpha"), sdkText("beta"))}, "alpha beta"},
		{"whitespace collapsed", sdkNova, []types.Message{sdkUser(sdkText("  spread \n out   words "))}, "spread out words"},
		// Bedrock accepts a whitespace-only text block (test_bedrock_cache_write_and_read.yaml).
		{"whitespace-only block", sdkHaiku45, []types.Message{sdkUser(sdkText("Count these."), sdkText("\n"))}, "Count these."},
		{"claude history opening with the assistant", sdkHaiku45, []types.Message{
			sdkAssistant(sdkText("How can I help?")), sdkUser(sdkText("Explain monads."))}, "Explain monads."},
		{"unicode", sdkNova, []types.Message{sdkUser(sdkText("Wie spät ist es? 東京"))}, "Wie spät ist es? 東京"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := sdkConverse(t, te, &bedrockruntime.ConverseInput{ModelId: aws.String(tt.model), Messages: tt.messages})
			if text, want := sdkReplyText(t, out), `You wrote: "`+tt.want+`"`; !strings.Contains(text, want) {
				t.Errorf("reply %q does not contain %s", text, want)
			}
		})
	}
}

func TestConverseMaxTokens(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name      string
		model     string
		maxTokens int32
		fields    document.Interface
		wantStop  types.StopReason
	}{
		{"one token", sdkNova, 1, nil, types.StopReasonMaxTokens},
		{"five tokens", sdkNova, 5, nil, types.StopReasonMaxTokens},
		{"claude eight tokens", sdkHaiku45, 8, nil, types.StopReasonMaxTokens},
		{"room to finish", sdkNova, 2000, nil, types.StopReasonEndTurn},
		{"thinking and text within max tokens", sdkSonnet45, 1025, sdkThinking(1024), types.StopReasonEndTurn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sdkAsk(tt.model, "Write a long essay about the history of the printing press in Europe.")
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(tt.maxTokens)}
			in.AdditionalModelRequestFields = tt.fields
			out := sdkConverse(t, te, in)
			if out.StopReason != tt.wantStop {
				t.Errorf("stopReason = %q, want %q", out.StopReason, tt.wantStop)
			}
			sdkCheckUsage(t, out.Usage)
			if n := sdkI32(out.Usage.OutputTokens); n > int(tt.maxTokens) {
				t.Errorf("outputTokens = %d, above maxTokens %d", n, tt.maxTokens)
			}
			if tt.wantStop == types.StopReasonMaxTokens {
				full := sdkConverse(t, te, sdkAsk(tt.model, "Write a long essay about the history of the printing press in Europe."))
				if cut, whole := sdkReplyText(t, out), sdkReplyText(t, full); !strings.HasPrefix(whole, cut) || len(cut) >= len(whole) {
					t.Errorf("the cut reply %q is not a proper prefix of the full reply %q", cut, whole)
				}
			}
		})
	}
}

func TestConverseStopSequences(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name, model, prompt string
		stops               []string
		wantStop            types.StopReason
		wantSeq             string
	}{
		{"nova", sdkNova, "please repeat BANANA after me", []string{"BANANA"}, types.StopReasonStopSequence, "BANANA"},
		{"claude earliest of two", sdkHaiku45, "say one ### two @@@ three", []string{"@@@", "###"}, types.StopReasonStopSequence, "###"},
		{"absent sequence", sdkNova, "nothing to see here", []string{"ZZZQQQ"}, types.StopReasonEndTurn, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sdkAsk(tt.model, tt.prompt)
			in.InferenceConfig = &types.InferenceConfiguration{StopSequences: tt.stops}
			in.AdditionalModelResponseFieldPaths = []string{"/stop_sequence"}
			out := sdkConverse(t, te, in)
			if out.StopReason != tt.wantStop {
				t.Errorf("stopReason = %q, want %q", out.StopReason, tt.wantStop)
			}
			text := sdkReplyText(t, out)
			for _, s := range tt.stops {
				if strings.Contains(text, s) {
					t.Errorf("reply %q contains the stop sequence %q", text, s)
				}
			}
			sdkCheckUsage(t, out.Usage)
			if tt.wantSeq == "" {
				return
			}
			var fields map[string]any
			if err := out.AdditionalModelResponseFields.UnmarshalSmithyDocument(&fields); err != nil {
				t.Fatalf("additionalModelResponseFields: %v", err)
			}
			if fields["stop_sequence"] != tt.wantSeq {
				t.Errorf("additionalModelResponseFields = %v, want stop_sequence %q", fields, tt.wantSeq)
			}
			if !strings.HasSuffix(text, `You wrote: "`+strings.TrimSpace(tt.prompt[:strings.Index(tt.prompt, tt.wantSeq)])+` `) {
				t.Errorf("reply %q does not end where the stop sequence began", text)
			}
		})
	}
}

// sdkTool is a tool specification with the given JSON Schema.
func sdkTool(t testing.TB, name, schema string) types.Tool {
	return &types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name:        aws.String(name),
		Description: aws.String("The " + name + " tool."),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: sdkDoc(t, schema)},
	}}
}

func TestConverseToolUseValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	models := []string{sdkHaiku45, "us.amazon.nova-pro-v1:0", sdkGPTOSS}
	for _, s := range sdkSchemas {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			sch := sdkSchema(t, s.schema)
			// Each prompt seeds a different reply, so twelve of them exercise the generator's choices.
			for i := range 12 {
				model := models[i%len(models)]
				in := sdkAsk(model, fmt.Sprintf("Request number %d: please fill in the form.", i))
				in.ToolConfig = &types.ToolConfiguration{
					Tools:      []types.Tool{sdkTool(t, "fill_form", s.schema)},
					ToolChoice: &types.ToolChoiceMemberAuto{},
				}
				out := sdkConverse(t, te, in)
				if out.StopReason != types.StopReasonToolUse {
					t.Fatalf("%s: stopReason = %q, want tool_use", model, out.StopReason)
				}
				uses := sdkToolUses(t, out)
				if len(uses) != 1 {
					t.Fatalf("%s: %d toolUse blocks, want 1", model, len(uses))
				}
				tu := uses[0]
				if aws.ToString(tu.Name) != "fill_form" || !strings.HasPrefix(aws.ToString(tu.ToolUseId), "tooluse_") {
					t.Errorf("%s: toolUse name %q id %q", model, aws.ToString(tu.Name), aws.ToString(tu.ToolUseId))
				}
				sdkValidate(t, sch, sdkDocJSON(t, tu.Input))
				sdkCheckUsage(t, out.Usage)
			}
		})
	}
}

func TestConverseToolChoice(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	weather := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	clock := `{"type":"object","properties":{"zone":{"type":"string","enum":["UTC","CET"]}},"required":["zone"]}`
	tools := func() []types.Tool {
		return []types.Tool{sdkTool(t, "get_weather", weather), sdkTool(t, "get_time", clock)}
	}
	tests := []struct {
		name, model, prompt string
		choice              types.ToolChoice
		wantTool            string
		wantLeadingText     bool
	}{
		{"auto picks the first", sdkNova, "hello there", &types.ToolChoiceMemberAuto{}, "get_weather", true},
		{"auto picks the tool named", sdkNova, "use get_time please", &types.ToolChoiceMemberAuto{}, "get_time", true},
		{"no choice means auto", sdkHaiku45, "what about get_time", nil, "get_time", true},
		{"any", sdkHaiku45, "hello", &types.ToolChoiceMemberAny{}, "get_weather", false},
		{"forced tool", sdkNova, "what is the weather", &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_time")}}, "get_time", false},
		{"forced tool on claude", sdkSonnet45, "hi", &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_weather")}}, "get_weather", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sdkAsk(tt.model, tt.prompt)
			in.ToolConfig = &types.ToolConfiguration{Tools: tools(), ToolChoice: tt.choice}
			out := sdkConverse(t, te, in)
			if out.StopReason != types.StopReasonToolUse {
				t.Fatalf("stopReason = %q, want tool_use", out.StopReason)
			}
			content := sdkMessage(t, out).Content
			last, ok := content[len(content)-1].(*types.ContentBlockMemberToolUse)
			if !ok {
				t.Fatalf("last block is %T, want toolUse", content[len(content)-1])
			}
			if got := aws.ToString(last.Value.Name); got != tt.wantTool {
				t.Errorf("tool = %q, want %q", got, tt.wantTool)
			}
			schema := weather
			if tt.wantTool == "get_time" {
				schema = clock
			}
			sdkValidate(t, sdkSchema(t, schema), sdkDocJSON(t, last.Value.Input))
			_, leading := content[0].(*types.ContentBlockMemberText)
			if leading != tt.wantLeadingText || (leading && len(content) != 2) {
				t.Errorf("content = %#v, want a leading text block: %v", content, tt.wantLeadingText)
			}
		})
	}
}

// TestConverseToolResult plays a whole tool round: the reply's own assistant message goes back
// with a tool result, and the model answers in text.
func TestConverseToolResult(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name   string
		model  string
		fields document.Interface
		result types.ToolResultContentBlock
		want   string
	}{
		{"nova text result", sdkNova, nil, &types.ToolResultContentBlockMemberText{Value: "It is 21 degrees and sunny."}, "It is 21 degrees and sunny."},
		{"claude json result", sdkHaiku45, nil, &types.ToolResultContentBlockMemberJson{Value: document.NewLazyDocument(map[string]any{"temp": 21})}, `{"temp":21}`},
		{"claude thinking keeps its reasoning", sdkSonnet45, sdkThinking(1024), &types.ToolResultContentBlockMemberText{Value: "Rain all day."}, "Rain all day."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tc := &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}}
			first := &bedrockruntime.ConverseInput{
				ModelId:                      aws.String(tt.model),
				Messages:                     []types.Message{sdkUser(sdkText("What is the weather in Paris?"))},
				ToolConfig:                   tc,
				AdditionalModelRequestFields: tt.fields,
				InferenceConfig:              &types.InferenceConfiguration{MaxTokens: aws.Int32(4096)},
			}
			out := sdkConverse(t, te, first)
			if out.StopReason != types.StopReasonToolUse {
				t.Fatalf("stopReason = %q, want tool_use", out.StopReason)
			}
			asked := sdkMessage(t, out)
			uses := sdkToolUses(t, out)
			second := *first
			second.Messages = []types.Message{first.Messages[0], asked, sdkUser(&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
				ToolUseId: uses[0].ToolUseId,
				Content:   []types.ToolResultContentBlock{tt.result},
				Status:    types.ToolResultStatusSuccess,
			}})}
			out2 := sdkConverse(t, te, &second)
			if out2.StopReason != types.StopReasonEndTurn {
				t.Errorf("stopReason = %q, want end_turn", out2.StopReason)
			}
			if len(sdkToolUses(t, out2)) != 0 {
				t.Error("the model called a tool again after its result")
			}
			if text := sdkReplyText(t, out2); !strings.Contains(text, `You wrote: "`+tt.want+`"`) {
				t.Errorf("reply %q does not quote the tool result %s", text, tt.want)
			}
			if sdkI32(out2.Usage.InputTokens) <= sdkI32(out.Usage.InputTokens) {
				t.Errorf("the longer conversation counted %d input tokens, the first turn %d", sdkI32(out2.Usage.InputTokens), sdkI32(out.Usage.InputTokens))
			}
		})
	}
}

// sdkReasoning returns the reasoning text and signature of a reply's first block, failing
// unless reasoning comes first and text follows.
func sdkReasoning(t testing.TB, out *bedrockruntime.ConverseOutput) (text, signature string) {
	t.Helper()
	content := sdkMessage(t, out).Content
	if len(content) < 2 {
		t.Fatalf("content = %#v, want reasoning then text", content)
	}
	rc, ok := content[0].(*types.ContentBlockMemberReasoningContent)
	if !ok {
		t.Fatalf("first block is %T, want reasoningContent", content[0])
	}
	rt, ok := rc.Value.(*types.ReasoningContentBlockMemberReasoningText)
	if !ok {
		t.Fatalf("reasoning is %T, want reasoningText", rc.Value)
	}
	if _, ok := content[1].(*types.ContentBlockMemberText); !ok {
		t.Errorf("second block is %T, want text", content[1])
	}
	if aws.ToString(rt.Value.Text) == "" {
		t.Error("reasoning text is empty")
	}
	return aws.ToString(rt.Value.Text), aws.ToString(rt.Value.Signature)
}

func TestConverseReasoning(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name       string
		model      string
		fields     string
		maxTokens  int32
		wantSigned bool
	}{
		{"claude 4.5 budget", sdkSonnet45, `{"thinking":{"type":"enabled","budget_tokens":1024}}`, 2048, true},
		{"claude 4.5 large budget", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", `{"thinking":{"type":"enabled","budget_tokens":4000}}`, 8000, true},
		{"claude 4.6 adaptive", sdkSonnet46, `{"thinking":{"type":"adaptive"}}`, 0, true},
		{"claude 4.6 adaptive with effort", sdkSonnet46, `{"thinking":{"type":"adaptive"},"output_config":{"effort":"high"}}`, 0, true},
		{"gpt-oss always", sdkGPTOSS, ``, 0, false},
		{"gpt-oss effort", sdkGPTOSS, `{"reasoning_effort":"high"}`, 0, false},
		{"deepseek r1 always", "us.deepseek.r1-v1:0", ``, 0, false},
		{"nova 2 reasoning", "us.amazon.nova-2-lite-v1:0", `{"reasoningConfig":{"type":"enabled","maxReasoningEffort":"low"}}`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sdkAsk(tt.model, "Is 17 a prime number?")
			if tt.fields != "" {
				in.AdditionalModelRequestFields = sdkDoc(t, tt.fields)
			}
			if tt.maxTokens > 0 {
				in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(tt.maxTokens)}
			}
			out := sdkConverse(t, te, in)
			if out.StopReason != types.StopReasonEndTurn {
				t.Errorf("stopReason = %q, want end_turn", out.StopReason)
			}
			reasoning, sig := sdkReasoning(t, out)
			if (sig != "") != tt.wantSigned {
				t.Errorf("signature %q, want signed: %v", sig, tt.wantSigned)
			}
			if !strings.Contains(reasoning, "Is 17 a prime number?") {
				t.Errorf("reasoning %q does not mention the question", reasoning)
			}
			sdkCheckUsage(t, out.Usage)
			// The reasoning is billed as output.
			if n := sdkI32(out.Usage.OutputTokens); n < countTokens(reasoning) {
				t.Errorf("outputTokens = %d, less than the reasoning's %d", n, countTokens(reasoning))
			}
		})
	}
	t.Run("no thinking without asking", func(t *testing.T) {
		t.Parallel()
		out := sdkConverse(t, te, sdkAsk(sdkSonnet45, "Is 17 a prime number?"))
		for _, c := range sdkMessage(t, out).Content {
			if _, ok := c.(*types.ContentBlockMemberReasoningContent); ok {
				t.Error("Claude reasoned without thinking enabled")
			}
		}
	})
}

func TestConverseStructuredOutput(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	models := []string{sdkGLMFlash, sdkSonnet45, sdkHaiku45, "mistral.mistral-large-3-675b-instruct", "qwen.qwen3-32b-v1:0"}
	for _, s := range sdkSchemas {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			sch := sdkSchema(t, s.schema)
			for i, model := range models {
				in := sdkAsk(model, fmt.Sprintf("Extract the record, attempt %d.", i))
				in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{
					Type: types.OutputFormatTypeJsonSchema,
					Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{
						Name:   aws.String("record"),
						Schema: aws.String(s.schema),
					}},
				}}
				out := sdkConverse(t, te, in)
				if out.StopReason != types.StopReasonEndTurn {
					t.Errorf("%s: stopReason = %q, want end_turn", model, out.StopReason)
				}
				sdkValidate(t, sch, []byte(sdkReplyText(t, out)))
			}
		})
	}
}

// sdkLongSystem is a system prompt long enough to cache (over 2048 tokens).
func sdkLongSystem(topic string) string {
	return "You answer questions about " + topic + ". " + strings.Repeat("Keep every answer short, polite and accurate. ", 300)
}

func TestConversePromptCaching(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	tests := []struct {
		name, model string
		system      string
		ttl         types.CacheTTL
		wantCached  bool
	}{
		{"claude sonnet 4.5", sdkSonnet45, sdkLongSystem("rivers"), "", true},
		{"claude one hour", sdkSonnet45, sdkLongSystem("canals"), types.CacheTTLOneHour, true},
		{"claude haiku 4.5", sdkHaiku45, sdkLongSystem("lakes"), types.CacheTTLFiveMinutes, true},
		{"nova", "us.amazon.nova-pro-v1:0", sdkLongSystem("mountains"), "", true},
		{"claude prefix too short", sdkSonnet45, "You answer questions about deserts.", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ask := func(question string, cache bool) *bedrockruntime.ConverseInput {
				in := sdkAsk(tt.model, question)
				in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: tt.system}}
				if cache {
					in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault, Ttl: tt.ttl}})
				}
				return in
			}
			plain := sdkConverse(t, te, ask("How deep is it?", false))
			first := sdkConverse(t, te, ask("How deep is it?", true))
			second := sdkConverse(t, te, ask("How deep is it?", true))
			other := sdkConverse(t, te, ask("How wide is it?", true))
			for _, out := range []*bedrockruntime.ConverseOutput{first, second, other} {
				sdkCheckUsage(t, out.Usage)
			}
			all := sdkI32(plain.Usage.InputTokens)
			write, read := sdkI32(first.Usage.CacheWriteInputTokens), sdkI32(second.Usage.CacheReadInputTokens)
			if !tt.wantCached {
				if write != 0 || read != 0 || sdkI32(first.Usage.InputTokens) != all {
					t.Errorf("a short prefix was cached: first %+v, second %+v", first.Usage, second.Usage)
				}
				return
			}
			if write < 1024 {
				t.Errorf("first call: cacheWriteInputTokens = %d, want the prefix (over 1024 tokens)", write)
			}
			if sdkI32(first.Usage.CacheReadInputTokens) != 0 {
				t.Errorf("first call read %d cached tokens", sdkI32(first.Usage.CacheReadInputTokens))
			}
			if read != write || sdkI32(second.Usage.CacheWriteInputTokens) != 0 {
				t.Errorf("second call: read %d, wrote %d; want read %d, wrote 0", read, sdkI32(second.Usage.CacheWriteInputTokens), write)
			}
			// inputTokens excludes the cached prefix, on the write and on the read.
			if got := sdkI32(first.Usage.InputTokens); got != all-write {
				t.Errorf("first call: inputTokens = %d, want %d - %d", got, all, write)
			}
			if got := sdkI32(second.Usage.InputTokens); got != all-read {
				t.Errorf("second call: inputTokens = %d, want %d - %d", got, all, read)
			}
			// A different question after the cache point still reads the same prefix.
			if got := sdkI32(other.Usage.CacheReadInputTokens); got != write {
				t.Errorf("different question: cacheReadInputTokens = %d, want %d", got, write)
			}
			// cacheDetails accompanies a write, with the cache point's TTL, and not a read.
			wantTTL := tt.ttl
			if wantTTL == "" {
				wantTTL = types.CacheTTLFiveMinutes
			}
			if d := first.Usage.CacheDetails; len(d) != 1 || d[0].Ttl != wantTTL || sdkI32(d[0].InputTokens) != write {
				t.Errorf("first call: cacheDetails = %+v, want [{%s %d}]", d, wantTTL, write)
			}
			if d := second.Usage.CacheDetails; len(d) != 0 {
				t.Errorf("second call: cacheDetails = %+v, want none on a read", d)
			}
			if sdkReplyText(t, first) != sdkReplyText(t, plain) {
				t.Error("the cache point changed the reply")
			}
		})
	}
}

func TestConverseModelIdentifiers(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{ApplicationProfiles: map[string]string{sdkAppProfileID: "anthropic.claude-sonnet-4-5-20250929-v1:0"}})
	const prompt = "Which form of my id did you get?"
	claude := sdkReplyText(t, sdkConverse(t, te, sdkAsk(sdkSonnet45, prompt)))
	nova := sdkReplyText(t, sdkConverse(t, te, sdkAsk(sdkNova, prompt)))
	tests := []struct {
		name, id string
		want     *string // the reply of the same foundation model under another id
	}{
		{"bare foundation id", sdkNova, &nova},
		{"us profile", "us.amazon.nova-micro-v1:0", &nova},
		{"eu profile", "eu.amazon.nova-micro-v1:0", &nova},
		{"global profile", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", &claude},
		{"foundation-model ARN", sdkFoundARN, &nova},
		{"foundation-model ARN in another region", "arn:aws:bedrock:eu-west-1::foundation-model/" + sdkNova, &nova},
		{"inference-profile ARN", sdkProfileARN, &claude},
		{"application-inference-profile ARN", sdkAppARN, &claude},
		{"gov profile", "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0", &claude},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The SDK path-escapes the id (":" → %3A, "/" → %2F); the emulator must route it whole.
			out := sdkConverse(t, te, sdkAsk(tt.id, prompt))
			if got := sdkReplyText(t, out); got != *tt.want {
				t.Errorf("reply under %s = %q, want the foundation model's %q", tt.id, got, *tt.want)
			}
		})
	}
}

func TestConverseMediaBlocks(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	png := []byte("\x89PNG\r\n\x1a\n fake image bytes")
	tests := []struct {
		name    string
		model   string
		block   types.ContentBlock
		atLeast int // extra input tokens the block costs, at least
	}{
		{"png image on nova lite", sdkNovaLite, &types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatPng, Source: &types.ImageSourceMemberBytes{Value: png}}}, 100},
		{"jpeg image on claude", sdkHaiku45, &types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatJpeg, Source: &types.ImageSourceMemberBytes{Value: []byte{0xff, 0xd8, 0xff}}}}, 100},
		{"image from s3", sdkSonnet45, &types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatWebp, Source: &types.ImageSourceMemberS3Location{Value: types.S3Location{Uri: aws.String("s3://bucket/cat.webp")}}}}, 100},
		{"txt document bytes", sdkNova, &types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatTxt, Name: aws.String("notes"), Source: &types.DocumentSourceMemberBytes{Value: []byte(strings.Repeat("meeting notes ", 60))}}}, 50},
		{"pdf document on claude", sdkHaiku45, &types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatPdf, Name: aws.String("Report (final) [v2]"), Source: &types.DocumentSourceMemberBytes{Value: []byte("%PDF-1.7 " + strings.Repeat("x", 600))}}}, 50},
		{"text document source", sdkHaiku45, &types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatMd, Name: aws.String("readme"), Source: &types.DocumentSourceMemberText{Value: strings.Repeat("word ", 80)}}}, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const prompt = "Describe the attachment."
			bare := sdkConverse(t, te, sdkAsk(tt.model, prompt))
			out := sdkConverse(t, te, &bedrockruntime.ConverseInput{
				ModelId:  aws.String(tt.model),
				Messages: []types.Message{sdkUser(tt.block, sdkText(prompt))},
			})
			if out.StopReason != types.StopReasonEndTurn {
				t.Errorf("stopReason = %q", out.StopReason)
			}
			if text := sdkReplyText(t, out); !strings.Contains(text, `You wrote: "`+prompt+`"`) {
				t.Errorf("reply %q does not quote the text beside the attachment", text)
			}
			if extra := sdkI32(out.Usage.InputTokens) - sdkI32(bare.Usage.InputTokens); extra < tt.atLeast {
				t.Errorf("the attachment cost %d input tokens, want at least %d", extra, tt.atLeast)
			}
		})
	}
}

// sdkStream runs ConverseStream to its end and returns every event, failing on a stream error.
func sdkStream(t testing.TB, te *testEmulator, in *bedrockruntime.ConverseInput) []types.ConverseStreamOutput {
	t.Helper()
	out, err := sdkStreamClient(te).ConverseStream(testContext(t), &bedrockruntime.ConverseStreamInput{
		ModelId:                           in.ModelId,
		Messages:                          in.Messages,
		System:                            in.System,
		InferenceConfig:                   in.InferenceConfig,
		ToolConfig:                        in.ToolConfig,
		AdditionalModelRequestFields:      in.AdditionalModelRequestFields,
		AdditionalModelResponseFieldPaths: in.AdditionalModelResponseFieldPaths,
		OutputConfig:                      in.OutputConfig,
	})
	if err != nil {
		t.Fatalf("ConverseStream(%s): %v", aws.ToString(in.ModelId), err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var events []types.ConverseStreamOutput
	for ev := range stream.Events() {
		events = append(events, ev)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream.Err() = %v", err)
	}
	return events
}

// sdkStreamed is a stream's events folded back into the reply they carry.
type sdkStreamed struct {
	text, reasoning, signature string
	toolName, toolID           string
	toolInput                  string
	stop                       types.StopReason
	usage                      *types.TokenUsage
	latency                    int64
	stopFields                 document.Interface
}

// sdkFold checks the event order (messageStart → blocks → messageStop → metadata, each block
// start?/delta+/stop with ascending indices) and joins the deltas.
func sdkFold(t testing.TB, events []types.ConverseStreamOutput) sdkStreamed {
	t.Helper()
	var (
		r       sdkStreamed
		stage   int // 0 before messageStart, 1 in blocks, 2 after messageStop, 3 after metadata
		open    = -1
		lastIdx = -1
		kinds   []string
	)
	for i, ev := range events {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			if stage != 0 || i != 0 {
				t.Fatalf("event %d: messageStart out of order", i)
			}
			if e.Value.Role != types.ConversationRoleAssistant {
				t.Errorf("messageStart role = %q", e.Value.Role)
			}
			stage = 1
		case *types.ConverseStreamOutputMemberContentBlockStart:
			idx := sdkI32(e.Value.ContentBlockIndex)
			if stage != 1 || open != -1 || idx <= lastIdx {
				t.Fatalf("event %d: contentBlockStart %d out of order", i, idx)
			}
			tu, ok := e.Value.Start.(*types.ContentBlockStartMemberToolUse)
			if !ok {
				t.Fatalf("contentBlockStart carries %T, want toolUse", e.Value.Start)
			}
			r.toolName, r.toolID = aws.ToString(tu.Value.Name), aws.ToString(tu.Value.ToolUseId)
			open, lastIdx = idx, idx
			kinds = append(kinds, "start")
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			idx := sdkI32(e.Value.ContentBlockIndex)
			if stage != 1 {
				t.Fatalf("event %d: delta outside the blocks", i)
			}
			if open == -1 {
				if idx <= lastIdx {
					t.Fatalf("event %d: delta for block %d after block %d", i, idx, lastIdx)
				}
				open, lastIdx = idx, idx
			} else if idx != open {
				t.Fatalf("event %d: delta for block %d while block %d is open", i, idx, open)
			}
			switch d := e.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				r.text += d.Value
				kinds = append(kinds, "text")
			case *types.ContentBlockDeltaMemberToolUse:
				r.toolInput += aws.ToString(d.Value.Input)
				kinds = append(kinds, "tool")
			case *types.ContentBlockDeltaMemberReasoningContent:
				switch rd := d.Value.(type) {
				case *types.ReasoningContentBlockDeltaMemberText:
					if r.signature != "" {
						t.Errorf("event %d: reasoning text after the signature", i)
					}
					r.reasoning += rd.Value
					kinds = append(kinds, "reasoning")
				case *types.ReasoningContentBlockDeltaMemberSignature:
					r.signature += rd.Value
					kinds = append(kinds, "signature")
				default:
					t.Errorf("reasoning delta %T", rd)
				}
			default:
				t.Errorf("event %d: delta %T", i, d)
			}
		case *types.ConverseStreamOutputMemberContentBlockStop:
			if idx := sdkI32(e.Value.ContentBlockIndex); stage != 1 || idx != open {
				t.Fatalf("event %d: contentBlockStop %d, open block %d", i, idx, open)
			}
			open = -1
			kinds = append(kinds, "stop")
		case *types.ConverseStreamOutputMemberMessageStop:
			if stage != 1 || open != -1 {
				t.Fatalf("event %d: messageStop out of order", i)
			}
			r.stop, r.stopFields = e.Value.StopReason, e.Value.AdditionalModelResponseFields
			stage = 2
		case *types.ConverseStreamOutputMemberMetadata:
			if stage != 2 || i != len(events)-1 {
				t.Fatalf("event %d: metadata out of order", i)
			}
			r.usage = e.Value.Usage
			if e.Value.Metrics != nil {
				r.latency = aws.ToInt64(e.Value.Metrics.LatencyMs)
			}
			stage = 3
		default:
			t.Fatalf("event %d: unexpected %T", i, ev)
		}
	}
	if stage != 3 {
		t.Fatalf("stream ended at stage %d (events %v), want messageStop and metadata", stage, kinds)
	}
	return r
}

func TestConverseStream(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	weather := `{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1,"maximum":7},"units":{"enum":["metric","imperial"]}},"required":["city","days","units"]}`
	tests := []struct {
		name string
		in   func(t *testing.T) *bedrockruntime.ConverseInput
	}{
		{"nova text", func(t *testing.T) *bedrockruntime.ConverseInput {
			return sdkAsk(sdkNova, "Stream me a story about a lighthouse keeper and the sea.")
		}},
		{"claude text with system", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkSonnet45, "Stream me a poem.")
			in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are a poet."}}
			return in
		}},
		{"max tokens", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkHaiku45, "Stream a long answer about the Roman roads.")
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(6)}
			return in
		}},
		{"stop sequence", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkNova, "please say HALT now")
			in.InferenceConfig = &types.InferenceConfiguration{StopSequences: []string{"HALT"}}
			in.AdditionalModelResponseFieldPaths = []string{"/stop_sequence"}
			return in
		}},
		{"tool use", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkHaiku45, "What is the weather in Oslo?")
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather)}}
			return in
		}},
		{"forced tool on nova", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkNova, "Oslo")
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather)}, ToolChoice: &types.ToolChoiceMemberAny{}}
			return in
		}},
		{"claude thinking", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkSonnet45, "Think about why the sky is blue.")
			in.AdditionalModelRequestFields = sdkThinking(1024)
			in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(3000)}
			return in
		}},
		{"adaptive thinking with a tool", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkSonnet46, "Check the weather in Rome.")
			in.AdditionalModelRequestFields = sdkDoc(t, `{"thinking":{"type":"adaptive"}}`)
			in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "get_weather", weather)}}
			return in
		}},
		{"gpt-oss reasoning", func(t *testing.T) *bedrockruntime.ConverseInput {
			return sdkAsk(sdkGPTOSS, "Why do cats purr?")
		}},
		{"structured output", func(t *testing.T) *bedrockruntime.ConverseInput {
			in := sdkAsk(sdkGLMFlash, "Give me a forecast.")
			in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
				Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{Schema: aws.String(weather)}}}}
			return in
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in(t)
			unary := sdkConverse(t, te, in)
			got := sdkFold(t, sdkStream(t, te, in))
			if got.stop != unary.StopReason {
				t.Errorf("stream stopReason = %q, unary %q", got.stop, unary.StopReason)
			}
			if want := sdkReplyText(t, unary); got.text != want {
				t.Errorf("streamed text %q\n  unary text %q", got.text, want)
			}
			if got.usage == nil {
				t.Fatal("metadata carries no usage")
			}
			sdkCheckUsage(t, got.usage)
			if sdkI32(got.usage.InputTokens) != sdkI32(unary.Usage.InputTokens) || sdkI32(got.usage.OutputTokens) != sdkI32(unary.Usage.OutputTokens) {
				t.Errorf("stream usage %+v, unary %+v", got.usage, unary.Usage)
			}
			if got.latency <= 0 {
				t.Errorf("metadata latencyMs = %d, want > 0", got.latency)
			}
			for _, c := range sdkMessage(t, unary).Content {
				switch b := c.(type) {
				case *types.ContentBlockMemberToolUse:
					if got.toolName != aws.ToString(b.Value.Name) || got.toolID != aws.ToString(b.Value.ToolUseId) {
						t.Errorf("streamed tool %s/%s, unary %s/%s", got.toolName, got.toolID, aws.ToString(b.Value.Name), aws.ToString(b.Value.ToolUseId))
					}
					if !json.Valid([]byte(got.toolInput)) {
						t.Fatalf("joined tool input %q is not JSON", got.toolInput)
					}
					sdkValidate(t, sdkSchema(t, weather), []byte(got.toolInput))
					if !sdkSameJSON(t, []byte(got.toolInput), sdkDocJSON(t, b.Value.Input)) {
						t.Errorf("streamed tool input %s, unary %s", got.toolInput, sdkDocJSON(t, b.Value.Input))
					}
				case *types.ContentBlockMemberReasoningContent:
					rt := b.Value.(*types.ReasoningContentBlockMemberReasoningText).Value
					if got.reasoning != aws.ToString(rt.Text) || got.signature != aws.ToString(rt.Signature) {
						t.Errorf("streamed reasoning %q sig %q, unary %q sig %q", got.reasoning, got.signature, aws.ToString(rt.Text), aws.ToString(rt.Signature))
					}
				}
			}
			if unary.AdditionalModelResponseFields != nil {
				if got.stopFields == nil || !sdkSameJSON(t, sdkDocJSON(t, got.stopFields), sdkDocJSON(t, unary.AdditionalModelResponseFields)) {
					t.Errorf("messageStop additionalModelResponseFields %v, unary %s", got.stopFields, sdkDocJSON(t, unary.AdditionalModelResponseFields))
				}
			}
		})
	}
}

func sdkSameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// TestConverseStreamDeltaShapes pins what a gateway relays: text and reasoning blocks open
// without contentBlockStart, tool input arrives in several fragments.
func TestConverseStreamDeltaShapes(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{})
	in := sdkAsk(sdkSonnet45, "Think, then call the tool.")
	in.AdditionalModelRequestFields = sdkThinking(1024)
	in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(4000)}
	in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{sdkTool(t, "lookup", `{"type":"object","properties":{"query":{"type":"string","minLength":30}},"required":["query"]}`)}}
	events := sdkStream(t, te, in)
	var starts, toolDeltas, sigs int
	blocks := map[int32]bool{}
	for _, ev := range events {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockStart:
			starts++
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			blocks[aws.ToInt32(e.Value.ContentBlockIndex)] = true
			switch d := e.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberToolUse:
				toolDeltas++
			case *types.ContentBlockDeltaMemberReasoningContent:
				if _, ok := d.Value.(*types.ReasoningContentBlockDeltaMemberSignature); ok {
					sigs++
					if aws.ToInt32(e.Value.ContentBlockIndex) != 0 {
						t.Errorf("signature on block %d, want the reasoning block 0", aws.ToInt32(e.Value.ContentBlockIndex))
					}
				}
			}
		}
	}
	if starts != 1 {
		t.Errorf("%d contentBlockStart events, want 1 (tool use only)", starts)
	}
	if toolDeltas < 2 {
		t.Errorf("tool input came in %d deltas, want it fragmented", toolDeltas)
	}
	if sigs != 1 {
		t.Errorf("%d signature deltas, want 1", sigs)
	}
	if want := []int32{0, 1, 2}; !slices.Equal(sdkKeys(blocks), want) {
		t.Errorf("blocks %v, want reasoning, text, tool use %v", sdkKeys(blocks), want)
	}
}

func sdkKeys(m map[int32]bool) []int32 {
	var out []int32
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sdkStart is startEmulator with the runtime client on a transport of its own, whose idle
// connections are closed before the server shuts down. http.Server.Shutdown waits up to five
// seconds for a connection that was dialed but never carried a request (StateNew), and parallel
// calls through a pooling transport leave such connections behind when one dial loses a race.
// (It also sidesteps runtimeClient's nil *http.Client, which becomes a non-nil HTTPClient.)
func sdkStart(t *testing.T, opts Options) *testEmulator {
	t.Helper()
	te := startEmulator(t, opts)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	te.runtime = runtimeClient(te.srv.URL, testAccessKey, testSecretKey, &http.Client{Transport: transport})
	t.Cleanup(transport.CloseIdleConnections) // runs before startEmulator's Shutdown
	return te
}

// sdkStreamClient is a client of its own for one event stream. A bedrockruntime.Client keeps one
// event-stream codec for all its streams and decodes each stream on its own goroutine without a
// lock (smithy-go v1.28.9 internal/eventstream.Codec, aws/smithy-go#714): harmless today, as its
// shared payload buffer stays nil, but a data race under -race whenever two streams overlap.
// bedrockruntime.New builds a fresh protocol, and so a fresh codec, from the same options.
func sdkStreamClient(te *testEmulator) *bedrockruntime.Client {
	return bedrockruntime.New(te.runtime.Options())
}

// TestGuardrailIntervention: a guardrail the emulator was given blocks a request that holds one of
// its words: the guardrail's message, stopReason guardrail_intervened, and its assessment in trace
// when asked for; in a stream too. A request without the word, or without the guardrail, passes.
func TestGuardrailIntervention(t *testing.T) {
	t.Parallel()
	te := sdkStart(t, Options{Guardrails: map[string][]string{"gr-secrets": {"Project Falcon"}}})
	guard := &types.GuardrailConfiguration{GuardrailIdentifier: aws.String("gr-secrets"), GuardrailVersion: aws.String("1"), Trace: types.GuardrailTraceEnabled}
	blocked := []types.Message{sdkUser(sdkText("Tell me everything about project falcon."))}
	out, err := te.runtime.Converse(testContext(t), &bedrockruntime.ConverseInput{ModelId: aws.String(sdkNova), Messages: blocked, GuardrailConfig: guard})
	if err != nil {
		t.Fatal(err)
	}
	if out.StopReason != types.StopReasonGuardrailIntervened {
		t.Errorf("stop reason %s, want guardrail_intervened", out.StopReason)
	}
	if out.Trace == nil || out.Trace.Guardrail == nil {
		t.Fatalf("no guardrail trace: %+v", out.Trace)
	}
	words := out.Trace.Guardrail.InputAssessment["gr-secrets"].WordPolicy.CustomWords
	if len(words) != 1 || aws.ToString(words[0].Match) != "Project Falcon" || words[0].Action != types.GuardrailWordPolicyActionBlocked {
		t.Errorf("trace words %+v, want Project Falcon blocked", words)
	}
	stream, err := te.runtime.ConverseStream(testContext(t), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sdkNova), Messages: blocked,
		GuardrailConfig: &types.GuardrailStreamConfiguration{GuardrailIdentifier: guard.GuardrailIdentifier, GuardrailVersion: guard.GuardrailVersion, Trace: types.GuardrailTraceEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	var stop types.StopReason
	var traced bool
	for ev := range stream.GetStream().Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStop:
			stop = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			traced = v.Value.Trace != nil && v.Value.Trace.Guardrail != nil
		}
	}
	if stop != types.StopReasonGuardrailIntervened || !traced {
		t.Errorf("stream: stop %s, traced %v", stop, traced)
	}
	for name, in := range map[string]*bedrockruntime.ConverseInput{
		"without the word":      {ModelId: aws.String(sdkNova), Messages: []types.Message{sdkUser(sdkText("Tell me about falcons."))}, GuardrailConfig: guard},
		"without the guardrail": {ModelId: aws.String(sdkNova), Messages: blocked},
	} {
		out, err := te.runtime.Converse(testContext(t), in)
		if err != nil || out.StopReason != types.StopReasonEndTurn {
			t.Errorf("%s: stop %v, %v; want a normal answer", name, out.StopReason, err)
		}
	}
}
